"""Deciding whether the model admits a trace whose internal choices are unknown.

`load(path)` reads a trace: a real one (`udpsem real`, `obs` records, marked `real` in the
header) or a model one (`udpsem run`), whose choices are then stripped: only the labels a
real run could observe are kept (thread labels, and datagrams sent and received). `check`
searches the model for a run that matches (`udpsem.check.search`). `strip` and `mutate`
serve the self-check.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from udpsem.base.time import MS, timer_too_long
from udpsem.check.environment import with_measured_apps
from udpsem.check.search import THREAD_KINDS, WIRE_KINDS, Checker, Obs, SearchRuntime, Verdict
from udpsem.traces.schema import FORMAT_VERSION

DEFAULT_TOLERANCE = 2 * MS


class TraceError(ValueError):
    """The trace cannot be read or checked (a user error)."""


@dataclass
class Observed:
    """A trace reduced to what it observed."""

    header: dict[str, Any]
    observations: list[Obs]
    observed: tuple[str, ...]
    end: int
    real: bool


def parse(lines: list[str], where: str = "trace") -> Observed:
    """The observations of a trace given as its lines."""
    if not lines or not lines[0].strip():
        raise TraceError(f"{where}: empty trace")
    try:
        header = json.loads(lines[0])
    except json.JSONDecodeError as e:
        raise TraceError(f"{where}:1: not JSON: {e.msg}") from None
    if not isinstance(header, dict) or header.get("type") != "header":
        raise TraceError(f"{where}:1: the first line is not a trace header")
    if header.get("format") != FORMAT_VERSION:
        raise TraceError(f"{where}:1: trace format {header.get('format')!r} is not supported")
    real = header.get("real")
    observed: tuple[str, ...]
    if real is not None:
        observed = tuple(real.get("observed", THREAD_KINDS))
        end = int(real.get("end_ns", header["params"].get("duration_ns", 0)))
    else:
        observed = (*THREAD_KINDS, *WIRE_KINDS)
        end = int(header["params"].get("duration_ns", 0))
    obs: list[Obs] = []
    last_t = 0
    for n, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except json.JSONDecodeError as e:
            raise TraceError(f"{where}:{n}: not JSON: {e.msg}") from None
        if not isinstance(rec, dict) or rec.get("type") not in ("obs", "step"):
            raise TraceError(f"{where}:{n}: not a trace record")
        try:
            label, t, i = rec["label"], int(rec["t"]), int(rec["i"])
            kind = label["kind"]
        except (KeyError, TypeError, ValueError):
            raise TraceError(f"{where}:{n}: a record needs i, t and a label with a kind") \
                from None
        if t < last_t and rec["type"] == "obs":
            raise TraceError(f"{where}:{n}: time goes backwards ({t} < {last_t})")
        last_t = max(last_t, t)
        if kind in observed:
            obs.append(Obs(i, t, label))
    return Observed(header, obs, observed, end, real is not None)


def load(path: str | Path) -> Observed:
    """Read and reduce a trace file; TraceError for a file that is not one."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as e:
        raise TraceError(f"{p}: cannot read: {e.strerror or e}") from None
    except UnicodeDecodeError:
        raise TraceError(f"{p}: not a text file") from None
    return parse(text.splitlines(), str(p))


