"""The heartbeat end to end (issue: the executable model), and the network rules it fires."""

from __future__ import annotations

from udpsem.base.time import S
from udpsem.network.faults import Crash, Faults, Window, apply_preset
from udpsem.traces.record import run


def _run(seed: int, faults: Faults, duration: int = 60 * S) -> dict:
    res = run("heartbeat", {"duration_ns": duration}, faults, seed)
    obs = res.observer
    return {"res": res, "obs": obs, "changes": obs.status_changes()}


def test_paper_preset_window_status_1_0_1_no_violation() -> None:
    f = apply_preset(Faults(loss=0.1, disconnects=(Window("KURT", 20 * S, 40 * S),)), "paper")
    r = _run(7, f)
    values = [v for _, v in r["changes"]]
    assert values == [1, 0, 1]
    down_at, up_at = r["changes"][1][0], r["changes"][2][0]
    assert 20 * S < down_at <= 20 * S + 2_600_000_000 + 1 * S
    assert 40 * S < up_at <= 40 * S + 2 * S
    assert r["obs"].violations == 0 and r["obs"].checked > 400
    assert r["obs"].escaped == []
    fired = r["res"].rules_fired
    for name in ("host_disconnect", "host_reconnect", "host_send_disc", "select_4", "select_3",
                 "net_accept_single", "net_emit", "delivery_in_udp_1", "sendto_1"):
        assert fired[name] > 0, name


def test_heavy_loss_without_preset_breaks_theorem_2() -> None:
    r = _run(7, Faults(loss=0.6))
    assert r["obs"].violations > 0


def test_paper_preset_never_drops_twice_in_a_row() -> None:
    f = apply_preset(Faults(loss=0.9), "paper")
    drops: dict[str, int] = {}
    worst = 0

    def watch(st) -> None:  # type: ignore[no-untyped-def]
        nonlocal worst
        t = st.transition
        if t.partner == "net_accept_drop":
            drops[t.label.host] = drops.get(t.label.host, 0) + 1
            worst = max(worst, drops[t.label.host])
        elif t.partner in ("net_accept_single", "net_accept_dup"):
            drops[t.label.host] = 0

    res = run("heartbeat", {"duration_ns": 20 * S}, f, 1, observers=(watch,))
    assert res.rules_fired["net_accept_drop"] > 3
    assert worst == 1
    assert res.observer.violations == 0


def test_duplication_at_most_max_copies() -> None:
    copies = []

    def watch(st) -> None:  # type: ignore[no-untyped-def]
        if st.transition.partner == "net_accept_dup":
            copies.append(sum(1 for k, _ in st.choices if k == "delay"))

    res = run("heartbeat", {"duration_ns": 20 * S}, Faults(dup=0.5, max_copies=4), 2,
              observers=(watch,))
    assert res.rules_fired["net_accept_dup"] > 0
    assert copies and set(copies) <= {2, 3, 4}


def test_icmp_path_before_alan_listens() -> None:
    """ALAN starts late: KURT's pings meet no socket, ALAN answers ICMP port unreachable,
    KURT's connected socket gets ECONNREFUSED and the next sendto fails (sendto_5)."""
    from udpsem.base.choice import RandomChooser
    from udpsem.core.drivers import simulate
    from udpsem.hosts.state import HostConsts, Timing
    from udpsem.programs import heartbeat
    from udpsem.programs.runtime import GeneratorRuntime

    opts = heartbeat.HeartbeatOptions(duration=8 * S, alan_start=5 * S, timing=Timing(),
                                      consts=HostConsts())
    setup, world = heartbeat.build(opts, Faults(), GeneratorRuntime())
    fired: dict[str, int] = {}
    for st in simulate(setup, world, RandomChooser(4)):
        for r in (st.transition.rule, st.transition.partner):
            if r:
                fired[r] = fired.get(r, 0) + 1
    for name in ("delivery_in_udp_2", "delivery_in_icmp_1", "sendto_5"):
        assert fired.get(name, 0) > 0, name


def test_crash_stops_pings_and_status_goes_down() -> None:
    r = _run(5, Faults(crashes=(Crash("KURT", 10 * S),)), duration=20 * S)
    assert r["res"].rules_fired["host_crash"] == 1
    assert [v for _, v in r["changes"]] == [1, 0]
    assert r["obs"].violations == 0
    kurt = r["res"].final.machine("KURT")
    assert kurt.host is None and kurt.snippets == ()


def test_simulation_never_rebuilds_a_generator() -> None:
    """A single simulation path feeds each live generator once: no replay of histories."""
    from udpsem.base.choice import RandomChooser
    from udpsem.core.drivers import simulate
    from udpsem.programs import heartbeat
    from udpsem.programs.runtime import GeneratorRuntime

    rt = GeneratorRuntime()
    setup, world = heartbeat.build(heartbeat.HeartbeatOptions(duration=10 * S),
                                   Faults(loss=0.2, dup=0.2), rt)
    n = sum(1 for _ in simulate(setup, world, RandomChooser(9, 0.2, 0.2)))
    assert n > 500
    assert rt.rebuilds == 0


def test_status_strips_show_truth_and_belief() -> None:
    from udpsem.programs.heartbeat import status_strips

    real, believed = status_strips([(0, 1), (5 * S, 0)], [(0, True), (4 * S, False)], 10 * S,
                                   width=10)
    assert real.count("█") == 4 and real.count("▁") == 6
    assert believed.count("█") == 1 and believed.count("▁") == 1  # columns 0 and 5 only
