"""The `udpsem` command line: a thin layer over the library.

Bad input (unknown program, malformed duration or window, unreadable trace) gets one line on
stderr naming what and where, and exit status 2 — never a traceback.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.markup import escape

from udpsem import __version__
from udpsem.base.time import fmt_ns
from udpsem.cli_input import duration as _duration
from udpsem.cli_input import fail as _fail
from udpsem.cli_input import file_faults as _file_faults
from udpsem.cli_input import property_violated, scenario_options
from udpsem.cli_input import scenario_params as _scenario_params
from udpsem.network.faults import Faults, apply_preset, parse_crash, parse_window
from udpsem.programs.catalog import SCENARIOS, UnknownProgram, scenario
from udpsem.programs.files import is_file_ref


def _console() -> Console:
    """A console; when output is not a terminal, wide enough that tables do not wrap names."""
    c = Console()
    return c if c.is_terminal else Console(width=220)


@click.group(context_settings={"help_option_names": ["-h", "--help"]},
             invoke_without_command=True)
@click.version_option(__version__, prog_name="udpsem")
@click.pass_context
def cli(ctx: click.Context) -> None:
    """udpsem: an executable, timed semantics of UDP sockets with threads and failures.

    Exit statuses of every command: 0 nothing violated; 1 a property violated (a
    Theorem 2, session, invariant or monitor violation, an exception escaping a thread, a
    replay that diverged); 2 bad input."""
    if ctx.invoked_subcommand is None:  # bare `udpsem`: the help, and exit status 0
        click.echo(ctx.get_help())
        ctx.exit(0)


@cli.command()
@click.argument("program")
@scenario_options("run")
@click.option("--trace", "trace_path", type=click.Path(dir_okay=False, path_type=Path),
              default=None, help="write the trace (JSON Lines) to this file")
@click.option("--limit", type=click.IntRange(1, None), default=60, show_default=True,
              help="most timeline rows printed")
@click.option("--all", "all_rows", is_flag=True, help="print every timeline row")
@click.option("--settle", default=None, metavar="DURATION",
              help="heartbeat: Theorem 2's settle time, checked answers come at least this "
                   "long after KURT's last status change [2.6s, the paper's]")
@click.option("--json", "as_json", is_flag=True, help="print one JSON object instead")
def run(program: str, seed: int, duration: str | None, period: str | None,
        clients: int | None, messages: int | None, loss: float, dup: float, max_copies: int,
        preset: str | None, disconnects: tuple[str, ...], crashes: tuple[str, ...],
        ifdowns: tuple[str, ...], trace_path: Path | None, limit: int, all_rows: bool,
        settle: str | None, as_json: bool) -> None:
    """Run PROGRAM in the model under a fault setting: a built-in program (see `udpsem
    programs`) or a program file FILE.py[:NAME], whose function NAME (default `world`)
    returns a udpsem.WorldSpec; its fault defaults apply unless an option overrides them.

    Exit status: 0 nothing violated; 1 a property violated (Theorem 2, a session
    guarantee, a program file's invariant or monitor) or an exception escaped a thread
    (shown with the program's traceback); 2 bad input."""
    from udpsem.programs.catalog import ScenarioError
    from udpsem.traces.record import ProgramFailure
    from udpsem.traces.record import run as run_program
    from udpsem.traces.render import Timeline, rules_table

    try:
        sc = scenario(program)
    except UnknownProgram as e:
        _fail(str(e))
    given: dict[str, tuple[str, int | None]] = {
        "duration_ns": ("--duration", None if duration is None
                        else _duration(duration, "--duration")),
        "period_ns": ("--period", None if period is None else _duration(period, "--period")),
        "clients": ("--clients", clients),
        "messages": ("--messages", messages),
    }
    params = _scenario_params(sc, given)
    observer = None
    if settle is not None:
        if sc.name != "heartbeat":
            _fail(f"--settle does not apply to {sc.name}")
        from udpsem.programs.heartbeat import Theorem2

        observer = Theorem2(settle=_duration(settle, "--settle"))
    try:
        windows = tuple(parse_window(w) for w in disconnects)
        crash_list = tuple(parse_crash(c) for c in crashes)
    except ValueError as e:
        _fail(f"--disconnect/--crash: {e}")
    try:
        down = tuple(parse_window(w) for w in ifdowns)
    except ValueError as e:
        _fail(f"--ifdown: {e}")
    faults = Faults(loss=loss, dup=dup, max_copies=max_copies, disconnects=windows,
                    crashes=crash_list, ifdowns=down)
    if is_file_ref(program):
        faults = _file_faults(program, faults)
    if preset is not None:
        try:
            faults = apply_preset(faults, preset)
        except ValueError as e:
            _fail(str(e))
    console = _console()
    timeline = Timeline(limit=None if all_rows else limit)
    trace_fh = None
    if trace_path is not None:
        try:
            from udpsem.base.jsonl import open_text_for_writing

            trace_fh = open_text_for_writing(trace_path)
        except OSError as e:
            _fail(f"--trace {trace_path}: cannot write: {e.strerror or e}")
    duration_ns = params.get("duration_ns", sc.defaults["duration_ns"])
    show_progress = not as_json and console.is_terminal
    try:
        if show_progress:
            from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

            with Progress(TextColumn("[bold]simulating[/]"), BarColumn(),
                          TextColumn("{task.fields[vt]} virtual, {task.fields[n]} transitions"),
                          TimeElapsedColumn(), console=console, transient=True) as prog:
                task = prog.add_task("run", total=duration_ns, vt="0s", n=0)

                def progress(now: int, n: int) -> None:
                    prog.update(task, completed=now, vt=fmt_ns(now), n=n)

                res = run_program(program, params, faults, seed, trace=trace_fh,
                                  progress=progress, observers=(timeline,), observer=observer)
        else:
            res = run_program(program, params, faults, seed, trace=trace_fh,
                              observers=() if as_json else (timeline,), observer=observer)
    except ScenarioError as e:
        _fail(str(e))
    except ProgramFailure as e:
        click.echo(f"udpsem: {e.report()}", err=True)
        sys.exit(1)
    finally:
        if trace_fh is not None:
            trace_fh.close()
    obs = res.observer
    summary: dict[str, Any] = {"seed": seed, "duration_ns": res.params["duration_ns"],
                               "transitions": res.transitions, **obs.summary(),
                               "rules_fired": dict(sorted(res.rules_fired.items()))}
    if as_json:
        click.echo(json.dumps(summary))
        if property_violated(obs):
            sys.exit(1)
        return
    faults_text = ", ".join(filter(None, [
        f"loss {loss}", f"dup {dup}" if dup else "", f"preset {preset}" if preset else "",
        *(f"disconnect {w}" for w in windows), *(f"crash {c}" for c in crash_list)]))
    timeline.render(console, escape(f"{sc.name}: seed {seed}, "
                                    f"{fmt_ns(res.params['duration_ns'])}, {faults_text}"))
    console.print(rules_table(dict(res.rules_fired)))
    obs.render(console, res)
    if trace_path is not None:
        console.print(f"trace written to {escape(str(trace_path))}")
    if property_violated(obs):
        sys.exit(1)


@cli.command()
@click.argument("trace_file", metavar="FILE")
@click.option("--program", "program_file", default=None, metavar="FILE.py[:NAME]",
              help="the program file the trace was recorded from (its digest is checked)")
@click.option("--json", "as_json", is_flag=True, help="print one JSON object instead")
def replay(trace_file: str, program_file: str | None, as_json: bool) -> None:
    """Re-run a trace from its recorded choices and check every step. A trace of a program
    file needs --program FILE.py[:NAME]: replay never imports what a trace names.

    Exit status: 0 every step replayed; 1 the replay diverged; 2 bad input (unreadable or
    invalid trace, missing or different program file)."""
    from udpsem.traces.replay import TraceError
    from udpsem.traces.replay import replay as do_replay

    try:
        from udpsem.check import witness_rebuilder

        res = do_replay(trace_file, program=program_file,
                        rebuild_with=witness_rebuilder(trace_file, program_file))
    except TraceError as e:
        _fail(str(e))
    from rich.text import Text

    out = Console(soft_wrap=True)  # a divergence is one unwrapped line, never markup
    if as_json:
        click.echo(json.dumps({"file": trace_file, "steps": res.steps, "ok": res.ok,
                               "interrupted": res.interrupted, "divergence": res.divergence}))
    elif res.interrupted:
        out.print(Text(f"interrupted after {res.steps} steps, all matching (time "
                       f"{fmt_ns(res.final_time)}); the rest of the trace was not checked",
                       style="yellow"))
    elif res.ok:
        out.print(Text(f"replayed {res.steps} steps: every step enabled, same labels and "
                       f"states", style="green"), f"(final time {fmt_ns(res.final_time)})")
    else:
        out.print(Text(f"diverged after {res.steps} matching steps: {res.divergence}",
                       style="red"))
    if res.interrupted:
        sys.exit(130)
    if not res.ok:
        sys.exit(1)


@cli.command()
@click.argument("args", nargs=-1, metavar="[NAME | FILE...]")
@click.option("--coverage", "coverage_mode", is_flag=True,
              help="count how often each rule fired in the trace FILEs (0 highlighted)")
@click.option("--json", "as_json", is_flag=True, help="print JSON instead")
@click.option("--markdown", "as_markdown", is_flag=True,
              help="print the whole reference as Markdown (this is docs/rules.md)")
def rules(args: tuple[str, ...], coverage_mode: bool, as_json: bool, as_markdown: bool) -> None:
    """List the registered rules, show one rule's reference (formal statement, category,
    timing, errors, code) or those of every rule of a LIB call (`udpsem rules bind`), or
    (with --coverage FILE...) count each rule's uses over trace files."""
    from rich.table import Table

    from udpsem import reference

    registry = reference.registry()
    console = _console()
    if coverage_mode:
        from udpsem.core.coverage import report
        from udpsem.traces.replay import TraceError, rule_counts

        if not args:
            _fail("--coverage needs at least one trace FILE")
        try:
            counts = rule_counts(args)
        except TraceError as e:
            _fail(str(e))
        rows = report(counts)
        unused = [n for n, k in rows if k == 0]
        if as_json:
            click.echo(json.dumps({
                "files": list(args), "rules": len(rows), "exercised": len(rows) - len(unused),
                "never": unused,
                "counts": [{"rule": n, "category": registry[n].category, "count": k}
                           for n, k in rows]}))
            return
        table = Table(title=f"rule coverage over {len(args)} trace file(s)")
        table.add_column("rule", no_wrap=True)
        table.add_column("category", no_wrap=True)
        table.add_column("count", justify="right", no_wrap=True)
        for n, k in rows:
            style = "bold red" if k == 0 else ""
            table.add_row(n, registry[n].category, str(k), style=style)
        console.print(table)
        console.print(f"{len(rows) - len(unused)} of {len(rows)} rules exercised; "
                      f"[{'red' if unused else 'green'}]{len(unused)} never[/]")
        return
    if as_markdown:
        if args:
            _fail("--markdown prints the whole reference; give no NAME")
        click.echo(reference.markdown(), nl=False)
        return
    if len(args) > 1:
        _fail("give one rule NAME (or --coverage FILE...)")
    name = args[0] if args else None
    if name is not None:
        info = registry.get(name)
        of_call = [i for i in registry.values()
                   if i.call == name or re.sub(r"_\d+$", "", i.name) == name]
        if info is None and not of_call:
            import difflib

            close = difflib.get_close_matches(name, list(registry), n=3)
            hint = f"did you mean {', '.join(close)}? " if close else ""
            _fail(f"unknown rule {name!r} ({hint}see `udpsem rules` for the list)")
        if info is None:  # a call's name (or a rule name without its number): each rule
            if as_json:
                click.echo(json.dumps([reference.record(i) for i in of_call]))
            else:
                width = console.width if console.is_terminal else 100
                click.echo("\n\n".join(reference.text(i, width=max(40, min(width, 100)))
                                       for i in of_call))
            return
        if as_json:
            click.echo(json.dumps(reference.record(info)))
        else:
            width = console.width if console.is_terminal else 100
            click.echo(reference.text(info, width=max(40, min(width, 100))))
        return
    if as_json:
        click.echo(json.dumps([reference.record(i) for i in registry.values()]))
        return
    # Rule names and categories never wrap, so they stay whole in an 80-column terminal;
    # the summary takes the rest of the width. Call, errors and the rest: `rules NAME`.
    table = Table(title=f"{len(registry)} rules (udpsem rules NAME for one rule's reference)",
                  box=None, padding=(0, 1), show_edge=False)
    table.add_column("rule", no_wrap=True, style="bold")
    table.add_column("category", no_wrap=True)
    table.add_column("summary", ratio=1, overflow="fold")
    for info in registry.values():
        summary = f"[urgent] {info.summary}" if info.urgent else info.summary
        table.add_row(info.name, info.category, summary)
    console.print(table)


@cli.command()
def schema() -> None:
    """Print the JSON Schema of a trace line (header or step record)."""
    from udpsem.traces.schema import schema_text

    click.echo(schema_text())


@cli.command("programs")
@click.option("--json", "as_json", is_flag=True, help="print JSON instead")
def programs(as_json: bool) -> None:
    """List the programs `udpsem run` knows."""
    if as_json:
        click.echo(json.dumps([{"name": sc.name, "summary": sc.summary,
                                "defaults": dict(sorted(sc.defaults.items()))}
                               for sc in SCENARIOS.values()]))
        return
    for sc in SCENARIOS.values():
        click.echo(f"{sc.name}: {sc.summary}")


def main(argv: list[str] | None = None) -> Any:
    """Entry point: click errors become one line and exit status 2."""
    try:
        return cli.main(args=argv, prog_name="udpsem", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("udpsem: aborted", err=True)
        sys.exit(130)
    except click.ClickException as e:
        click.echo(f"udpsem: error: {e.format_message()}", err=True)
        sys.exit(2)
    except click.exceptions.Exit as e:
        sys.exit(e.exit_code)


from udpsem.explore.cli import explore

cli.add_command(explore)

from udpsem.view.cli import chart, state, ui

cli.add_command(chart)
cli.add_command(ui)
cli.add_command(state)

from udpsem.real.cli import real

cli.add_command(real)

from udpsem.check.cli import check

cli.add_command(check)
