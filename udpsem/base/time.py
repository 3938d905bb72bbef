"""Exact time (docs/model.md#time-and-urgency): integer ns, absolute deadlines, duration parsing.

A timer is stored as an absolute *deadline* in nanoseconds; its value in the paper's sense is
`deadline - now`. Time passage is then just `now += d`, defined iff `d ≤ deadline - now` for
every deadline (the partial function `Time_Pass`). `NEVER` is the paper's `∞`.

The three timer kinds differ only in when their action is enabled, which each rule states:
an *upper-bound* timer's action is enabled while `now ≤ deadline`, a *sharp* timer's only at
`now == deadline`, and `NEVER` imposes nothing. Both finite kinds stop time at the deadline.
"""

from __future__ import annotations

import re
from typing import Final

NS: Final = 1
US: Final = 1_000
MS: Final = 1_000_000
S: Final = 1_000_000_000
NEVER: Final = 1 << 62
"""The infinite timer `∞`. About 146 years of nanoseconds: beyond any horizon we run."""
LAST: Final = NEVER - 1
"""The last instant of the model's clock: every horizon is at most this (NEVER itself is
`∞`, not an instant), and every finite deadline is at most this (`deadline_after`)."""


def us_to_ns(us: int) -> int:
    """LIB durations are microseconds; the model clock is nanoseconds."""
    return us * US


def deadline_after(now: int, ns: int) -> int:
    """The finite deadline `ns` after `now`, for a LIB duration however long (delay, a select
    timeout, SO_RCVTIMEO/SO_SNDTIMEO, an application's sleep): `now + ns`, or `LAST` if that
    is later. `∞` is not a number a duration can reach (docs/model.md#timers): an integer
    `NEVER` would otherwise turn a 160-year delay into a sleep that never ends and a select
    timeout into "no timeout". Linux saturates the same way (its hrtimers end at
    KTIME_MAX: `nanosleep` of 2^40 s reports KTIME_MAX - now as the time left, experiment on
    6.18). A run stops at its horizon (at most `LAST`) before anything due then happens, so
    no run can tell a deadline set to `LAST` from the exact one."""
    return min(now + ns, LAST)


def longest_timer(horizon: int) -> int:
    """The longest timing parameter (dsch, doq, dpropmax, ...) a run to `horizon` can take:
    every deadline `now + d` it sets at a `now` up to the horizon is then a finite instant
    (at most `LAST`). A longer one would reach `NEVER`, the model's ∞, where an upper-bound
    timer, which must force its action in time, forces nothing."""
    return max(LAST - horizon, 0)


def timer_too_long(name: str, ns: int, horizon: int) -> str | None:
    """Why timing parameter `name` of `ns` cannot be used in a run to `horizon` (one line,
    for the user), or None if it can: it is longer than `longest_timer(horizon)`."""
    longest = longest_timer(horizon)
    if ns <= longest:
        return None
    return (f"{name} {fmt_ns(ns) if ns < NEVER else f'{ns} ns'} is too long for a run to "
            f"{fmt_ns(horizon)}: a deadline it sets would reach the model's ∞ (2^62 ns, about "
            f"146 years); at most {fmt_ns(longest)}")


def remaining(deadline: int, now: int) -> int:
    """The timer value `deadline - now`, with `NEVER` staying `NEVER`."""
    return NEVER if deadline >= NEVER else deadline - now


_UNITS: Final = {"ns": NS, "us": US, "µs": US, "ms": MS, "s": S, "m": 60 * S, "min": 60 * S,
                 "h": 3600 * S}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ns|us|µs|ms|s|min|m|h)\s*$")


def parse_duration(text: str) -> int:
    """Nanoseconds of `250ms`, `2.5s`, `60s`, `1h`... exactly (no float rounding).

    Raises ValueError with a message naming the text.
    """
    m = _DURATION.match(text)
    if not m:
        raise ValueError(
            f"malformed duration {text!r}: expected a number and a unit (ns, us, ms, s, m, h), "
            "e.g. 250ms, 2.5s, 60s, 1h")
    number: str = m.group(1)
    unit: str = m.group(2)
    scale: int = _UNITS[unit]
    if "." in number:
        whole, frac = number.split(".")
        denom: int = 10 ** len(frac)
        value = int(whole) * scale + (int(frac) * scale) // denom
        if (int(frac) * scale) % denom:
            raise ValueError(f"duration {text!r} is not a whole number of nanoseconds")
        return value
    return int(number) * scale


def fmt_ns(t: int) -> str:
    """Human text for a time in ns: `12.345678s`, `∞` for NEVER."""
    if t >= NEVER:
        return "∞"
    sign = "-" if t < 0 else ""
    t = abs(t)
    return f"{sign}{t // S}.{t % S:09d}s".rstrip("0").replace(".s", "s")
