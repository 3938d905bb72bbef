"""Properties checked during exploration: state invariants and trace monitors.

Two kinds, one small API:

* **Invariants** are predicates on a single world, checked in every explored state. Write one
  with the `@invariant` decorator::

      @invariant("at_most_one_socket")
      def one_socket(setup, world):
          for m in world.machines:
              if m.host is not None and len(m.host.s) > 1:
                  return f"{m.name} has {len(m.host.s)} sockets"
          return None          # None or True: holds; False or a message: violated

* **Monitors** observe transitions and keep a small immutable state that is *part of the
  explored state* (it goes into the fingerprint), so a property over traces is checked on
  every explored path. Subclass `Monitor` and give `initial`, `step`, `violation` and `key`
  (the monitor state as plain data, times made relative to `now` so that deduplication on
  relative time stays sound).

Built in: `host_ok` and `network_ok` (adapters over `udpsem.hosts.invariants` and
`udpsem.core.invariants`), `no_time_stop`, `NoEscape` ("no exception escapes a thread")
and `Theorem2` (docs/model.md#theorem-2).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, overload

from udpsem.base import source
from udpsem.base.labels import Transition
from udpsem.base.time import MS, fmt_ns
from udpsem.core.invariants import network_violations
from udpsem.state.components import Raised
from udpsem.state.world import Setup, World

Check = Callable[[Setup, World], Any]


@dataclass(frozen=True)
class Invariant:
    """A named predicate on worlds (see the module docstring for its return convention)."""

    name: str
    fn: Check
    summary: str = ""

    def violation(self, setup: Setup, world: World) -> str | None:
        """None if the invariant holds in `world`, else a one-line reason. A predicate that
        raises is violated, the reason naming the exception and the predicate's line."""
        try:
            out = self.fn(setup, world)
        except Exception as e:  # noqa: BLE001 — a bug in the user's predicate, reported
            return f"{self.name} raised {type(e).__name__}: {e} ({_where(e)})"
        if out is None or out is True:
            return None
        if out is False:
            return f"{self.name} does not hold"
        return str(out)


def _where(e: BaseException) -> str:
    """`file:line` of the innermost frame of `e`'s traceback."""
    import traceback

    frames = traceback.extract_tb(e.__traceback__)
    if not frames:
        return "?"
    f = frames[-1]
    return f"at {f.filename.rsplit('/', 1)[-1]}:{f.lineno}"


@overload
def invariant(name: Check, summary: str = "") -> Invariant: ...


@overload
def invariant(name: str | None = None, summary: str = "") -> Callable[[Check], Invariant]: ...


def invariant(name: str | Check | None = None, summary: str = "") -> Any:
    """Decorator making an `Invariant` of `fn(setup, world)`; usable bare (`@invariant`) or
    with a name (`@invariant("one_leader")`).

    `fn` is called on every state (of a run of a program file, or of an exploration) with
    the run's `Setup` and the `World` (`world.now` in ns, `world.machine(name).store` the
    `(location, value)` pairs of a host's store, ...). It returns None or True when the
    property holds, False or a one-line reason (a str) when it does not; raising counts as
    violated. The result is an `Invariant` for `WorldSpec(invariants=[...])`."""

    def deco(fn: Check) -> Invariant:
        return Invariant(nm or fn.__name__, fn, summary or (source.doc(fn) or "").strip())

    if callable(name):
        nm = None
        return deco(name)
    nm = name
    return deco


class Monitor:
    """A property over traces whose state is part of the explored state.

    `initial(setup, world)` gives the state at a root; `step(state, transition)` the state
    after a transition (`transition.world` is the successor); `violation(state, world)` a
    reason once the property has failed (checked after every transition); `key(state, now)`
    the state as marshal-able plain data (ints, strings, tuples, None) with absolute times
    made relative to `now`. Monitor states must be immutable.
    """

    name = "monitor"

    def initial(self, setup: Setup, world: World) -> Any:
        return None

    def step(self, state: Any, t: Transition) -> Any:
        return state

    def violation(self, state: Any, world: World) -> str | None:
        return None

    def key(self, state: Any, now: int) -> Any:
        return state


