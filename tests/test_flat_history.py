"""A runtime without history (one simulation path) keeps no chain of answers, gives the same
thread states (digests) as one with history, and refuses a rebuild with a clear error."""

from __future__ import annotations

import pytest

from udpsem.network.faults import Faults
from udpsem.programs.catalog import scenario
from udpsem.programs.runtime import GeneratorRuntime
from udpsem.traces.record import run_world

S = 10**9


def _final(history: bool):  # type: ignore[no-untyped-def]
    sc = scenario("heartbeat")
    params = {**sc.defaults, "duration_ns": 5 * S}
    from udpsem.hosts.state import HostConsts, Timing

    setup, w = sc.build(params, Timing(), HostConsts(), Faults(loss=0.2), GeneratorRuntime(history))
    return run_world(setup, w, 4).final


def test_no_history_same_states_and_no_chain() -> None:
    a, b = _final(True), _final(False)
    assert a is not None and b is not None
    codes_a = [s.code for m in a.machines for s in m.snippets]
    codes_b = [s.code for m in b.machines for s in m.snippets]
    assert [c.digest for c in codes_a] == [c.digest for c in codes_b]
    assert all(c.n > 10 for c in codes_b)
    assert all(c.prev is None for c in codes_b)  # nothing chains the predecessors
    assert all(len(c.answers()) == c.n for c in codes_a)


def test_no_history_refuses_a_rebuild() -> None:
    rt = GeneratorRuntime(history=False)

    def prog() -> object:
        while True:
            yield 1

    code, _ = rt.start(prog, ())
    c1, _ = rt.advance(code, None)
    rt.discard(c1)
    with pytest.raises(RuntimeError, match="keeps no history"):
        rt.advance(c1, None)
