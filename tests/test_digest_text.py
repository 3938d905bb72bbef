"""The composed JSON text of the state digest (`JsonText`) is exactly `dumps(jsonable(x))`,
so digests, and therefore every recorded trace, are unchanged by the cache."""

from __future__ import annotations

from hypothesis import given, settings

from udpsem.network.faults import Crash, Faults, Window
from udpsem.testing import host_cases
from udpsem.traces.encode import JsonText, dumps, jsonable
from udpsem.traces.record import run

S = 10**9


@settings(max_examples=60, deadline=None)
@given(host_cases())
def test_json_text_of_a_host_is_dumps_of_jsonable(case) -> None:  # type: ignore[no-untyped-def]
    text = JsonText(size=16)  # small: the eviction path runs too
    assert text(case.host) == dumps(jsonable(case.host))
    assert text(case.host) == dumps(jsonable(case.host))  # now from the cache


def _check_run(program: str, params: dict[str, int], faults: Faults, seed: int) -> int:
    text = JsonText(size=64)
    n = [0]

    def watch(st) -> None:  # type: ignore[no-untyped-def]
        w = st.transition.world
        for part in (*w.machines, w.net, w.schedule, w.drops):
            assert text(part) == dumps(jsonable(part))
        n[0] += 1

    run(program, params, faults, seed, observers=(watch,))
    return n[0]


def test_json_text_along_heartbeat_runs_with_every_fault() -> None:
    faults = Faults(loss=0.3, dup=0.3, max_copies=4, crashes=(Crash("KURT", 4 * S),),
                    disconnects=(Window("ALAN", 1 * S, 2 * S),))
    assert _check_run("heartbeat", {"duration_ns": 6 * S}, faults, 3) > 300


def test_json_text_along_an_echo_run() -> None:
    assert _check_run("echo", {"duration_ns": 3 * S}, Faults(loss=0.2, dup=0.2), 5) > 100
