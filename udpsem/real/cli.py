"""`udpsem real PROGRAM`: run a catalogued program on the real kernel and record its trace."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from udpsem.cli_input import ProgressLine, property_violated, scenario_options
from udpsem.cli_input import duration as _duration
from udpsem.cli_input import fail as _fail
from udpsem.cli_input import scenario_params as _scenario_params


@click.command("real")
@click.argument("program")
@click.option("--netns", is_flag=True,
              help="each host in its own network namespace, joined by veth (root only)")
@click.option("--capture", is_flag=True,
              help="record the datagrams on each host's link too (needs --netns)")
@scenario_options("real")
@click.option("--trace", "trace_path", type=click.Path(dir_okay=False, path_type=Path),
              default=None, help="write the real trace (JSON Lines) to this file")
@click.option("--json", "as_json", is_flag=True, help="print one JSON object instead")
def real(program: str, netns: bool, capture: bool, duration: str | None, period: str | None,
         clients: int | None, messages: int | None, disconnects: tuple[str, ...],
         crashes: tuple[str, ...], ifdowns: tuple[str, ...], trace_path: Path | None,
         as_json: bool) -> None:
    """Run PROGRAM (heartbeat, echo, or a program file FILE.py[:NAME]) on real sockets and
    OS threads, in real time. A program file runs for its horizon unless --duration is
    given; its properties read the model's state, so `udpsem check TRACE --program FILE.py`
    evaluates them on the model run it finds for the trace.

    Exit status: 0 the run ended and no property was violated; 1 a property was violated
    on the real run (the heartbeat's Theorem 2 on real time, echo's guarantees, an exception
    that escaped a thread) or the backend failed; 2 bad input; 130 interrupted."""
    from rich.console import Console
    from rich.text import Text

    from udpsem.base.time import S, fmt_ns
    from udpsem.network.faults import Faults, parse_crash, parse_window
    from udpsem.programs.catalog import ScenarioError, UnknownProgram, scenario
    from udpsem.programs.files import is_file_ref
    from udpsem.real.net import RealNetError
    from udpsem.real.run import run_program
    from udpsem.traces.encode import dumps

    try:
        sc = scenario(program)
    except UnknownProgram as e:
        _fail(str(e))
    default = sc.defaults["duration_ns"] if is_file_ref(program) else 10 * S
    given = {"duration_ns": ("--duration", default if duration is None
                             else _duration(duration, "--duration")),
             "period_ns": ("--period", None if period is None else _duration(period, "--period")),
             "clients": ("--clients", clients), "messages": ("--messages", messages)}
    params = _scenario_params(sc, given)
    try:
        windows = tuple(parse_window(w) for w in disconnects)
        crash_list = tuple(parse_crash(c) for c in crashes)
    except ValueError as e:
        _fail(f"--disconnect/--crash: {e}")
    if windows and not netns:
        _fail("--disconnect needs --netns: on loopback all hosts share one link")
    if capture and not netns:
        _fail("--capture needs --netns: on loopback there is no link to capture")
    try:
        downs = tuple(parse_window(w) for w in ifdowns)
    except ValueError as e:
        _fail(f"--ifdown: {e}")
    if downs and not netns:
        _fail("--ifdown needs --netns: on loopback all hosts share one interface")
    trace_fh = None
    if trace_path is not None:
        try:
            trace_fh = trace_path.open("w", encoding="utf-8")
        except OSError as e:
            _fail(f"--trace {trace_path}: cannot write: {e.strerror or e}")
    console = Console(stderr=True)
    try:
        try:
            total = params.get("duration_ns", sc.defaults["duration_ns"]) / S
            with ProgressLine("udpsem real", lambda now: f"{now / S:.1f} s of {total:.1f} s",
                              enabled=not as_json) as shown:
                run = run_program(program, params,
                                  Faults(disconnects=windows, crashes=crash_list,
                                         ifdowns=downs),
                                  netns=netns, progress=shown, capture=capture)
        except (ScenarioError, RealNetError, ValueError) as e:
            _fail(str(e))
        if trace_fh is not None:
            for line in run.lines:
                trace_fh.write(dumps(line) + "\n")
    finally:
        if trace_fh is not None:
            trace_fh.close()
    res = run.result
    obs = run.observer
    summary: dict[str, Any] = {"real": res.plan["kind"], "duration_ns": res.duration,
                               "events": len(res.events), **obs.summary()}
    wire = [e for e in res.events if e.label.kind in ("send", "deliver")]
    if res.captured:
        summary["captured"] = {"send": sum(e.label.kind == "send" for e in wire),
                               "deliver": sum(e.label.kind == "deliver" for e in wire)}
    if res.errors:
        summary["backend_errors"] = res.errors
    # An exception that escaped a thread fails the run, as in `udpsem run` (which stops
    # there): the heartbeat's and echo's observers report them, a program file's does not.
    escaped = res.escaped()
    shown_by_observer = hasattr(obs, "escaped")
    if escaped and not shown_by_observer:
        summary["escaped_exceptions"] = [list(x) for x in escaped]
    if as_json:
        click.echo(json.dumps(summary))
    else:
        out = Console() if Console().is_terminal else Console(width=220)
        addrs: Any = res.plan["addresses"]
        where = ", ".join(f"{h} {a}" for h, a in addrs.items())
        out.print(f"{sc.name} on real sockets ({res.plan['kind']}: {where}), "
                  f"{fmt_ns(res.duration)}, {len(res.events)} observed labels")
        if res.captured:
            c = summary["captured"]
            out.print(f"captured on the links: {c['send']} datagrams sent, {c['deliver']} "
                      "received")
        obs.render(out, run)
        if not shown_by_observer:
            for t, h, err in escaped:
                out.print(Text(f"{h} at {fmt_ns(t)}: an exception escaped a thread: {err}",
                               style="red"))
        for err in res.errors:
            out.print(f"[red]backend error: {err}[/]")
        if trace_path is not None:
            out.print(f"trace written to {trace_path}")
    if res.interrupted:
        console.print("udpsem: interrupted; every namespace and link was removed")
        raise SystemExit(130)
    if res.errors or escaped or property_violated(obs):
        raise SystemExit(1)
