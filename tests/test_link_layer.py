"""The link layer (Linux 6.18, by experiment; issue 12): interfaces taken down and up
(host_ifdown, host_ifup, host_recv_ifdown) and dynamic neighbour resolution
(network.neighbours: net_neigh_hold, net_neigh_probe, net_neigh_release, net_neigh_fail),
driven through two-machine worlds. network_ok is checked after every step; every rule named
here is asserted to fire. The same behaviours are checked against the real kernel in
tests/conformance/test_topology.py."""

from __future__ import annotations

from collections.abc import Generator, Sequence
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from udpsem.base.choice import RandomChooser
from udpsem.base.time import MS, S
from udpsem.core.drivers import simulate
from udpsem.core.invariants import network_violations
from udpsem.hosts.calls import (
    bind,
    connect,
    delay,
    geterr,
    getsockopt,
    recvfrom,
    sendto,
    setsockopt,
    socket,
)
from udpsem.hosts.state import NEIGH_PROBES, NEIGH_RETRANS, HostConsts, eth
from udpsem.hosts.values import Errno, Fail, Ok, SockOpt, ip
from udpsem.network.faults import Faults
from udpsem.real.conformance import ModelHost, admitted, model_world
from udpsem.state.world import Event, InFlight, Setup, World

Gen = Generator[Any, Any, Any]
A_IP, B_IP, NOBODY = ip("10.0.0.1"), ip("10.0.0.2"), ip("10.0.0.3")


class _Prefer:
    """A seeded random chooser that always takes `neigh` = `neigh` when offered."""

    def __init__(self, seed: int, neigh: str) -> None:
        self.inner = RandomChooser(seed)
        self.neigh = neigh

    def pick(self, kind: str, options: Sequence[Any], hint: str = "") -> Any:
        if kind == "neigh":
            return self.neigh
        return self.inner.pick(kind, options, hint)


def _world(a: Any, b: Any, schedule: tuple[Event, ...] = (), neigh: bool = True,
           horizon: int = 5 * S, b_ip: int = B_IP) -> tuple[Setup, World]:
    consts = HostConsts(neigh=neigh)
    return model_world([ModelHost("A", (eth(0, A_IP, 24),), a, consts=consts),
                        ModelHost("B", (eth(0, b_ip, 24),), b, consts=consts)],
                       horizon=horizon, schedule=schedule)


def _run(setup: Setup, w: World, seed: int = 1, neigh: str = "hold"
         ) -> tuple[dict[str, list[tuple[str, Any]]], list[str], list[World]]:
    """Results per host (call name, result), the rules fired (partners too), the worlds."""
    results: dict[str, list[tuple[str, Any]]] = {"A": [], "B": []}
    pending: dict[tuple[str, int], str] = {}
    rules: list[str] = []
    worlds = []
    for step in simulate(setup, w, _Prefer(seed, neigh)):
        t = step.transition
        assert not network_violations(setup, t.world), (t.rule,
                                                        network_violations(setup, t.world))
        rules.append(t.rule)
        if t.partner is not None:
            rules.append(t.partner)
        lab = t.label
        if lab.kind == "call":
            pending[(lab.host, lab.tid)] = lab.value.name
        elif lab.kind == "return" and lab.host in results:
            results[lab.host].append((pending.pop((lab.host, lab.tid)), lab.value))
        worlds.append(t.world)
    return results, rules, worlds


def _quiet() -> Gen:
    yield delay(1)


def _receiver(n: int, at: int = 4_500_000) -> Any:  # µs
    def b() -> Gen:
        fd = yield socket()
        yield bind(fd, None, 5000)
        yield delay(at)
        for _ in range(n):
            yield recvfrom(fd, True)

    return b


# Interfaces down and up -------------------------------------------------------------------

