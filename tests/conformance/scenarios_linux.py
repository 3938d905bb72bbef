"""Scenarios in the Linux interface added by experiment (issue 12), on loopback: buffer
length, MSG_TRUNC and MSG_PEEK, FIONREAD, SO_RCVTIMEO / SO_SNDTIMEO, shutdown and EPIPE,
SO_RCVBUF and receive-buffer drops, SO_BROADCAST. Ports 42000 + 10·k."""

from __future__ import annotations

from tests.conformance.common import *  # the scenarios' vocabulary
from udpsem.real.conformance import scenarios

RD, WR, RDWR = Shut.SHUT_RD, Shut.SHUT_WR, Shut.SHUT_RDWR


# Buffer length, MSG_TRUNC, MSG_PEEK, FIONREAD --------------------------------------------------

def truncation_sets_msg_trunc() -> G:
    a = yield socket()
    yield bind(a, LO, 42000)
    yield sendto(a, (LO, 42000), b"hello world", False)
    yield sendto(a, (LO, 42000), b"abc", False)
    yield delay(20_000)
    yield recvfrom(a, True, maxlen=5)  # (…, b"hello", True): recvfrom_9
    yield recvfrom(a, True, maxlen=5)  # (…, b"abc", False): the rest of the first is gone
    yield recvfrom(a, True, maxlen=5)  # EAGAIN


def zero_length_buffer() -> G:
    a = yield socket()
    yield bind(a, LO, 42010)
    yield sendto(a, (LO, 42010), b"xyz", False)
    yield sendto(a, (LO, 42010), b"", False)
    yield delay(20_000)
    yield recvfrom(a, True, maxlen=0)  # (…, b"", True)
    yield recvfrom(a, True, maxlen=0)  # the empty datagram: (…, b"", False)


def peek_leaves_the_datagram() -> G:
    a = yield socket()
    yield bind(a, LO, 42020)
    yield sendto(a, (LO, 42020), b"peekaboo", False)
    yield delay(20_000)
    yield recvfrom(a, True, maxlen=4, peek=True)  # recvfrom_8, truncated view
    yield recvfrom(a, True, peek=True)  # the whole of it, still queued
    yield recvfrom(a, True)  # now taken
    yield recvfrom(a, True, peek=True)  # EAGAIN


def peek_reports_and_clears_the_error() -> G:
    a = yield socket()
    yield connect(a, LO, 42031)
    yield sendto(a, None, b"x", False)
    yield delay(20_000)
    yield recvfrom(a, True, peek=True)  # ECONNREFUSED even when peeking
    yield geterr(a)  # cleared


def fionread_gives_the_first_datagram() -> G:
    a = yield socket()
    yield bind(a, LO, 42040)
    yield fionread(a)  # 0: nothing queued
    yield sendto(a, (LO, 42040), b"eleven byte", False)
    yield sendto(a, (LO, 42040), b"abc", False)
    yield delay(20_000)
    yield fionread(a)  # 11: the first only, not the sum
    yield recvfrom(a, True)
    yield fionread(a)  # 3


def fionread_ignores_the_pending_error() -> G:
    a = yield socket()
    yield connect(a, LO, 42051)
    yield sendto(a, None, b"x", False)
    yield delay(20_000)
    yield fionread(a)  # 0, error untouched
    yield geterr(a)  # ECONNREFUSED


def _bounded_reader(fd: int) -> G:
    yield recvfrom(fd, False, maxlen=3)


def blocked_bounded_receive() -> G:
    a = yield socket()
    s = yield socket()
    yield bind(a, LO, 42060)
    yield create(_bounded_reader, a)
    yield delay(30_000)
    yield sendto(s, (LO, 42060), b"truncate me", False)  # recvfrom_12
    yield delay(30_000)


# SO_RCVTIMEO / SO_SNDTIMEO ------------------------------------------------------------------------

def rcvtimeo_expires() -> G:
    a = yield socket()
    yield bind(a, LO, 42070)
    yield setsockopt(a, SockOpt.SO_RCVTIMEO, 20_000)
    yield getsockopt(a, SockOpt.SO_RCVTIMEO)  # 20000 (a whole number of jiffies)
    yield recvfrom(a, False)  # EAGAIN after 20 ms: recvfrom_13


