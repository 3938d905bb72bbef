"""Replaying a trace from its recorded choices alone, checking every step.

Each record's choices are fed to a scripted chooser; the step must be enabled, consume exactly
those choices, and give the recorded rule, partner, label and state digest. The first
difference is reported with its index and what differed.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from udpsem.base.choice import ChoiceError, ScriptedChooser
from udpsem.core.drivers import step
from udpsem.programs.catalog import UnknownProgram
from udpsem.state.world import Setup, World
from udpsem.traces.encode import StateDigest, jsonable
from udpsem.traces.record import label_json, rebuild
from udpsem.traces.schema import FORMAT_VERSION, Header, Record


class TraceError(Exception):
    """A trace file that cannot be read: says what is wrong and where."""


@dataclass
class ReplayResult:
    """The outcome of a replay."""

    steps: int
    ok: bool
    divergence: str | None = None
    final_time: int = 0


def read_trace(path: str | Path) -> tuple[dict[str, Any], Iterator[dict[str, Any]]]:
    """The validated header and an iterator of validated records; TraceError on bad input."""
    p = Path(path)
    try:
        fh = p.open("r", encoding="utf-8")
    except OSError as e:
        raise TraceError(f"{p}: cannot open trace: {e.strerror or e}") from None
    first = fh.readline()
    if not first:
        fh.close()
        raise TraceError(f"{p}: empty trace file (expected a header line)")
    header = _parse(p, 1, first)
    if header.get("type") != "header":
        fh.close()
        raise TraceError(f"{p}:1: the first line is not a trace header")
    if header.get("format") != FORMAT_VERSION:
        fh.close()
        raise TraceError(f"{p}:1: trace format version {header.get('format')!r} is not "
                         f"supported (this udpsem reads version {FORMAT_VERSION})")
    try:
        Header.model_validate(header)
    except ValidationError as e:
        fh.close()
        raise TraceError(f"{p}:1: invalid header: {_first_error(e)}") from None

    def records() -> Iterator[dict[str, Any]]:
        with fh:
            for n, line in enumerate(fh, start=2):
                rec = _parse(p, n, line)
                try:
                    Record.model_validate(rec)
                except ValidationError as e:
                    raise TraceError(f"{p}:{n}: invalid step record: {_first_error(e)}") from None
                yield rec

    return header, records()


def _parse(p: Path, n: int, line: str) -> dict[str, Any]:
    if not line.endswith("\n"):
        try:
            json.loads(line)
        except json.JSONDecodeError:
            raise TraceError(f"{p}:{n}: truncated record (the line ends mid-JSON)") from None
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as e:
        raise TraceError(f"{p}:{n}: not JSON ({e.msg} at column {e.colno})") from None
    if not isinstance(obj, dict):
        raise TraceError(f"{p}:{n}: not a JSON object")
    return obj


def _first_error(e: ValidationError) -> str:
    err = e.errors()[0]
    where = ".".join(str(x) for x in err["loc"])
    return f"{where}: {err['msg']}" if where else err["msg"]


def replay(path: str | Path,
           rebuild_with: Callable[[dict[str, Any]], tuple[Setup, World]] | None = None,
           ) -> ReplayResult:
    """Re-run the trace at `path` from its choices; stops at the first divergence.

    The initial world comes from the header through the program catalog, or from
    `rebuild_with(header)` for a trace of a world built by hand (`run_world`).
    """
    header, records = read_trace(path)
    try:
        setup, world = rebuild_with(header) if rebuild_with else rebuild(header, history=False)
    except UnknownProgram as e:
        raise TraceError(f"{path}:1: {e}") from None
    except (KeyError, TypeError, ValueError) as e:
        raise TraceError(f"{path}:1: header does not describe a runnable setup: {e}") from None
    digester = StateDigest()
    n = 0
    for rec in records:
        i = rec["i"]
        if i != n:
            return ReplayResult(n, False, f"step {n}: record has index {i}", world.now)
        chooser = ScriptedChooser([tuple(c) for c in rec["choices"]])
        try:
            st = step(setup, world, chooser)
        except ChoiceError as e:
            return ReplayResult(n, False, f"step {n} ({rec['rule']}): {e}", world.now)
        if st is None:
            return ReplayResult(n, False, f"step {n}: the model has no transition here but the "
                                f"trace records {rec['rule']}", world.now)
        t = st.transition
        problems = []
        if not chooser.exhausted:
            problems.append("not all recorded choices were used")
        if t.rule != rec["rule"] or t.partner != rec["partner"]:
            problems.append(f"rule {t.rule}/{t.partner} but the trace records "
                            f"{rec['rule']}/{rec['partner']}")
        lab = label_json(t.label)
        if jsonable(lab) != rec["label"]:
            problems.append(f"label {lab} but the trace records {rec['label']}")
        if t.world.now != rec["t"]:
            problems.append(f"time {t.world.now} but the trace records {rec['t']}")
        if not problems and digester(t.world) != rec["digest"]:
            problems.append("the successor state differs from the recorded one (digest)")
        if problems:
            return ReplayResult(n, False, f"step {n} ({rec['rule']}): " + "; ".join(problems),
                                world.now)
        world = t.world
        n += 1
    return ReplayResult(n, True, None, world.now)