def test_ifdown_takes_the_routes_not_the_addresses() -> None:
    """Linux 6.18, experiment (two namespaces on a veth pair): after `ip link set eth0
    down` sendto, a connected send and connect give ENETUNREACH, the interface's own address
    still binds and loops back, and datagrams from the peer are lost; after `up` it works."""

    def a() -> Gen:
        c = yield socket()
        yield connect(c, B_IP, 5000)
        yield delay(20_000)  # the interface goes down at 10 ms
        u = yield socket()
        yield sendto(u, (B_IP, 5000), b"x", False)  # ENETUNREACH
        yield sendto(c, None, b"c", False)  # ENETUNREACH
        d = yield socket()
        yield connect(d, B_IP, 5000)  # ENETUNREACH
        e = yield socket()
        yield bind(e, A_IP, 5001)  # still this host's address
        yield sendto(e, (A_IP, 5001), b"self", False)
        yield delay(20_000)  # B sends to 5001 meanwhile: lost
        yield recvfrom(e, True)  # b"self"
        yield recvfrom(e, True)  # EAGAIN
        yield delay(40_000)  # up again at 80 ms
        yield sendto(c, None, b"back", False)

    def b() -> Gen:
        fd = yield socket()
        yield bind(fd, None, 5000)
        yield delay(35_000)
        yield sendto(fd, (A_IP, 5001), b"to-down", False)  # OK: B's route is up
        yield delay(100_000)
        yield recvfrom(fd, True)  # b"back" from the connected socket

    sched = (Event(10 * MS, "ifdown", "A"), Event(80 * MS, "ifup", "A"))
    setup, w = _world(a, b, sched, horizon=300 * MS)
    res, rules, worlds = _run(setup, w, neigh="cached")  # B's entry for A is fresh
    unreach = Fail(Errno.ENETUNREACH)
    assert [r for r in res["A"] if r[0] in ("sendto", "connect")][1:4] == [
        ("sendto", unreach), ("sendto", unreach), ("connect", unreach)]
    recvs = [v for n, v in res["A"] if n == "recvfrom"]
    assert recvs[0].value[2] == b"self" and recvs[1] == Fail(Errno.EAGAIN)
    assert res["A"][-1] == ("sendto", Ok(None))
    assert res["B"][-1][1].value[:3] == (A_IP, res["B"][-1][1].value[1], b"back")
    assert {"host_ifdown", "host_ifup", "host_recv_ifdown", "sendto_11", "connect_2"} <= set(
        rules)
    down = [x for x in worlds if 10 * MS < x.now < 80 * MS]
    assert down and all(not x.machine("A").host.ifds[1].up for x in down)
    assert worlds[-1].machine("A").host.ifds[1].up


def test_ifdown_purges_what_the_host_holds() -> None:
    """Datagrams held for an unanswered neighbour are dropped without an error when the
    interface goes down (Linux purges the neighbour queues)."""

    def a() -> Gen:
        r = yield socket()
        yield setsockopt(r, SockOpt.IP_RECVERR, True)
        yield sendto(r, (NOBODY, 5000), b"x", False)  # held
        yield delay(4_000_000)
        yield geterr(r)  # None: the interface went down before the neighbour failed

    setup, w = _world(a, _quiet, (Event(500 * MS, "ifdown", "A"),))
    res, rules, worlds = _run(setup, w)
    assert "net_neigh_hold" in rules and "net_neigh_fail" not in rules
    assert res["A"][-1] == ("geterr", Ok(None))
    assert not any(f.hold is not None for f in worlds[-1].net)


# Neighbour resolution ------------------------------------------------------------------------

def _three_sends(conn: bool = True) -> Any:
    def a() -> Gen:
        u = yield socket()
        c = yield socket()
        yield connect(c, B_IP, 5000)
        yield delay(10_000)
        for k in range(3):
            yield sendto(u, (B_IP, 5000), b"d%d" % k, False)
            yield sendto(c, None, b"c%d" % k, False)
        yield delay(4_500_000)
        yield geterr(c)

    return a


