"""The vocabulary the conformance scenarios are written in: the LIB calls, the socket options
and values they pass, the addresses they name, and `G`, the type of a scenario's program.

Each scenario file (`scenarios_*.py`, `test_netns.py`) takes all of it with
`from tests.conformance.common import *`, so that a file says only what is its own (its
scenarios, their ports, its own addresses); `__all__` is exactly what that brings in.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

from udpsem.base.time import S
from udpsem.hosts.calls import (
    bind,
    close,
    connect,
    create,
    delay,
    disconnect,
    fionread,
    geterr,
    getpeername,
    getsockname,
    getsockopt,
    poll,
    read,
    recv,
    recvfrom,
    select,
    send,
    sendto,
    setsockopt,
    shutdown,
    socket,
    write,
)
from udpsem.hosts.values import (
    PMTUDISC_DO,
    PMTUDISC_DONT,
    PMTUDISC_INTERFACE,
    PMTUDISC_PROBE,
    PMTUDISC_WANT,
    POLL_ALL,
    POLLIN,
    POLLOUT,
    POLLPRI,
    POLLRDHUP,
    Shut,
    SockOpt,
    ip,
)

G = Generator[Any, Any, Any]
"""A scenario's program (or a thread it creates): it yields LIB calls and gets their
results."""

LO = ip("127.0.0.1")
BCAST = ip("255.255.255.255")
LO_BCAST = ip("127.255.255.255")  # the broadcast address of loopback's 127.0.0.0/8

ROUTER = ("10.78.1.254/24", "10.78.2.254/24")
"""The router's legs in the routed topologies (scenarios_topology, scenarios_pmtu): .254 on
link 0 (10.78.1.0/24) and on link 1 (10.78.2.0/24)."""

__all__ = [
    "BCAST",
    "LO",
    "LO_BCAST",
    "PMTUDISC_DO",
    "PMTUDISC_DONT",
    "PMTUDISC_INTERFACE",
    "PMTUDISC_PROBE",
    "PMTUDISC_WANT",
    "POLLIN",
    "POLLOUT",
    "POLLPRI",
    "POLLRDHUP",
    "POLL_ALL",
    "ROUTER",
    "G",
    "S",
    "Shut",
    "SockOpt",
    "bind",
    "close",
    "connect",
    "create",
    "delay",
    "disconnect",
    "fionread",
    "geterr",
    "getpeername",
    "getsockname",
    "getsockopt",
    "ip",
    "poll",
    "read",
    "recv",
    "recvfrom",
    "select",
    "send",
    "sendto",
    "setsockopt",
    "shutdown",
    "socket",
    "write",
]
