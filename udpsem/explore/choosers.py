"""Exploring choosers: the discretisation of every choice point, and enumeration of them.

Exploration goes through the same `enabled`, rules, `Branch`es and `drivers.fire` as
simulation and replay; only the chooser differs. `Discretisation.options` says which values of
a choice point are explored. This is a **bound of the search**, not a claim of completeness:

* `pick` (which enabled transition) and `timing`: with `timing="lazy"`, all of them, so an
  action with an upper-bound timer (a thread step, `ret`, the out-queue, a store answer) may
  happen at once or at any later moment at which time stops, up to its deadline. With
  `timing="eager"` (the default), time passes only when no action is enabled: every
  upper-bound action happens as soon as it is enabled (maximal progress), and only the
  interleaving of simultaneous actions, the network's choices, sharp timers and scheduled
  faults make behaviours differ. Eager timing explores the OS and threads at their fastest;
  the lazy mode covers their slowness too but its state space grows with every pair of
  concurrent upper-bound timers (a 20 ms start-up of the heartbeat already has > 600 000
  lazy states), so it is for small worlds and short horizons.
* `fate` (drop / single / dupK): every option the fault setting offers (its bounds on copies
  and on successive drops already shape the options).
* `delay` (propagation delay in [dpropmin, dpropmax]): a grid of `delays` points, both ends
  included (1 point: dpropmax). The copies of one duplicated datagram are interchangeable, so
  their delays are enumerated in non-decreasing order only (a symmetry, not a bound).
* `time` (how far time passes, 1..d where d is the least remaining timer or the horizon):
  `d` only by default — time jumps to the next deadline of any component. So an action with
  an upper-bound timer happens either at once (it is picked before time passes) or at one of
  the later moments at which some other deadline falls, the last being its own deadline; its
  moments strictly between deadlines are not explored. `time_grid = n > 1` adds the points
  d·k/n (k = 1..n-1) when some action could also fire (never when the system is idle, where
  intermediate stops change nothing).
* `eph` (ephemeral port): the first free one only. Ports are compared, never computed with,
  by the programs here, so one representative stands for all (a symmetry reduction; a
  program that branches on the port number itself would need all of them).
* `icmp`, `errno`, `sock` and any other kind: every option (at most 64).
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

MAX_ENUMERATED = 64


@dataclass(frozen=True)
class Discretisation:
    """Which values of each choice point exploration visits (see the module docstring)."""

    delays: int = 3
    time_grid: int = 1
    timing: str = "eager"

    def picks(self, rules: Sequence[str]) -> range:
        """The explored candidate indices, given the rules of `enabled`'s candidates."""
        if self.timing == "eager" and len(rules) > 1 and rules[-1] == "time_pass":
            return range(len(rules) - 1)
        return range(len(rules))

    def options(self, kind: str, options: Sequence[Any], hint: str,
                made: Sequence[tuple[str, Any]]) -> Sequence[Any]:
        """The explored values of a choice point, in canonical order."""
        if kind == "pick":
            if self.timing == "eager" and hint == "prefer_action" and len(options) > 1:
                return options[:-1]  # the last candidate is time passage
            return options
        if kind == "fate":
            return options
        if kind == "time":
            d = options[-1]
            if hint == "idle" or self.time_grid <= 1:
                return (d,)
            pts = sorted({max(1, d * k // self.time_grid) for k in range(1, self.time_grid)}
                         | {d})
            return tuple(p for p in pts if p in options)
        if kind == "delay":
            lo, hi = options[0], options[-1]
            if self.delays <= 1 or lo == hi:
                grid: tuple[int, ...] = (hi,)
            else:
                n = self.delays
                grid = tuple(sorted({lo + (hi - lo) * k // (n - 1) for k in range(n)}))
            floor = None
            for k, v in reversed(made):
                if k == "delay":
                    floor = v
                    break
                if k == "fate":
                    break
            if floor is not None:
                grid = tuple(g for g in grid if g >= floor)
            return grid
        if kind == "eph":
            return (options[0],)
        if len(options) > MAX_ENUMERATED:
            raise ValueError(f"choice point {kind!r} has {len(options)} options; exploration "
                             f"needs a discretisation for it")
        return options


class TreeChooser:
    """Enumerates every combination of explored options of a branching resolution.

    Use: `start()`, run the resolution (each `pick` takes the current option), then `advance()`
    to move to the next combination (an odometer over the choice points met, last first);
    False when all combinations have been produced.
    """

    def __init__(self, policy: Discretisation) -> None:
        self.policy = policy
        self.trail: list[list[Any]] = []  # [options, index]
        self.pos = 0
        self.made: list[tuple[str, Any]] = []

    def start(self, made: list[tuple[str, Any]]) -> None:
        self.pos = 0
        self.made = made

    def pick(self, kind: str, options: Sequence[Any], hint: str = "") -> Any:
        if self.pos < len(self.trail):
            opts, idx = self.trail[self.pos]
        else:
            opts = self.policy.options(kind, options, hint, self.made)
            if not opts:
                raise ValueError(f"no explored option for choice point {kind!r}")
            idx = 0
            self.trail.append([opts, 0])
        self.pos += 1
        return opts[idx]

    def advance(self) -> bool:
        del self.trail[self.pos:]
        while self.trail and self.trail[-1][1] + 1 >= len(self.trail[-1][0]):
            self.trail.pop()
        if not self.trail:
            return False
        self.trail[-1][1] += 1
        return True


class WalkChooser:
    """Random walks: a uniform choice among the explored options of every choice point."""

    def __init__(self, policy: Discretisation, rng: random.Random) -> None:
        self.policy = policy
        self.rng = rng
        self.made: list[tuple[str, Any]] = []

    def pick(self, kind: str, options: Sequence[Any], hint: str = "") -> Any:
        if kind == "pick":
            self.made = []
        opts = self.policy.options(kind, options, hint, self.made)
        v = opts[self.rng.randrange(len(opts))]
        self.made.append((kind, v))
        return v


class LenientChooser:
    """Replays recorded choices where they still fit, else takes the first explored option
    (used by the shrinker, whose edited tapes need not match the model exactly)."""

    def __init__(self, policy: Discretisation, choices: Sequence[tuple[str, Any]]) -> None:
        self.policy = policy
        self.choices = list(choices)
        self.pos = 0
        self.made: list[tuple[str, Any]] = []

    def pick(self, kind: str, options: Sequence[Any], hint: str = "") -> Any:
        opts = self.policy.options(kind, options, hint, self.made)
        value: Any = None
        if self.pos < len(self.choices):
            rkind, rvalue = self.choices[self.pos]
            self.pos += 1
            if isinstance(rvalue, list):
                rvalue = tuple(rvalue)
            if rkind == kind and rvalue in options:
                value = rvalue
        if value is None or (kind == "pick" and value not in options):
            value = opts[-1] if kind == "pick" else opts[0]
        self.made.append((kind, value))
        return value