@pytest.mark.parametrize("who", ["peer", "self"])
def test_a_short_outage_holds_and_delivers(who: str) -> None:
    """Linux 6.18, experiment: a peer unreachable for 0.33 s (its link down, or the
    sender's own carrier lost) receives the six datagrams sent meanwhile, at the probe 1 s
    after the first send."""
    host = "B" if who == "peer" else "A"
    sched = (Event(1 * MS, "disconnect", host), Event(330 * MS, "reconnect", host))
    setup, w = _world(_three_sends(), _receiver(7), sched)
    res, rules, worlds = _run(setup, w)
    assert [r for r in res["A"] if r[0] == "sendto"] == [("sendto", Ok(None))] * 6
    got = [v.value[2] for n, v in res["B"] if n == "recvfrom" and isinstance(v, Ok)]
    assert sorted(got) == [b"c0", b"c1", b"c2", b"d0", b"d1", b"d2"]
    assert res["B"][-1] == ("recvfrom", Fail(Errno.EAGAIN))
    assert "net_neigh_hold" in rules and "net_neigh_release" in rules
    assert "net_neigh_probe" not in rules  # answered at the first retransmission
    released = [x for x in worlds if any(f.hold is None and f.src == "A" for f in x.net)]
    since = next(f.hold for x in worlds for f in x.net if f.hold is not None)
    assert 10 * MS <= since < 12 * MS  # the first send (after the 10 ms delay)
    assert released and released[0].now == since + NEIGH_RETRANS


def test_cached_entry_sends_at_once_and_loses() -> None:
    """The other Linux outcome when the peer does not answer: a neighbour entry cached from
    recent traffic, the datagrams go on the wire and are lost at the unplugged peer."""
    sched = (Event(1 * MS, "disconnect", "B"), Event(330 * MS, "reconnect", "B"))
    setup, w = _world(_three_sends(), _receiver(1), sched)
    res, rules, _ = _run(setup, w, neigh="cached")
    assert res["B"][-1] == ("recvfrom", Fail(Errno.EAGAIN))
    assert "host_recv_disc" in rules and "net_neigh_hold" not in rules


def test_a_long_outage_fails_with_host_unreachable_for_recverr_only() -> None:
    """Linux 6.18, experiment: after 3 unanswered probes the held datagrams are dropped;
    EHOSTUNREACH reaches only the IP_RECVERR socket (3.08 s after the send), a connected
    socket without it sees nothing."""

    def a() -> Gen:
        c = yield socket()
        yield connect(c, NOBODY, 5000)
        r = yield socket()
        yield setsockopt(r, SockOpt.IP_RECVERR, True)
        yield sendto(c, None, b"c", False)
        yield sendto(r, (NOBODY, 5000), b"r", False)
        yield delay(2_900_000)
        yield geterr(r)  # None: not failed yet
        yield delay(200_000)
        yield geterr(c)  # None: a soft error
        yield geterr(r)  # EHOSTUNREACH
        yield recvfrom(r, True, errqueue=True)

    setup, w = _world(a, _quiet)
    res, rules, worlds = _run(setup, w)
    errs = [v for n, v in res["A"] if n == "geterr"]
    assert errs == [Ok(None), Ok(None), Ok(Errno.EHOSTUNREACH)]
    assert rules.count("net_neigh_probe") == 2 * (NEIGH_PROBES - 1)
    assert rules.count("net_neigh_fail") == 2
    assert "delivery_in_icmp_1" in rules and "delivery_in_icmp_2" in rules
    assert res["A"][-1] == ("recvfrom", Ok((NOBODY, 5000, Errno.EHOSTUNREACH)))
    assert not any(f.hold is not None for f in worlds[-1].net)


def test_later_sends_join_the_entry() -> None:
    """A datagram sent while the entry is resolving waits for the same probes (one entry
    per neighbour)."""

    def a() -> Gen:
        u = yield socket()
        yield sendto(u, (NOBODY, 5000), b"1", False)
        yield delay(500_000)
        yield sendto(u, (NOBODY, 5000), b"2", False)
        yield delay(100_000)

    setup, w = _world(a, _quiet, horizon=700 * MS)
    _, _, worlds = _run(setup, w)
    held = [f for f in worlds[-1].net if f.hold is not None]
    assert len(held) == 2 and {f.hold for f in held} == {0 + held[0].hold}
    assert {f.deadline for f in held} == {held[0].hold + NEIGH_RETRANS}


