"""Bad user input on the command line: one line on stderr, exit status 2, no traceback.

Shared by `udpsem.cli` and `udpsem.explore.cli` (which `udpsem.cli` registers, so neither can
import helpers from the other at module level).
"""

from __future__ import annotations

import math
import re
from typing import Any, NoReturn

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
    command line (`--loss`, `--dup`, `--max-copies`, `--disconnect`, `--crash`: the current
    command's parameters `loss`, `dup`, `max_copies`, `disconnects`, `crashes`) instead of
    its default. Shared by `udpsem run FILE.py` and `udpsem ui FILE.py`."""
    from dataclasses import replace

    from udpsem.programs.files import load

    ctx = click.get_current_context()
    base = load(program).spec.run_faults()
    over: dict[str, Any] = {}
    for opt, field_name in (("loss", "loss"), ("dup", "dup"), ("max_copies", "max_copies"),
                            ("disconnects", "disconnects"), ("crashes", "crashes")):
        if ctx.get_parameter_source(opt) != click.core.ParameterSource.DEFAULT:
            over[field_name] = getattr(given, field_name)
    return replace(base, **over)
