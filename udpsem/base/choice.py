"""Explicit nondeterminism (docs/model.md#executable-model): branches, choosers, resolution.

A rule that has a choice to make (an ephemeral port, a propagation delay, how many copies,
whether to send ICMP) does not make it: it returns a `Branch` naming the *kind* of choice, the
options in canonical order, and a continuation. A `Chooser` resolves branches: seeded random
for simulation, a recorded list for replay, every option for exploration. So the same rules
serve all three drivers, and every choice lands in the trace.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from udpsem.base.frozen import fast_init

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Branch(Generic[T]):
    """A choice point: pick one of `options`, then continue with `cont(option)`.

    `options` is a Sequence in canonical order (often a `range`, never a set). `hint` lets a
    random chooser apply a policy (e.g. `"idle"` for a time step with nothing else enabled).
    """

    kind: str
    options: Sequence[Any]
    cont: Callable[[Any], T | Branch[T]]
    hint: str = ""


class Chooser(Protocol):
    """Resolves one choice point. Implementations: RandomChooser, ScriptedChooser, explorers."""

    def pick(self, kind: str, options: Sequence[Any], hint: str = "") -> Any: ...


class ChoiceError(Exception):
    """A recorded choice is not among the options offered (replay divergence)."""


def resolve(outcome: T | Branch[T], chooser: Chooser, made: list[tuple[str, Any]]) -> T:
    """Follow branches through `chooser` to a final value, appending each choice to `made`."""
    while isinstance(outcome, Branch):
        if not outcome.options:
            raise ChoiceError(f"choice point {outcome.kind!r} has no options")
        value = chooser.pick(outcome.kind, outcome.options, outcome.hint)
        made.append((outcome.kind, value))
        outcome = outcome.cont(value)
    return outcome


class RandomChooser:
    """Seeded random choices (simulation). Same seed, same picks, in any process.

    Policies by kind: `fate` (what the network does with a sent datagram) follows the fault
    probabilities; `time` with hint `idle` (nothing else can happen) jumps to the deadline;
    every other kind is uniform over its options.
    """

    def __init__(self, seed: int, loss: float = 0.0, dup: float = 0.0) -> None:
        self.rng = random.Random(seed)
        self.loss = loss
        self.dup = dup

    def pick(self, kind: str, options: Sequence[Any], hint: str = "") -> Any:
        rng = self.rng
        if kind == "fate":
            return self._fate(options)
        if kind == "time" and hint == "idle":
            return options[-1]
        if kind == "pick" and hint == "prefer_action" and len(options) > 1:
            # The last candidate is time passage; actions are picked three times as often,
            # so that upper-bound deadlines are mostly met early but sometimes late.
            if rng.random() < 0.75:
                return options[rng.randrange(len(options) - 1)]
            return options[-1]
        return options[rng.randrange(len(options))]

    def _fate(self, options: Sequence[Any]) -> Any:
        # options are among "drop", "single", and ("dup", k) for k = 2..max copies.
        r = self.rng.random()
        if r < self.loss and "drop" in options:
            return "drop"
        dups = [o for o in options if isinstance(o, str) and o.startswith("dup")]
        if r < self.loss + self.dup and dups:
            return dups[self.rng.randrange(len(dups))]
        if "single" in options:
            return "single"
        return options[self.rng.randrange(len(options))]


_MISSING = object()


class ScriptedChooser:
    """Replays a recorded list of `(kind, value)` choices, checking each is allowed."""

    def __init__(self, choices: Sequence[tuple[str, Any]]) -> None:
        self.choices = list(choices)
        self.pos = 0

    def pick(self, kind: str, options: Sequence[Any], hint: str = "") -> Any:
        if self.pos >= len(self.choices):
            raise ChoiceError(f"no recorded choice left for a {kind!r} choice point")
        rkind, value = self.choices[self.pos]
        self.pos += 1
        if rkind != kind:
            raise ChoiceError(f"recorded a {rkind!r} choice where the model asks for {kind!r}")
        if isinstance(value, list):
            value = tuple(value)
        try:
            # the option itself (an Errno, not its recorded string; never 0.0 for 0)
            found = options[options.index(value)]
        except ValueError:
            found = _MISSING
        if found is _MISSING or type(found) is not type(value) and not (
                isinstance(found, str) and isinstance(value, str)):
            raise ChoiceError(f"recorded {kind} choice {value!r} is not among the options")
        return found

    @property
    def exhausted(self) -> bool:
        return self.pos >= len(self.choices)

# Records built on every step: a faster __init__, same meaning (see base.frozen).
fast_init(Branch)
