"""What the command-line tools share: bad user input (one line on stderr, exit status 2, no
traceback), the parsing of their options, and the progress line of long work.

Shared by `udpsem.cli` and the commands it registers (`udpsem.explore.cli`,
`udpsem.check.cli`, `udpsem.real.cli`, ...), so that none need import helpers from another at
module level.
"""

from __future__ import annotations

import math
import os
import re
import time
from collections.abc import Callable
from types import TracebackType
from typing import IO, Any, NoReturn, Self, TypeVar

import click

from udpsem.base.time import NEVER, fmt_ns, parse_duration

SEED_MAX = (1 << 63) - 1
"""Seeds are recorded in trace headers, which hold signed 64-bit integers."""

DURATION_MAX = NEVER - 1
"""The longest duration an option takes: below the model's `NEVER` (2^62 ns, ~146 years)."""


class InputError(click.ClickException):
    """Bad user input: printed as one line, exit status 2."""

    exit_code = 2


def fail(msg: str) -> NoReturn:
    """Stop the command with a one-line input error."""
    raise InputError(msg)


def duration(text: str, what: str) -> int:
    """Nanoseconds of a duration option, or an input error naming the option."""
    try:
        ns = parse_duration(text)
    except ValueError as e:
        fail(f"{what}: {e}")
    if ns > DURATION_MAX:
        fail(f"{what}: {text!r} is too long (at most {fmt_ns(DURATION_MAX)}, about 146 years)")
    return ns


_SIZE = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)?\s*$",
                   re.IGNORECASE)
_SIZE_UNITS = {"b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12, "kib": 1 << 10,
               "mib": 1 << 20, "gib": 1 << 30, "tib": 1 << 40}


def size(text: str, what: str) -> int:
    """Bytes of a size option (`500MB`, `2GB`, `1.5GiB`, `1048576`), or an input error."""
    m = _SIZE.match(text)
    if not m:
        fail(f"{what}: malformed size {text!r}: expected a number and a unit (B, KB, MB, GB, "
             f"TB, KiB, MiB, GiB, TiB), e.g. 500MB or 2GB")
    n = int(float(m.group(1)) * _SIZE_UNITS[(m.group(2) or "b").lower()])
    if n <= 0 or n > 1 << 50:
        fail(f"{what}: {text!r} is out of range")
    return n


class Probability(click.ParamType):  # type: ignore[type-arg]
    """A probability: a finite number in [0, 1] (NaN and infinities are refused)."""

    name = "probability"

    def convert(self, value: Any, param: click.Parameter | None,
                ctx: click.Context | None) -> float:
        if isinstance(value, float) and math.isfinite(value) and 0 <= value <= 1:
            return value
        try:
            p = float(value)
        except (TypeError, ValueError):
            self.fail(f"{value!r} is not a number", param, ctx)
        if not math.isfinite(p):
            self.fail(f"{value!r} is not a finite number", param, ctx)
        if not 0 <= p <= 1:
            self.fail(f"{value!r} is not in the range 0<=x<=1", param, ctx)
        return p


PROBABILITY = Probability()


def scenario_params(sc: Any, given: dict[str, tuple[str, int | None]]) -> dict[str, int]:
    """The parameters a user gave for scenario `sc`, from `{key: (flag, value or None)}`:
    a flag the scenario does not take, or a duration that is not positive, is bad input."""
    params: dict[str, int] = {}
    for key, (flag, value) in given.items():
        if value is None:
            continue
        if key not in sc.defaults:
            fail(f"{flag} does not apply to {sc.name}")
        if value <= 0 and key.endswith("_ns"):
            fail(f"{flag} must be positive")
        params[key] = value
    return params


