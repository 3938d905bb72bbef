"""`udpsem explore`: search every behaviour of a program within bounds and check properties.

Registered on the main command group by `udpsem/cli.py`. Bad input is one line and exit 2
(`udpsem.cli_input.InputError`).
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.markup import escape

from udpsem.cli_input import ProgressLine
from udpsem.cli_input import duration as _duration
from udpsem.cli_input import fail as _fail
from udpsem.cli_input import size as _size
from udpsem.explore.fingerprint import DIGEST_SIZE, collision_probability
from udpsem.programs.files import is_file_ref

MAX_WORKERS = 32
"""At most this many worker processes: a swarm of walks gains nothing past the cores, and
each worker holds a copy of the model (tens of MB)."""

DEFAULT_MAX_STATES = 2_000_000
DEFAULT_MAX_SECONDS = 180.0
DEFAULT_MAX_MEMORY = "2GB"
"""Default bounds: a default exploration ends within 3 minutes and 2 GB (about 2 million
states of the heartbeat at ~1 kB each, frontier included, fit)."""


class _CxTimeline:
    """The run timeline (traces.render.Timeline) of a counterexample: module returns are
    shown only for get_status, and the violation closes it."""

    def __init__(self) -> None:
        from udpsem.traces.render import Timeline

        self.inner = Timeline(limit=80)
        self.calls: dict[tuple[str | None, int | None], str] = {}

    def __call__(self, st: Any) -> None:
        lab = st.transition.label
        if lab.kind == "modcall":
            self.calls[(lab.host, lab.tid)] = lab.value[0]
        if lab.kind == "modret" and self.calls.get((lab.host, lab.tid)) != "get_status":
            return
        self.inner(st)

    def violated(self, t: int, prop: str, message: str) -> None:
        self.inner._add(t, "", f"[bold red]{prop} violated[/]: {message}")

    def render(self, console: Console, title: str) -> None:
        self.inner.render(console, title)


@click.command()
@click.argument("program")
@click.option("--horizon", default="8s", show_default=True, help="virtual time bound")
@click.option("--preset", type=click.Choice(["paper"]), default=None,
              help="paper: Theorem 2's assumptions (≤ 3 copies, no 2 successive drops, ...)")
@click.option("--delays", type=click.IntRange(1, 64), default=3, show_default=True,
              help="propagation delays explored: a grid over [dpropmin, dpropmax]")
@click.option("--max-copies", type=click.IntRange(1, 16), default=None,
              help="most copies the network makes of a datagram (1: no duplication; "
                   "default 3 with --preset paper, else 1)")
@click.option("--max-successive-drops", type=click.IntRange(0, 64), default=None,
              help="most datagrams from one host dropped in a row (0: no loss; default 1 "
                   "with --preset paper, else 0)")
@click.option("--dpropmin", default=None, help="minimum propagation delay (default 100us)")
@click.option("--dpropmax", default=None, help="maximum propagation delay (default 10ms)")
@click.option("--disconnect", "disconnects", multiple=True, metavar="HOST@START-END",
              help="unplug HOST during a window, e.g. KURT@3s-6s (repeatable)")
@click.option("--ifdown", "ifdowns", multiple=True, metavar="HOST@START-END",
              help="take HOST's interfaces down during a window (routes gone: sends fail "
                   "with ENETUNREACH), e.g. KURT@3s-6s (repeatable; its moments are not "
                   "varied by --fault-grid)")
@click.option("--fault-grid", type=click.IntRange(1, 16), default=1, show_default=True,
              help="moments explored for each window end: a grid over [t, t + jitter]")
@click.option("--fault-jitter", default="0s", show_default=True,
              help="width of the grid of fault moments")
@click.option("--timing", type=click.Choice(["eager", "lazy"]), default="eager",
              show_default=True,
              help="eager: upper-bound actions happen at once; lazy: also at every later "
                   "moment time stops, up to their deadline")
@click.option("--time-grid", type=click.IntRange(1, 16), default=1, show_default=True,
              help="lazy timing: also stop time at d·k/N before the next deadline d")
@click.option("--strategy", type=click.Choice(["bfs", "dfs", "random"]), default="bfs",
              show_default=True)
@click.option("--seeds", type=click.IntRange(1, 10**7), default=100, show_default=True,
              help="random: number of walks (seeds 0..N-1)")
@click.option("--workers", type=click.IntRange(1, MAX_WORKERS), default=1, show_default=True,
              help=f"random: processes the walks are spread over (at most {MAX_WORKERS})")
@click.option("--max-depth", type=click.IntRange(1, 10**9), default=None,
              help="most transitions from the initial state")
@click.option("--max-states", type=click.IntRange(1, 10**10), default=DEFAULT_MAX_STATES,
              show_default=True, help="stop after this many unique states")
@click.option("--max-seconds", type=click.FloatRange(0, 10**7, min_open=True),
              default=DEFAULT_MAX_SECONDS, show_default=True,
              help="stop after this much wall-clock time (seconds)")
@click.option("--max-memory", default=DEFAULT_MAX_MEMORY, show_default=True, metavar="SIZE",
              help="stop when this process's resident memory passes SIZE (e.g. 500MB, 2GB)")
@click.option("--clients", type=click.IntRange(1, 8), default=None,
              help="echo: number of clients [1]")
@click.option("--messages", type=click.IntRange(0, 64), default=None,
              help="echo: strings each client sends [1]")
@click.option("--no-model-invariants", is_flag=True,
              help="do not check host_ok / network_ok in every state")
@click.option("--all-violations", is_flag=True,
              help="keep searching after the first violation (for every property's verdict)")
@click.option("--graph", "graph_path", type=click.Path(dir_okay=False, path_type=Path),
              default=None, help="export the explored state graph (GraphML)")
@click.option("--counterexample", "cx_path", type=click.Path(dir_okay=False, path_type=Path),
              default=None, help="write a shrunk counterexample trace here (if one is found)")
@click.option("--no-shrink", is_flag=True, help="write the counterexample as found")
@click.option("--chart", "chart_path", type=click.Path(dir_okay=False, path_type=Path),
              default=None, help="draw the counterexample's sequence chart (.svg or .html); "
                                 "needs --counterexample")
@click.option("--settle", default="2.6s", show_default=True, metavar="DURATION",
              help="heartbeat: Theorem 2's settle time (the paper's 2.6s)")
@click.option("--find-settle", is_flag=True,
              help="heartbeat: find the least settle time for which Theorem 2 holds under "
                   "these parameters (bisection over complete explorations, from --settle)")
@click.option("--json", "as_json", is_flag=True, help="print one JSON object instead")
def explore(program: str, horizon: str, preset: str | None, delays: int,
            max_copies: int | None, max_successive_drops: int | None, dpropmin: str | None,
            dpropmax: str | None, disconnects: tuple[str, ...], ifdowns: tuple[str, ...],
            fault_grid: int,
            fault_jitter: str, timing: str, time_grid: int, strategy: str, seeds: int,
            workers: int, max_depth: int | None, max_states: int | None,
            max_seconds: float, max_memory: str, clients: int | None, messages: int | None,
            no_model_invariants: bool, all_violations: bool, graph_path: Path | None,
            cx_path: Path | None, no_shrink: bool, chart_path: Path | None, settle: str,
            find_settle: bool, as_json: bool) -> None:
    """Explore every behaviour of PROGRAM within bounds; check host_ok, network_ok, no
    escaping exception, no time stop and (heartbeat) Theorem 2; write a counterexample.

    PROGRAM is heartbeat, echo, or a program file FILE.py[:NAME] (its world's invariants
    and monitors are checked too; its horizon and fault bounds are the defaults, and a bound
    given here enables its fault; a counterexample goes to FILE.counterexample.jsonl unless
    --counterexample names another file).

    Exit status: 0 no property violated; 1 a property violated; 2 bad input."""
    from udpsem.base.time import fmt_ns, timer_too_long
    from udpsem.explore.choosers import Discretisation
    from udpsem.explore.engine import ExploreConfig
    from udpsem.explore.engine import explore as run_explore
    from udpsem.explore.properties import SETTLE
    from udpsem.hosts.state import Timing
    from udpsem.network.faults import Faults, apply_preset, parse_window
    from udpsem.programs.catalog import UnknownProgram, scenario
    if chart_path is not None and cx_path is None:
        _fail("--chart draws the counterexample: give --counterexample FILE too")
    try:
        scenario(program)
    except UnknownProgram as e:
        _fail(str(e))
    hz = _duration(horizon, "--horizon")
    if hz <= 0:
        _fail("--horizon must be positive")
    t = Timing()
    if dpropmin is not None:
        t = replace(t, dpropmin=_duration(dpropmin, "--dpropmin"))
    if dpropmax is not None:
        t = replace(t, dpropmax=_duration(dpropmax, "--dpropmax"))
    if t.dpropmin > t.dpropmax or t.dpropmin <= 0:
        _fail(f"--dpropmin/--dpropmax: need 0 < dpropmin ≤ dpropmax, got "
              f"{fmt_ns(t.dpropmin)} and {fmt_ns(t.dpropmax)}")
    try:
        windows = tuple(parse_window(w) for w in disconnects)
    except ValueError as e:
        _fail(f"--disconnect: {e}")
    try:
        downs = tuple(parse_window(w) for w in ifdowns)
    except ValueError as e:
        _fail(f"--ifdown: {e}")
    jitter = _duration(fault_jitter, "--fault-jitter")
    settle_ns = _duration(settle, "--settle")
    if program != "heartbeat" and (find_settle or settle_ns != SETTLE):
        _fail(f"--settle/--find-settle apply to heartbeat (Theorem 2), not to {program}")
    if find_settle and strategy != "bfs" and strategy != "dfs":
        _fail("--find-settle needs complete explorations: --strategy bfs or dfs")
    if find_settle and all_violations:
        _fail("--find-settle stops each probe at its first violation: drop --all-violations")
    if find_settle and graph_path is not None:
        _fail("--find-settle runs many explorations: --graph is not available with it")
    copies = max_copies if max_copies is not None else (3 if preset else 1)
    drops = max_successive_drops if max_successive_drops is not None else (1 if preset else 0)
    faults = Faults(loss=0.5 if drops > 0 else 0.0, dup=0.5 if copies > 1 else 0.0,
                    max_copies=max(copies, 1), max_successive_drops=drops or None,
                    disconnects=windows, ifdowns=downs)
    if preset is not None:
        try:
            base = apply_preset(faults, preset)
        except ValueError as e:
            _fail(str(e))
        relaxed = copies > 3 or drops > 1
        faults = replace(base, max_copies=max(copies, 1),
                         max_successive_drops=drops or None,
                         loss=faults.loss, dup=faults.dup,
                         preset=None if relaxed else base.preset)
    params: tuple[tuple[str, int], ...] = ()
    if program == "echo":
        params = (("clients", 1 if clients is None else clients),
                  ("messages", 1 if messages is None else messages))
    elif clients is not None or messages is not None:
        _fail(f"--clients/--messages apply to echo, not to {program}")
    if strategy == "random" and graph_path is not None:
        _fail("--graph exports the state graph of a bfs or dfs search; random walks "
              "keep no graph (use --strategy bfs or dfs)")
    memory = _size(max_memory, "--max-memory")
    if is_file_ref(program):
        faults, hz, cx_path = _file_settings(program, faults, hz, cx_path, windows, downs)
    for flag, ns in (("--dpropmin", t.dpropmin), ("--dpropmax", t.dpropmax)):
        too_long = timer_too_long(flag, ns, hz)
        if too_long is not None:
            _fail(too_long)
    cfg = ExploreConfig(program=program, horizon=hz, timing=t, faults=faults, params=params,
                        max_seconds=max_seconds, max_memory=memory,
                        discretisation=Discretisation(delays=delays, time_grid=time_grid,
                                                      timing=timing),
                        strategy=strategy, max_depth=max_depth, max_states=max_states,
                        seeds=seeds, workers=workers, fault_grid=fault_grid,
                        fault_jitter=jitter, check_model=not no_model_invariants,
                        stop_at_first=not all_violations, graph=graph_path is not None,
                        settle=settle_ns)
    try:
        from udpsem.explore.engine import build

        build(cfg)  # validates the configuration (hosts named in windows, ...) up front
    except (KeyError, ValueError) as e:
        _fail(str(e.args[0]) if e.args else str(e))
    if find_settle:
        _find_settle(cfg, settle_ns, cx_path, no_shrink, as_json)
        return
    try:
        with ProgressLine("udpsem explore", _progress_text, enabled=not as_json) as line:
            res, _ = run_explore(cfg, line)
    except ValueError as e:
        _fail(str(e))
    _report(cfg, res, graph_path, cx_path, no_shrink, as_json, chart_path)


def _progress_text(d: dict[str, Any]) -> str:
    """The progress line of a search, from the engine's figures."""
    rate = d["states"] / d["elapsed"] if d["elapsed"] > 0 else 0
    return (f"{d['states']} states, {d['transitions']} transitions, depth {d['depth']}, "
            f"frontier {d['queue']}, {rate:,.0f} states/s, {d['elapsed']:.0f} s")