def test_static_neighbours_keep_the_papers_disconnect() -> None:
    """Without dynamic neighbours (the paper's model) a send while unplugged is lost."""
    sched = (Event(1 * MS, "disconnect", "A"), Event(330 * MS, "reconnect", "A"))
    setup, w = _world(_three_sends(), _receiver(1), sched, neigh=False)
    res, rules, _ = _run(setup, w)
    assert "host_send_disc" in rules and "net_neigh_hold" not in rules
    assert res["B"][-1] == ("recvfrom", Fail(Errno.EAGAIN))


def test_crash_drops_what_the_host_holds() -> None:
    def a() -> Gen:
        u = yield socket()
        yield sendto(u, (NOBODY, 5000), b"x", False)
        yield delay(5_000_000)

    setup, w = _world(a, _quiet, (Event(200 * MS, "crash", "A"),), horizon=1 * S)
    _, rules, worlds = _run(setup, w)
    assert "net_neigh_hold" in rules and "host_crash" in rules
    assert not any(isinstance(f, InFlight) and f.hold is not None for f in worlds[-1].net)


# Theorem 1 for the new state: network_ok (M2 included) after every step ---------------------

def _chatty_a() -> Gen:
    r = yield socket()
    yield setsockopt(r, SockOpt.IP_RECVERR, True)
    c = yield socket()
    yield connect(c, B_IP, 5000)
    yield bind(r, None, 5001)
    for _ in range(12):
        yield sendto(r, (B_IP, 5000), b"r", False)
        yield sendto(c, None, b"c", False)
        yield sendto(r, (NOBODY, 5000), b"n", False)
        yield sendto(r, (A_IP, 5001), b"self", False)
        yield recvfrom(r, True)
        yield geterr(r)
        yield geterr(c)
        yield delay(400_000)


def _chatty_b() -> Gen:
    fd = yield socket()
    yield bind(fd, None, 5000)
    for _ in range(20):
        yield recvfrom(fd, True)
        yield sendto(fd, (A_IP, 5001), b"b", False)
        yield delay(250_000)


_EVENTS = st.lists(st.tuples(st.integers(0, 5000), st.integers(1, 3000), st.sampled_from(
    ["ifdown", "disconnect", "crash"]), st.sampled_from(["A", "B"])), max_size=6)
