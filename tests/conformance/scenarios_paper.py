"""Scenarios in the 2002 interface (the paper's LIB), on loopback.

The first thirteen are the former tests/test_kernel_conformance.py; the rest cover bind and
reuse, autobind, connect filtering and disconnect, the ICMP paths and which calls report and
clear a pending error, demultiplexing precedence, and threads blocked while another closes.
Ports are fixed per scenario (41000 + 10·k) so that scenarios never meet; every port in
32768..60999 shows as "EPH" in the logs on both sides, which is harmless.
"""

from __future__ import annotations

from tests.conformance.common import *  # the scenarios' vocabulary
from udpsem.real.conformance import scenarios

LO2 = ip("127.0.0.2")


# The thirteen of tests/test_kernel_conformance.py ---------------------------------------------

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


# Bind and reuse -------------------------------------------------------------------------------

def bind_distinct_loopback_addresses_share_a_port() -> G:
    a = yield socket()
    b = yield socket()
    yield bind(a, LO, 41000)
    yield bind(b, LO2, 41000)  # no overlap: both succeed
    c = yield socket()
    yield bind(c, None, 41000)  # the wildcard overlaps both: EADDRINUSE


def reuseaddr_on_one_side_only() -> G:
    a = yield socket()
    b = yield socket()
    yield setsockopt(a, SockOpt.SO_REUSEADDR, True)
    yield bind(a, None, 41010)
    yield bind(b, None, 41010)  # b did not set it: EADDRINUSE
    yield setsockopt(b, SockOpt.SO_REUSEADDR, True)
    yield getsockopt(b, SockOpt.SO_REUSEADDR)
    yield bind(b, None, 41010)  # now both have it


def bind_privileged_port_as_root() -> G:
    a = yield socket()
    yield bind(a, LO, 1011)  # priv: root may bind below 1024
    yield getsockname(a)


def bind_any_address_is_the_wildcard() -> G:
    a = yield socket()
    yield bind(a, 0, 41020)  # INADDR_ANY
    yield getsockname(a)
    b = yield socket()
    yield bind(b, LO, 41020)  # overlaps the wildcard


def bind_ephemeral() -> G:
    a = yield socket()
    yield getsockname(a)  # (0.0.0.0, 0): nothing yet
    yield bind(a, None, None)  # an ephemeral port
    yield getsockname(a)
    yield bind(a, None, None)  # bound already: EINVAL


def bind_after_connect_or_send() -> G:
    a = yield socket()
    yield connect(a, LO, 41031)
    yield bind(a, LO, 41032)  # connected: EINVAL
    b = yield socket()
    yield sendto(b, (LO, 41033), b"x", False)  # autobinds
    yield bind(b, None, 41034)  # EINVAL


def bind_freed_by_close() -> G:
    a = yield socket()
    yield bind(a, None, 41040)
    yield close(a)
    b = yield socket()  # the model and Linux both reuse the lowest fd
    yield bind(b, None, 41040)  # the port is free again
    yield getsockname(b)


# Autobind -------------------------------------------------------------------------------------

def sendto_autobinds_wildcard() -> G:
    a = yield socket()
    yield sendto(a, (LO, 41051), b"x", False)
    yield getsockname(a)  # (0.0.0.0, ephemeral)


def connect_autobinds_and_fixes_the_source() -> G:
    a = yield socket()
    yield connect(a, LO2, 41061)
    yield getsockname(a)  # (127.0.0.1, ephemeral): the route's source for 127/8
    yield getpeername(a)


def nonblocking_recv_does_not_autobind() -> G:
    a = yield socket()
    yield recvfrom(a, True)  # EAGAIN
    yield getsockname(a)  # still unbound


# Connect filtering and disconnect -------------------------------------------------------------

