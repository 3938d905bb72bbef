"""Path MTU, a router's fragmentation-needed, admin-prohibited and neighbour wait, and the
bounded neighbour queue (Linux 6.18, by experiment; issue 12), driven through small model
worlds: host A on 10.0.0.0/24 and B on 10.1.0.0/24, whose link has MTU 1000, joined by a
router described by HostConsts.router_legs (which also prohibits 10.2.0.0/24). network_ok is
checked after every step, and every rule named is asserted to fire. The same behaviours are
checked against the real kernel in tests/conformance/scenarios_pmtu.py."""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import replace
from typing import Any

import pytest

from tests import hostkit as hk
from tests.hostkit import thread_state
from udpsem.base.time import MS, S
from udpsem.core import coverage
from udpsem.core.drivers import fire
from udpsem.core.invariants import network_violations
from udpsem.core.system import enabled
from udpsem.hosts import calls as C
from udpsem.hosts.auxiliary import MIN_PMTU, icmp_err, learn_pmtu, path_mtu, too_big, wire_df
from udpsem.hosts.calls import bind, connect, delay, geterr, recvfrom, sendto, setsockopt, socket
from udpsem.hosts.invariants import host_violations
from udpsem.hosts.state import (
    NEIGH_RETRANS,
    HostConsts,
    Ret,
    RouterLeg,
    Sock,
    Timing,
    eth,
    initial_host,
)
from udpsem.hosts.values import (
    PMTUDISC_DO,
    PMTUDISC_DONT,
    PMTUDISC_INTERFACE,
    PMTUDISC_OMIT,
    PMTUDISC_PROBE,
    PMTUDISC_WANT,
    Errno,
    Fail,
    Ok,
    SockOpt,
    UDPError,
    ip,
)
from udpsem.network import neighbours
from udpsem.network.faults import Faults
from udpsem.network.messages import UDP, IcmpKind, IPMsg
from udpsem.programs.runtime import GeneratorRuntime
from udpsem.real.conformance import search_world
from udpsem.state.components import App, ModCall
from udpsem.state.world import (
    Event,
    InFlight,
    Machine,
    Setup,
    World,
    initial_world,
    owners_of,
)

Gen = Generator[Any, Any, Any]
A_IP, B_IP, NOBODY_FAR, BLOCKED = ip("10.0.0.1"), ip("10.1.0.1"), ip("10.1.0.77"), ip("10.2.0.1")
LOCAL = ip("127.0.0.1")
B_SAME_LINK = ip("10.0.0.2")
LEGS = (RouterLeg(ip("10.0.0.0"), 24, 1500), RouterLeg(ip("10.1.0.0"), 24, 1000),
        RouterLeg(ip("10.2.0.0"), 24, prohibit=True))


def _lenient(calls: Any) -> Any:
    def prog() -> Gen:
        gen = calls()
        answer: Any = None
        while True:
            try:
                req = gen.send(answer)
            except StopIteration:
                return
            try:
                answer = yield req
            except UDPError as e:
                answer = e.errno

    return prog


def _app() -> Gen:
    yield ModCall("main")


def _world(a: Any, b: Any, horizon: int = 1 * S, b_ip: int = B_IP, b_mtu: int | None = 1000,
           schedule: tuple[Event, ...] = ()) -> tuple[Setup, World]:
    rt = GeneratorRuntime()
    machines = []
    for name, addr, mtu in (("A", A_IP, None), ("B", b_ip, b_mtu)):
        code, req = rt.start(_app, ())
        iface = replace(eth(0, addr, 24), mtu=mtu)
        machines.append(Machine(name, True, initial_host((iface,)), apps=(App(0, code, req, 0),)))
    ms = tuple(machines)
    consts = HostConsts(neigh=True, router_icmp=True, router_legs=LEGS, icmp_quote=True)
    setup = Setup(Timing(), {"A": consts, "B": consts},
                  {"A": {"main": _lenient(a)}, "B": {"main": _lenient(b)}}, Faults(), rt,
                  horizon, owners_of(ms))
    return setup, initial_world(ms, schedule)


