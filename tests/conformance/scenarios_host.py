"""Scenarios of the host side of issue 12's last part, on loopback: MSG_TRUNC as a receive
flag (recvfrom_18), IP_FREEBIND to martian addresses and binds to broadcast and multicast
addresses (bind_7, bind_8), and SO_SNDBUF refusing fragments (sendto_19). Ports 45000 + 10·k."""

from __future__ import annotations

from tests.conformance.common import *  # the scenarios' vocabulary
from udpsem.real.conformance import scenarios

# MSG_TRUNC in the flags ------------------------------------------------------------------------

def trunc_flag_answers_the_real_length() -> G:
    a = yield socket()
    yield bind(a, LO, 45000)
    yield sendto(a, (LO, 45000), b"0123456789", False)
    yield sendto(a, (LO, 45000), b"abc", False)
    yield sendto(a, (LO, 45000), b"xyz", False)
    yield delay(20_000)
    yield recvfrom(a, True, maxlen=4, trunc=True)  # (…, b"0123", True, 10): recvfrom_18
    yield recvfrom(a, True, maxlen=20, trunc=True)  # (…, b"abc", False, 3)
    yield recvfrom(a, True, trunc=True)  # no length: the whole datagram, (…, False, 3)
    yield recvfrom(a, True, maxlen=4, trunc=True)  # EAGAIN


def trunc_peek_sizes_the_next_datagram() -> G:
    a = yield socket()
    yield bind(a, LO, 45010)
    yield sendto(a, (LO, 45010), b"sixsix", False)
    yield sendto(a, (LO, 45010), b"", False)
    yield delay(20_000)
    yield recv(a, 0, nonblock=True, peek=True, trunc=True)  # (b"", 6), still queued
    yield recv(a, 2, nonblock=True, trunc=True)  # (b"si", 6), taken
    yield recv(a, 4, nonblock=True, trunc=True)  # the empty datagram: (b"", 0)
    yield recv(a, 4, nonblock=True, trunc=True)  # EAGAIN


def _trunc_reader(fd: int) -> G:
    yield recvfrom(fd, False, maxlen=3, trunc=True)


def blocked_receive_with_trunc() -> G:
    a = yield socket()
    s = yield socket()
    yield bind(a, LO, 45020)
    yield create(_trunc_reader, a)
    yield delay(30_000)
    yield sendto(s, (LO, 45020), b"abcdefgh", False)  # the reader: (…, b"abc", True, 8)
    yield delay(30_000)


def trunc_reports_the_pending_error_first() -> G:
    a = yield socket()
    yield connect(a, LO, 45031)
    yield sendto(a, None, b"x", False)
    yield delay(20_000)
    yield recvfrom(a, True, maxlen=4, trunc=True)  # ECONNREFUSED (recvfrom_3)
    yield recvfrom(a, True, maxlen=4, trunc=True)  # EAGAIN


def trunc_after_shutdown_answers_length_zero() -> G:
    a = yield socket()
    yield bind(a, LO, 45040)
    yield shutdown(a, Shut.SHUT_RD)  # ENOTCONN, but effective
    yield recvfrom(a, False, maxlen=3, trunc=True)  # (None, None, b"", False, 0)
    yield recv(a, 3, trunc=True)  # (b"", 0)


# IP_FREEBIND to martian addresses; broadcast and multicast binds --------------------------------

def freebind_binds_martian_addresses() -> G:
    a = yield socket()
    b = yield socket()
    yield bind(a, ip("240.0.0.1"), 45050)  # EADDRNOTAVAIL without IP_FREEBIND
    yield setsockopt(a, SockOpt.IP_FREEBIND, True)
    yield bind(a, ip("240.0.0.1"), 45050)  # bind_7
    yield getsockname(a)
    yield sendto(a, (LO, 45051), b"x", False)  # ENETUNREACH: no route from there
    yield setsockopt(b, SockOpt.IP_FREEBIND, True)
    yield bind(b, ip("0.1.2.3"), None)  # bind_7, an ephemeral port
    yield connect(b, LO, 45051)  # ENETUNREACH


def bind_to_broadcast_needs_no_freebind() -> G:
    r = yield socket()
    q = yield socket()
    s = yield socket()
    yield bind(r, BCAST, 45060)  # bind_8
    yield getsockname(r)  # (255.255.255.255, 45060)
    yield bind(q, LO, 45061)
    yield sendto(r, (LO, 45061), b"from-bcast", False)  # leaves from 127.0.0.1
    yield setsockopt(s, SockOpt.SO_BROADCAST, True)
    yield bind(s, LO, 45062)
    yield sendto(s, (BCAST, 45060), b"to-all", False)
    yield delay(20_000)
    yield recvfrom(q, True)  # (127.0.0.1, 45060, b"from-bcast")
    yield recvfrom(r, True)  # (127.0.0.1, 45062, b"to-all")