def timeouts_round_up_to_jiffies() -> G:
    a = yield socket()
    yield setsockopt(a, SockOpt.SO_RCVTIMEO, 1)
    yield getsockopt(a, SockOpt.SO_RCVTIMEO)  # 4000 with HZ = 250
    yield setsockopt(a, SockOpt.SO_RCVTIMEO, 1500)
    yield getsockopt(a, SockOpt.SO_RCVTIMEO)  # 4000
    yield setsockopt(a, SockOpt.SO_SNDTIMEO, 5000)
    yield getsockopt(a, SockOpt.SO_SNDTIMEO)  # 8000
    yield setsockopt(a, SockOpt.SO_RCVTIMEO, 0)
    yield getsockopt(a, SockOpt.SO_RCVTIMEO)  # 0: none


def negative_timeout_gives_up_at_once() -> G:
    a = yield socket()
    yield setsockopt(a, SockOpt.SO_RCVTIMEO, -1)
    yield getsockopt(a, SockOpt.SO_RCVTIMEO)  # reads 0, yet it is not "no timeout"
    yield recvfrom(a, False)  # EAGAIN at once: recvfrom_10
    yield getsockname(a)  # not autobound


def _timed_reader(fd: int) -> G:
    yield setsockopt(fd, SockOpt.SO_RCVTIMEO, 500_000)
    yield recvfrom(fd, False)


def data_before_rcvtimeo() -> G:
    a = yield socket()
    s = yield socket()
    yield bind(a, LO, 42080)
    yield create(_timed_reader, a)
    yield delay(30_000)
    yield sendto(s, (LO, 42080), b"in time", False)
    yield delay(30_000)


# shutdown and EPIPE ------------------------------------------------------------------------------

def shutdown_unconnected_still_shuts() -> G:
    a = yield socket()
    yield bind(a, LO, 42090)
    yield shutdown(a, RD)  # ENOTCONN, but it takes effect
    yield recvfrom(a, True)  # EAGAIN
    yield recvfrom(a, False)  # returns at once: (None, None, b"")
    yield shutdown(a, WR)  # ENOTCONN
    yield sendto(a, (LO, 42090), b"x", False)  # EPIPE


def shutdown_connected() -> G:
    a = yield socket()
    b = yield socket()
    yield bind(b, LO, 42100)
    yield connect(a, LO, 42100)
    yield shutdown(a, WR)
    yield sendto(a, None, b"x", False)  # EPIPE
    yield sendto(a, None, b"x", True)  # EPIPE
    yield recvfrom(a, True)  # EAGAIN
    yield shutdown(a, RD)
    yield recvfrom(a, False)  # (None, None, b"")
    yield select([a], [], 0)  # readable


def shutdown_rdwr_and_select() -> G:
    a = yield socket()
    yield connect(a, LO, 42111)
    yield shutdown(a, RDWR)
    yield select([a], [a], 0)  # readable and writable
    yield recvfrom(a, False, maxlen=10)  # (None, None, b"", False)


def queued_data_survives_shut_rd() -> G:
    a = yield socket()
    s = yield socket()
    yield bind(a, LO, 42120)
    yield sendto(s, (LO, 42120), b"before", False)
    yield delay(20_000)
    yield shutdown(a, RD)  # ENOTCONN
    yield sendto(s, (LO, 42120), b"after", False)  # still delivered
    yield delay(20_000)
    yield recvfrom(a, False)
    yield recvfrom(a, False)
    yield recvfrom(a, False)  # then nothing: (None, None, b"")


def shutdown_survives_reconnect_and_disconnect() -> G:
    a = yield socket()
    yield connect(a, LO, 42131)
    yield shutdown(a, WR)
    yield connect(a, LO, 42132)
    yield sendto(a, None, b"x", False)  # EPIPE
    yield disconnect(a)
    yield sendto(a, (LO, 42133), b"x", False)  # EPIPE


def epipe_after_size_and_pending_error() -> G:
    a = yield socket()
    yield connect(a, LO, 42141)
    yield sendto(a, None, b"x", False)
    yield delay(20_000)  # ECONNREFUSED pending
    yield shutdown(a, WR)
    yield sendto(a, None, b"x" * 65508, False)  # EMSGSIZE first
    yield sendto(a, None, b"x", False)  # ECONNREFUSED: the pending error comes first
    yield sendto(a, None, b"x", False)  # then EPIPE
    yield geterr(a)  # None


