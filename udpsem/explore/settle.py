"""The least settle time for which Theorem 2's conclusion holds (docs/model.md#theorem-2).

Theorem 2 says `get_status` answers correctly from 2.6 s (the *settle time*) after the later of
KURT's last status change and ALAN's start. Whether it holds for a settle time `s` under given
timing and fault parameters is one complete exploration with the `Theorem2(settle=s)` monitor.
The answer is monotone in `s` (a larger settle time checks a subset of the states a smaller one
checks), so the least `s` that holds can be found by bisection over complete explorations.

A violated probe does better than halve the interval: its counterexample shows the cell wrong
at time `t`, `t - since` after the moment the settle time counts from, so every settle time up
to that *gap* is violated too. The next probe is then `gap + 1 ns` (the conclusion may hold
there); a probe that holds lowers the upper end and the next probe is the midpoint. The search
ends when the lower (violated) and upper (holding) ends are `resolution` apart; with the
default resolution of 1 ns the bound is exact: the conclusion holds for every settle time
`>= bound` and fails at `bound - 1 ns`.

A probe that is not a complete exploration (a state bound stopped it) proves nothing about
"holds", so the search stops there and says so.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from udpsem.base.choice import ScriptedChooser
from udpsem.core.drivers import step
from udpsem.explore.engine import ExploreConfig, ExploreResult, build, explore
from udpsem.explore.properties import Theorem2


@dataclass(frozen=True)
class Probe:
    """One exploration of the search: the settle time tried and what it showed."""

    settle: int
    verdict: str  # "holds", "violated" or "unknown" (exploration not complete)
    states: int
    elapsed: float
    gap: int | None = None  # violated: how long after `since` the cell was seen wrong
    violation_time: int | None = None


@dataclass
class SettleSearch:
    """The outcome: `bound`, the least settle time that holds (None unless the search ended
    normally), the greatest settle time seen violated with its exploration (`witness`, for the
    counterexample), the least seen to hold, and every probe."""

    bound: int | None
    violated_at: int | None
    holds_at: int | None = None
    probes: list[Probe] = field(default_factory=list)
    witness: tuple[ExploreConfig, ExploreResult] | None = None
    stopped: str | None = None  # why the search ended without an exact bound


def gap_of(cfg: ExploreConfig, res: ExploreResult) -> int:
    """How long after the moment the settle time counts from the violation of `res` was seen:
    the violation's path is re-run with a Theorem 2 monitor to read that moment."""
    assert res.violation is not None
    setup, roots = build(cfg)
    w = roots[res.violation.root].world
    mon = Theorem2(settle=cfg.settle)
    ms = mon.initial(setup, w)
    for choices in res.violation.steps:
        st = step(setup, w, ScriptedChooser(list(choices)))
        if st is None:
            raise RuntimeError("internal error: the violation's path is not enabled")
        ms = mon.step(ms, st.transition)
        w = st.transition.world
    since = mon.since(ms)
    if since is None:
        raise RuntimeError("internal error: a Theorem 2 violation before ALAN's start")
    return w.now - since


def find_settle(cfg: ExploreConfig, upper: int, resolution: int = 1,
                on_probe: Callable[[Probe], None] | None = None,
                explore_fn: Callable[[ExploreConfig], ExploreResult] | None = None,
                ) -> SettleSearch:
    """The least settle time (ns, within `resolution`) for which Theorem 2 holds under `cfg`,
    starting from the settle time `upper` (usually the paper's 2.6 s).

    Every probe is a complete exploration of `cfg` with that settle time, stopping at the first
    violation of any property; a violation of another property than theorem2 ends the search
    (the conclusion is not the question then)."""
    run = explore_fn or (lambda c: explore(c)[0])
    base = replace(cfg, stop_at_first=True, graph=False)
    out = SettleSearch(bound=None, violated_at=None)
    lo: int | None = None  # greatest settle time known violated
    hi: int | None = None  # least settle time known to hold
    s = upper
    while True:
        c = replace(base, settle=s)
        res = run(c)
        v = res.verdicts.get("theorem2", "unknown")
        gap = None
        if res.violation is not None and res.violation.prop != "theorem2":
            out.probes.append(Probe(s, "unknown", res.states, res.elapsed))
            if on_probe is not None:
                on_probe(out.probes[-1])
            out.stopped = (f"{res.violation.prop} is violated at settle {s} ns: "
                           f"{res.violation.message}")
            out.witness = (c, res)
            break
        if v == "violated":
            gap = gap_of(c, res)
            if gap < s:
                raise RuntimeError(f"internal error: violation {gap} ns after the change "
                                   f"with settle {s} ns")
        elif v == "holds" and not res.complete:
            v = "unknown"
        assert res.violation is None or v == "violated"
        probe = Probe(s, v, res.states, res.elapsed, gap,
                      res.violation.time if res.violation else None)
        out.probes.append(probe)
        if on_probe is not None:
            on_probe(probe)
        if v == "unknown":
            out.stopped = (f"the exploration at settle {s} ns was not complete "
                           f"({', '.join(res.truncated) or 'bounded'}): raise the bounds")
            break
        if v == "violated":
            assert gap is not None
            lo = gap if lo is None else max(lo, gap)
            out.violated_at, out.witness = lo, (c, res)
        else:
            hi = s if hi is None else min(hi, s)
        if hi is not None and lo is not None and hi - lo <= resolution:
            break
        if hi == 0:
            break  # the conclusion holds from the start: settle time 0
        if v == "violated":
            assert lo is not None
            s = lo + 1  # the counterexample rules out every settle time up to its gap
        else:
            assert hi is not None
            low = -1 if lo is None else lo
            s = low + max(1, (hi - low) // 2)
    out.holds_at = hi
    out.bound = hi if out.stopped is None else None
    return out


def describe(ns: int) -> dict[str, Any]:
    """A settle time as JSON: ns and human text."""
    from udpsem.base.time import fmt_ns

    return {"ns": ns, "text": fmt_ns(ns)}
