"""`udpsem check TRACE`: does the model admit this trace (real, or a model trace stripped)?"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from udpsem.cli_input import duration as _duration
from udpsem.cli_input import fail as _fail


class _Progress:
    """A progress line on stderr every few seconds of a long search (UDPSEM_PROGRESS_SECONDS
    sets how many, as for `udpsem explore`)."""

    def __init__(self) -> None:
        import time

        from udpsem.explore.cli import _progress_interval

        self.every = _progress_interval()
        self.clock = time.monotonic
        self.last = self.clock()

    def __call__(self, d: dict[str, Any]) -> None:
        now = self.clock()
        if now - self.last < self.every:
            return
        self.last = now
        rate = d["states"] / d["elapsed"] if d["elapsed"] > 0 else 0
        click.echo(f"udpsem check: {d['states']} states, {d['matched']} of "
                   f"{d['observations']} labels explained so far, {rate:,.0f} states/s, "
                   f"{d['elapsed']:.0f} s", err=True)


@click.command("check")
@click.argument("trace_file", metavar="TRACE")
@click.option("--tolerance", default="2ms", show_default=True,
              help="how far a model time may be from a recorded time")
@click.option("--max-states", type=click.IntRange(1, 100_000_000), default=500_000,
              show_default=True, help="search budget: states to expand before giving up")
@click.option("--witness", "witness_path", type=click.Path(dir_okay=False, path_type=Path),
              default=None, help="on acceptance, write the model run found to this file")
@click.option("--json", "as_json", is_flag=True, help="print one JSON object instead")
def check(trace_file: str, tolerance: str, max_states: int, witness_path: Path | None,
          as_json: bool) -> None:
    """Search the model for a run whose observable labels match TRACE.

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
        v = check(tr, tol, max_states, None if as_json else _Progress())
    except TraceError as e:
        _fail(str(e))
    out = v.as_json()
    out["trace"] = trace_file
    out["real"] = tr.real
    out["tolerance_ns"] = tol
    if v.verdict == "accepted" and witness_path is not None:
        try:
            with witness_path.open("w", encoding="utf-8") as fh:
                for line in witness_lines(tr, v):
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
