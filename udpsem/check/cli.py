"""`udpsem check TRACE`: does the model admit this trace (real, or a model trace stripped)?"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from udpsem.cli_input import ProgressLine
from udpsem.cli_input import duration as _duration
from udpsem.cli_input import fail as _fail


def _progress_text(d: dict[str, Any]) -> str:
    """The progress line of a check's search, from the searcher's figures."""
    rate = d["states"] / d["elapsed"] if d["elapsed"] > 0 else 0
    return (f"{d['states']} states, {d['matched']} of {d['observations']} labels explained "
            f"so far, {rate:,.0f} states/s, {d['elapsed']:.0f} s")


@click.command("check")
@click.argument("trace_file", metavar="TRACE")
@click.option("--tolerance", default="2ms", show_default=True,
              help="how far a model time may be from a recorded time")
@click.option("--max-states", type=click.IntRange(1, 100_000_000), default=500_000,
              show_default=True, help="search budget: states to expand before giving up")
@click.option("--witness", "witness_path", type=click.Path(dir_okay=False, path_type=Path),
              default=None, help="on acceptance, write the model run found to this file")
@click.option("--program", "program_file", default=None, metavar="FILE.py[:NAME]",
              help="the program file the trace was recorded from (its digest is checked)")
@click.option("--json", "as_json", is_flag=True, help="print one JSON object instead")
def check(trace_file: str, tolerance: str, max_states: int, witness_path: Path | None,
          program_file: str | None, as_json: bool) -> None:
    """Search the model for a run whose observable labels match TRACE.

    A trace of a program file needs --program FILE.py[:NAME] (never is anything a trace
    names imported); on acceptance, the file's invariants and monitors are also evaluated on
    the model run found and reported (for information: that run places the labels anywhere
    within the tolerance, so it need not interleave the hosts as the real run did).

    Exit status 0 if accepted, 1 if rejected (or undecided within the budget), 2 for bad
    input."""
    from udpsem.base.time import fmt_ns
    from udpsem.check import TraceError, check, load, witness_lines
    from udpsem.check.search import describe_label
    from udpsem.traces.encode import dumps

    tol = _duration(tolerance, "--tolerance") if tolerance.strip() not in ("0", "0s") else 0
    try:
        tr = load(trace_file)
        if not tr.observations:
            _fail(f"{trace_file}: the trace observes nothing to check")
        with ProgressLine("udpsem check", _progress_text, enabled=not as_json) as shown:
            v = check(tr, tol, max_states, shown, program_file)
        props = (file_properties(tr, v, program_file)
                 if v.verdict == "accepted" and tr.header.get("source") is not None else None)
    except TraceError as e:
        _fail(str(e))
    out = v.as_json()
    if props is not None:
        out.update(props)
    out["trace"] = trace_file
    out["real"] = tr.real
    out["tolerance_ns"] = tol
    if v.verdict == "accepted" and witness_path is not None:
        try:
            with witness_path.open("w", encoding="utf-8") as fh:
                for line in witness_lines(tr, v, program_file):
                    fh.write(dumps(line) + "\n")
        except OSError as e:
            _fail(f"--witness {witness_path}: cannot write: {e.strerror or e}")
        out["witness"] = str(witness_path)
    if as_json:
        click.echo(json.dumps(out))
    else:
        kind = "real" if tr.real else "model (choices stripped)"
        speed = f"{v.nodes} states searched in {v.seconds:.2f} s ({v.steps_per_second:,.0f}/s)"
        if v.verdict == "accepted":
            click.echo(f"accepted: the {len(v.steps)}-step model run found matches all "
                       f"{v.observations} observed labels of this {kind} trace within "
                       f"{fmt_ns(tol)}; {speed}")
            if witness_path is not None:
                click.echo(f"model run written to {witness_path} (udpsem check --help)")
            if props is not None:
                violated = dict(v.split(" at ", 1) for v in props["violations"])
                for name in props["properties"]:
                    click.echo(f"{name} violated on the model run found at {violated[name]}"
                               if name in violated else
                               f"{name} holds on the model run found")
        else:
            click.echo(f"{v.verdict}: {v.matched} of {v.observations} observed labels "
                       f"explained; {speed}" + (f"; {v.reason}" if v.reason else ""))
            if v.stuck is not None:
                click.echo(f"first step no rule explains: {v.stuck.describe()}")
                click.echo(f"  the model got no further than {fmt_ns(v.stuck_time or 0)}; "
                           "candidates tried there:")
                for r in v.rejects:
                    click.echo(f"  - {r.rule}: {r.label[:100]} — {r.reason}")
                others = [o for o in v.pending[1:4]]
                for o in others:
                    click.echo(f"  also pending: {describe_label(o.label)[:100]} "
                               f"(record {o.i})")
    sys.exit(0 if v.verdict == "accepted" else 1)


def file_properties(tr: Any, v: Any, program: str | None) -> dict[str, Any]:
    """The program file's invariants and monitors evaluated on the model run an acceptance
    found (`properties`, `violations` as `udpsem run` reports them): a real run has no model
    state to check them on, the model run matching it does. That run is one of those the
    trace admits: it may order two hosts' steps otherwise than the real run did (within the
    tolerance), so a violation there shows what the program allows, not necessarily what
    happened."""
    from udpsem.check import build
    from udpsem.programs.files import FileObserver
    from udpsem.traces.record import program_scenario

    setup, world = build(tr.header, program)
    obs = program_scenario(tr.header, program).observer()
    if not isinstance(obs, FileObserver):
        return {}
    obs.bind(setup, world)
    for st in v.steps:
        obs.on_step(st)
    return obs.summary()