# A tenth of the profile's examples (30 under `ci`): each is a 6 s two-host run of a few
# hundred steps.
_WALKS = settings(max_examples=max(10, settings().max_examples // 10))


@_WALKS
@given(st.integers(0, 2**32 - 1), _EVENTS, st.booleans())
def test_link_events_preserve_network_ok(seed: int, events: list[tuple[int, int, str, str]],
                                         neigh: bool) -> None:
    """Arbitrary interface windows, cable windows and crashes (scheduled as `udpsem run`
    schedules them, `fault_events`), with static or dynamic neighbours, random choices (hold
    or cached included): network_ok (host_ok of each machine, M1, M2, E1, ...) holds after
    every step, and the run reaches its horizon."""
    from udpsem.network.faults import Crash, Window
    from udpsem.programs.world import fault_events

    def windows(kind: str) -> tuple[Window, ...]:
        return tuple(Window(h, at * MS, (at + span) * MS) for at, span, k, h in events
                     if k == kind)

    faults = Faults(disconnects=windows("disconnect"), ifdowns=windows("ifdown"),
                    crashes=tuple(Crash(h, at * MS) for at, _, k, h in events if k == "crash"))
    sched = fault_events(faults, ["A", "B"])
    setup, w = _world(_chatty_a, _chatty_b, sched, neigh=neigh, horizon=6 * S)
    for steps, st_ in enumerate(simulate(setup, w, RandomChooser(seed)), 1):
        w = st_.world
        v = network_violations(setup, w)
        assert not v, (steps, st_.transition.rule, v)
    assert w.now == setup.horizon


# A router's ICMP net-unreachable (net_router_unreach) --------------------------------------

def test_router_net_unreachable_is_optional_and_reaches_recverr_only() -> None:
    """Linux 6.18, experiment: a router with no route answers with ICMP net-unreachable,
    which only an IP_RECVERR socket reports (ENETUNREACH); the router rate-limits it, so
    the model admits the run without it too; without router_icmp only that one."""
    from dataclasses import replace

    from udpsem.real.conformance import search_world

    far = ip("10.9.9.9")

    def a() -> Gen:
        c = yield socket()
        yield connect(c, far, 5000)
        r = yield socket()
        yield setsockopt(r, SockOpt.IP_RECVERR, True)
        yield sendto(c, None, b"c", False)
        yield sendto(r, (far, 5000), b"r", False)
        yield delay(100_000)
        yield geterr(c)
        yield geterr(r)

    def logs(err: Any) -> dict[Any, Any]:
        return {("A", 0): (("socket", 3), ("connect", None), ("socket", 4),
                           ("setsockopt", None), ("sendto", None), ("sendto", None),
                           ("delay", None), ("geterr", None), ("geterr", err)),
                ("B", 0): (("delay", None),)}

    def admits(router: bool, err: Any) -> bool:
        setup, w = _world(a, _quiet, horizon=1 * S)
        consts = replace(setup.consts["A"], router_icmp=router)
        setup.consts = {"A": consts, "B": consts}
        start = ((("A", 0), 0, None), (("B", 0), 0, None))
        found = search_world(setup, w, logs(err), start, lambda lab: (lab.host, lab.tid))
        if found.path is not None:
            from udpsem.core import coverage

            for before, t in found.path:
                coverage.transition(before, t)
        return found.path is not None

    assert admits(True, "ENETUNREACH")
    assert admits(True, None)  # rate-limited, or forwarded beyond
    assert not admits(False, "ENETUNREACH")
    assert admits(False, None)


# IP_TTL and a router's time-exceeded (setsockopt_9/10, getsockopt_9, net_router_ttl) ----------

def _admitted(setup: Setup, w: World, logs: dict[Any, Any]) -> bool:
    """Whether the model has a run with exactly these logs (its rules count for coverage)."""
    return admitted(setup, w, logs).path is not None


def test_ip_ttl_values() -> None:
    """Linux 6.18, experiment: 64 by default; 0 and 256 give EINVAL and keep it; 255 and 1
    are kept; -1 restores 64."""

    def a() -> Gen:
        fd = yield socket()
        yield getsockopt(fd, SockOpt.IP_TTL)
        yield setsockopt(fd, SockOpt.IP_TTL, 0)
        yield setsockopt(fd, SockOpt.IP_TTL, 256)
        yield getsockopt(fd, SockOpt.IP_TTL)
        yield setsockopt(fd, SockOpt.IP_TTL, 255)
        yield getsockopt(fd, SockOpt.IP_TTL)
        yield setsockopt(fd, SockOpt.IP_TTL, -1)
        yield getsockopt(fd, SockOpt.IP_TTL)

    setup, w = _world(a, _quiet, horizon=100 * MS)
    res, rules, _ = _run(setup, w)
    einval = Fail(Errno.EINVAL)
    assert [v for _, v in res["A"][1:]] == [Ok(64), einval, einval, Ok(64), Ok(None), Ok(255),
                                            Ok(None), Ok(64)]
    assert {"setsockopt_9", "setsockopt_10", "getsockopt_9"} <= set(rules)


def test_ttl_runs_out_at_the_router() -> None:
    """Linux 6.18, experiment: TTL 1 to another subnet never arrives; the router's
    time-exceeded reaches the IP_RECVERR socket only (EHOSTUNREACH), or is rate-limited;
    TTL 2 arrives."""
    far_b = ip("10.1.0.1")

    def a() -> Gen:
        r = yield socket()
        yield setsockopt(r, SockOpt.IP_RECVERR, True)
        yield setsockopt(r, SockOpt.IP_TTL, 1)
        c = yield socket()
        yield setsockopt(c, SockOpt.IP_TTL, 1)
        yield connect(c, far_b, 5000)
        yield sendto(r, (far_b, 5000), b"r", False)
        yield sendto(c, None, b"c", False)
        yield setsockopt(r, SockOpt.IP_TTL, 2)
        yield delay(50_000)
        yield geterr(c)
        yield geterr(r)
        yield sendto(r, (far_b, 5000), b"two", False)
        yield delay(50_000)

    def logs(err: Any) -> dict[Any, Any]:
        return {("A", 0): (("socket", 3), ("setsockopt", None), ("setsockopt", None),
                           ("socket", 4), ("setsockopt", None), ("connect", None),
                           ("sendto", None), ("sendto", None), ("setsockopt", None),
                           ("delay", None), ("geterr", None), ("geterr", err),
                           ("sendto", None), ("delay", None)),
                ("B", 0): (("socket", 3), ("bind", None), ("delay", None),
                           ("recvfrom", ("10.0.0.1", "EPH", b"two")), ("recvfrom", "!EAGAIN"))}

    setup, w = _world(a, _receiver(2, 200_000), horizon=1 * S, b_ip=far_b)
    assert _admitted(setup, w, logs("EHOSTUNREACH"))
    setup, w = _world(a, _receiver(2, 200_000), horizon=1 * S, b_ip=far_b)
    assert _admitted(setup, w, logs(None))  # the router's ICMP rate-limited
    wrong = logs(None)
    wrong[("B", 0)] = (("socket", 3), ("bind", None), ("delay", None),
                       ("recvfrom", ("10.0.0.1", "EPH", b"r")), ("recvfrom", "!EAGAIN"))
    setup, w = _world(a, _receiver(2, 200_000), horizon=1 * S, b_ip=far_b)
    assert not _admitted(setup, w, wrong)  # TTL 1 never gets through


# `udpsem run --ifdown` -------------------------------------------------------------------

def test_cli_ifdown_window_runs_and_replays(tmp_path: Any) -> None:
    """`--ifdown ALAN@2s-4s`: ALAN's interface is down for two seconds, so KURT's pings are
    lost on arrival (host_recv_ifdown) and ALAN believes KURT down: Theorem 2 is violated
    (the paper assumes the detector's link stays up), exit 1; the trace names the window in
    its header and replays."""
    import json
    import subprocess
    import sys

    trace = tmp_path / "hb.jsonl"

    def udpsem(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "udpsem", *args], capture_output=True,
                              text=True, timeout=300, check=False)

    r = udpsem("run", "heartbeat", "--duration", "6s", "--ifdown", "ALAN@2s-4s", "--trace",
               str(trace), "--json")
    assert r.returncode == 1, r.stderr
    out = json.loads(r.stdout)
    assert out["get_status"]["violations"] > 0
    header = json.loads(trace.read_text().splitlines()[0])
    assert header["faults"]["ifdowns"] == [{"host": "ALAN", "start": 2 * S, "end": 4 * S}]
    rules = [json.loads(line)["rule"] for line in trace.read_text().splitlines()[1:]]
    assert "host_ifdown" in rules and "host_ifup" in rules and "host_recv_ifdown" in rules
    rp = udpsem("replay", str(trace))
    assert rp.returncode == 0, rp.stdout + rp.stderr
    kurt = udpsem("run", "heartbeat", "--duration", "4s", "--ifdown", "KURT@2s-3s")
    assert kurt.returncode == 1 and "ENETUNREACH" in kurt.stderr  # the paper's sender
    bad = udpsem("run", "heartbeat", "--ifdown", "NOBODY@1s-2s")
    assert bad.returncode == 2 and "unknown host 'NOBODY'" in bad.stderr
    bad = udpsem("run", "heartbeat", "--ifdown", "ALAN@2s")
    assert bad.returncode == 2 and "--ifdown" in bad.stderr