def _run(setup: Setup, w: World, seed: int = 1) -> tuple[dict[str, list[Any]], list[str], World]:
    """Results per host, the rules fired (partners too), the last world."""
    results: dict[str, list[Any]] = {"A": [], "B": []}
    rules: list[str] = []
    last = w
    chooser = _Hold(seed)
    while last.now < setup.horizon:
        cands = enabled(setup, last)
        if not cands:
            break
        hold = [i for i, c in enumerate(cands) if c.rule == "net_router_neigh_hold"]
        hint = "prefer_action" if cands[-1].rule == "time_pass" else ""
        i = hold[0] if hold else chooser.pick("pick", range(len(cands)), hint)
        t = fire(cands[i], chooser, [])
        assert not network_violations(setup, t.world), (t.rule, network_violations(setup,
                                                                                   t.world))
        coverage.transition(last, t)
        rules.append(t.rule)
        if t.partner is not None:
            rules.append(t.partner)
        if t.label.kind == "return" and t.label.host in results:
            results[t.label.host].append(t.label.value)
        last = t.world
    return results, rules, last


class _Hold:
    """A seeded chooser that holds for unresolved neighbours and lets routers answer (`_run`
    also takes a router's neighbour wait over its cached alternative)."""

    def __init__(self, seed: int) -> None:
        from udpsem.base.choice import RandomChooser

        self.inner = RandomChooser(seed)

    def pick(self, kind: str, options: Any, hint: str = "") -> Any:
        if kind == "neigh":
            return "hold"
        if kind == "icmp":
            return True
        return self.inner.pick(kind, options, hint)


def _admitted(setup: Setup, w: World, logs: dict[Any, Any]) -> bool:
    start = tuple((k, 0, None) for k in sorted(logs))
    found = search_world(setup, w, logs, start, lambda lab: (lab.host, lab.tid))
    for before, t in found.path or ():
        coverage.transition(before, t)
    return found.path is not None


def _drain(port: int, at: int, n: int) -> Any:
    def b() -> Gen:
        fd = yield socket()
        yield bind(fd, None, port)
        yield delay(at)
        for _ in range(n):
            yield recvfrom(fd, True)

    return b


def _val(v: Any) -> Any:
    """A LIB answer's value, or its errno if it failed."""
    return v.value if isinstance(v, Ok) else v.errno


def _data(res: list[Any]) -> list[bytes]:
    """The payloads of the datagrams a receiver's answers hold."""
    return [_val(v)[2] for v in res if isinstance(_val(v), tuple)]


def _quiet() -> Gen:
    yield delay(1)


# The host's part: modes, path MTU ---------------------------------------------------------------

def test_modes_decide_df_and_local_emsgsize() -> None:
    """Linux 6.18, experiment (a 1500-byte interface, a path MTU of 1000 learned): DO fails
    above the path MTU, PROBE and INTERFACE only above the interface's, the others never;
    DF is set by DO and PROBE, by WANT while the datagram fits, never by the rest."""
    h = initial_host((eth(0, A_IP, 24),))
    assert path_mtu(h, B_IP) == 1500
    h = learn_pmtu(h, B_IP, 1000)
    assert path_mtu(h, B_IP) == 1000 and path_mtu(h, BLOCKED) == 1500
    big, fits, huge = 1228, 1000, 1501
    assert [too_big(h, B_IP, big, m) for m in range(6)] == [False, False, True, False, False,
                                                            False]
    assert [too_big(h, B_IP, huge, m) for m in range(6)] == [False, False, True, True, True,
                                                             False]
    assert [wire_df(h, B_IP, fits, m) for m in range(6)] == [False, True, True, True, False,
                                                             False]
    assert [wire_df(h, B_IP, big, m) for m in range(6)] == [False, False, True, True, False,
                                                            False]
    assert (PMTUDISC_DONT, PMTUDISC_WANT, PMTUDISC_DO, PMTUDISC_PROBE, PMTUDISC_INTERFACE,
            PMTUDISC_OMIT) == tuple(range(6))