def connect_filters_other_sources() -> G:
    a = yield socket()
    b = yield socket()
    c = yield socket()
    yield bind(a, LO, 41070)
    yield bind(b, LO, 41071)
    yield bind(c, LO, 41072)
    yield connect(a, LO, 41071)  # a accepts only from b
    yield sendto(c, (LO, 41070), b"from c", False)  # filtered: no socket matches
    yield sendto(b, (LO, 41070), b"from b", False)
    yield delay(20_000)
    yield recvfrom(a, True)
    yield recvfrom(a, True)  # EAGAIN: c's datagram never arrived
    yield geterr(c)  # c is unconnected: no error


def filtered_datagram_refuses_connected_sender() -> G:
    a = yield socket()
    c = yield socket()
    yield bind(a, LO, 41080)
    yield connect(a, LO, 41081)  # a only takes datagrams from port 41081
    yield bind(c, LO, 41082)
    yield connect(c, LO, 41080)  # c is connected to a, but a does not accept c
    yield sendto(c, None, b"x", False)
    yield delay(20_000)
    yield geterr(c)  # ECONNREFUSED: a's port is unreachable for c


def connected_socket_may_sendto_elsewhere() -> G:
    a = yield socket()
    b = yield socket()
    yield bind(b, LO, 41090)
    yield connect(a, LO, 41091)
    yield sendto(a, (LO, 41090), b"elsewhere", False)  # allowed on Linux
    yield delay(20_000)
    yield recvfrom(b, True)


def reconnect_changes_the_peer() -> G:
    a = yield socket()
    b = yield socket()
    c = yield socket()
    yield bind(b, LO, 41100)
    yield bind(c, LO, 41101)
    yield connect(a, LO, 41100)
    yield connect(a, LO, 41101)
    yield getpeername(a)
    yield sendto(a, None, b"to c", False)
    yield delay(20_000)
    yield recvfrom(c, True)
    yield recvfrom(b, True)  # EAGAIN


def disconnect_accepts_anyone_again() -> G:
    a = yield socket()
    b = yield socket()
    c = yield socket()
    yield bind(a, LO, 41110)
    yield bind(b, LO, 41111)
    yield bind(c, LO, 41112)
    yield connect(a, LO, 41111)
    yield disconnect(a)
    yield sendto(c, (LO, 41110), b"from c", False)
    yield delay(20_000)
    yield recvfrom(a, True)  # no longer filtered
    yield disconnect(a)  # disconnecting an unconnected socket succeeds
    yield sendto(a, None, b"?", False)  # EDESTADDRREQ


def disconnect_keeps_a_pending_error() -> G:
    a = yield socket()
    yield connect(a, LO, 41121)
    yield sendto(a, None, b"x", False)
    yield delay(20_000)
    yield disconnect(a)
    yield geterr(a)  # the error survives the disconnect


# ICMP: which calls report and clear the pending error -----------------------------------------

def blocking_recv_reports_icmp() -> G:
    a = yield socket()
    yield connect(a, LO, 41131)
    yield sendto(a, None, b"x", False)
    yield recvfrom(a, False)  # ECONNREFUSED, reported by the blocked (or just-called) recvfrom
    yield geterr(a)  # cleared


def nonblocking_recv_reports_icmp_then_eagain() -> G:
    a = yield socket()
    yield connect(a, LO, 41141)
    yield sendto(a, None, b"x", False)
    yield delay(20_000)
    yield recvfrom(a, True)  # ECONNREFUSED
    yield recvfrom(a, True)  # EAGAIN: it was cleared


def select_sees_pending_error() -> G:
    a = yield socket()
    yield connect(a, LO, 41151)
    yield sendto(a, None, b"x", False)
    yield delay(20_000)
    yield select([a], [a], 0)  # readable and writable: the error
    yield geterr(a)
    yield select([a], [], 0)  # no longer readable


def error_is_not_queued_twice() -> G:
    a = yield socket()
    yield connect(a, LO, 41161)
    yield sendto(a, None, b"1", False)
    yield delay(20_000)
    yield sendto(a, None, b"2", False)  # ECONNREFUSED (not sent)
    yield sendto(a, None, b"3", False)  # sent; its ICMP sets the error again
    yield delay(20_000)
    yield sendto(a, None, b"4", False)  # ECONNREFUSED
    yield geterr(a)  # None: sendto cleared it


