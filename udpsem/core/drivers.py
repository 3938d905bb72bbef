"""Drivers over the system: one step, a simulation loop, and a replay step.

All of them go through `enabled` and a chooser, so simulation, replay and exploration share
the rules and the choice points. The first choice of every step is `pick`: the index of the
candidate in the canonical order of `enabled`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from udpsem.base.choice import Chooser, resolve
from udpsem.base.frozen import fast_init
from udpsem.base.labels import Label, Transition
from udpsem.core import coverage
from udpsem.core.system import Candidate, enabled
from udpsem.network.messages import IPMsg
from udpsem.network.rules import net_inject
from udpsem.state.world import Setup, World


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
    if coverage.counts is not None:
        coverage.transition(w, t)
    return Step(t, tuple(made))


def inject(setup: Setup, w: World, msg: IPMsg, d: int) -> Step:
    """`net_inject`: a datagram from outside the modelled network enters it, arriving after
    `d` ns (which must lie in [dpropmin, dpropmax]). The environment decides when; the
    drivers never pick it on their own (Theorem 2 assumes no injection)."""
    t = setup.timing
    if not t.dpropmin <= d <= t.dpropmax:
        raise ValueError(f"injection delay {d} ns is outside [dpropmin, dpropmax] = "
                         f"[{t.dpropmin}, {t.dpropmax}]")
    tr = Transition("net_inject", None, Label("in", None, None, msg), net_inject(w, msg, d))
    coverage.hit("net_inject")
    return Step(tr, (("delay", d),))


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

# Records built on every step: a faster __init__, same meaning (see base.frozen).
fast_init(Step)
