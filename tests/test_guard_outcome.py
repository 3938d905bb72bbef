"""The two-part rule protocol (base.registry): a guard that builds nothing, an outcome from its
witness. Rules written in one part keep working; witnesses do not depend on the clock; the
registry refuses a guard where it has no meaning."""

from __future__ import annotations

import io
import os
from dataclasses import replace
from typing import Any

import pytest

from udpsem.base.registry import RULES, RegistryError, RuleInfo, rule
from udpsem.base.time import MS, S
from udpsem.explore import ExploreConfig, explore
from udpsem.hosts import lts
from udpsem.network.faults import Faults, apply_preset, parse_window
from udpsem.traces.record import run


def _one_part(info: RuleInfo) -> RuleInfo:
    """The same rule written the old way: one function that returns the successor or None."""
    return replace(info, guard=None, fn=info.apply)


def _trace(program: str, params: dict[str, int], faults: Faults, seed: int) -> str:
    buf = io.StringIO()
    run(program, params, faults, seed, trace=buf)
    return buf.getvalue()


# The compiled build binds calls between its modules directly: replacing `lts._rules_for` or
# `lts.Enabled.outcome_at` from a test changes what Python code sees, not what compiled callers
# call, so these two tests (which observe the dispatcher through such a patch) are pure only.
_PATCHES_COMPILED_CALLS = pytest.mark.skipif(
    os.environ.get("UDPSEM_BUILD") == "compiled",
    reason="monkeypatches a function that compiled callers call directly")