def _counterexample(cfg: Any, res: Any, cx_path: Path | None, no_shrink: bool,
                    ) -> tuple[dict[str, Any] | None, str | None, _CxTimeline]:
    """Shrink and write the counterexample of `res` (if any): its summary, where it was
    written, and its timeline."""
    from udpsem.explore.engine import fault_variants
    from udpsem.explore.shrink import from_violation, shrink, write_trace

    cx_written = None
    cx_summary: dict[str, Any] | None = None
    timeline = _CxTimeline()
    if res.violation is not None:
        faults_v = fault_variants(cfg)[res.violation.root]
        cx = from_violation(cfg, faults_v, res.violation)
        found_steps = len(cx.tape)
        t0 = time.perf_counter()
        if not no_shrink:
            cx = shrink(cfg, cx)
        cx_summary = {"property": cx.prop, "message": cx.message, "time_ns": cx.time,
                      "steps": len(cx.tape), "steps_found": found_steps,
                      "shrink_s": round(time.perf_counter() - t0, 3),
                      "faults": [str(w) for w in cx.faults.disconnects],
                      "ifdowns": [str(w) for w in cx.faults.ifdowns]}
        if cx_path is not None:
            try:
                write_trace(cfg, cx, cx_path, observers=(timeline,))
            except OSError as e:
                _fail(f"--counterexample {cx_path}: cannot write: {e.strerror or e}")
            cx_written = str(cx_path)
            timeline.violated(cx.time, cx.prop, cx.message)
        cx_summary["file"] = cx_written
        if is_file_ref(cfg.program):
            cx_summary["program_file"] = cfg.program
    return cx_summary, cx_written, timeline


