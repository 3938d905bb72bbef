"""The model against the real Linux kernel (loopback): the same LIB program runs in both and
must see the same results, call by call (fds renumbered, ephemeral ports as "EPH")."""

from __future__ import annotations

import sys
from collections.abc import Generator
from typing import Any

import pytest

from udpsem.hosts.calls import (
    bind,
    close,
    connect,
    delay,
    disconnect,
    geterr,
    getpeername,
    getsockname,
    getsockopt,
    recvfrom,
    select,
    sendto,
    setsockopt,
    socket,
)
from udpsem.hosts.values import SockOpt, ip
from udpsem.real.compare import compare

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="compares with Linux")

LO = ip("127.0.0.1")
G = Generator[Any, Any, Any]


def nonblocking_recv_on_empty() -> G:
    fd = yield socket()
    yield bind(fd, LO, None)
    yield recvfrom(fd, True)  # recvfrom_2: EAGAIN


def send_without_destination() -> G:
    fd = yield socket()
    yield sendto(fd, None, b"x", False)  # sendto_4: EDESTADDRREQ (after autobind)
    yield getsockname(fd)


def bind_errors() -> G:
    a = yield socket()
    b = yield socket()
    yield bind(a, None, 40001)
    yield bind(a, None, 40002)  # bind_4: EINVAL
    yield bind(b, LO, 40001)  # bind_5: EADDRINUSE (wildcard overlaps)
    yield bind(b, ip("10.255.255.1"), 40003)  # bind_2: EADDRNOTAVAIL


def reuseaddr_both() -> G:
    a = yield socket()
    b = yield socket()
    yield setsockopt(a, SockOpt.SO_REUSEADDR, True)
    yield setsockopt(b, SockOpt.SO_REUSEADDR, True)
    yield getsockopt(a, SockOpt.SO_REUSEADDR)
    yield getsockopt(a, SockOpt.SO_BSDCOMPAT)
    yield bind(a, None, 40011)
    yield bind(b, LO, 40011)  # allowed: both set SO_REUSEADDR
    yield sendto(a, (LO, 40011), b"to the specific one", False)
    yield delay(20_000)
    yield recvfrom(b, True)  # best match: the socket bound to 127.0.0.1 (score 2 > 1)
    yield recvfrom(a, True)  # EAGAIN


def getpeername_unconnected() -> G:
    fd = yield socket()
    yield getpeername(fd)  # getpeername_2: ENOTCONN
    yield connect(fd, LO, 40021)
    yield getpeername(fd)
    yield getsockname(fd)


def connect_to_zero_means_this_host() -> G:
    fd = yield socket()
    yield connect(fd, 0, 40031)  # dst_norm: 0.0.0.0 is this host
    yield getpeername(fd)


def icmp_refused_on_connected_socket() -> G:
    fd = yield socket()
    yield connect(fd, LO, 40041)  # nobody listens there
    yield sendto(fd, None, b"ping", False)
    yield delay(20_000)  # the ICMP port-unreachable comes back
    yield sendto(fd, None, b"ping", False)  # sendto_5: ECONNREFUSED, error cleared
    yield sendto(fd, None, b"ping", False)
    yield delay(20_000)
    yield geterr(fd)  # geterr_2: ECONNREFUSED
    yield geterr(fd)  # geterr_1


def no_icmp_error_on_unconnected_socket() -> G:
    fd = yield socket()
    yield sendto(fd, (LO, 40051), b"ping", False)
    yield delay(20_000)
    yield geterr(fd)  # icmp_err: unconnected sockets never get ICMP errors (Linux)
    yield sendto(fd, (LO, 40051), b"ping", False)


def pending_error_before_data() -> G:
    a = yield socket()
    b = yield socket()
    yield bind(a, LO, 40061)
    yield bind(b, LO, 40062)
    yield connect(a, LO, 40062)
    yield sendto(b, (LO, 40061), b"data", False)
    yield close(b)
    yield sendto(a, None, b"to a closed port", False)
    yield delay(20_000)
    yield recvfrom(a, True)  # recvfrom_3: the error first
    yield recvfrom(a, True)  # then the queued datagram


def broadcast_and_size() -> G:
    fd = yield socket()
    yield sendto(fd, (ip("255.255.255.255"), 9), b"x", False)  # sendto_12: EACCES
    yield sendto(fd, (LO, 40071), b"x" * 65508, False)  # sendto_6: EMSGSIZE
    yield sendto(fd, (LO, 40071), b"x" * 65507, False)  # fits


def select_ready_and_timeout() -> G:
    fd = yield socket()
    yield bind(fd, LO, 40081)
    yield select([fd], [], 0)  # nothing to read: select_4 at once
    yield select([fd], [fd], 1000)  # writable: select_3
    yield sendto(fd, (LO, 40081), b"self", False)
    yield delay(20_000)
    yield select([fd, fd], [], 1_000_000)  # readable, duplicates kept
    yield recvfrom(fd, False)


def close_then_use() -> G:
    fd = yield socket()
    yield close(fd)
    yield bind(fd, None, None)  # notsockfd_2: EBADF
    yield select([fd], [], 0)  # select_2: EBADF
    yield select([], [], -1)  # select_5: EINVAL


def disconnect_keeps_explicit_bind() -> G:
    a = yield socket()
    yield bind(a, LO, 40091)
    yield connect(a, LO, 40092)
    yield disconnect(a)
    yield getsockname(a)  # explicit address and port kept (lk)
    yield getpeername(a)  # ENOTCONN
    b = yield socket()
    yield connect(b, LO, 40093)  # autobinds, sets the source address
    yield disconnect(b)
    yield getsockname(b)  # Linux releases both: (0.0.0.0, 0)


SCENARIOS = [nonblocking_recv_on_empty, send_without_destination, bind_errors, reuseaddr_both,
             getpeername_unconnected, connect_to_zero_means_this_host,
             icmp_refused_on_connected_socket, no_icmp_error_on_unconnected_socket,
             pending_error_before_data, broadcast_and_size, select_ready_and_timeout,
             close_then_use, disconnect_keeps_explicit_bind]


@pytest.mark.parametrize("program", SCENARIOS, ids=lambda p: p.__name__)
def test_model_agrees_with_kernel(program: Any) -> None:
    model, real = compare(program)
    assert model == real


def test_comparison_is_not_vacuous() -> None:
    """Both sides report the interesting outcomes, not just equal empty logs."""
    model, real = compare(icmp_refused_on_connected_socket)
    assert model == real
    assert ("sendto", "ECONNREFUSED") in model and ("geterr", "ECONNREFUSED") in model
    model, _ = compare(pending_error_before_data)
    assert model[-2:] == [("recvfrom", "ECONNREFUSED"),
                          ("recvfrom", ("127.0.0.1", "EPH", b"data"))]  # 40062 is in EPH


def test_a_loopback_only_model_host_differs_from_this_machine() -> None:
    """The harness does catch differences: without a route, broadcast gives ENETUNREACH."""
    from udpsem.real.compare import observed, run_model
    from udpsem.real.lib import run_real

    prog = observed(broadcast_and_size)
    assert run_model(prog, ifds=()) != run_real(prog)