@_PATCHES_COMPILED_CALLS
def test_rules_written_in_one_part_give_the_same_traces(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every host rule turned back into one part (the way rules were written before the split,
    and may still be): the dispatcher calls it whole, and re-derives its outcome when the
    clock moved on. Traces are byte-identical to the two-part rules'."""
    two = lts._rules_for
    cache: dict[tuple[object, str], list[tuple[RuleInfo, Any]]] = {}

    def one_part_rules(key: object, arch: str) -> list[tuple[RuleInfo, Any]]:
        found = cache.get((key, arch))
        if found is None:
            found = cache[(key, arch)] = [(_one_part(i), i.apply) for i, _ in two(key, arch)]
        return found

    cases = [("heartbeat", {"duration_ns": 20 * S}, Faults(loss=0.2, dup=0.2), 3),
             ("echo", {"clients": 2, "messages": 4}, Faults(loss=0.2), 5)]
    want = [_trace(*c) for c in cases]
    monkeypatch.setattr(lts, "_rules_for", one_part_rules)
    monkeypatch.setattr(lts, "_CALLS", {})  # the call dispatch table, rebuilt from them
    got = [_trace(*c) for c in cases]
    assert cache, "the one-part rules were not used"
    assert all(i.guard is None for rules in cache.values() for i, _ in rules)
    assert got == want
    assert all(t.count("\n") > 200 for t in got)


@_PATCHES_COMPILED_CALLS
def test_witnesses_do_not_depend_on_the_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    """With `check_witnesses`, every outcome asked for at a later time than its guard first
    asks the guard again and compares the witnesses: simulation and exploration run clean."""
    asked: list[str] = []
    real = lts.Enabled.outcome_at

    def counting(self: lts.Enabled, ctx: Any) -> Any:
        if ctx.now != self.ctx.now:
            asked.append(self.rule.name)
        return real(self, ctx)

    monkeypatch.setattr(lts, "check_witnesses", True)
    monkeypatch.setattr(lts.Enabled, "outcome_at", counting)
    _trace("heartbeat", {"duration_ns": 30 * S}, Faults(loss=0.2, dup=0.2), 7)
    _trace("echo", {"clients": 2, "messages": 6}, Faults(loss=0.3, dup=0.2), 2)
    f = replace(apply_preset(Faults(loss=0.5, dup=0.5), "paper"),
                disconnects=(parse_window("KURT@1s-2s"),))
    explore(ExploreConfig(horizon=2 * S, faults=f, check_model=False))
    # Outcomes re-derived at another time than their guard's: the case the check is for.
    assert len(asked) > 100 and "ret_1" in asked


def test_a_clock_dependent_witness_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    """The control: a guard whose witness reads `ctx.now` fails the check."""
    from udpsem.hosts.state import RuleCtx, initial_host

    base = RULES["ret_1"]
    bad = replace(base, guard=lambda ctx, h, tid: ctx.now, fn=lambda ctx, h, tid, w: None)
    h = initial_host(())
    c0 = RuleCtx()
    en = lts.Enabled(bad, c0, (h, 0), 0, None, 0)
    monkeypatch.setattr(lts, "check_witnesses", True)
    with pytest.raises(AssertionError, match="witness changed"):
        en.outcome_at(replace(c0, now=5 * MS))


def test_apply_is_the_whole_rule() -> None:
    """`RuleInfo.apply` runs the guard, then the outcome; None when the guard refuses."""
    calls: list[str] = []

    def guard(ctx: Any, h: Any) -> Any:
        calls.append("guard")
        return None if h == 0 else h * 10

    def outcome(ctx: Any, h: Any, w: Any) -> Any:
        calls.append("outcome")
        return w + 1

    info = RuleInfo("x", "misc", "oq", "s", fn=outcome, guard=guard)
    assert info.apply(None, 0) is None and calls == ["guard"]
    assert info.apply(None, 2) == 21 and calls == ["guard", "guard", "outcome"]
    old = RuleInfo("y", "misc", "oq", "s", fn=lambda ctx, h: h or None)
    assert old.apply(None, 0) is None and old.apply(None, 3) == 3


def test_guard_only_for_host_rules() -> None:
    with pytest.raises(RegistryError, match="only host rules"):
        rule("not_a_host_rule", category="misc", trigger="net", summary="s",
             guard=lambda *a: True)(lambda *a: None)
    assert "not_a_host_rule" not in RULES


def test_every_host_rule_comes_in_two_parts() -> None:
    """Every registered host rule has a guard: enumeration never builds a successor (the
    one-part path stays for rules written that way, tested above)."""
    host = [i for i in RULES.values() if i.trigger in ("call", "thread", "oq", "recv")]
    assert len(host) > 120
    assert [i.name for i in host if i.guard is None] == []


def _every_call_class() -> list[type]:
    from udpsem.hosts.calls import Call

    out, todo = [], list(Call.__subclasses__())
    while todo:
        c = todo.pop()
        out.append(c)
        todo.extend(c.__subclasses__())
    return sorted(out, key=lambda c: c.__name__)


def test_a_static_premise_implies_the_guard_refuses() -> None:
    """`when=` (a call rule's static premise over the call class) leaves a rule out of a
    class's dispatch table; that is sound only if its guard refuses every call of the class.
    Checked on a call of every class, each field 0 (the console fd) or empty, in a host
    with badmem allowed, where the guards would accept if the class let them. The control: where `when` says yes, some call of the class is accepted."""
    import dataclasses

    from udpsem.hosts.state import HostConsts, RuleCtx, initial_host

    ctx = RuleCtx(consts=replace(HostConsts(), allow_badmem=True))
    h = initial_host(())
    with_when = [i for i in RULES.values() if i.when is not None]
    assert {i.name for i in with_when} >= {"notsockfd_1", "notsockfd_2", "badmem_2"}
    classes = _every_call_class()
    assert len(classes) > 20
    excluded = accepted = 0
    for cls in classes:
        call = cls(*[() if "tuple" in str(f.type) else 0
                     for f in dataclasses.fields(cls) if f.init])
        for info in with_when:
            assert info.guard is not None
            w = info.guard(ctx, h, 0, call)
            if not info.when(cls):
                excluded += 1
                assert w is None, f"{info.name} excludes {cls.__name__} but its guard accepts"
            elif w is not None:
                accepted += 1
    assert excluded > 10 and accepted > 3