def test_learning_only_lowers_and_is_clamped() -> None:
    """A reported MTU not below the path MTU is ignored; one below 552 (min_pmtu) is
    raised to it; loopback destinations learn nothing."""
    h = learn_pmtu(initial_host((eth(0, A_IP, 24),)), B_IP, 1000)
    assert learn_pmtu(h, B_IP, 1200) is h
    assert path_mtu(learn_pmtu(h, B_IP, 300), B_IP) == MIN_PMTU
    assert learn_pmtu(h, ip("127.0.0.1"), 600) is h


def test_emsgsize_is_hard_except_for_dont() -> None:
    """Linux 6.18, experiment: fragmentation-needed is EMSGSIZE for a connected socket (or
    one with IP_RECVERR), nothing for a DONT socket; admin-prohibited is EHOSTUNREACH for a
    connected socket without IP_RECVERR (a hard error), nothing for an unconnected one."""
    k = HostConsts()
    conn = Sock(3, A_IP, 5000, B_IP, 6000)
    assert icmp_err(k, IcmpKind.FRAG_NEEDED, conn) == Errno.EMSGSIZE
    assert icmp_err(k, IcmpKind.FRAG_NEEDED, replace(conn, pmtudisc=PMTUDISC_DONT)) is None
    assert icmp_err(k, IcmpKind.FRAG_NEEDED, Sock(3, A_IP, 5000)) is None
    assert icmp_err(k, IcmpKind.ADMIN_PROHIB, conn) == Errno.EHOSTUNREACH
    assert icmp_err(k, IcmpKind.ADMIN_PROHIB, Sock(3, A_IP, 5000)) is None
    assert icmp_err(k, IcmpKind.HOST_UNREACH, conn) is None  # soft, for contrast


# The router's part ------------------------------------------------------------------------------

def pmtu_client() -> Gen:
    c = yield socket()
    yield connect(c, B_IP, 6000)
    yield delay(20_000)
    yield sendto(c, None, b"a" * 1200, False)  # dropped at the router: DF, 1228 > 1000
    yield delay(100_000)
    yield geterr(c)  # EMSGSIZE
    yield sendto(c, None, b"b" * 1200, False)  # fragmented here now: it arrives
    yield delay(100_000)
    yield geterr(c)  # None


def test_frag_needed_lowers_the_path_mtu_and_sets_emsgsize() -> None:
    setup, w = _world(pmtu_client, _drain(6000, 300_000, 2))
    res, rules, last = _run(setup, w)
    assert {"net_router_frag_needed", "delivery_in_icmp_3"} <= set(rules)
    assert [_val(v) for v in res["A"][-4:]] == [Errno.EMSGSIZE, None, None, None]
    assert _data(res["B"]) == [b"b" * 1200]
    host = last.machine("A").host
    assert host is not None and path_mtu(host, B_IP) == 1000


def test_without_a_smaller_link_nothing_is_dropped() -> None:
    setup, w = _world(pmtu_client, _drain(6000, 300_000, 3), b_mtu=None)
    legs = (LEGS[0], RouterLeg(ip("10.1.0.0"), 24, 1500), LEGS[2])
    consts = replace(setup.consts["A"], router_legs=legs)
    setup.consts = {"A": consts, "B": consts}
    res, rules, _ = _run(setup, w)
    assert "net_router_frag_needed" not in rules
    assert _data(res["B"]) == [b"a" * 1200, b"b" * 1200]


def prohibited_client() -> Gen:
    c = yield socket()
    yield connect(c, BLOCKED, 6000)
    yield sendto(c, None, b"c", False)
    yield delay(100_000)
    yield geterr(c)


