"""Scenarios of the sockets interface added by experiment (issue 12, second part), on
loopback: poll (its events, bad and negative fds, duplicates, timeouts, a socket closed while
polled), select's exception set and SO_SELECT_ERR_QUEUE, the error queue making a socket
readable, SO_SNDBUF. Ports 43000 + 10·k."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

from udpsem.hosts.calls import (
    bind,
    close,
    connect,
    create,
    delay,
    geterr,
    getsockopt,
    poll,
    recvfrom,
    select,
    sendto,
    setsockopt,
    shutdown,
    socket,
)
from udpsem.hosts.values import (
    POLL_ALL,
    POLLIN,
    POLLOUT,
    POLLPRI,
    POLLRDHUP,
    Shut,
    SockOpt,
    ip,
)
from udpsem.real.conformance import Scenario

LO = ip("127.0.0.1")
G = Generator[Any, Any, Any]
IO = POLLIN | POLLOUT


# poll ------------------------------------------------------------------------------------------

def poll_fresh_socket_is_writable() -> G:
    a = yield socket()
    yield poll([(a, IO)], 0)  # (POLLOUT,)
    yield poll([(a, POLLIN)], 0)  # (0,): nothing asked for holds
    yield poll([(a, POLL_ALL)], 0)  # OUT|WRNORM|WRBAND
    yield getsockopt(a, SockOpt.SO_SNDBUF)  # 212992


def poll_sees_a_datagram() -> G:
    a = yield socket()
    yield bind(a, LO, 43000)
    yield sendto(a, (LO, 43000), b"x", False)
    yield delay(20_000)
    yield poll([(a, POLL_ALL)], 0)  # IN|RDNORM|OUT|WRNORM|WRBAND
    yield recvfrom(a, True)
    yield poll([(a, POLLIN)], 0)  # (0,)
    yield sendto(a, (LO, 43000), b"", False)  # an empty datagram is readable too
    yield delay(20_000)
    yield poll([(a, POLLIN)], 0)


def poll_reports_a_pending_error_unasked() -> G:
    a = yield socket()
    yield connect(a, LO, 43011)
    yield sendto(a, None, b"x", False)
    yield delay(20_000)
    yield poll([(a, POLLIN)], 0)  # (POLLERR,): not POLLIN
    yield poll([(a, 0)], 0)  # (POLLERR,) with no events asked
    yield select([a], [a], 0, [a])  # readable and writable; never exceptional
    yield geterr(a)
    yield poll([(a, POLL_ALL)], 0)  # writable only


def poll_after_shutdown() -> G:
    a = yield socket()
    yield bind(a, LO, 43020)
    yield shutdown(a, Shut.SHUT_RD)  # ENOTCONN, but it takes effect
    yield poll([(a, POLLIN | POLLRDHUP)], 0)  # IN|RDHUP
    yield shutdown(a, Shut.SHUT_WR)
    yield poll([(a, POLLIN)], 0)  # IN|HUP: HUP comes unasked
    yield poll([(a, POLL_ALL)], 0)
    yield select([a], [a], 0, [a])


def poll_bad_negative_and_duplicate_fds() -> G:
    a = yield socket()
    b = yield socket()
    yield close(b)
    yield poll([(-1, POLLIN), (a, POLLIN), (a, POLLOUT), (b, POLLIN), (9, 0)], 0)
    yield poll([(-1, POLL_ALL)], 10)  # nothing to wait for: times out, (0,)
    yield poll([], 10)  # ()


def poll_times_out() -> G:
    a = yield socket()
    yield bind(a, LO, 43030)
    yield poll([(a, POLLIN)], 30)  # (0,) after 30 ms


def _poll_reader(fd: int, timeout_ms: int) -> G:
    yield poll([(fd, POLLIN)], timeout_ms)


def poll_wakes_on_arrival() -> G:
    a = yield socket()
    s = yield socket()
    yield bind(a, LO, 43040)
    yield create(_poll_reader, (a, -1))
    yield delay(30_000)
    yield sendto(s, (LO, 43040), b"wake", False)
    yield delay(30_000)


def poll_any_negative_timeout_waits() -> G:
    a = yield socket()
    s = yield socket()
    yield bind(a, LO, 43050)
    yield create(_poll_reader, (a, -7))
    yield delay(30_000)
    yield sendto(s, (LO, 43050), b"wake", False)
    yield delay(30_000)


def poll_without_events_blocks() -> G:
    a = yield socket()
    yield bind(a, LO, 43060)
    yield create(_poll_reader, (a, -1))
    yield delay(30_000)  # nothing arrives: the reader stays blocked


def poll_sees_a_close_at_its_timeout() -> G:
    a = yield socket()
    yield bind(a, LO, 43070)
    yield create(_poll_reader, (a, 80))
    yield delay(20_000)
    yield close(a)  # does not wake the poll; at 80 ms it answers (POLLNVAL,)
    yield delay(100_000)


# select's exception set, SO_SELECT_ERR_QUEUE, the error queue ------------------------------

def select_exception_set_stays_empty() -> G:
    a = yield socket()
    yield bind(a, LO, 43080)
    yield sendto(a, (LO, 43080), b"x", False)
    yield delay(20_000)
    yield select([a], [a], 0, [a])  # ([a], [a], [])
    yield select([], [], 10_000, [a])  # times out: ((), (), ())


def select_err_queue_makes_errors_exceptional() -> G:
    a = yield socket()
    yield getsockopt(a, SockOpt.SO_SELECT_ERR_QUEUE)
    yield setsockopt(a, SockOpt.SO_SELECT_ERR_QUEUE, True)
    yield getsockopt(a, SockOpt.SO_SELECT_ERR_QUEUE)
    yield connect(a, LO, 43091)
    yield sendto(a, None, b"x", False)
    yield delay(20_000)
    yield select([], [], 0, [a])  # exceptional: the pending error (POLLPRI)
    yield poll([(a, POLLPRI)], 0)  # PRI|ERR
    yield geterr(a)
    yield select([], [], 0, [a])  # times out at once


def error_queue_alone_makes_a_socket_readable() -> G:
    a = yield socket()
    yield setsockopt(a, SockOpt.IP_RECVERR, True)
    yield setsockopt(a, SockOpt.SO_SELECT_ERR_QUEUE, True)
    yield sendto(a, (LO, 43101), b"x", False)
    yield delay(20_000)
    yield geterr(a)  # clears the error; the queue entry stays
    yield select([a], [], 0, [a])  # readable and exceptional all the same
    yield poll([(a, POLL_ALL)], 0)  # ERR|PRI|OUT|...
    yield recvfrom(a, True)  # EAGAIN: no datagram
    yield recvfrom(a, True, errqueue=True)
    yield select([a], [], 0, [a])  # nothing now


# SO_SNDBUF ---------------------------------------------------------------------------------------

def sndbuf_clamp_and_doubling() -> G:
    a = yield socket()
    yield getsockopt(a, SockOpt.SO_SNDBUF)  # 212992 (net.core.wmem_default)
    for v in (0, 1000, 4608, 5000, 10**9, -1):
        yield setsockopt(a, SockOpt.SO_SNDBUF, v)
        yield getsockopt(a, SockOpt.SO_SNDBUF)  # 4608, 4608, 9216, 10000, 8388608, 8388608


def tiny_sndbuf_never_blocks_on_loopback() -> G:
    a = yield socket()
    b = yield socket()
    yield bind(b, LO, 43110)
    yield setsockopt(b, SockOpt.SO_RCVBUF, 10**9)
    yield setsockopt(a, SockOpt.SO_SNDBUF, 0)
    for _ in range(4):
        yield sendto(a, (LO, 43110), b"x" * 60000, True)  # all succeed at once
    yield poll([(a, POLLOUT)], 0)


def S(program: Any, **kw: Any) -> Scenario:
    return Scenario(program.__name__, program, **kw)


SCENARIOS = [S(p) for p in (
    poll_fresh_socket_is_writable, poll_sees_a_datagram, poll_reports_a_pending_error_unasked,
    poll_after_shutdown, poll_bad_negative_and_duplicate_fds, poll_times_out,
    poll_wakes_on_arrival, poll_any_negative_timeout_waits, poll_without_events_blocks,
    poll_sees_a_close_at_its_timeout, select_exception_set_stays_empty,
    select_err_queue_makes_errors_exceptional, error_queue_alone_makes_a_socket_readable,
    sndbuf_clamp_and_doubling, tiny_sndbuf_never_blocks_on_loopback,
)]