class NoEscape(Monitor):
    """No exception escapes a thread: no `thread_end` label carries an error, and no module
    function returns an exception to the application."""

    name = "no_escape"

    def step(self, state: Any, t: Transition) -> Any:
        if state is not None:
            return state
        lab = t.label
        if lab.kind == "thread_end" and lab.value is not None:
            return f"{lab.host}: exception escaped thread {lab.tid}: {lab.value}"
        if lab.kind == "modret" and isinstance(lab.value, Raised):
            return f"{lab.host}: exception escaped module call of thread {lab.tid}: " \
                   f"{lab.value.error}"
        return None

    def violation(self, state: Any, world: World) -> str | None:
        if state is not None:
            return state  # type: ignore[no-any-return]
        for m in world.machines:
            for a in m.apps:
                if isinstance(a.request, Raised):
                    return f"{m.name}: exception escaped application thread {a.tid}: " \
                           f"{a.request.error}"
        return None


SETTLE = 2_600 * MS


class Theorem2(Monitor):
    """Theorem 2 (docs/model.md#theorem-2), checked on the status *cell* rather than on calls.

    `get_status(r)` returns what ALAN's store holds at `r` when its `get` is served, and a
    call may be served at any moment (the module call, the thread step and the store access
    all have upper-bound timers that may fire at once). So instead of exploring the 100 ms
    poller, whose interleavings would dominate the state space, the monitor checks what
    get_status WOULD return: in every explored state at a time `t` that is at least 2.6 s
    after the later of KURT's last status change and ALAN's call of `start_heartbeat_a`, the
    cell must hold 1 iff KURT is up (start_heartbeat_k called, connected, alive). The cell is
    constant while time passes, and so is "KURT is up", so checking the state at the end of
    every transition also covers the moments inside each time step. This is at least as
    strong as checking the answers of any set of get_status calls.

    State: (kurt_started, kurt_conn, kurt_alive, alan_settle, change_settle, cell), the two
    settle moments absolute (None before ALAN's start); the key makes them relative and
    clamps them at 0 once passed.
    """

    name = "theorem2"

    def __init__(self, watched: str = "KURT", detector: str = "ALAN",
                 settle: int = SETTLE) -> None:
        self.watched = watched
        self.detector = detector
        self.settle = settle

    def initial(self, setup: Setup, world: World) -> Any:
        return (False, True, True, None, 0, None, None)

    @staticmethod
    def _up(st: Any) -> bool:
        return bool(st[0] and st[1] and st[2])

    def step(self, state: Any, t: Transition) -> Any:
        lab = t.label
        kind = lab.kind
        if kind not in ("modcall", "modret", "disconnect", "reconnect", "crash"):
            return state
        started, conn, alive, alan_settle, change_settle, cell, pending = state
        now = t.world.now
        before = self._up(state)
        if kind == "modcall":
            fn = lab.value[0]
            if lab.host == self.watched and fn == "start_heartbeat_k":
                started = True
            elif lab.host == self.detector and fn == "start_heartbeat_a":
                alan_settle = now + self.settle
                pending = lab.tid
        elif kind == "modret":
            if lab.host == self.detector and lab.tid == pending and cell is None:
                cell, pending = lab.value, None
        elif lab.host == self.watched:
            if kind == "disconnect":
                conn = False
            elif kind == "reconnect":
                conn = True
            else:
                alive = False
        new = (started, conn, alive, alan_settle, change_settle, cell, pending)
        if self._up(new) != before:
            new = (started, conn, alive, alan_settle, now + self.settle, cell, pending)
        return new

    def violation(self, state: Any, world: World) -> str | None:
        _, _, _, alan_settle, change_settle, cell, _ = state
        if alan_settle is None or cell is None:
            return None
        now = world.now
        if now < alan_settle or now < change_settle:
            return None
        m = world.machine(self.detector)
        value = dict(m.store).get(cell)
        want = 1 if self._up(state) else 0
        if value != want:
            since = int(max(alan_settle, change_settle)) - self.settle
            return (f"at {fmt_ns(now)} get_status would return {value} but {self.watched} is "
                    f"{'up' if want else 'down'}, {fmt_ns(now - since)} after {fmt_ns(since)} "
                    f"(the later of its last status change and {self.detector}'s start; "
                    f"settle time {fmt_ns(self.settle)})")
        return None

    def since(self, state: Any) -> int | None:
        """The moment the settle time counts from: the later of KURT's last status change
        and ALAN's call of start_heartbeat_a (None before that call)."""
        _, _, _, alan_settle, change_settle, _, _ = state
        if alan_settle is None:
            return None
        return int(max(alan_settle, change_settle)) - self.settle

    def key(self, state: Any, now: int) -> Any:
        started, conn, alive, alan_settle, change_settle, cell, pending = state
        rel_a = None if alan_settle is None else max(0, alan_settle - now)
        return (started, conn, alive, rel_a, max(0, change_settle - now), cell, pending)