@pytest.mark.parametrize("err", ["EHOSTUNREACH", None])
def test_admin_prohibited_is_hard_and_rate_limited(err: str | None) -> None:
    setup, w = _world(prohibited_client, _quiet)
    logs = {("A", 0): (("socket", 3), ("connect", None), ("sendto", None), ("delay", None),
                       ("geterr", err)),
            ("B", 0): (("delay", None),)}
    assert _admitted(setup, w, logs)


def test_admin_prohibited_fires() -> None:
    setup, w = _world(prohibited_client, _quiet)
    res, rules, _ = _run(setup, w)
    assert "net_router_prohibit" in rules
    assert _val(res["A"][-1]) == Errno.EHOSTUNREACH


def nobody_client() -> Gen:
    c = yield socket()
    yield connect(c, NOBODY_FAR, 6000)
    r = yield socket()
    yield setsockopt(r, SockOpt.IP_RECVERR, True)
    yield sendto(c, None, b"c", False)
    yield sendto(r, (NOBODY_FAR, 6001), b"r", False)
    yield delay(2_700_000)
    yield geterr(r)  # None yet
    yield delay(700_000)
    yield geterr(c)  # None: soft
    yield geterr(r)  # EHOSTUNREACH


def test_router_neighbour_wait_fails_with_host_unreachable() -> None:
    setup, w = _world(nobody_client, _quiet, horizon=5 * S)
    res, rules, _ = _run(setup, w)
    assert {"net_router_neigh_hold", "net_router_neigh_probe", "net_router_neigh_fail"} <= \
        set(rules)
    assert [_val(v) for v in res["A"][-5:]] == [None, None, None, None, Errno.EHOSTUNREACH]


def late_sender() -> Gen:
    u = yield socket()
    yield delay(100_000)  # B is unplugged from 1 ms to 500 ms
    yield sendto(u, (B_IP, 6000), b"late", False)
    yield delay(2_000_000)


def test_router_releases_when_the_destination_answers() -> None:
    setup, w = _world(late_sender, _drain(6000, 1_800_000, 2), horizon=3 * S,
                      schedule=(Event(1 * MS, "disconnect", "B"),
                                Event(500 * MS, "reconnect", "B")))
    res, rules, _ = _run(setup, w)
    assert {"net_router_neigh_hold", "net_router_neigh_release"} <= set(rules)
    assert _data(res["B"]) == [b"late"]


# The bounded neighbour queue --------------------------------------------------------------------

def test_fragments_and_charges() -> None:
    """Measured (see UNRES_QLEN_BYTES): 1000 bytes cost 2304, 1473 two fragments (3136),
    3000 three (5440), 8000 six (12800), 60000 forty-one (94464)."""
    assert neighbours.fragments(1028, 1500) == [1028]
    assert neighbours.fragments(1501, 1500) == [1500, 21]
    assert neighbours.fragments(3028, 1500) == [1500, 1500, 68]

    def cost(n: int) -> int:
        return neighbours.charge(IPMsg(A_IP, B_IP, UDP(1, 2, b"x" * n)), 1500)

    assert [cost(n) for n in (10, 645, 1000, 1473, 3000, 8000, 60000)] == \
        [832, 1280, 2304, 3136, 5440, 12800, 94464]
    # how many of each fit, as measured: 256, 166, 92, 67, 39, 16, 2
    assert [neighbours.UNRES_QLEN_BYTES // cost(n) for n in (10, 645, 1000, 1473, 3000, 8000,
                                                             60000)] == \
        [256, 166, 92, 67, 39, 16, 2]


def burst_sender() -> Gen:
    u = yield socket()
    yield delay(100_000)  # B is unplugged from 1 ms to 500 ms
    for k in range(5):
        yield sendto(u, (B_SAME_LINK, 6000), b"%d" % k + b"x" * 59999, False)
    yield delay(2_000_000)