def shutdown_unbound_does_not_bind() -> G:
    a = yield socket()
    yield shutdown(a, RD)  # ENOTCONN
    yield recvfrom(a, False)  # (None, None, b"") without autobinding
    yield getsockname(a)  # (0.0.0.0, 0)
    yield shutdown(a, WR)
    yield sendto(a, (LO, 42151), b"x", False)  # EPIPE, after the autobind
    yield getsockname(a)


def _reader(fd: int) -> G:
    yield recvfrom(fd, False)


def shutdown_wakes_a_blocked_receiver() -> G:
    a = yield socket()
    yield bind(a, LO, 42160)
    yield create(_reader, a)
    yield delay(30_000)
    yield shutdown(a, RD)  # ENOTCONN; the reader wakes with no data: recvfrom_14
    yield delay(30_000)


# SO_RCVBUF and receive-buffer drops -------------------------------------------------------------

def rcvbuf_clamp_and_doubling() -> G:
    a = yield socket()
    yield getsockopt(a, SockOpt.SO_RCVBUF)  # 212992 (net.core.rmem_default)
    for v in (0, 1000, 2304, 5000, 10**9, -1):
        yield setsockopt(a, SockOpt.SO_RCVBUF, v)
        yield getsockopt(a, SockOpt.SO_RCVBUF)  # 2304, 2304, 4608, 10000, 8388608, 8388608


def small_rcvbuf_drops() -> G:
    a = yield socket()
    s = yield socket()
    yield bind(a, LO, 42170)
    yield setsockopt(a, SockOpt.SO_RCVBUF, 0)  # 2304 bytes: two 100-byte datagrams (832 each)
    for _ in range(5):
        yield sendto(s, (LO, 42170), b"x" * 100, False)
    yield delay(20_000)
    yield recvfrom(a, True)
    yield recvfrom(a, True)
    yield recvfrom(a, True)  # EAGAIN: three were dropped


def empty_queue_takes_one_big_datagram() -> G:
    a = yield socket()
    s = yield socket()
    yield bind(a, LO, 42180)
    yield setsockopt(a, SockOpt.SO_RCVBUF, 0)
    yield sendto(s, (LO, 42180), b"x" * 65507, False)  # bigger than the buffer: kept
    yield sendto(s, (LO, 42180), b"y", False)  # dropped
    yield delay(20_000)
    yield fionread(a)  # 65507
    yield recvfrom(a, True, maxlen=1)
    yield recvfrom(a, True)  # EAGAIN


def lowering_rcvbuf_keeps_the_queue() -> G:
    a = yield socket()
    s = yield socket()
    yield bind(a, LO, 42190)
    for _ in range(5):
        yield sendto(s, (LO, 42190), b"x" * 100, False)
    yield delay(20_000)
    yield setsockopt(a, SockOpt.SO_RCVBUF, 0)
    yield sendto(s, (LO, 42190), b"late", False)  # no room any more
    yield delay(20_000)
    for _ in range(6):
        yield recvfrom(a, True)  # five x's, then EAGAIN


def default_buffer_keeps_92_of_1000_byte_datagrams() -> G:
    a = yield socket()
    s = yield socket()
    yield bind(a, LO, 42200)
    for _ in range(120):
        yield sendto(s, (LO, 42200), b"k" * 1000, False)
    yield delay(20_000)
    n = 0
    while True:
        try:
            yield recvfrom(a, True, maxlen=0)
        except Exception:  # noqa: BLE001 (never raised: the thread runs leniently)
            break
        n += 1
        if n > 100:
            break


# SO_BROADCAST ----------------------------------------------------------------------------------

def broadcast_with_so_broadcast() -> G:
    w = yield socket()
    b = yield socket()
    yield bind(w, None, 42210)  # wildcard listener
    yield sendto(b, (BCAST, 42210), b"no", False)  # EACCES
    yield getsockopt(b, SockOpt.SO_BROADCAST)
    yield setsockopt(b, SockOpt.SO_BROADCAST, True)
    yield getsockopt(b, SockOpt.SO_BROADCAST)
    yield sendto(b, (BCAST, 42210), b"yes", False)
    yield delay(20_000)
    yield recvfrom(w, True)  # the local copy, from the route's source address


