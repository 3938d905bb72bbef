"""The host rules (docs/rules.md), one module per call, in the order of the LIB calls.

Importing this package registers every rule, in this order (which `udpsem rules` shows).
Within a module, call rules are registered in Linux's order of error precedence (the
dispatcher in `hosts.lts` relies on it).
"""
# ruff: noqa: I001  (the import order is the registration order: the order of docs/rules.md)

from udpsem.hosts.rules import (  # noqa: F401  (registration)
    generic,
    socket,
    bind,
    connect,
    disconnect,
    getsockname,
    getpeername,
    sendto,
    recvfrom,
    geterr,
    getsockopt,
    setsockopt,
    close,
    select,
    port_of_int,
    ip_of_string,
    getifaddrs,
    create,
    delay,
    print_endline_flush,
    exit,
    outqueue,
    input,
    shutdown,
    fionread,
    poll,
    read,
)
