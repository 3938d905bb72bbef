"""A path of states: a trace replayed into worlds, that can be branched off anywhere.

The explorer and `udpsem chart` use it. `Session.load(trace)` rebuilds the initial world from
the header and replays the recorded choices (checking every step like `udpsem replay`), so
every state of the trace is at hand. `successors(path)` lists what the model can do from the
state a path names, each with its choices (delays on the exploration grid, every fate, ...);
`extend(path, choices)` takes one. A path is the number of trace steps taken plus the choices
of each step taken after leaving the trace, so it names a state from the initial one.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from udpsem.base.choice import ChoiceError, ScriptedChooser
from udpsem.core.drivers import Step, step
from udpsem.explore.choosers import Discretisation
from udpsem.explore.engine import expand, monitors_for
from udpsem.explore.properties import Invariant, Monitor, model_invariants
from udpsem.programs.catalog import UnknownProgram
from udpsem.state.world import Setup, World
from udpsem.traces.record import SourceMismatch, label_json, rebuild
from udpsem.traces.replay import TraceError, read_trace


class PathError(ValueError):
    """A path that does not name a state (a bad step count or choices not enabled)."""


def step_record(i: int, st: Step) -> dict[str, Any]:
    """A step as a trace-like record (no digest): what charts and the page read."""
    from udpsem.traces.encode import jsonable

    t = st.transition
    return {"type": "step", "i": i, "t": t.world.now, "rule": t.rule, "partner": t.partner,
            "label": label_json(t.label), "choices": [[k, jsonable(v)] for k, v in st.choices]}


@dataclass
class StatePath:
    """`trace_steps` steps of the loaded trace, then the steps whose choices are `branch`."""

    trace_steps: int
    branch: tuple[tuple[tuple[str, Any], ...], ...] = ()

    @property
    def length(self) -> int:
        return self.trace_steps + len(self.branch)


@dataclass
class Session:
    """A loaded trace (its header, setup, every world and step) and the branches taken."""

    header: dict[str, Any]
    setup: Setup
    worlds: list[World]
    steps: list[Step]
    records: list[dict[str, Any]]
    source: str = ""
    program: str | None = None  # the program file (FILE.py[:NAME]) of a trace of one
    _branches: dict[tuple[int, tuple[Any, ...]], tuple[World, Step]] = field(
        default_factory=dict)
    _violations: dict[str, list[tuple[str, int, int, str]]] = field(default_factory=dict)

    @classmethod
    def load(cls, trace: str | Path,
             rebuild_with: Callable[[dict[str, Any]], tuple[Setup, World]] | None = None,
             progress: Callable[[int], None] | None = None,
             program: str | None = None) -> Session:
        """Replay the trace at `trace`; TraceError if it cannot be read or diverges.
        `program`: the program file a trace of one was recorded from (`FILE.py[:NAME]`, its
        digest is checked; its invariants and monitors give verdicts), as for `replay`."""
        header, recs = read_trace(trace)
        try:
            if rebuild_with is not None:
                setup, world = rebuild_with(header)
            else:
                setup, world = rebuild(header, program)
        except (UnknownProgram, SourceMismatch) as e:
            raise TraceError(f"{trace}:1: {e}") from None
        except (KeyError, TypeError, ValueError) as e:
            raise TraceError(f"{trace}:1: header does not describe a runnable setup: {e}"
                             ) from None
        worlds: list[World] = [world]
        steps: list[Step] = []
        records: list[dict[str, Any]] = []
        for rec in recs:
            n = len(steps)
            chooser = ScriptedChooser([tuple(c) for c in rec["choices"]])
            try:
                st = step(setup, world, chooser)
            except ChoiceError as e:
                raise TraceError(f"{trace}: step {n} ({rec['rule']}): {e}") from None
            if st is None or st.transition.rule != rec["rule"]:
                raise TraceError(f"{trace}: step {n}: the model does not take the recorded "
                                 f"step {rec['rule']} here (replay it with `udpsem replay`)")
            world = st.world
            worlds.append(world)
            steps.append(st)
            records.append(step_record(n, st))
            if progress is not None and n % 4096 == 0:
                progress(n)
        return cls(header, setup, worlds, steps, records, str(trace), program)

    @classmethod
    def start(cls, header: dict[str, Any], setup: Setup, world: World) -> Session:
        """A session at the initial state of a world (no trace): only branching."""
        return cls(header, setup, [world], [], [], "")

    # paths ----------------------------------------------------------------------------------

    def resolve(self, path: StatePath) -> tuple[list[World], list[Step]]:
        """The worlds (initial first) and steps along `path`."""
        if not 0 <= path.trace_steps <= len(self.steps):
            raise PathError(f"step {path.trace_steps} is outside the trace "
                            f"(0..{len(self.steps)})")
        worlds = self.worlds[: path.trace_steps + 1]
        steps = self.steps[: path.trace_steps]
        w = worlds[-1]
        for k, choices in enumerate(path.branch):
            key = (id(w), tuple(choices))
            hit = self._branches.get(key)
            if hit is None or hit[0] is not w:
                st = self._take(w, choices, path.trace_steps + k)
                self._branches[key] = (w, st)
            else:
                st = hit[1]
            w = st.world
            worlds.append(w)
            steps.append(st)
        return worlds, steps

    def _take(self, w: World, choices: Sequence[tuple[str, Any]], n: int) -> Step:
        chooser = ScriptedChooser([tuple(c) for c in choices])
        try:
            st = step(self.setup, w, chooser)
        except ChoiceError as e:
            raise PathError(f"step {n}: {e}") from None
        if st is None:
            raise PathError(f"step {n}: nothing can happen in this state")
        if not chooser.exhausted:
            raise PathError(f"step {n}: more choices given than the step makes")
        return st

    def records_of(self, path: StatePath) -> list[dict[str, Any]]:
        _, steps = self.resolve(path)
        out = self.records[: path.trace_steps]
        out += [step_record(path.trace_steps + k, st)
                for k, st in enumerate(steps[path.trace_steps:])]
        return out

    def successors(self, path: StatePath, delays: int = 3) -> list[dict[str, Any]]:
        """What can happen next: one entry per successor (rule, label, choices, time), the
        network's delays on a grid of `delays` points, time passage to the next deadline."""
        worlds, _ = self.resolve(path)
        w = worlds[-1]
        policy = Discretisation(delays=delays, timing="lazy")
        out = []
        for choices, t in expand(self.setup, w, policy):
            from udpsem.traces.encode import jsonable

            out.append({"rule": t.rule, "partner": t.partner, "label": label_json(t.label),
                        "choices": [[k, jsonable(v)] for k, v in choices],
                        "t": t.world.now})
        return out

    # properties -----------------------------------------------------------------------------

    def verdicts(self, path: StatePath) -> dict[str, dict[str, Any]]:
        """Each property at the state `path` names: its invariants in that state and its
        trace monitors (Theorem 2 for the heartbeat, no escaping exception) along the path."""
        worlds, steps = self.resolve(path)
        out: dict[str, dict[str, Any]] = {}
        for inv in self.invariants():
            msg = inv.violation(self.setup, worlds[-1])
            out[inv.name] = {"holds": msg is None, "message": msg or inv.summary}
        for mon, (first, msg) in zip(self.monitors(), _monitor_run(self, worlds, steps),
                                     strict=True):
            out[mon.name] = {"holds": msg is None,
                             "message": msg or "holds along this path",
                             "first_violation_step": first}
        sessions = _session_guarantees(steps)
        if sessions is not None:
            out["session_guarantees"] = sessions
        return out

    def monitors(self) -> list[Monitor]:
        """The trace properties: a built-in program's (Theorem 2 for the heartbeat), or the
        program file's own monitors (only from the file the user gave, never from the name
        in the header), and no_escape."""
        if self.program is not None:
            return monitors_for(self.program)
        if self.header.get("source") is not None:
            return monitors_for("")  # no_escape only: the file was not given
        return monitors_for(self.header.get("program", ""))

    def invariants(self) -> list[Invariant]:
        """The state properties: the model's (host_ok, network_ok) and, for a program file
        the user gave, its own invariants."""
        out = model_invariants()
        if self.program is not None:
            from udpsem.programs.files import load

            out.extend(load(self.program).spec.invariants)
        return out

    def first_violations(self, path: StatePath | None = None) -> list[tuple[str, int, int, str]]:
        """(property, step index, time, message) of each property's first violation along
        the path (the whole trace by default): the monitors' and the invariants' (the state
        after step i violates it)."""
        p = path or StatePath(len(self.steps))
        key = format_path(p)
        hit = self._violations.get(key)
        if hit is not None:
            return hit
        worlds, steps = self.resolve(p)
        out = []
        for mon, (first, msg) in zip(self.monitors(), _monitor_run(self, worlds, steps),
                                     strict=True):
            if first is not None and msg is not None:
                out.append((mon.name, first, worlds[first + 1].now, msg))
        for inv in self.invariants():
            for k in range(1, len(worlds)):
                bad = inv.violation(self.setup, worlds[k])
                if bad is not None:
                    out.append((inv.name, k - 1, worlds[k].now, bad))
                    break
        self._violations[key] = out
        return out