def broadcast_misses_a_specific_listener() -> G:
    spec = yield socket()
    b = yield socket()
    yield setsockopt(b, SockOpt.SO_BROADCAST, True)
    yield bind(spec, LO, 42220)
    yield connect(b, BCAST, 42220)  # allowed with SO_BROADCAST
    yield sendto(b, None, b"x", False)
    yield delay(20_000)
    yield recvfrom(spec, True)  # EAGAIN: a 127.0.0.1-bound socket does not match
    yield geterr(b)  # no ICMP for a broadcast


def loopback_subnet_broadcast() -> G:
    w = yield socket()
    b = yield socket()
    yield bind(w, None, 42230)
    yield sendto(b, (LO_BCAST, 42230), b"x", False)  # EACCES: 127.255.255.255 is broadcast
    yield setsockopt(b, SockOpt.SO_BROADCAST, True)
    yield sendto(b, (LO_BCAST, 42230), b"y", False)
    yield delay(20_000)
    yield recvfrom(w, True)


SCENARIOS = scenarios(
    truncation_sets_msg_trunc, zero_length_buffer, peek_leaves_the_datagram,
    peek_reports_and_clears_the_error, fionread_gives_the_first_datagram,
    fionread_ignores_the_pending_error, blocked_bounded_receive, rcvtimeo_expires,
    timeouts_round_up_to_jiffies, negative_timeout_gives_up_at_once, data_before_rcvtimeo,
    shutdown_unconnected_still_shuts, shutdown_connected, shutdown_rdwr_and_select,
    queued_data_survives_shut_rd, shutdown_survives_reconnect_and_disconnect,
    epipe_after_size_and_pending_error, shutdown_unbound_does_not_bind,
    shutdown_wakes_a_blocked_receiver, rcvbuf_clamp_and_doubling, small_rcvbuf_drops,
    empty_queue_takes_one_big_datagram, lowering_rcvbuf_keeps_the_queue,
    default_buffer_keeps_92_of_1000_byte_datagrams, broadcast_with_so_broadcast,
    broadcast_misses_a_specific_listener, loopback_subnet_broadcast,
)


# IP_RECVERR and the error queue ------------------------------------------------------------------

def recverr_reports_to_unconnected_socket() -> G:
    a = yield socket()
    yield setsockopt(a, SockOpt.IP_RECVERR, True)
    yield getsockopt(a, SockOpt.IP_RECVERR)
    yield sendto(a, (LO, 42241), b"x", False)
    yield sendto(a, (LO, 42241), b"y", False)  # ECONNREFUSED, though unconnected
    yield sendto(a, (LO, 42242), b"z", False)
    yield delay(20_000)
    yield geterr(a)  # ECONNREFUSED (from z)
    yield recvfrom(a, True, errqueue=True)  # (127.0.0.1, 42241, ECONNREFUSED), the first
    yield recvfrom(a, True, errqueue=True)  # (127.0.0.1, 42242, ECONNREFUSED)
    yield recvfrom(a, False, errqueue=True)  # EAGAIN at once, even blocking


def errqueue_read_sets_and_clears_the_pending_error() -> G:
    a = yield socket()
    yield setsockopt(a, SockOpt.IP_RECVERR, True)
    yield sendto(a, (LO, 42251), b"1", False)
    yield delay(20_000)
    yield geterr(a)  # ECONNREFUSED, cleared
    yield sendto(a, (LO, 42252), b"2", False)
    yield delay(20_000)
    yield recvfrom(a, True, errqueue=True)  # the first entry; the next one's error pends
    yield geterr(a)  # ECONNREFUSED
    yield recvfrom(a, True, errqueue=True)  # the last entry: the pending error is cleared
    yield geterr(a)  # None


def no_error_queue_without_recverr() -> G:
    a = yield socket()
    yield connect(a, LO, 42261)
    yield sendto(a, None, b"x", False)
    yield delay(20_000)
    yield recvfrom(a, True, errqueue=True)  # EAGAIN: only IP_RECVERR queues errors
    yield geterr(a)  # ECONNREFUSED all the same (connected)


SCENARIOS += scenarios(
    recverr_reports_to_unconnected_socket, errqueue_read_sets_and_clears_the_pending_error,
    no_error_queue_without_recverr,
)
