"""Scenarios of the sockets interface added by experiment (issue 12, second part), on
loopback: poll (its events, bad and negative fds, duplicates, timeouts, a socket closed while
polled), select's exception set and SO_SELECT_ERR_QUEUE, the error queue making a socket
readable, SO_SNDBUF, SO_REUSEPORT, IP_FREEBIND, and send/write/recv/read. Ports 43000 + 10·k."""

from __future__ import annotations

from tests.conformance.common import *  # the scenarios' vocabulary
from udpsem.real.conformance import scenarios

AWAY = ip("10.9.9.9")  # an address no test host has
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


def _recv_reader(fd: int) -> G:
    yield recvfrom(fd, False)


def poll_of_an_already_closed_socket() -> G:
    a = yield socket()
    yield bind(a, LO, 43350)
    yield create(_recv_reader, a)  # stays blocked: close does not wake it
    yield delay(20_000)
    yield close(a)
    yield poll([(a, POLLIN)], -1)  # (POLLNVAL,) at once, though a reader still holds it
    yield delay(20_000)


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


# SO_REUSEPORT --------------------------------------------------------------------------------

def reuseport_bind_rules() -> G:
    a = yield socket()
    b = yield socket()
    c = yield socket()
    d = yield socket()
    yield getsockopt(a, SockOpt.SO_REUSEPORT)  # False
    yield setsockopt(a, SockOpt.SO_REUSEPORT, True)
    yield setsockopt(b, SockOpt.SO_REUSEPORT, True)
    yield getsockopt(a, SockOpt.SO_REUSEPORT)  # True
    yield bind(a, LO, 43200)
    yield bind(b, LO, 43200)  # both SO_REUSEPORT: shared
    yield bind(c, LO, 43200)  # EADDRINUSE without it
    yield setsockopt(c, SockOpt.SO_REUSEADDR, True)
    yield bind(c, LO, 43200)  # SO_REUSEADDR alone does not join a SO_REUSEPORT group
    yield setsockopt(d, SockOpt.SO_REUSEPORT, True)
    yield bind(d, None, 43200)  # the wildcard too


def reuseport_counts_as_set_at_the_next_bind() -> G:
    a = yield socket()
    b = yield socket()
    c = yield socket()
    yield bind(a, LO, 43210)
    yield setsockopt(a, SockOpt.SO_REUSEPORT, True)  # after its bind
    yield setsockopt(b, SockOpt.SO_REUSEPORT, True)
    yield bind(b, LO, 43210)  # allowed
    yield setsockopt(a, SockOpt.SO_REUSEPORT, False)
    yield setsockopt(c, SockOpt.SO_REUSEPORT, True)
    yield bind(c, LO, 43210)  # allowed: b, the newest holder, has it (a, older, no longer)
    d = yield socket()
    yield setsockopt(c, SockOpt.SO_REUSEPORT, False)
    yield setsockopt(d, SockOpt.SO_REUSEPORT, True)
    yield bind(d, LO, 43210)  # EADDRINUSE: c, now the newest holder, lacks it


def reuseport_spreads_datagrams() -> G:
    a = yield socket()
    b = yield socket()
    yield setsockopt(a, SockOpt.SO_REUSEPORT, True)
    yield setsockopt(b, SockOpt.SO_REUSEPORT, True)
    yield bind(a, LO, 43220)
    yield bind(b, LO, 43220)
    senders = []
    for _ in range(4):
        s = yield socket()
        senders.append(s)
    for s in senders:
        yield sendto(s, (LO, 43220), b"x", False)
        yield sendto(s, (LO, 43220), b"y", False)
    yield delay(20_000)
    # Linux gives each sender's datagrams to one member (a hash of the 4-tuple); the model
    # lets each datagram go to either, so the counts are admitted whatever the hash was.
    yield fionread(a)
    yield fionread(b)
    for _ in range(9):
        yield recvfrom(a, True, maxlen=0)
    for _ in range(9):
        yield recvfrom(b, True, maxlen=0)


def reuseport_connected_member_gets_its_peer() -> G:
    x = yield socket()
    y = yield socket()
    z = yield socket()
    w = yield socket()
    yield setsockopt(x, SockOpt.SO_REUSEPORT, True)
    yield setsockopt(y, SockOpt.SO_REUSEPORT, True)
    yield bind(x, LO, 43230)
    yield bind(y, LO, 43230)
    yield bind(z, LO, 43231)
    yield bind(w, LO, 43232)
    yield connect(y, LO, 43231)
    for _ in range(3):
        yield sendto(z, (LO, 43230), b"z", False)  # all to y, the better match
        yield sendto(w, (LO, 43230), b"w", False)  # all to x: y's peer is not w
    yield delay(20_000)
    for _ in range(4):
        yield recvfrom(x, True)
    for _ in range(4):
        yield recvfrom(y, True)