def _session_guarantees(steps: list[Step]) -> dict[str, Any] | None:
    """The reliable sessions' guarantees (in-order exactly-once prefixes, one session per
    client) along the path, for programs that use the sessions driver; None otherwise."""
    from udpsem.programs.sessions.driver import SessionMonitor

    mon = SessionMonitor()
    for st in steps:
        mon.on_step(st)
    if not mon.clients and not mon.servers:
        return None
    bad = mon.violations()
    return {"holds": not bad, "message": "; ".join(bad) if bad else
            f"holds along this path ({len(mon.clients)} client and {len(mon.servers)} "
            f"server session ends)"}


def _monitor_run(sess: Session, worlds: list[World],
                 steps: list[Step]) -> list[tuple[int | None, str | None]]:
    """For each monitor: the step of its first violation along the path and the message of
    it (or, if none, None and None)."""
    res = []
    for mon in sess.monitors():
        state = mon.initial(sess.setup, worlds[0])
        first: int | None = None
        msg: str | None = None
        for k, st in enumerate(steps):
            state = mon.step(state, st.transition)
            v = mon.violation(state, worlds[k + 1])
            if v is not None:
                first, msg = k, v
                break
        res.append((first, msg))
    return res


_BARE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _value_text(v: Any) -> str:
    if isinstance(v, str) and _BARE.match(v) and v not in ("true", "false", "null"):
        return v
    return json.dumps(v, separators=(",", ":"))


