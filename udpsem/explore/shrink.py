"""Counterexamples: shrinking a violating path and writing it as a normal, replayable trace.

A counterexample is a root (its fault setting) and a tape: the choices of every step, exactly
as `drivers.step` records them. `shrink` edits the tape and the fault setting — fewer faults
(a disconnect window removed, a drop or a duplicate turned into a single copy), earlier times
(windows moved earlier, propagation delays lowered), fewer steps (chunks of steps deleted) —
re-running each edit through `drivers.step` with a lenient chooser (recorded choices where
they still fit, the first explored option where not) and keeping it when the same property
still fails and the counterexample got smaller by (faults, steps, time of the violation,
total delay). The kept tape is always the run's *actual* choices, so it replays exactly.

`write_trace` writes the header (`traces.record.header_json`) and one record per step
(`record_json`) after re-running the tape with a `ScriptedChooser` on a world rebuilt from
that very header (`traces.record.rebuild`) — exactly what `udpsem replay` will do.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from udpsem.base.choice import ScriptedChooser
from udpsem.core.drivers import Step, step
from udpsem.explore.choosers import LenientChooser
from udpsem.explore.engine import ExploreConfig, ExploreRuntime, Violation, monitors_for
from udpsem.explore.properties import Invariant, Monitor, model_invariants
from udpsem.network.faults import Faults
from udpsem.programs import files
from udpsem.programs.catalog import scenario
from udpsem.state.world import Setup, World
from udpsem.traces.encode import dumps
from udpsem.traces.record import header_json, rebuild, record_json

Tape = list[list[tuple[str, Any]]]


@dataclass
class Counterexample:
    """A violating run: its fault setting, the choices of each step, what failed and when."""

    faults: Faults
    tape: Tape
    prop: str
    message: str
    time: int

    def measure(self) -> tuple[int, int, int, int]:
        """Smaller is better: (faults, steps, time of the violation, total delay)."""
        faults = len(self.faults.disconnects) + len(self.faults.crashes)
        delay = 0
        for st in self.tape:
            for kind, v in st:
                if kind == "fate" and v != "single":
                    faults += 1 if v == "drop" else int(str(v)[3:]) - 1
                elif kind == "delay":
                    delay += int(v)
        return faults, len(self.tape), self.time, delay


def build_one(cfg: ExploreConfig, faults: Faults) -> tuple[Setup, World]:
    """A fresh setup and initial world for one fault setting of `cfg`."""
    sc = scenario(cfg.program)
    setup, world = sc.build(cfg.scenario_params(), cfg.timing, cfg.consts, faults,
                            ExploreRuntime())
    setup.horizon = cfg.horizon
    return setup, world


def run_tape(cfg: ExploreConfig, faults: Faults, tape: Tape, prop: str,
             invariants: Sequence[Invariant], monitors: Sequence[Monitor],
             extra: int = 0) -> Counterexample | None:
    """Run `tape` leniently (plus up to `extra` default steps); the counterexample up to the
    first violation of `prop`, or None if `prop` does not fail."""
    setup, w = build_one(cfg, faults)
    ms = tuple(m.initial(setup, w) for m in monitors)
    made: Tape = []
    n = 0
    while n < len(tape) + extra:
        chooser = LenientChooser(cfg.discretisation, tape[n] if n < len(tape) else [])
        st = step(setup, w, chooser)
        n += 1
        if st is None:
            return None
        made.append([(k, v) for k, v in st.choices])
        t = st.transition
        w = t.world
        ms = tuple(m.step(s, t) for m, s in zip(monitors, ms))
        for inv in invariants:
            if inv.name == prop:
                msg = inv.violation(setup, w)
                if msg is not None:
                    return Counterexample(faults, made, prop, msg, w.now)
        for m, s in zip(monitors, ms):
            if m.name == prop:
                msg = m.violation(s, w)
                if msg is not None:
                    return Counterexample(faults, made, prop, msg, w.now)
    return None


def _edits(cx: Counterexample, cfg: ExploreConfig) -> list[tuple[Faults, Tape]]:
    """Candidate edits of a counterexample, most promising first."""
    out: list[tuple[Faults, Tape]] = []
    f, tape = cx.faults, cx.tape
    # fewer faults: remove a window, or move it earlier
    for i in range(len(f.disconnects)):
        rest = f.disconnects[:i] + f.disconnects[i + 1:]
        out.append((replace(f, disconnects=rest), tape))
    for i, w in enumerate(f.disconnects):
        for frac in (2, 4):
            shift = w.start // frac
            if shift <= 0:
                continue
            moved = replace(w, start=w.start - shift,
                            end=None if w.end is None else w.end - shift)
            out.append((replace(f, disconnects=f.disconnects[:i] + (moved,)
                                + f.disconnects[i + 1:]), tape))
    # fewer network faults: a drop or a duplicate becomes a single copy
    for i, st in enumerate(tape):
        for j, (kind, v) in enumerate(st):
            if kind == "fate" and v != "single":
                delays = [c for c in st[j + 1:] if c[0] == "delay"]
                keep = delays[:1] if delays else [("delay", cfg.timing.dpropmin)]
                single = st[:j] + [("fate", "single")] + keep
                out.append((f, tape[:i] + [single] + tape[i + 1:]))
    # earlier times: lower a propagation delay to dpropmin
    lo = cfg.timing.dpropmin
    for i, st in enumerate(tape):
        for j, (kind, v) in enumerate(st):
            if kind == "delay" and v > lo:
                st2 = list(st)
                st2[j] = ("delay", lo)
                out.append((f, tape[:i] + [st2] + tape[i + 1:]))
    # fewer steps: delete chunks, large first
    n = len(tape)
    size = n // 2
    while size >= 1:
        for start in range(0, n - size + 1, size):
            out.append((f, tape[:start] + tape[start + size:]))
        size //= 2
    return out


def shrink(cfg: ExploreConfig, cx: Counterexample, budget: int = 300,
           invariants: Sequence[Invariant] | None = None,
           monitors: Sequence[Monitor] | None = None,
           on_progress: Callable[[int, Counterexample], None] | None = None) -> Counterexample:
    """A smaller counterexample for the same property (deterministic; at most `budget` runs)."""
    invs = list(invariants) if invariants is not None else (
        model_invariants() if cfg.check_model else [])
    mons = list(monitors) if monitors is not None else monitors_for(cfg.program, cfg.settle)
    runs = 0
    best = cx
    improved = True
    while improved and runs < budget:
        improved = False
        for faults, tape in _edits(best, cfg):
            if runs >= budget:
                break
            runs += 1
            cand = run_tape(cfg, faults, tape, best.prop, invs, mons,
                            extra=max(0, len(best.tape) - len(tape)) + 8)
            if cand is not None and cand.measure() < best.measure():
                best = cand
                improved = True
                if on_progress is not None:
                    on_progress(runs, best)
                break
    return best


def from_violation(cfg: ExploreConfig, faults: Faults, v: Violation) -> Counterexample:
    """The counterexample of an exploration's violation."""
    return Counterexample(faults, [list(s) for s in v.steps], v.prop, v.message, v.time)


def write_trace(cfg: ExploreConfig, cx: Counterexample, path: str | Path,
                observers: Sequence[Callable[[Step], None]] = ()) -> list[Step]:
    """Write `cx` as a trace file that `udpsem replay` runs; returns the steps."""
    setup0, world0 = build_one(cfg, cx.faults)
    header = header_json(cfg.program, cfg.scenario_params(), cfg.timing, cfg.consts, cx.faults,
                         None, world0, setup0)
    header = _roundtrip(header)
    setup, w = rebuild(header, cfg.program if files.is_file_ref(cfg.program) else None)
    steps: list[Step] = []
    with Path(path).open("w", encoding="utf-8") as fh:
        fh.write(dumps(header) + "\n")
        for i, choices in enumerate(cx.tape):
            st = step(setup, w, ScriptedChooser(choices))
            if st is None:
                raise RuntimeError(f"internal error: counterexample step {i} is not enabled")
            fh.write(dumps(record_json(i, st)) + "\n")
            for o in observers:
                o(st)
            steps.append(st)
            w = st.transition.world
    return steps


def _roundtrip(header: dict[str, Any]) -> dict[str, Any]:
    import json

    return json.loads(dumps(header))  # type: ignore[no-any-return]