# IP_FREEBIND ---------------------------------------------------------------------------------

def freebind_binds_an_absent_address() -> G:
    a = yield socket()
    yield bind(a, AWAY, 43240)  # EADDRNOTAVAIL
    yield getsockopt(a, SockOpt.IP_FREEBIND)
    yield setsockopt(a, SockOpt.IP_FREEBIND, True)
    yield getsockopt(a, SockOpt.IP_FREEBIND)
    yield bind(a, AWAY, 43240)
    yield getsockname(a)  # (10.9.9.9, 43240)
    yield sendto(a, (LO, 43241), b"x", False)  # ENETUNREACH: no route from there
    yield connect(a, LO, 43241)  # ENETUNREACH, and not connected
    yield getpeername(a)  # ENOTCONN
    yield recvfrom(a, True)  # EAGAIN


def freebind_cleared_after_bind_keeps_the_address() -> G:
    a = yield socket()
    b = yield socket()
    yield setsockopt(a, SockOpt.IP_FREEBIND, True)
    yield bind(a, AWAY, None)  # an ephemeral port
    yield setsockopt(a, SockOpt.IP_FREEBIND, False)
    yield getsockname(a)
    yield sendto(a, (LO, 43251), b"x", False)  # ENETUNREACH still
    yield setsockopt(b, SockOpt.IP_FREEBIND, True)
    yield bind(b, LO, 43252)  # a local address binds as usual
    yield sendto(b, (LO, 43252), b"self", False)
    yield delay(20_000)
    yield recvfrom(b, True)


def freebind_port_conflicts_with_a_wildcard() -> G:
    a = yield socket()
    b = yield socket()
    yield setsockopt(a, SockOpt.IP_FREEBIND, True)
    yield bind(a, AWAY, 43260)
    yield bind(b, None, 43260)  # EADDRINUSE


# send, write, recv, read ----------------------------------------------------------------------

def send_and_write_need_a_peer() -> G:
    a = yield socket()
    b = yield socket()
    yield send(a, b"x")  # EDESTADDRREQ, after an autobind
    yield getsockname(a)  # (None, EPH)
    yield write(b, b"x")  # EDESTADDRREQ, likewise
    yield getsockname(b)


def send_write_recv_read_on_a_connected_pair() -> G:
    a = yield socket()
    b = yield socket()
    yield bind(a, LO, 43270)
    yield bind(b, LO, 43271)
    yield connect(a, LO, 43271)
    yield connect(b, LO, 43270)
    yield write(a, b"")  # an empty datagram
    yield send(a, b"hello world")
    yield write(a, b"third")
    yield send(a, b"fourth", True)
    yield delay(20_000)
    yield read(b, 0)  # b"" at once: nothing taken
    yield read(b, 10)  # b"": the empty datagram
    yield read(b, 5)  # b"hello": the rest is lost
    yield recv(b, 2, True, peek=True)  # b"th", still queued
    yield recv(b, 100, True)  # b"third"
    yield recv(b, 0, True)  # b"": takes "fourth"
    yield recv(b, 10, True)  # EAGAIN


def read_zero_ignores_the_pending_error() -> G:
    a = yield socket()
    yield connect(a, LO, 43281)
    yield send(a, b"q")
    yield delay(20_000)
    yield read(a, 0)  # b"": the error stays
    yield recv(a, 0, True)  # ECONNREFUSED
    yield write(a, b"q")
    yield delay(20_000)
    yield read(a, 10)  # ECONNREFUSED
    yield write(a, b"q")
    yield delay(20_000)
    yield write(a, b"q")  # ECONNREFUSED: reported instead of sending


def _blocking_reader(fd: int) -> G:
    yield read(fd, 100)


def blocked_read_gets_the_data() -> G:
    a = yield socket()
    s = yield socket()
    yield bind(a, LO, 43290)
    yield create(_blocking_reader, a)
    yield delay(30_000)
    yield sendto(s, (LO, 43290), b"for the reader", False)
    yield delay(30_000)


def read_after_shutdown() -> G:
    a = yield socket()
    yield bind(a, LO, 43300)
    yield shutdown(a, Shut.SHUT_RD)  # ENOTCONN, but it takes effect
    yield read(a, 10)  # b"" at once
    yield recv(a, 10)  # b""