def _print_counterexample(out: Console, cx_summary: dict[str, Any] | None,
                          timeline: _CxTimeline) -> None:
    from udpsem.base.time import fmt_ns

    if cx_summary is None:
        return
    cx_written = cx_summary["file"]
    out.print(f"[red]{escape(cx_summary['property'])}: {escape(cx_summary['message'])}[/]")
    out.print(f"counterexample: {cx_summary['steps']} steps (found with "
              f"{cx_summary['steps_found']}), violation at {fmt_ns(cx_summary['time_ns'])}")
    if cx_written is not None:
        timeline.render(out, escape(f"counterexample {cx_written}"))
        from udpsem.view.cli import last_state_text

        out.print("the violating state (* what its last step changed):", markup=False)
        prog = cx_summary.get("program_file")
        out.print(last_state_text(cx_written, prog), markup=False, highlight=False,
                  soft_wrap=True)
        again = f"udpsem replay {cx_written}" + (f" --program {prog}" if prog else "")
        out.print(f"written to {cx_written}; check it with `{again}`", markup=False)


def _find_settle(cfg: Any, upper: int, cx_path: Path | None, no_shrink: bool,
                 as_json: bool) -> None:
    """`explore heartbeat --find-settle`: the search of `udpsem.explore.settle`, one line per
    probe, then the bound with the counterexample of the greatest violated settle time."""
    from udpsem.base.time import fmt_ns
    from udpsem.explore.settle import find_settle

    out = Console()
    t = cfg.timing
    if not as_json:
        out.print(f"[bold]heartbeat[/]: least settle time for Theorem 2, horizon "
                  f"{fmt_ns(cfg.horizon)}, dpropmin {fmt_ns(t.dpropmin)}, dpropmax "
                  f"{fmt_ns(t.dpropmax)}, timing {cfg.discretisation.timing}, delays "
                  f"{cfg.discretisation.delays}"
                  + "".join(f", disconnect {w}" for w in cfg.faults.disconnects)
                  + "".join(f", ifdown {w}" for w in cfg.faults.ifdowns))

    def on_probe(p: Any) -> None:
        if as_json:
            return
        colour = {"holds": "green", "violated": "red"}.get(p.verdict, "yellow")
        extra = "" if p.gap is None else (f" (answer wrong {fmt_ns(p.gap)} after the change, "
                                          f"at {fmt_ns(p.violation_time)})")
        out.print(f"  probe settle {fmt_ns(p.settle)}: [{colour}]{p.verdict}[/]{extra}, "
                  f"{p.states} states, {p.elapsed:.1f} s")

    try:
        found = find_settle(cfg, upper, on_probe=on_probe)
    except ValueError as e:
        _fail(str(e))
    cx_summary, _, timeline = (None, None, _CxTimeline()) if found.witness is None else \
        _counterexample(found.witness[0], found.witness[1], cx_path, no_shrink)
    probes = [{"settle_ns": p.settle, "verdict": p.verdict, "states": p.states,
               "elapsed_s": round(p.elapsed, 3), "gap_ns": p.gap,
               "violation_time_ns": p.violation_time} for p in found.probes]
    if as_json:
        click.echo(json.dumps({"program": "heartbeat", "dpropmin_ns": t.dpropmin,
                               "dpropmax_ns": t.dpropmax, "horizon_ns": cfg.horizon,
                               "least_settle_ns": found.bound,
                               "violated_settle_ns": found.violated_at,
                               "holds_settle_ns": found.holds_at, "paper_settle_ns": upper,
                               "paper_holds": found.holds_at is not None
                               and found.holds_at <= upper and found.bound is not None
                               and found.bound <= upper,
                               "stopped": found.stopped, "probes": probes,
                               "violation": cx_summary}))
    else:
        if found.bound is not None:
            below = ("" if found.violated_at is None else
                     f"; violated at {fmt_ns(found.violated_at)}")
            verdict = "holds" if found.bound <= upper else "is violated"
            out.print(f"[bold]least settle time: {fmt_ns(found.bound)}[/] (Theorem 2 holds "
                      f"for every settle time from {fmt_ns(found.bound)}{below}); the "
                      f"settle time {fmt_ns(upper)} [bold]{verdict}[/]")
        else:
            out.print(f"[yellow]no exact bound: {found.stopped}[/]")
        _print_counterexample(out, cx_summary, timeline)
    if found.bound is None:
        sys.exit(1 if found.violated_at is not None else 0)