def icmp_reaches_socket_bound_to_other_loopback_address() -> G:
    a = yield socket()
    yield bind(a, LO2, 41170)
    yield connect(a, LO2, 41171)
    yield sendto(a, None, b"x", False)
    yield delay(20_000)
    yield geterr(a)  # ECONNREFUSED


def reconnect_keeps_pending_error() -> G:
    a = yield socket()
    yield connect(a, LO, 41181)
    yield sendto(a, None, b"x", False)
    yield delay(20_000)
    yield connect(a, LO, 41182)  # a new peer; the old error stays
    yield sendto(a, None, b"y", False)  # ECONNREFUSED from the old peer


# Demultiplexing precedence --------------------------------------------------------------------

def connected_socket_beats_bound_one() -> G:
    a = yield socket()
    b = yield socket()
    s = yield socket()
    yield bind(s, LO, 41190)
    yield setsockopt(a, SockOpt.SO_REUSEADDR, True)
    yield setsockopt(b, SockOpt.SO_REUSEADDR, True)
    yield bind(b, LO, 41191)
    yield connect(b, LO, 41190)  # b: the full quad
    yield bind(a, LO, 41191)  # a: bound only, more recently
    yield sendto(s, (LO, 41191), b"for b", False)
    yield delay(20_000)
    yield recvfrom(b, True)
    yield recvfrom(a, True)  # EAGAIN


def tie_goes_to_the_most_recently_bound() -> G:
    a = yield socket()
    b = yield socket()
    s = yield socket()
    yield setsockopt(a, SockOpt.SO_REUSEADDR, True)
    yield setsockopt(b, SockOpt.SO_REUSEADDR, True)
    yield bind(a, None, 41200)
    yield bind(b, None, 41200)
    yield sendto(s, (LO, 41200), b"who", False)
    yield delay(20_000)
    yield recvfrom(a, True)
    yield recvfrom(b, True)


def wildcard_socket_takes_any_loopback_address() -> G:
    a = yield socket()
    s = yield socket()
    yield bind(a, None, 41210)
    yield sendto(s, (LO2, 41210), b"to 127.0.0.2", False)
    yield delay(20_000)
    yield recvfrom(a, True)  # from 127.0.0.1: the source Linux picks for 127/8


def specific_loopback_socket_ignores_other_address() -> G:
    a = yield socket()
    s = yield socket()
    yield bind(a, LO, 41220)
    yield bind(s, LO, 41221)
    yield connect(s, LO2, 41220)  # not a's address
    yield sendto(s, None, b"x", False)
    yield delay(20_000)
    yield recvfrom(a, True)  # EAGAIN
    yield geterr(s)  # ECONNREFUSED


def fifo_order_and_zero_length() -> G:
    a = yield socket()
    yield bind(a, LO, 41230)
    yield sendto(a, (LO, 41230), b"one", False)
    yield sendto(a, (LO, 41230), b"", False)
    yield sendto(a, (LO, 41230), b"three", True)
    yield delay(20_000)
    yield recvfrom(a, True)
    yield recvfrom(a, True)  # the empty datagram
    yield recvfrom(a, True)
    yield recvfrom(a, True)  # EAGAIN


def send_to_zero_address_reaches_self() -> G:
    a = yield socket()
    yield bind(a, LO, 41240)
    yield sendto(a, (0, 41240), b"to 0.0.0.0", False)  # dst_norm: this host (is1)
    yield delay(20_000)
    yield recvfrom(a, True)


def connect_to_broadcast_refused() -> G:
    a = yield socket()
    yield connect(a, ip("255.255.255.255"), 41251)  # connect_3: EACCES (autobinds)
    yield getpeername(a)  # ENOTCONN


