"""System labels (docs/model.md#labels) and resolved transitions.

A binary synchronisation is recorded by its *output* label (e.g. the call a thread makes, the
datagram a host sends), not as a bare τ, so that traces say what happened. `visible` says
whether the label survives restriction (docs/model.md): module calls and returns, console output,
`in`/`out`, disconnect, reconnect, crash, exit, time.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from udpsem.base.frozen import fast_init

VISIBLE_KINDS = frozenset({"modcall", "modret", "console", "in", "out", "disconnect",
                           "reconnect", "crash", "exit", "time"})


@dataclass(frozen=True, slots=True)
class Label:
    """`kind` (call, return, store, storeret, modcall, modret, send, deliver, tau, console,
    disconnect, reconnect, crash, exit, out, in, time, wake, thread_end), the machine, the
    thread and a kind-specific value."""

    kind: str
    host: str | None = None
    tid: int | None = None
    value: Any = None

    @property
    def visible(self) -> bool:
        return self.kind in VISIBLE_KINDS


@dataclass(frozen=True, slots=True)
class Transition:
    """A resolved step: the rule, its synchronisation partner rule (if any), the label and
    the successor world. `choices` are filled in by the driver."""

    rule: str
    partner: str | None
    label: Label
    world: Any

# Records built on every step: a faster __init__, same meaning (see base.frozen).
fast_init(Label, Transition)
