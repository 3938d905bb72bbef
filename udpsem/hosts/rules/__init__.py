"""The host rules of MODEL.md §A.8, one module per call, in MODEL.md's order.

Importing this package registers every rule. Within a module, call rules are registered in
Linux's order of error precedence (the dispatcher in `hosts.lts` relies on it).
"""

from udpsem.hosts.rules import (  # noqa: F401  (registration)
    bind,
    close,
    connect,
    create,
    delay,
    disconnect,
    exit,
    generic,
    geterr,
    getifaddrs,
    getpeername,
    getsockname,
    getsockopt,
    input,
    ip_of_string,
    outqueue,
    port_of_int,
    print_endline_flush,
    recvfrom,
    select,
    sendto,
    setsockopt,
    socket,
)
