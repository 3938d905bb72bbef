"""Rule coverage (docs/architecture.md): which registered rules a run, a trace or a test suite
exercised, and how often.

The live counter is opt-in: `start()` turns it on, and until then the only cost on the hot
path is one module-attribute test (`coverage.counts is not None`) per step. It is fed by
`semantics.drivers.step` (each transition's rule and its synchronisation partner, and
`net_msg_time` for every time step that messages in flight take part in) and by the test
helper `tests/hostkit.fire`. `count_traces` counts the same from recorded trace files.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Any

counts: Counter[str] | None = None
"""The live counter, or None while coverage is off."""


def start() -> Counter[str]:
    """Turn counting on (keeping any counts so far) and return the counter."""
    global counts
    if counts is None:
        counts = Counter()
    return counts


def stop() -> Counter[str]:
    """Turn counting off and return what was counted."""
    global counts
    out, counts = counts if counts is not None else Counter(), None
    return out


def hit(rule: str, partner: str | None = None) -> None:
    """Count one use of `rule` (and of its partner), if coverage is on."""
    c = counts
    if c is None:
        return
    c[rule] += 1
    if partner is not None:
        c[partner] += 1


def transition(before: Any, t: Any) -> None:
    """Count a resolved system transition taken from world `before` (if coverage is on):
    its rule, its partner, and `net_msg_time` when time passes with messages in flight."""
    c = counts
    if c is None:
        return
    c[t.rule] += 1
    if t.partner is not None:
        c[t.partner] += 1
    if t.rule == "time_pass" and getattr(before, "net", ()):
        c["net_msg_time"] += 1
    if t.partner not in ("host_send_disc", "host_recv_disc") and _is_host_rule(t.rule):
        c["host_lift"] += 1


def _is_host_rule(name: str) -> bool:
    from udpsem.base.registry import RULES

    info = RULES.get(name)
    return info is not None and info.trigger in ("call", "thread", "oq", "recv")


def registered() -> list[str]:
    """Every registered rule name, in registration order."""
    import udpsem.core.system  # noqa: F401  (registers every rule)
    from udpsem.base.registry import RULES

    return list(RULES)


def report(c: Counter[str]) -> list[tuple[str, int]]:
    """`(rule, count)` for every registered rule, in registration order."""
    return [(name, c.get(name, 0)) for name in registered()]


def count_traces(paths: Iterable[str]) -> Counter[str]:
    """Rule and partner counts over trace files (JSON Lines: a header, then step records).

    Raises ValueError naming the file and line of anything that is not a trace record.
    Traces do not record messages in flight, so `net_msg_time` is not counted from them.
    """
    from udpsem.base.jsonl import read_lines

    c: Counter[str] = Counter()
    for path in paths:
        for n, rec in read_lines(path, "trace"):  # JsonlError (a ValueError) names the line
            if not isinstance(rec, dict) or rec.get("type") not in ("header", "step"):
                raise ValueError(f"{path}:{n}: not a trace header or step record")
            if rec["type"] == "step":
                rule, partner = rec.get("rule"), rec.get("partner")
                if not isinstance(rule, str) or not (partner is None
                                                     or isinstance(partner, str)):
                    raise ValueError(f"{path}:{n}: step record without a rule name")
                c[rule] += 1
                if partner is not None:
                    c[partner] += 1
    return c


__all__ = [
    "count_traces",
    "counts",
    "hit",
    "registered",
    "report",
    "start",
    "stop",
    "transition",
]