def _report(cfg: Any, res: Any, graph_path: Path | None, cx_path: Path | None,
            no_shrink: bool, as_json: bool, chart_path: Path | None = None) -> None:
    """The outcome of one exploration: the graph file, the counterexample (and its chart),
    the summary."""
    import signal

    from udpsem.base.time import fmt_ns
    from udpsem.explore.engine import BOUND_NAMES

    # the search is over (perhaps cut short by a SIGINT): the output files are written whole
    signal.signal(signal.SIGINT, signal.SIG_IGN)

    program, strategy, hz = cfg.program, cfg.strategy, cfg.horizon
    faults, windows = cfg.faults, cfg.faults.disconnects
    delays, timing = cfg.discretisation.delays, cfg.discretisation.timing
    if graph_path is not None and res.graph is not None:
        import networkx as nx  # type: ignore[import-untyped]

        try:
            nx.write_graphml(res.graph, str(graph_path))
        except OSError as e:
            _fail(f"--graph {graph_path}: cannot write: {e.strerror or e}")
    cx_summary, cx_written, timeline = _counterexample(cfg, res, cx_path, no_shrink)
    chart_written = None
    if chart_path is not None and cx_written is not None:
        from udpsem.view.cli import write_chart

        try:
            write_chart(cx_written, chart_path,
                        program=(cx_summary or {}).get("program_file"))
        except (OSError, ValueError) as e:
            _fail(f"--chart {chart_path}: {e}")
        chart_written = str(chart_path)
    summary: dict[str, Any] = {
        "program": program, "strategy": strategy, "horizon_ns": hz,
        "states": res.states, "transitions": res.transitions, "max_depth": res.max_depth,
        "elapsed_s": round(res.elapsed, 3), "states_per_s": round(res.states_per_s, 1),
        "bytes_per_state": round(res.bytes_per_state, 1), "roots": res.roots,
        "revisits": res.revisits, "complete": res.complete, "truncated": res.truncated,
        "stopped_by": [BOUND_NAMES.get(r, r) for r in res.truncated],
        "frontier": res.frontier,
        "verdicts": res.verdicts, "counterexample": cx_written,
        "violation": cx_summary, "chart": chart_written,
        "fingerprint_bits": 8 * DIGEST_SIZE,
        "collision_probability": collision_probability(res.states),
    }
    if as_json:
        click.echo(json.dumps(summary))
        if "interrupted" in res.truncated:
            sys.exit(130)
        if res.violation is not None:
            sys.exit(1)
        return
    out = Console()
    out.print(f"[bold]{program}[/]: {strategy}, horizon {fmt_ns(hz)}, {res.roots} root(s), "
              f"delays {delays}, timing {timing}, copies ≤ {faults.max_copies if faults.dup else 1}"
              f", successive drops ≤ {_drops_bound(faults)}"
              + "".join(f", disconnect {w}" for w in windows)
              + "".join(f", ifdown {w}" for w in faults.ifdowns))
    out.print(f"{res.states} states, {res.transitions} transitions, max depth {res.max_depth}, "
              f"{res.elapsed:.2f} s, {res.states_per_s:,.0f} states/s, "
              f"{res.bytes_per_state:.0f} bytes/state"
              + ("" if res.complete else " [yellow](not exhaustive: " + escape(
                  ", ".join(f"stopped by {BOUND_NAMES.get(r, r)}" for r in res.truncated)
                  or "stopped at the first violation") + ")[/]"))
    if not res.complete and set(res.truncated) & {"states", "seconds", "memory",
                                                   "interrupted"}:
        out.print(f"[yellow]search stopped early with {res.frontier} states still in the "
                  f"frontier: the verdicts below are partial ('unknown' means not "
                  f"decided)[/]")
    out.print(f"{8 * DIGEST_SIZE}-bit fingerprints: the probability that two of these states "
              f"share one (and one was skipped as visited) is at most "
              f"{collision_probability(res.states):.1e}")
    for p, v in res.verdicts.items():
        colour = {"holds": "green", "violated": "red"}.get(v, "yellow")
        out.print(f"  {p}: [bold {colour}]{v}[/]")
    _print_counterexample(out, cx_summary, timeline)
    if chart_written is not None:
        out.print(f"chart of the counterexample written to {escape(chart_written)}")
    if graph_path is not None:
        out.print(f"state graph written to {escape(str(graph_path))}")
    if "interrupted" in res.truncated:
        sys.exit(130)
    if res.violation is not None:
        sys.exit(1)