def test_a_full_neighbour_queue_drops_the_oldest() -> None:
    setup, w = _world(burst_sender, _drain(6000, 1_800_000, 3), horizon=3 * S,
                      b_ip=B_SAME_LINK, b_mtu=None,
                      schedule=(Event(1 * MS, "disconnect", "B"),
                                Event(500 * MS, "reconnect", "B")))
    res, rules, _ = _run(setup, w)
    assert rules.count("net_neigh_overflow") == 3
    assert sorted(d[:1] for d in _data(res["B"])) == [b"3", b"4"]


# The socket options and the local EMSGSIZE (setsockopt_11-13, getsockopt_11-13, sendto_18) ----

def _answer(step: Any) -> Any:
    r = thread_state(step.host)
    assert isinstance(r, Ret)
    return r.value


def _learned(mtu: int = 1000) -> Any:
    """A Linux host (10.0.0.1/24) that learned a path MTU of `mtu` to B."""
    h = hk.host(A_IP)
    return learn_pmtu(h, B_IP, mtu)


def test_ip_mtu_discover_is_set_read_and_refused() -> None:
    """Linux 6.18, experiment: WANT (1) by default, 0..5 read back, -1 and 6 give EINVAL,
    IP_MTU cannot be set (ENOPROTOOPT)."""
    c = hk.ctx()
    h = replace(hk.host(A_IP), s=(Sock(3),))
    rule, st = hk.call(c, h, C.getsockopt(3, SockOpt.IP_MTU_DISCOVER))
    assert (rule, _answer(st)) == ("getsockopt_11", Ok(PMTUDISC_WANT))
    rule, st = hk.call(c, h, C.setsockopt(3, SockOpt.IP_MTU_DISCOVER, PMTUDISC_PROBE))
    assert rule == "setsockopt_11" and st.host.s[0].pmtudisc == PMTUDISC_PROBE
    for bad in (-1, 6):
        rule, st = hk.call(c, h, C.setsockopt(3, SockOpt.IP_MTU_DISCOVER, bad))
        assert (rule, _answer(st)) == ("setsockopt_12", Fail(Errno.EINVAL))
    rule, st = hk.call(c, h, C.setsockopt(3, SockOpt.IP_MTU, 1000))
    assert (rule, _answer(st)) == ("setsockopt_13", Fail(Errno.ENOPROTOOPT))


def test_ip_mtu_reads_the_path_mtu_of_a_connected_socket() -> None:
    """Linux 6.18, experiment: 1500 on Ethernet, 1000 once learned, 65535 over loopback,
    ENOTCONN unconnected, 68 once the route is gone."""
    c = hk.ctx()
    conn, lo, unconn = Sock(3, A_IP, 5000, B_IP, 6000), Sock(4, LOCAL, 5001, LOCAL, 6000), Sock(5)
    for h, fd, want in ((hk.host(A_IP), 3, 1500), (_learned(), 3, 1000),
                        (hk.host(A_IP), 4, 65535)):
        rule, st = hk.call(c, replace(h, s=(conn, lo, unconn)), C.getsockopt(fd, SockOpt.IP_MTU))
        assert (rule, _answer(st)) == ("getsockopt_12", Ok(want))
    rule, st = hk.call(c, replace(hk.host(A_IP), s=(unconn,)), C.getsockopt(5, SockOpt.IP_MTU))
    assert (rule, _answer(st)) == ("getsockopt_13", Fail(Errno.ENOTCONN))
    down = hk.host(ifds=(replace(eth(0, A_IP, 24), up=False),))
    rule, st = hk.call(c, replace(down, s=(conn,)), C.getsockopt(3, SockOpt.IP_MTU))
    assert (rule, _answer(st)) == ("getsockopt_12", Ok(68))


@pytest.mark.parametrize(("mode", "n", "fails"), [
    (PMTUDISC_DO, 973, True), (PMTUDISC_DO, 972, False), (PMTUDISC_PROBE, 1200, False),
    (PMTUDISC_PROBE, 1473, True), (PMTUDISC_INTERFACE, 1473, True),
    (PMTUDISC_INTERFACE, 1200, False), (PMTUDISC_WANT, 1473, False),
    (PMTUDISC_DONT, 3000, False), (PMTUDISC_OMIT, 1473, False)])
