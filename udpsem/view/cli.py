"""`udpsem chart` and `udpsem ui`: registered on the main command group by `udpsem/cli.py`.

Bad input is one line and exit 2 (`udpsem.cli_input.fail`), never a traceback.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import click

from udpsem.cli_input import duration as _duration
from udpsem.cli_input import fail as _fail
from udpsem.cli_input import file_faults as _file_faults
from udpsem.cli_input import scenario_options
from udpsem.cli_input import scenario_params as _scenario_params


def _window(t_from: str | None, t_to: str | None) -> tuple[int | None, int | None]:
    a = None if t_from is None else _duration(t_from, "--from")
    b = None if t_to is None else _duration(t_to, "--to")
    if a is not None and b is not None and b <= a:
        _fail("--to must be later than --from")
    return a, b


def write_chart(trace: str, out: Path, t_from: int | None = None, t_to: int | None = None,
                hosts: list[str] | None = None, width: int = 1600, check: bool = True,
                program: str | None = None, max_elements: int | None = None) -> str:
    """Draw `trace` into `out` (.svg or .html); returns a one-line description. `program`:
    the program file a trace of one was recorded from (to replay it and check its
    properties). Raises TraceError for an unreadable trace, ValueError for bad options."""
    from udpsem.view.chart import html, load, svg

    data = load(trace, check=check, program=program)
    if hosts:
        unknown = [h for h in hosts if h not in data.hosts]
        if unknown:
            raise ValueError(f"--hosts: no host {', '.join(unknown)} in the trace "
                             f"(it has {', '.join(data.hosts)})")
    suffix = out.suffix.lower()
    from udpsem.view.thin import MAX_ELEMENTS

    kw = {"t_from": t_from, "t_to": t_to, "hosts": hosts or None, "width": width,
          "max_elements": MAX_ELEMENTS if max_elements is None else max_elements}
    if suffix == ".svg":
        text = svg(data, **kw)  # type: ignore[arg-type]
    elif suffix in (".html", ".htm"):
        text = html(data, **kw)
    else:
        raise ValueError(f"-o {out}: give a file ending in .svg or .html")
    out.write_text(text, encoding="utf-8")
    c = data.counts()
    return (f"chart of {data.steps} steps written to {out}: "
            + ", ".join(f"{v} {k.replace('_', ' ')}" for k, v in sorted(c.items()))
            + (f"; {len(data.violations)} violation(s)" if data.violations else ""))


@click.command("chart")
@click.argument("trace_file", metavar="TRACE")
@click.option("-o", "--output", "out", type=click.Path(dir_okay=False, path_type=Path),
              required=True, help="the chart file: .svg, or .html (self-contained, hover details)")
@click.option("--from", "t_from", default=None, metavar="TIME", help="start of the time window")
@click.option("--to", "t_to", default=None, metavar="TIME", help="end of the time window")
@click.option("--hosts", default=None, metavar="A,B", help="the lifelines to draw, in order")
@click.option("--width", type=click.IntRange(400, 20000), default=1600, show_default=True,
              help="width in pixels")
@click.option("--no-check", is_flag=True,
              help="do not replay the trace (no property violations, no sessions lane)")
@click.option("--program", "program_file", default=None, metavar="FILE.py[:NAME]",
              help="the program file the trace was recorded from (replayed to check its "
                   "properties; its digest is checked)")
@click.option("--max-elements", type=click.IntRange(0, None), default=None,
              metavar="N", help="thin a window with more than N elements: ordinary traffic "
              "as counts, every anomaly kept (0: never thin) [2000]")
def chart(trace_file: str, out: Path, t_from: str | None, t_to: str | None,
          hosts: str | None, width: int, no_check: bool, program_file: str | None,
          max_elements: int | None) -> None:
    """Draw a sequence chart of a trace: hosts as lifelines, datagrams as arrows with their
    fate, unplugged and crash windows, timeouts, status changes, sessions and violations.
    A long window is thinned (ordinary traffic as counts, every anomaly kept; the chart
    says so); --from/--to on a shorter one gives full detail."""
    from udpsem.traces.replay import TraceError

    a, b = _window(t_from, t_to)
    host_list = [h.strip() for h in hosts.split(",") if h.strip()] if hosts else None
    try:
        msg = write_chart(trace_file, out, a, b, host_list, width, not no_check,
                          program_file, max_elements)
    except TraceError as e:
        _fail(str(e))
    except ValueError as e:
        _fail(str(e))
    except OSError as e:
        _fail(f"-o {out}: cannot write: {e.strerror or e}")
    click.echo(msg)


# The options of `udpsem ui PROGRAM`, as `udpsem run` names them: (parameter, flag).
_RUN_OPTIONS = (("seed", "--seed"), ("duration", "--duration"), ("period", "--period"),
                ("clients", "--clients"), ("messages", "--messages"), ("loss", "--loss"),
                ("dup", "--dup"), ("max_copies", "--max-copies"), ("preset", "--preset"),
                ("disconnects", "--disconnect"), ("crashes", "--crash"))


@click.command("ui")
@click.argument("target", metavar="TRACE | PROGRAM | FILE.py[:NAME]")
@click.option("--port", type=click.IntRange(0, 65535), default=0, show_default=True,
              help="port on 127.0.0.1 (0: a free one)")
@click.option("--program", "program_file", default=None, metavar="FILE.py[:NAME]",
              help="TRACE: the program file it was recorded from (its digest is checked)")
@scenario_options("ui")
def ui(target: str, port: int, program_file: str | None, seed: int, duration: str | None,
       period: str | None, clients: int | None, messages: int | None, loss: float,
       dup: float, max_copies: int, preset: str | None, disconnects: tuple[str, ...],
       crashes: tuple[str, ...]) -> None:
    """Serve the explorer on 127.0.0.1 for a TRACE file, or for a fresh run of a built-in
    PROGRAM or of a program file FILE.py[:NAME] (loaded as `udpsem run FILE.py` loads it;
    its fault defaults apply unless an option overrides them, and its invariants and
    monitors are among the verdicts). Step through the run, see each state and rule,
    branch off by picking an enabled transition. It prints the address and opens nothing
    by itself; stop it with Ctrl-C."""
    from udpsem.programs.files import is_file_ref
    from udpsem.traces.replay import TraceError
    from udpsem.view.server import make_server
    from udpsem.view.session import Session

    ctx = click.get_current_context()
    given = [flag for name, flag in _RUN_OPTIONS
             if ctx.get_parameter_source(name) != click.core.ParameterSource.DEFAULT]
    program: str | None = None
    if is_file_ref(target) or not Path(target).exists():
        if program_file is not None:
            _fail("--program applies to a TRACE; to run a program file, name it: "
                  "udpsem ui FILE.py")
        program = target if is_file_ref(target) else None
        trace = _record_run(target, seed, duration, period, clients, messages, loss, dup,
                            max_copies, preset, disconnects, crashes)
    else:
        if given:
            _fail(f"{', '.join(given)}: run options apply to a PROGRAM, not to the trace "
                  f"{target}")
        trace, program = target, program_file
    click.echo(f"loading {trace} …", err=True)
    try:
        sess = Session.load(trace, program=program)
    except TraceError as e:
        _fail(str(e))
    try:
        srv = make_server(sess, port)
    except OSError as e:
        _fail(f"--port {port}: cannot listen on 127.0.0.1: {e.strerror or e}")
    host, real_port = str(srv.server_address[0]), int(srv.server_address[1])
    click.echo(f"udpsem explorer: http://{host}:{real_port}/  ({len(sess.steps)} steps; "
               f"Ctrl-C stops it)")
    sys.stdout.flush()
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        srv.server_close()


def _record_run(program: str, seed: int, duration: str | None, period: str | None,
                clients: int | None, messages: int | None, loss: float, dup: float,
                max_copies: int, preset: str | None, disconnects: tuple[str, ...],
                crashes: tuple[str, ...]) -> str:
    """Run a built-in program or a program file into a temporary trace file (for `udpsem
    ui PROGRAM`), building it from the options as `udpsem run` does. An exception escaping
    a thread does not stop the run: it is data in the model, shown by the no_escape
    verdict and on the chart."""
    from udpsem.network.faults import Faults, apply_preset, parse_crash, parse_window
    from udpsem.programs.catalog import ScenarioError, UnknownProgram, scenario
    from udpsem.programs.files import is_file_ref
    from udpsem.traces.record import run

    try:
        sc = scenario(program)
    except UnknownProgram as e:
        _fail(str(e) if is_file_ref(program) else f"{program}: no such trace file, and {e}")
    params = _scenario_params(sc, {
        "duration_ns": ("--duration", None if duration is None
                        else _duration(duration, "--duration")),
        "period_ns": ("--period", None if period is None else _duration(period, "--period")),
        "clients": ("--clients", clients),
        "messages": ("--messages", messages),
    })
    try:
        faults = Faults(loss=loss, dup=dup, max_copies=max_copies,
                        disconnects=tuple(parse_window(w) for w in disconnects),
                        crashes=tuple(parse_crash(c) for c in crashes))
    except ValueError as e:
        _fail(f"--disconnect/--crash: {e}")
    if is_file_ref(program):
        faults = _file_faults(program, faults)
    if preset is not None:
        try:
            faults = apply_preset(faults, preset)
        except ValueError as e:
            _fail(str(e))
    stem = "".join(c if c.isalnum() else "-" for c in Path(program.partition(":")[0]).stem)
    click.echo(f"running {program} …", err=True)
    try:
        with tempfile.NamedTemporaryFile("w", suffix=".jsonl", prefix=f"udpsem-{stem}-",
                                         delete=False, encoding="utf-8") as fh:
            run(program, params, faults, seed, trace=fh,  # type: ignore[arg-type]
                stop_on_escape=False)
    except ScenarioError as e:
        _fail(str(e))
    return fh.name


def last_state_text(trace: str, program: str | None = None) -> str:
    """The rendered last state of a trace (for counterexample reports); `program`: the
    program file of a trace of one."""
    from udpsem.view.session import Session
    from udpsem.view.state import mark_changes, render

    sess = Session.load(trace, program=program)
    prev = render(sess.worlds[-2]) if len(sess.worlds) > 1 else None
    return mark_changes(prev, render(sess.worlds[-1])).text()


@click.command("state")
@click.argument("trace_file", metavar="TRACE")
@click.option("--step", "at_step", type=click.IntRange(0, None), default=None,
              help="the state after this many steps [default: the last state]")
@click.option("--at", "at_time", default=None, metavar="TIME",
              help="the last state at or before this virtual time")
@click.option("--json", "as_json", is_flag=True, help="print the rendered state as JSON")
def state(trace_file: str, at_step: int | None, at_time: str | None, as_json: bool) -> None:
    """Print one state of a trace readably (replaying it): hosts, sockets as quads, threads
    and timers, queues, datagrams in flight, the store; `*` marks what the step changed."""
    import json

    from udpsem.traces.replay import TraceError
    from udpsem.view.events import label_text
    from udpsem.view.session import Session
    from udpsem.view.state import mark_changes, render

    if at_step is not None and at_time is not None:
        _fail("give --step or --at, not both")
    try:
        sess = Session.load(trace_file)
    except TraceError as e:
        _fail(str(e))
    n = len(sess.steps) if at_step is None else at_step
    if at_time is not None:
        t = _duration(at_time, "--at")
        n = max((k for k, w in enumerate(sess.worlds) if w.now <= t), default=0)
    if n > len(sess.steps):
        _fail(f"--step {n}: the trace has {len(sess.steps)} steps")
    prev = render(sess.worlds[n - 1]) if n else None
    view = mark_changes(prev, render(sess.worlds[n]))
    if as_json:
        click.echo(json.dumps({"step": n, **view.as_json()}))
        return
    if n:
        rec = sess.records[n - 1]
        partner = f" with {rec['partner']}" if rec["partner"] else ""
        click.echo(f"after step {n - 1} of {len(sess.steps)}: {rec['rule']}{partner}: "
                   f"{label_text(rec['label'])}")
    else:
        click.echo(f"the initial state (the trace has {len(sess.steps)} steps)")
    click.echo(view.text())