def _value_of(text: str) -> Any:
    if _BARE.match(text) and text not in ("true", "false", "null"):
        return text
    return json.loads(text)


def parse_path(text: str) -> StatePath:
    """A path from its URL form: `N` or `N~c1~c2...`, each ci a step's choices as
    `kind:value,kind:value` (values JSON, names bare: `137~pick:1,fate:drop`)."""
    from urllib.parse import unquote

    parts = unquote(text).split("~") if text else ["0"]
    try:
        n = int(parts[0])
    except ValueError:
        raise PathError(f"bad path {text!r}: it starts with the number of trace steps"
                        ) from None
    branch = []
    for p in parts[1:]:
        choices = []
        for item in p.split(","):
            kind, _, value = item.partition(":")
            try:
                v = _value_of(value)
            except json.JSONDecodeError:
                raise PathError(f"bad choice {item!r} in path") from None
            choices.append((kind, tuple(v) if isinstance(v, list) else v))
        branch.append(tuple(choices))
    return StatePath(n, tuple(branch))


def format_path(path: StatePath) -> str:
    """The URL form of a path (see `parse_path`)."""

    out = [str(path.trace_steps)]
    for choices in path.branch:
        out.append(",".join(f"{k}:{_value_text(v)}" for k, v in choices))
    return "~".join(out)