def test_sendto_fails_locally_by_mode(mode: int, n: int, fails: bool) -> None:
    """Linux 6.18, experiment (path MTU 1000 learned, interface 1500): EMSGSIZE at once,
    autobinding, a pending error kept; else the datagram is queued."""
    c = hk.ctx()
    s = Sock(3, es=Errno.ECONNREFUSED if fails else None, pmtudisc=mode)
    h = replace(_learned(), s=(s,))
    rule, st = hk.call(c, h, C.sendto(3, (B_IP, 6000), b"x" * n, False))
    if fails:
        assert (rule, _answer(st)) == ("sendto_18", Fail(Errno.EMSGSIZE))
        assert st.host.s[0].ps1 is not None and st.host.s[0].es == Errno.ECONNREFUSED
    else:
        assert rule == "sendto_1" and len(st.host.oq) == 1


def test_ifdown_forgets_the_learned_path_mtus() -> None:
    """Linux 6.18, experiment: after `ip link set eth0 down` and up, a new connected socket's
    IP_MTU read 1500 again (the learned MTU was an exception of the deleted route)."""
    from udpsem.network.lifecycle import host_ifdown, host_ifup

    m = Machine("A", True, _learned())
    down = host_ifdown(m)
    assert down is not None and down.host is not None
    up = host_ifup(down)
    assert up is not None and up.host is not None and path_mtu(up.host, B_IP) == 1500
    assert path_mtu(m.host, B_IP) == 1000  # type: ignore[arg-type]


# host_ok and network_ok on the new state (each extension can be broken, and is named) --------

def _host_conjuncts(h: Any, consts: HostConsts | None = None) -> set[str]:
    return {v.conjunct for v in host_violations(h, consts or HostConsts(), Timing(), 0)}


def test_host_ok_names_broken_path_mtu_state() -> None:
    good = _learned()
    assert not _host_conjuncts(good)
    eth0 = good.ifds[1]
    for bad in (replace(eth0, mtu=40),  # below IPv4's 68
                replace(eth0, pmtu=((B_IP, 1600),)),  # not below the interface's MTU
                replace(eth0, pmtu=((B_IP, 500),)),  # below min_pmtu
                replace(eth0, pmtu=((B_IP, 1000), (A_IP, 900)))):  # not sorted
        assert "I3" in _host_conjuncts(replace(good, ifds=(good.ifds[0], bad)))
    lo = replace(good.ifds[0], pmtu=((B_IP, 1000),))  # loopback learns nothing
    assert "I3" in _host_conjuncts(replace(good, ifds=(lo, eth0)))
    s = Sock(3, pmtudisc=6)
    assert "S8" in _host_conjuncts(replace(good, s=(s,)))
    assert not _host_conjuncts(replace(good, s=(Sock(3, es=Errno.EMSGSIZE),)))  # S5 takes it


def test_network_ok_names_broken_router_holds() -> None:
    setup, w = _world(_quiet, _quiet)
    msg = IPMsg(A_IP, NOBODY_FAR, UDP(5000, 6000, b"x"))
    held = InFlight(msg, NEIGH_RETRANS, "A", 0, 0, True)
    assert not network_violations(setup, replace(w, net=(held,)))
    prohibited = InFlight(replace(msg, dst=BLOCKED), NEIGH_RETRANS, "A", 0, 0, True)
    assert "M2" in {v.conjunct for v in network_violations(setup, replace(w, net=(prohibited,)))}
    big = IPMsg(A_IP, NOBODY_FAR, UDP(5000, 6000, b"x" * 60000))
    many = tuple(InFlight(big, NEIGH_RETRANS, "A", k, 0, True) for k in range(3))
    assert "M2" in {v.conjunct for v in network_violations(setup, replace(w, net=many))}
    assert not network_violations(setup, replace(w, net=many[:2]))  # two fit, as measured