def build(header: dict[str, Any], program: str | None = None) -> tuple[Any, Any]:
    """The model setup and initial world of a header, with the search runtime. A trace of a
    program file needs `program`, the file (`FILE.py[:NAME]`), with the digest the header
    records: nothing a trace names is imported (as for replay)."""
    from udpsem.hosts.state import Timing
    from udpsem.network.faults import Crash, Faults, Window
    from udpsem.programs.catalog import ScenarioError, UnknownProgram
    from udpsem.traces.record import SourceMismatch, _consts, program_scenario

    src = header.get("source")
    if isinstance(src, dict) and program is None:
        named = f"{src.get('file')}" + ("" if src.get("function") == "world"
                                       else f":{src.get('function')}")
        raise TraceError(f"header: the trace was recorded from the program file {named}; "
                         f"check it with --program {named}")
    try:
        sc = program_scenario(header, program)
        f = header["faults"]
        faults = Faults(loss=f["loss"], dup=f["dup"], max_copies=f["max_copies"],
                        max_successive_drops=f["max_successive_drops"],
                        disconnects=tuple(Window(w["host"], w["start"], w["end"])
                                          for w in f["disconnects"]),
                        crashes=tuple(Crash(c["host"], c["at"]) for c in f["crashes"]),
                        preset=f["preset"],
                        ifdowns=tuple(Window(w["host"], w["start"], w["end"])
                                      for w in f.get("ifdowns", [])))
        timing = Timing(**header["timing"])
        consts = _consts(header["consts"])
        runtime = SearchRuntime()
        setup, world = sc.build({**sc.defaults, **header["params"]}, timing, consts, faults,
                                runtime)
        for name, ns in header["timing"].items():
            too_long = timer_too_long(f"timing.{name}", ns, setup.horizon)
            if too_long is not None:
                raise TraceError(f"header: {too_long}")
        real = header.get("real")
        if real is not None and "app_gaps" in real:
            world = with_measured_apps(runtime, world, real["app_gaps"])
        return setup, world
    except TraceError:
        raise
    except (UnknownProgram, ScenarioError, SourceMismatch) as e:
        raise TraceError(f"header: {e}") from None
    except (KeyError, TypeError, ValueError) as e:
        raise TraceError(f"header: malformed ({type(e).__name__}: {e})") from None


DEFAULT_MAX_STATES = 500_000
"""The default search budget: an accepted trace takes about 2.2 states per observed label
(README, "Checking real runs"), so this covers traces of ~200k labels, or a search that
backtracks a lot, in a few minutes at ~1-5k states/s."""


def check(tr: Observed, tolerance: int = DEFAULT_TOLERANCE,
          max_nodes: int = DEFAULT_MAX_STATES,
          progress: Callable[[dict[str, Any]], None] | None = None,
          program: str | None = None) -> Verdict:
    """Search the model for a run matching the observations of `tr` (`progress`, if given,
    is called now and then with the states searched so far; `program` is the program file
    of a trace recorded from one, see `build`)."""
    setup, world = build(tr.header, program)
    blind = {h: [(int(a), int(b)) for a, b in ws]
             for h, ws in (tr.header.get("real") or {}).get("capture_blind", {}).items()}
    return Checker(setup, world, tr.observations, tr.observed, tolerance, tr.end,
                   max_nodes, anchor_timers=tr.real, progress=progress, blind=blind).run()


def witness_lines(tr: Observed, verdict: Verdict,
                  program: str | None = None) -> list[dict[str, Any]]:
    """The model run an acceptance found, as an ordinary model trace (`udpsem replay`)."""
    from udpsem.traces.encode import StateDigest
    from udpsem.traces.record import claims, record_json

    header = dict(tr.header)  # a real header keeps its measured application waits
    if tr.real:
        # The model world of a real trace runs its applications with the measured waits:
        # claim that world, the one the witness starts from and replay rebuilds (`build`).
        setup, world = build(header, program)
        header["claims"] = claims(header["program"], header["params"], dict(setup.consts),
                                  setup.timing, setup.faults, world, setup.horizon)
    digester = StateDigest()
    return [header, *(record_json(i, st, digester) for i, st in enumerate(verdict.steps))]


def witness_rebuilder(path: str | Path, program: str | None = None) -> Any:
    """For `udpsem replay`: `build` (with the program file `program`, if any) if the trace at
    `path` is the witness of a real trace (its header keeps the measured application waits,
    which the catalogue's own build does not know), else None (an unreadable file is left to
    replay to report)."""
    try:
        with Path(path).open(encoding="utf-8") as fh:
            header = json.loads(fh.readline())
    except (OSError, ValueError, RecursionError):  # not text, not JSON, absurdly nested
        return None
    if isinstance(header, dict) and isinstance(header.get("real"), dict):
        return lambda h: build(h, program)
    return None
