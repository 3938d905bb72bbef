"""Multi-host scenarios (issue 12's link layer, routes and router), each in namespaces made
for it: two hosts on one link, and three hosts on two links joined by a router. Times in
the programs are µs (`delay`); actions are at ms. Addresses: 10.78.0.0/24 for one link;
10.78.1.0/24 and 10.78.2.0/24 with the router at .254 on each. Between an action and the
calls it affects there are at least 120 ms (twice the slack an action may take on a loaded
machine, `Topology.slack_ms`)."""

from __future__ import annotations

from typing import Any

from tests.conformance.common import *  # the scenarios' vocabulary
from udpsem.real.topology import Action, Node, Topology

A, B, NOBODY = ip("10.78.0.1"), ip("10.78.0.2"), ip("10.78.0.3")
A1, C1, B2, FAR = ip("10.78.1.1"), ip("10.78.1.2"), ip("10.78.2.1"), ip("10.78.9.9")


def _pair(name: str, a: Any, b: Any, actions: tuple[Action, ...] = (),
          horizon: int = 2 * S, note: str = "") -> Topology:
    return Topology(name, (Node("A", "10.78.0.1/24", a), Node("B", "10.78.0.2/24", b)),
                    actions, horizon=horizon, note=note)


def _routed(name: str, a: Any, b: Any, c: Any = None, actions: tuple[Action, ...] = (),
            horizon: int = 2 * S, note: str = "") -> Topology:
    return Topology(name, (Node("A", "10.78.1.1/24", a, link=0),
                           Node("B", "10.78.2.1/24", b, link=1),
                           Node("C", "10.78.1.2/24", c, link=0)),
                    actions, router=ROUTER, horizon=horizon, note=note)


# Two hosts on one link ---------------------------------------------------------------------------

def _echo_once(port: int, wait: int = 200_000) -> Any:
    def prog() -> G:
        fd = yield socket()
        yield bind(fd, None, port)
        src = yield recvfrom(fd, False)  # blocks until the request comes
        yield sendto(fd, (src[0], src[1]), b"re:" + src[2], False)
        yield delay(wait)

    return prog


def pair_request_reply() -> G:
    fd = yield socket()
    yield delay(20_000)  # the server binds meanwhile
    yield sendto(fd, (B, 44000), b"hello", False)
    yield getsockname(fd)  # (0.0.0.0, EPH): autobound, the address left open
    yield recvfrom(fd, False)  # (10.78.0.2, 44000, b"re:hello")


def pair_port_unreachable() -> G:
    c = yield socket()
    yield connect(c, B, 44011)  # nothing listens there
    yield sendto(c, None, b"x", False)
    yield delay(100_000)
    yield sendto(c, None, b"y", False)  # ECONNREFUSED: B's ICMP reached the connected socket
    u = yield socket()
    yield sendto(u, (B, 44011), b"z", False)
    yield delay(100_000)
    yield recvfrom(u, True)  # EAGAIN: an unconnected socket is not told


def _idle(us: int) -> Any:
    def prog() -> G:
        yield delay(us)

    return prog


def ifdown_sender() -> G:
    c = yield socket()
    yield connect(c, B, 44020)
    yield delay(200_000)  # eth0 goes down at 50 ms
    u = yield socket()
    yield sendto(u, (B, 44020), b"x", False)  # ENETUNREACH: the subnet route is gone
    yield sendto(c, None, b"c", False)  # ENETUNREACH on the connected socket too
    d = yield socket()
    yield connect(d, B, 44020)  # ENETUNREACH
    yield getsockname(c)  # binding and peer kept
    e = yield socket()
    yield bind(e, A, 44021)  # the address is still the host's own
    yield sendto(e, (A, 44021), b"self", False)  # and reachable over loopback
    yield delay(50_000)
    yield recvfrom(e, True)  # b"self"
    yield sendto(u, (ip("255.255.255.255"), 44020), b"b", False)  # ENETUNREACH before EACCES
    yield delay(400_000)  # up again at 450 ms
    yield sendto(c, None, b"back", False)  # OK, from the same port


def ifdown_peer_receiver() -> G:
    fd = yield socket()
    yield bind(fd, None, 44020)
    yield delay(900_000)
    yield recvfrom(fd, True)  # b"back" from A's connected socket
    yield recvfrom(fd, True)  # EAGAIN: nothing else got through


def ifdown_receiver() -> G:
    fd = yield socket()
    yield bind(fd, None, 44030)
    yield delay(150_000)  # B's eth0 is down from 20 ms to 400 ms
    yield sendto(fd, (A, 44031), b"x", False)  # ENETUNREACH: B's own route is gone
    yield delay(1_650_000)
    yield recvfrom(fd, True)  # b"held": A's datagram waited for B's answer to a probe
    yield recvfrom(fd, True)  # EAGAIN


def ifdown_receiver_sender() -> G:
    fd = yield socket()
    yield bind(fd, None, 44031)
    yield delay(150_000)
    yield sendto(fd, (B, 44030), b"held", False)  # OK: A's route is up, B does not answer
    yield delay(1_700_000)