SCENARIOS = scenarios(
    poll_fresh_socket_is_writable, poll_sees_a_datagram, poll_reports_a_pending_error_unasked,
    poll_after_shutdown, poll_bad_negative_and_duplicate_fds, poll_times_out,
    poll_wakes_on_arrival, poll_any_negative_timeout_waits, poll_without_events_blocks,
    poll_sees_a_close_at_its_timeout, poll_of_an_already_closed_socket,
    select_exception_set_stays_empty,
    select_err_queue_makes_errors_exceptional, error_queue_alone_makes_a_socket_readable,
    sndbuf_clamp_and_doubling, tiny_sndbuf_never_blocks_on_loopback,
    reuseport_bind_rules, reuseport_counts_as_set_at_the_next_bind, reuseport_spreads_datagrams,
    reuseport_connected_member_gets_its_peer, freebind_binds_an_absent_address,
    freebind_cleared_after_bind_keeps_the_address, freebind_port_conflicts_with_a_wildcard,
    send_and_write_need_a_peer, send_write_recv_read_on_a_connected_pair,
    read_zero_ignores_the_pending_error, blocked_read_gets_the_data, read_after_shutdown,
)


# The error queue's payload and extended error ---------------------------------------------------

def errqueue_payload_and_extended_error() -> G:
    a = yield socket()
    yield setsockopt(a, SockOpt.IP_RECVERR, True)
    yield sendto(a, (LO, 43311), b"request-7", False)
    yield geterr(a)  # clear the pending error, so that the next send goes out
    yield sendto(a, (LO, 43312), b"z" * 1000, False)
    yield geterr(a)
    yield sendto(a, (LO, 43313), b"", False)
    yield delay(20_000)
    yield recvfrom(a, True, maxlen=100, errqueue=True)  # b"request-7", ee from 127.0.0.1
    yield recvfrom(a, True, maxlen=2000, errqueue=True)  # 520 bytes of the 1000, not truncated
    yield recvfrom(a, True, maxlen=4, errqueue=True)  # b"", the empty datagram's
    yield recvfrom(a, True, maxlen=4, errqueue=True)  # EAGAIN


def errqueue_short_buffer_truncates() -> G:
    a = yield socket()
    yield setsockopt(a, SockOpt.IP_RECVERR, True)
    yield connect(a, LO, 43321)
    yield sendto(a, None, b"payload-one", False)
    yield delay(20_000)
    yield recvfrom(a, True, maxlen=4, errqueue=True)  # b"payl", truncated
    yield geterr(a)  # None: reading the last entry cleared it


SCENARIOS += scenarios(errqueue_payload_and_extended_error,
                        errqueue_short_buffer_truncates)


# The drop counter (SO_RXQ_OVFL) ------------------------------------------------------------------

def rxq_ovfl_reports_the_drop_count() -> G:
    a = yield socket()
    s = yield socket()
    yield bind(a, LO, 43330)
    yield setsockopt(a, SockOpt.SO_RCVBUF, 0)  # 2304 bytes: two 100-byte datagrams
    yield getsockopt(a, SockOpt.SO_RXQ_OVFL)
    yield setsockopt(a, SockOpt.SO_RXQ_OVFL, True)
    yield getsockopt(a, SockOpt.SO_RXQ_OVFL)
    for _ in range(5):
        yield sendto(s, (LO, 43330), b"x" * 100, False)  # two kept, three dropped
    yield delay(20_000)
    yield recvfrom(a, True, maxlen=200, ovfl=True)  # stamped 0 when queued: no message
    yield recvfrom(a, True, maxlen=200, ovfl=True)
    yield recvfrom(a, True, maxlen=200, ovfl=True)  # EAGAIN
    yield sendto(s, (LO, 43330), b"y" * 100, False)
    yield sendto(s, (LO, 43330), b"y" * 100, False)
    yield delay(20_000)
    yield recvfrom(a, True, maxlen=10, ovfl=True)  # 3, truncated
    yield setsockopt(a, SockOpt.SO_RXQ_OVFL, False)
    yield recvfrom(a, True, maxlen=200, ovfl=True)  # 0: the option is off now


def rxq_ovfl_stamps_only_while_on() -> G:
    a = yield socket()
    s = yield socket()
    yield bind(a, LO, 43340)
    yield setsockopt(a, SockOpt.SO_RCVBUF, 0)
    for _ in range(4):
        yield sendto(s, (LO, 43340), b"x" * 100, False)  # two dropped, uncounted on reads
    yield delay(20_000)
    yield recvfrom(a, True, ovfl=True)  # 0
    yield setsockopt(a, SockOpt.SO_RXQ_OVFL, True)
    yield recvfrom(a, True, ovfl=True)  # 0: queued before the option was on
    yield sendto(s, (LO, 43340), b"z", False)
    yield delay(20_000)
    yield recvfrom(a, True, ovfl=True)  # 2: the drops so far


SCENARIOS += scenarios(rxq_ovfl_reports_the_drop_count, rxq_ovfl_stamps_only_while_on)