# Invariants over the model's own predicates ----------------------------------------------------

def _host_memo(setup: Setup) -> Any:
    """The checkers' memo of host_ok's time-independent conjuncts (see HostOkMemo); it lives
    with the setup's other derived data and is never seen by a rule."""
    memo = setup.memo.get("host_ok")
    if memo is None:
        from udpsem.hosts.invariants import HostOkMemo  # (imported when first needed)

        memo = setup.memo["host_ok"] = HostOkMemo()
    return memo


def _machine_memo(setup: Setup, name: str) -> Any:
    """A checker's memo of per-component results by identity and time (`MachineMemo`): a
    successor world keeps all but the components its transition changed, at the same time,
    so their conjuncts are not checked again (incremental checking)."""
    memo = setup.memo.get(name)
    if memo is None:
        from udpsem.core.invariants import MachineMemo  # (imported when first needed)

        memo = setup.memo[name] = MachineMemo()
    return memo


def _host_ok(setup: Setup, world: World) -> str | None:
    memo = _host_memo(setup)
    by_host = _machine_memo(setup, "host_ok_by_host")
    now = world.now
    for m in world.machines:
        if m.host is None:
            continue
        bad = by_host.get(m.host, now, memo.violations, m.host, setup.consts[m.name],
                          setup.timing, now)
        if bad:
            return f"{m.name}: host_ok fails: {bad[0]}"
    return None


def _world_memo(setup: Setup) -> Any:
    """A checker's memo of the whole-world conjuncts N1, N2 and E1 (`PartsMemo`): a
    successor world keeps what they read (the schedule, the time, the machines' names,
    connections and interfaces) from its parent, so they are not checked again."""
    memo = setup.memo.get("network_ok_by_part")
    if memo is None:
        from udpsem.core.invariants import PartsMemo  # (imported when first needed)

        memo = setup.memo["network_ok_by_part"] = PartsMemo()
    return memo


def _network_ok(setup: Setup, world: World) -> str | None:
    bad = network_violations(setup, world, _host_memo(setup),
                             _machine_memo(setup, "network_ok_by_machine"), _world_memo(setup))
    return f"network_ok fails: {bad[0]}" if bad else None


NO_TIME_STOP = "no_time_stop"
"""Checked by the engine itself (a state before the horizon with no successor), which knows
the successors anyway."""


def _available(module: str) -> bool:
    import importlib.util

    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def model_invariants() -> list[Invariant]:
    """host_ok and network_ok, when those modules are present."""
    out = []
    if _available("udpsem.hosts.invariants"):
        out.append(Invariant("host_ok", _host_ok, "host_ok in every host (docs/model.md)"))
    if _available("udpsem.core.invariants"):
        out.append(Invariant("network_ok", _network_ok, "network_ok (docs/model.md#invariants)"))
    return out


__all__ = [
    "NO_TIME_STOP",
    "SETTLE",
    "Invariant",
    "Monitor",
    "NoEscape",
    "Theorem2",
    "invariant",
    "model_invariants",
]