def _burst(port: int, at: int, then: int, recverr: bool = False) -> Any:
    """Three datagrams from an unconnected and three from a connected socket at `at` µs;
    after `then` µs more, the connected socket's pending error (and the IP_RECVERR one's)."""

    def prog() -> G:
        u = yield socket()
        c = yield socket()
        yield connect(c, B, port)
        r = yield socket()
        if recverr:
            yield setsockopt(r, SockOpt.IP_RECVERR, True)
        yield delay(at)
        for k in range(3):
            yield sendto(u, (B, port), b"d%d" % k, False)
            yield sendto(c, None, b"c%d" % k, False)
        if recverr:
            yield sendto(r, (B, port), b"r", False)
        yield delay(then)
        yield geterr(c)  # None: a host-unreachable is a soft error on Linux
        if recverr:
            yield geterr(r)  # EHOSTUNREACH
            yield recvfrom(r, True, errqueue=True)  # (10.78.0.2, port, EHOSTUNREACH)

    return prog


def _drain(port: int, at: int, n: int) -> Any:
    def prog() -> G:
        fd = yield socket()
        yield bind(fd, None, port)
        yield delay(at)
        for _ in range(n):
            yield recvfrom(fd, True)

    return prog


def _warm_burst(port: int) -> Any:
    """A first datagram while B is plugged in (A's neighbour entry for B is then fresh),
    then the burst during B's outage."""

    def prog() -> G:
        u = yield socket()
        # B binds meanwhile (80 ms: on a loaded machine B's real thread took over 20 ms to
        # bind, and the warm datagram found no socket)
        yield delay(80_000)
        yield sendto(u, (B, port), b"warm", False)
        yield delay(220_000)  # B is unplugged at 150 ms
        for k in range(3):
            yield sendto(u, (B, port), b"d%d" % k, False)
        yield delay(1_500_000)

    return prog


def unresolved_neighbour() -> G:
    c = yield socket()
    yield connect(c, NOBODY, 44090)
    r = yield socket()
    yield setsockopt(r, SockOpt.IP_RECVERR, True)
    yield sendto(c, None, b"c", False)
    yield sendto(r, (NOBODY, 44090), b"r", False)
    yield delay(2_700_000)
    yield geterr(r)  # None yet: the third probe is not due
    yield delay(600_000)
    yield geterr(c)  # None: soft, and c has no IP_RECVERR
    yield geterr(r)  # EHOSTUNREACH (3.08 s after the send, measured)
    yield recvfrom(r, True, errqueue=True)  # (10.78.0.3, 44090, EHOSTUNREACH)
    yield sendto(c, None, b"again", False)  # OK: the failed entry starts over


PAIRS = [
    _pair("pair_request_reply", pair_request_reply, _echo_once(44000)),
    _pair("pair_port_unreachable", pair_port_unreachable, _idle(400_000)),
    _pair("ifdown_on_the_sender", ifdown_sender, ifdown_peer_receiver,
          (Action(50, "ifdown", "A"), Action(450, "ifup", "A"))),
    _pair("ifdown_on_the_receiver", ifdown_receiver_sender, ifdown_receiver,
          (Action(20, "ifdown", "B"), Action(400, "ifup", "B")), horizon=3 * S,
          note="A's datagram to B waits in A's neighbour queue until B answers the probe"),
    _pair("peer_unplugged_half_a_second_is_held", _burst(44040, 150_000, 1_500_000),
          _drain(44040, 1_800_000, 7), (Action(1, "disconnect", "B"),
                                        Action(500, "reconnect", "B")), horizon=3 * S,
          note="issue 12's contradiction: Linux held the datagrams and delivered them"),
    _pair("own_carrier_lost_half_a_second_is_held", _burst(44050, 150_000, 1_500_000),
          _drain(44050, 1_800_000, 7), (Action(1, "disconnect", "A"),
                                        Action(500, "reconnect", "A")), horizon=3 * S),
    _pair("peer_unplugged_1500ms_is_held", _burst(44060, 150_000, 2_500_000),
          _drain(44060, 2_800_000, 7), (Action(1, "disconnect", "B"),
                                        Action(1500, "reconnect", "B")), horizon=4 * S,
          note="released at the second retransmitted probe"),
    _pair("peer_unplugged_4s_fails", _burst(44070, 150_000, 3_300_000, recverr=True),
          _drain(44070, 4_400_000, 2), (Action(1, "disconnect", "B"),
                                        Action(4000, "reconnect", "B")), horizon=6 * S),
    _pair("fresh_entry_sends_into_the_void", _warm_burst(44080), _drain(44080, 1_600_000, 2),
          (Action(150, "disconnect", "B"), Action(600, "reconnect", "B")), horizon=3 * S,
          note="a neighbour entry cached by recent traffic: nothing is held"),
    _pair("unresolved_neighbour", unresolved_neighbour, None, horizon=5 * S),
]


# Three hosts, two links, a router ---------------------------------------------------------------

