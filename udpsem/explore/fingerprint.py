"""Canonical state keys and compact fingerprints for exploration.

A fingerprint is a 12-byte BLAKE2b digest of a canonical, marshal-encoded key of the world
(plus the monitors' states). The key is built by structure, never from `hash()` or from the
iteration order of a set, so it is the same in every process whatever PYTHONHASHSEED is.

What the key leaves out, and why that is sound:

* **Absolute time.** No program can read the clock (DESIGN.md §3.2), so every deadline is
  keyed relative to `now`. A deadline at or beyond the horizon is keyed as `∞`: it can never
  fire within the bound. Two states with equal keys reached at different times have the same
  futures up to a shift in time; the engine re-explores a state when it reaches it *earlier*
  than before, so truncation at the horizon never hides a behaviour.
* **Serial numbers of messages in flight** (`InFlight.seq`, `World.seq`): they only order
  datagrams with equal deadlines; the network is keyed as a sorted list.
* **Answer histories of threads.** A thread is keyed by its generator frame (position,
  locals, recursively through `yield from`; `GeneratorRuntime.frame_key`), which is equal for
  every turn of a loop, instead of by the digest of every answer it ever received. Where the
  frame cannot be keyed safely, the history digest is used.
"""

from __future__ import annotations

import dataclasses
import hashlib
import marshal
from enum import Enum
from typing import Any

from udpsem.programs.runtime import Code, program_name
from udpsem.semantics.components import App, Raised, Return, Snippet
from udpsem.semantics.system import InFlight, Machine, World
from udpsem.semantics.time import NEVER

DIGEST_SIZE = 12
_DEADLINE_FIELDS = frozenset({"deadline", "oq_deadline", "at"})
_FIELDS: dict[type, tuple[str, ...]] = {}


def _field_names(tp: type) -> tuple[str, ...]:
    names = _FIELDS.get(tp)
    if names is None:
        names = tuple(f.name for f in dataclasses.fields(tp))
        _FIELDS[tp] = names
    return names


class Keyer:
    """Builds canonical keys of worlds for one exploration (one runtime, one horizon)."""

    def __init__(self, runtime: Any, horizon: int, frames: bool = True) -> None:
        self.runtime = runtime
        self.horizon = horizon
        self.frames = frames and hasattr(runtime, "frame_key")
        self._codes: dict[Code, bytes] = {}
        self.frame_hits = 0
        self.frame_misses = 0

    # values ---------------------------------------------------------------------------------

    def rel(self, deadline: int, now: int) -> Any:
        """A deadline relative to now; `None` (∞) when it cannot fire within the horizon."""
        if deadline >= NEVER or deadline >= self.horizon:
            return None
        return deadline - now

    def code(self, code: Any) -> bytes:
        """The key of a thread's code: its frame if that is safe, else its history digest."""
        if not isinstance(code, Code):
            return marshal.dumps(self.value(code, 0), 2)
        k = self._codes.get(code)
        if k is None:
            fk = self.runtime.frame_key(code) if self.frames else None
            if fk is None:
                self.frame_misses += 1
                k = b"D" + code.digest
            else:
                self.frame_hits += 1
                k = b"F" + hashlib.blake2b(fk, digest_size=16).digest()
            if len(self._codes) > 200_000:
                self._codes.clear()
            self._codes[code] = k
        return k

    def value(self, x: Any, now: int) -> Any:
        """A marshal-able canonical form of a model value (deadline fields made relative)."""
        if x is None or type(x) in (int, str, bytes):
            return x
        if isinstance(x, bool):
            return ("b", x)
        if isinstance(x, Enum):
            return x.value
        if isinstance(x, tuple):
            return tuple(self.value(v, now) for v in x)
        if isinstance(x, list):
            return ("l", *(self.value(v, now) for v in x))
        if isinstance(x, Code):
            return self.code(x)
        if dataclasses.is_dataclass(x) and not isinstance(x, type):
            tp = type(x)
            out: list[Any] = [tp.__name__]
            for name in _field_names(tp):
                v = getattr(x, name)
                if name in _DEADLINE_FIELDS and type(v) is int:
                    out.append(self.rel(v, now))
                else:
                    out.append(self.value(v, now))
            return tuple(out)
        if isinstance(x, int):
            return int(x)
        if callable(x):
            return ("p", program_name(x))
        if isinstance(x, frozenset):
            return ("fs", *sorted(marshal.dumps(self.value(v, now), 2) for v in x))
        if isinstance(x, float):
            return ("f", repr(x))
        raise TypeError(f"no canonical key for a {type(x).__name__} in the world")

    # components ----------------------------------------------------------------------------

    def snippet(self, s: Snippet, now: int) -> Any:
        req = s.request
        if isinstance(req, (Return, Raised)):
            code: Any = ("done",)  # a finished thread's future is its result
        else:
            code = self.code(s.code)
        creating = None if s.creating is None else (program_name(s.creating[0]),
                                                    self.value(s.creating[1], now))
        return (s.tid, s.org, code, self.value(req, now), self.rel(s.deadline, now), creating)

    def app(self, a: App, now: int) -> Any:
        return (a.tid, self.code(a.code), self.value(a.request, now), self.rel(a.deadline, now))

    def machine(self, m: Machine, now: int) -> Any:
        return (m.name, m.conn, self.value(m.host, now), self.value(m.store, now),
                tuple(self.snippet(s, now) for s in m.snippets),
                tuple((r.tid, self.value(r.value, now), self.rel(r.deadline, now))
                      for r in m.storerets),
                tuple(self.app(a, now) for a in m.apps))

    def inflight(self, f: InFlight, now: int) -> bytes:
        return marshal.dumps((self.rel(f.deadline, now), self.value(f.msg, now), f.src), 2)

    def world(self, w: World, monitors: Any = ()) -> Any:
        """The canonical key of `w` together with the monitors' keys."""
        now = w.now
        return (tuple(self.machine(m, now) for m in w.machines),
                tuple(sorted(self.inflight(f, now) for f in w.net)),
                tuple((self.rel(e.at, now), e.kind, e.host) for e in w.schedule),
                w.drops, monitors)

    def fingerprint(self, w: World, monitors: Any = ()) -> bytes:
        """The 12-byte digest of `world(w, monitors)`."""
        return hashlib.blake2b(marshal.dumps(self.world(w, monitors), 2),
                               digest_size=DIGEST_SIZE).digest()