def broadcast_bound_socket_ignores_unicast() -> G:
    r = yield socket()
    c = yield socket()
    yield bind(r, BCAST, 45070)
    yield connect(c, LO, 45070)
    yield sendto(c, None, b"unicast", False)  # no socket has 127.0.0.1:45070
    yield delay(20_000)
    yield recvfrom(r, True)  # EAGAIN
    yield sendto(c, None, b"again", False)  # ECONNREFUSED


def broadcast_bound_socket_connects() -> G:
    r = yield socket()
    q = yield socket()
    yield bind(q, LO, 45081)
    yield bind(r, BCAST, 45080)
    yield connect(r, LO, 45081)
    yield getsockname(r)  # still (255.255.255.255, 45080)
    yield sendto(r, None, b"hi", False)
    yield delay(20_000)
    yield recvfrom(q, True)  # (127.0.0.1, 45080, b"hi")
    yield sendto(q, (LO, 45080), b"back", False)  # to 127.0.0.1: r is not bound there
    yield delay(20_000)
    yield recvfrom(r, True)  # EAGAIN


def bind_to_multicast_needs_no_freebind() -> G:
    r = yield socket()
    q = yield socket()
    yield bind(r, ip("239.1.2.3"), 45090)  # bind_8
    yield getsockname(r)
    yield bind(q, LO, 45091)
    yield sendto(r, (LO, 45091), b"from-group", False)  # leaves from 127.0.0.1
    yield delay(20_000)
    yield recvfrom(q, True)  # (127.0.0.1, 45090, b"from-group")


def loopback_broadcast_bound_socket_sends_from_localhost() -> G:
    r = yield socket()
    q = yield socket()
    yield bind(r, LO_BCAST, 45100)  # bind_1: all of 127/8 is local
    yield bind(q, LO, 45101)
    yield sendto(r, (LO, 45101), b"x", False)
    yield delay(20_000)
    yield recvfrom(q, True)  # (127.0.0.1, 45100, b"x"): not from 127.255.255.255


# SO_SNDBUF and fragments ------------------------------------------------------------------------

NEIGHBOUR = ip("10.77.0.2")  # on the test host's veth subnet (root: 10.77.0.1/24); nobody


def fragments_beyond_twice_sndbuf_fail_with_enobufs() -> G:
    a = yield socket()
    r = yield socket()
    yield bind(r, LO, 45110)
    yield setsockopt(r, SockOpt.SO_RCVBUF, 1_000_000)
    yield setsockopt(a, SockOpt.SO_SNDBUF, 0)
    yield getsockopt(a, SockOpt.SO_SNDBUF)  # 4608, the least
    yield sendto(a, (NEIGHBOUR, 45111), b"f" * 5913, True)  # 5 fragments: ENOBUFS (sendto_19)
    yield sendto(a, (NEIGHBOUR, 45111), b"f" * 5913, False)  # blocking: ENOBUFS at once too
    yield getsockname(a)  # autobound all the same
    yield sendto(a, (LO, 45110), b"f" * 64000, True)  # loopback fragments nothing: sent
    yield delay(20_000)
    yield recv(r, 4, nonblock=True, trunc=True)  # (b"ffff", 64000)
    yield setsockopt(a, SockOpt.SO_SNDBUF, 30000)  # reads 60000: 45 fragments fit
    # the last call: its fragments wait for the neighbour's answer, charged to the socket
    yield sendto(a, (NEIGHBOUR, 45111), b"f" * 64000, True)


SCENARIOS = scenarios(
    trunc_flag_answers_the_real_length, trunc_peek_sizes_the_next_datagram,
    blocked_receive_with_trunc, trunc_reports_the_pending_error_first,
    trunc_after_shutdown_answers_length_zero, freebind_binds_martian_addresses,
    bind_to_broadcast_needs_no_freebind, broadcast_bound_socket_ignores_unicast,
    broadcast_bound_socket_connects, bind_to_multicast_needs_no_freebind,
    loopback_broadcast_bound_socket_sends_from_localhost,
    fragments_beyond_twice_sndbuf_fail_with_enobufs,
)
