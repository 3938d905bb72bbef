"""Drivers over the system: one step, a simulation loop, and a replay step.

All of them go through `enabled` and a chooser, so simulation, replay and exploration share
the rules and the choice points. The first choice of every step is `pick`: the index of the
candidate in the canonical order of `enabled`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from udpsem.semantics.choice import Chooser, resolve
from udpsem.semantics.labels import Transition
from udpsem.semantics.system import Candidate, Setup, World, enabled


@dataclass(frozen=True, slots=True)
class Step:
    """A transition together with the choices that resolved it."""

    transition: Transition
    choices: tuple[tuple[str, Any], ...]

    @property
    def world(self) -> World:
        return self.transition.world  # type: ignore[no-any-return]


def fire(cand: Candidate, chooser: Chooser, made: list[tuple[str, Any]]) -> Transition:
    """Resolve one candidate through the chooser."""
    value = resolve(cand.first, chooser, made)
    t = resolve(cand.then(value), chooser, made)
    assert isinstance(t, Transition)
    return t


def step(setup: Setup, w: World, chooser: Chooser) -> Step | None:
    """One transition chosen by `chooser`, or None when the run is over (horizon reached, or
    nothing can happen any more)."""
    if w.now >= setup.horizon:
        return None
    cands = enabled(setup, w)
    if not cands:
        return None
    made: list[tuple[str, Any]] = []
    hint = "prefer_action" if cands[-1].rule == "time_pass" else ""
    i = chooser.pick("pick", range(len(cands)), hint)
    made.append(("pick", i))
    t = fire(cands[i], chooser, made)
    return Step(t, tuple(made))


def simulate(setup: Setup, w: World, chooser: Chooser,
             max_steps: int | None = None,
             on_step: Callable[[Step], None] | None = None) -> Iterator[Step]:
    """Run from `w` until the horizon (or `max_steps`), yielding every step."""
    n = 0
    while max_steps is None or n < max_steps:
        s = step(setup, w, chooser)
        if s is None:
            return
        if on_step is not None:
            on_step(s)
        yield s
        w = s.world
        n += 1