def _drops_bound(faults: Any) -> str:
    """The bound on successive drops explored: 0 without loss, ∞ for loss without one."""
    if not faults.loss:
        return "0"
    return "∞" if faults.max_successive_drops is None else str(faults.max_successive_drops)


def _file_settings(program: str, faults: Any, hz: int, cx_path: Path | None,
                   windows: tuple[Any, ...],
                   downs: tuple[Any, ...] = ()) -> tuple[Any, int, Path]:
    """A program file's exploration defaults (its horizon, its fault bounds: a bound
    enables its fault), each option given on the command line instead of its default."""
    from udpsem.programs.files import load, split_ref

    ctx = click.get_current_context()
    spec = load(program).spec

    def given(name: str) -> bool:
        return ctx.get_parameter_source(name) != click.core.ParameterSource.DEFAULT

    base = spec.explore_faults()
    over: dict[str, Any] = {}
    if given("max_copies"):
        over.update(max_copies=faults.max_copies, dup=faults.dup)
    if given("max_successive_drops"):
        over.update(max_successive_drops=faults.max_successive_drops, loss=faults.loss)
    if given("disconnects"):
        over["disconnects"] = windows
    if given("ifdowns"):
        over["ifdowns"] = downs
    if given("preset"):
        over = {}
        base = faults
    horizon = hz if given("horizon") else spec.horizon
    path = cx_path if cx_path is not None else \
        Path(Path(split_ref(program)[0]).stem + ".counterexample.jsonl")
    return replace(base, **over), horizon, path