def file_faults(program: str, given: Any) -> Any:
    """A program file's fault defaults (a `Faults`), with each fault option given on the
    command line (`--loss`, `--dup`, `--max-copies`, `--disconnect`, `--crash`, `--ifdown`:
    the current command's parameters `loss`, `dup`, `max_copies`, `disconnects`, `crashes`,
    `ifdowns`) instead of
    its default. Shared by `udpsem run FILE.py` and `udpsem ui FILE.py`."""
    from dataclasses import replace

    from udpsem.programs.files import load

    ctx = click.get_current_context()
    base = load(program).spec.run_faults()
    over: dict[str, Any] = {}
    for opt, field_name in (("loss", "loss"), ("dup", "dup"), ("max_copies", "max_copies"),
                            ("disconnects", "disconnects"), ("crashes", "crashes"),
                            ("ifdowns", "ifdowns")):
        if opt not in ctx.params:
            continue  # a command without that option (`--ifdown` is run's only)
        if ctx.get_parameter_source(opt) != click.core.ParameterSource.DEFAULT:
            over[field_name] = getattr(given, field_name)
    return replace(base, **over)


F = TypeVar("F", bound=Callable[..., Any])


def scenario_options(command: str) -> Callable[[F], F]:
    """The scenario options of `udpsem run`, `ui` and `real` (`command`), as one decorator:
    the program's parameters (`--duration`, `--period`, `--clients`, `--messages`) and its
    environment (`--disconnect`, `--crash`, and for run and real `--ifdown`); for the model's
    commands (run, ui) also the seed and the network's faults (`--seed`, `--loss`, `--dup`,
    `--max-copies`, `--preset`). One definition, so the commands cannot drift apart: the
    values are checked by `scenario_params` and `file_faults`. `ui` takes a TRACE as well,
    so its help says which options are for a PROGRAM; `real` runs in real time on the
    kernel, which its help says."""
    if command not in ("run", "ui", "real"):
        raise ValueError(f"no scenario options for {command!r}")
    real = command == "real"
    pre = "PROGRAM: " if command == "ui" else ""
    opts: list[Any] = []
    if not real:
        opts.append(click.option("--seed", type=click.IntRange(0, SEED_MAX), default=0,
                                 show_default=True, help=f"{pre}seed of the random chooser"))
    opts += [
        click.option("--duration", default=None,
                     help="real time to run [default: 10s, a program file's horizon]" if real
                     else f"{pre}virtual time to run [default: the program's]"),
        click.option("--period", default=None,
                     help="heartbeat: how often ALAN's application calls get_status [100ms]"),
        click.option("--clients", type=click.IntRange(1, 64), default=None,
                     help="echo: number of clients, each on its own host [2]"),
        click.option("--messages", type=click.IntRange(0, 100_000), default=None,
                     help="echo: strings each client sends [10]"),
    ]
    if not real:
        opts += [
            click.option("--loss", type=PROBABILITY, default=0.0, show_default=True,
                         help=f"{pre}probability that the network drops a datagram"),
            click.option("--dup", type=PROBABILITY, default=0.0, show_default=True,
                         help=f"{pre}probability that the network duplicates a datagram"),
            click.option("--max-copies", type=click.IntRange(2, 64), default=3,
                         show_default=True, help=f"{pre}most copies a duplication makes"),
            click.option("--preset", type=click.Choice(["paper"]), default=None,
                         help=f"{pre}paper: Theorem 2's assumptions 2, 3, 6, 7, 8"),
        ]
    opts += [
        click.option("--disconnect", "disconnects", multiple=True, metavar="HOST@START-END",
                     help="take HOST's link down during a window (needs --netns; repeatable)"
                     if real else f"{pre}unplug HOST during a window, e.g. KURT@20s-40s "
                     "(repeatable)"),
        click.option("--crash", "crashes", multiple=True, metavar="HOST@TIME",
                     help="kill HOST's threads at TIME (repeatable)" if real
                     else f"{pre}crash HOST at TIME, e.g. KURT@50s (repeatable)"),
    ]
    if command != "ui":
        opts.append(click.option(
            "--ifdown", "ifdowns", multiple=True, metavar="HOST@START-END",
            help="take HOST's interface down (`ip link set eth0 down`) during a window "
                 "(needs --netns; repeatable)" if real else
                 "take HOST's interfaces down during a window (routes gone: sends fail with "
                 "ENETUNREACH), e.g. KURT@20s-40s (repeatable)"))

    def decorate(fn: F) -> F:
        for opt in reversed(opts):  # click lists options in decorator order, top first
            fn = opt(fn)
        return fn

    return decorate