def calls_on_closed_fd() -> G:
    a = yield socket()
    yield close(a)
    yield close(a)  # EBADF
    yield sendto(a, (LO, 41261), b"x", False)  # EBADF
    yield recvfrom(a, True)  # EBADF
    yield geterr(a)  # EBADF
    yield getsockname(a)  # EBADF


# Threads blocked while another closes -----------------------------------------------------------

def _receiver(fd: int) -> G:
    yield recvfrom(fd, False)


def close_does_not_wake_a_blocked_receiver() -> G:
    a = yield socket()
    yield bind(a, LO, 41270)
    yield create(_receiver, a)
    yield delay(30_000)
    yield close(a)  # close_2: an orphan; the receiver stays blocked
    yield delay(30_000)
    yield getsockname(a)  # EBADF


def orphan_still_receives() -> G:
    a = yield socket()
    s = yield socket()
    yield bind(a, LO, 41280)
    yield create(_receiver, a)
    yield delay(30_000)
    yield close(a)
    yield sendto(s, (LO, 41280), b"to the orphan", False)  # the blocked thread takes it
    yield delay(30_000)


def one_datagram_two_blocked_receivers() -> G:
    a = yield socket()
    s = yield socket()
    yield bind(a, LO, 41290)
    yield create(_receiver, a)
    yield create(_receiver, a)
    yield delay(30_000)
    yield sendto(s, (LO, 41290), b"only one", False)
    yield delay(30_000)


def _selector(fd: int) -> G:
    yield select([fd], [], 200_000)


def blocked_select_woken_by_datagram() -> G:
    a = yield socket()
    s = yield socket()
    yield bind(a, LO, 41300)
    yield create(_selector, a)
    yield delay(30_000)
    yield sendto(s, (LO, 41300), b"wake", False)
    yield delay(30_000)
    yield recvfrom(a, True)


def _icmp_waiter(fd: int) -> G:
    yield recvfrom(fd, False)


def blocked_receiver_gets_icmp_error() -> G:
    a = yield socket()
    yield connect(a, LO, 41311)
    yield create(_icmp_waiter, a)
    yield delay(30_000)
    yield sendto(a, None, b"x", False)  # the ICMP wakes the receiver with ECONNREFUSED
    yield delay(30_000)
    yield geterr(a)  # cleared by the receiver


SCENARIOS = scenarios(
    nonblocking_recv_on_empty, send_without_destination, bind_errors, reuseaddr_both,
    getpeername_unconnected, connect_to_zero_means_this_host, icmp_refused_on_connected_socket,
    no_icmp_error_on_unconnected_socket, pending_error_before_data, broadcast_and_size,
    select_ready_and_timeout, close_then_use, disconnect_keeps_explicit_bind,
    bind_distinct_loopback_addresses_share_a_port, reuseaddr_on_one_side_only,
    bind_privileged_port_as_root, bind_any_address_is_the_wildcard, bind_ephemeral,
    bind_after_connect_or_send, bind_freed_by_close, sendto_autobinds_wildcard,
    connect_autobinds_and_fixes_the_source, nonblocking_recv_does_not_autobind,
    connect_filters_other_sources, filtered_datagram_refuses_connected_sender,
    connected_socket_may_sendto_elsewhere, reconnect_changes_the_peer,
    disconnect_accepts_anyone_again, disconnect_keeps_a_pending_error,
    blocking_recv_reports_icmp, nonblocking_recv_reports_icmp_then_eagain,
    select_sees_pending_error, error_is_not_queued_twice,
    icmp_reaches_socket_bound_to_other_loopback_address, reconnect_keeps_pending_error,
    connected_socket_beats_bound_one, tie_goes_to_the_most_recently_bound,
    wildcard_socket_takes_any_loopback_address, specific_loopback_socket_ignores_other_address,
    fifo_order_and_zero_length, send_to_zero_address_reaches_self, connect_to_broadcast_refused,
    calls_on_closed_fd, close_does_not_wake_a_blocked_receiver, orphan_still_receives,
    one_datagram_two_blocked_receivers, blocked_select_woken_by_datagram,
    blocked_receiver_gets_icmp_error,
)