def routed_request_reply() -> G:
    fd = yield socket()
    yield delay(20_000)  # the servers bind meanwhile
    yield sendto(fd, (B2, 44100), b"across", False)
    yield recvfrom(fd, False)  # (10.78.2.1, 44100, b"re:across"): forwarded both ways
    yield sendto(fd, (C1, 44101), b"beside", False)
    yield recvfrom(fd, False)  # (10.78.1.2, 44101, b"re:beside"): on the same link


def routed_port_unreachable() -> G:
    c = yield socket()
    yield connect(c, B2, 44111)
    yield sendto(c, None, b"x", False)
    yield delay(100_000)
    yield geterr(c)  # ECONNREFUSED: B's ICMP came back through the router


def routed_no_route_at_the_router() -> G:
    c = yield socket()
    yield connect(c, FAR, 44120)  # OK: A's default route is the router
    yield sendto(c, None, b"x", False)  # OK
    yield delay(100_000)
    yield geterr(c)  # None: the router's net-unreachable is a soft error
    yield sendto(c, None, b"y", False)  # OK


def routed_net_unreachable_with_recverr() -> G:
    r = yield socket()
    yield setsockopt(r, SockOpt.IP_RECVERR, True)
    yield sendto(r, (FAR, 44150), b"r", False)  # the router has no route: ICMP net-unreachable
    yield delay(100_000)
    yield geterr(r)  # ENETUNREACH (a soft error: only IP_RECVERR reports it)
    yield recvfrom(r, True, errqueue=True)  # (10.78.9.9, 44150, ENETUNREACH)
    yield recvfrom(r, True, errqueue=True)  # EAGAIN: one entry


def routed_ttl_runs_out() -> G:
    r = yield socket()
    yield getsockopt(r, SockOpt.IP_TTL)  # 64
    yield setsockopt(r, SockOpt.IP_TTL, 0)  # EINVAL
    yield setsockopt(r, SockOpt.IP_TTL, 256)  # EINVAL
    yield setsockopt(r, SockOpt.IP_RECVERR, True)
    yield setsockopt(r, SockOpt.IP_TTL, 1)
    c = yield socket()
    yield setsockopt(c, SockOpt.IP_TTL, 1)
    yield connect(c, B2, 44160)
    yield delay(20_000)  # B binds meanwhile
    yield sendto(r, (B2, 44160), b"r", False)  # dropped at the router: time exceeded
    yield sendto(c, None, b"c", False)  # dropped too; c has no IP_RECVERR
    yield delay(100_000)
    yield geterr(c)  # None
    yield geterr(r)  # EHOSTUNREACH
    yield recvfrom(r, True, errqueue=True)  # (10.78.2.1, 44160, EHOSTUNREACH)
    yield sendto(r, (C1, 44161), b"on-link", False)  # TTL 1 is enough on one's own link
    yield setsockopt(r, SockOpt.IP_TTL, -1)
    yield getsockopt(r, SockOpt.IP_TTL)  # 64 again
    yield sendto(r, (B2, 44160), b"through", False)
    yield delay(100_000)


def routed_receiver_down() -> G:
    c = yield socket()
    yield connect(c, B2, 44130)
    yield delay(150_000)  # B's eth0 is down from 20 ms on
    yield sendto(c, None, b"x", False)  # OK: A's route (to the router) is up
    yield delay(200_000)
    yield geterr(c)  # None


def routed_down_receiver() -> G:
    fd = yield socket()
    yield bind(fd, None, 44130)
    yield delay(150_000)
    yield sendto(fd, (A1, 44131), b"x", False)  # ENETUNREACH: B's default route went too
    yield delay(200_000)
    yield recvfrom(fd, True)  # EAGAIN


def routed_ifup_restores_the_default_route() -> G:
    fd = yield socket()
    yield bind(fd, None, 44140)
    yield delay(150_000)  # down from 20 ms to 300 ms
    yield sendto(fd, (A1, 44141), b"down", False)  # ENETUNREACH
    yield delay(300_000)
    yield sendto(fd, (A1, 44141), b"up", False)  # OK: back up, with its default route
    yield delay(200_000)


ROUTED = [
    _routed("routed_request_reply", routed_request_reply, _echo_once(44100, 400_000),
            _echo_once(44101, 400_000)),
    _routed("routed_port_unreachable", routed_port_unreachable, _idle(300_000)),
    _routed("routed_no_route_at_the_router", routed_no_route_at_the_router, None,
            note="the router's ICMP net-unreachable is only visible with IP_RECVERR"),
    _routed("routed_net_unreachable_with_recverr", routed_net_unreachable_with_recverr, None,
            note="the router's ICMP is rate-limited; the first one always goes"),
    _routed("routed_ttl_runs_out", routed_ttl_runs_out, _drain(44160, 400_000, 2),
            _drain(44161, 400_000, 2)),
    _routed("routed_receiver_interface_down", routed_receiver_down, routed_down_receiver,
            actions=(Action(20, "ifdown", "B"),)),
    _routed("routed_ifup_restores_the_default_route", _drain(44141, 700_000, 2),
            routed_ifup_restores_the_default_route,
            actions=(Action(20, "ifdown", "B"), Action(300, "ifup", "B"))),
]

TOPOLOGIES = PAIRS + ROUTED