PROGRESS_SECONDS = 5.0
"""Seconds between progress lines when stderr is not a terminal, unless the environment
variable UDPSEM_PROGRESS_SECONDS says otherwise: often enough that a log shows the work is
alive, rarely enough that a long run's log stays readable."""


def progress_interval() -> float:
    """Seconds between progress lines when stderr is not a terminal: `PROGRESS_SECONDS`, or
    the value of the environment variable UDPSEM_PROGRESS_SECONDS (a positive finite number)
    where it is set; any other value is ignored."""
    try:
        v = float(os.environ.get("UDPSEM_PROGRESS_SECONDS", str(PROGRESS_SECONDS)))
    except ValueError:
        return PROGRESS_SECONDS
    return v if 0 < v < float("inf") else PROGRESS_SECONDS


class ProgressLine:
    """The progress line of a long piece of work (`udpsem explore`, `check`, `real`), fed by
    calling it with the work's latest figures; `text(figures)` says them in words.

    Used as a context manager. Where stderr is a terminal it is one line `PREFIX: TEXT`
    rewritten in place at each call (after a spinner), removed when the block ends however it
    ends (an interrupt included: the exception goes on to the command's handler, which then
    prints its own line, not a traceback, on a clean line). Elsewhere (a log, a pipe, CI) it is a plain
    line `PREFIX: TEXT` at most every `every` seconds (`progress_interval()` by default);
    plain lines are whole lines, so nothing needs clearing. With `enabled=False` (`--json`)
    it shows nothing. `stream` and `terminal` are for tests (default: stderr, and whether it
    is a terminal)."""

    def __init__(self, prefix: str, text: Callable[[Any], str], *, every: float | None = None,
                 enabled: bool = True, stream: IO[str] | None = None,
                 terminal: bool | None = None) -> None:
        self.prefix = prefix
        self.text = text
        self.every = progress_interval() if every is None else every
        self.enabled = enabled
        self.stream = stream
        self.terminal = terminal
        self.lines = 0
        """Plain lines written so far."""
        self._last = time.monotonic()
        self._live: Any = None
        self._task: Any = None

    def __enter__(self) -> Self:
        if not self.enabled:
            return self
        from rich.console import Console

        console = Console(file=self.stream, stderr=True, force_terminal=self.terminal)
        if console.is_terminal:
            from rich.markup import escape
            from rich.progress import Progress, SpinnerColumn, TextColumn
            from rich.table import Column

            # Wrapped, not cut, where the terminal is narrower than the line: every figure
            # stays in sight (and the display, however many rows, is still removed whole).
            self._live = Progress(SpinnerColumn(), TextColumn(
                f"[bold]{escape(self.prefix)}:[/] {{task.fields[text]}}",
                table_column=Column(no_wrap=False, overflow="fold")),
                console=console, transient=True)
            self._live.__enter__()
            self._task = self._live.add_task(self.prefix, text="")
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self._live is not None:
            live, self._live = self._live, None
            live.__exit__(kind, exc, tb)  # stops the display and clears the line

    def __call__(self, figures: Any) -> None:
        if not self.enabled:
            return
        if self._live is not None:
            from rich.markup import escape

            self._live.update(self._task, text=escape(self.text(figures)))
            return
        now = time.monotonic()
        if now - self._last < self.every:
            return
        self._last = now
        click.echo(f"{self.prefix}: {self.text(figures)}", file=self.stream,
                   err=self.stream is None)
        self.lines += 1


def property_violated(observer: Any) -> bool:
    """Whether a run's observer saw a property violated (its `violations`: a count, a list,
    or a method giving a list): `run` and `real` then exit 1."""
    v = getattr(observer, "violations", None)
    if callable(v):
        v = v()
    return bool(v)
