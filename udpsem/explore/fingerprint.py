"""Canonical state keys and compact fingerprints for exploration.

A fingerprint is a 64-bit (8-byte) BLAKE2b digest of a canonical, marshal-encoded key of the world
(plus the monitors' states). The key combines per-component digests: each machine enters it as
the 128-bit BLAKE2b digest of its own key, memoised by identity and time, so a machine that a
transition left unchanged costs a lookup; a collision of those inner digests is negligible next
to the 64-bit outer one (see `collision_probability`). The key is built by structure, never from `hash()` or from the
iteration order of a set, so it is the same in every process whatever PYTHONHASHSEED is.

What the key leaves out, and why that is sound:

* **Absolute time.** No program can read the clock (docs/architecture.md), so every deadline is
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
import itertools
import marshal
import types
from collections.abc import Callable
from enum import Enum
from typing import Any

from udpsem.base.time import NEVER
from udpsem.hosts.state import Host
from udpsem.programs.runtime import Code, Registered, Spawn, program_key
from udpsem.state.components import Raised, Return, Snippet
from udpsem.state.world import InFlight, Machine, World

DIGEST_SIZE = 8
"""64-bit fingerprints, as TLC uses: see `collision_probability`."""
_DEADLINE_FIELDS = frozenset({"deadline", "oq_deadline", "at"})
_FIELDS: dict[type, tuple[str, ...]] = {}
_DIGEST_MEMO = 1024
"""Machines whose digests are kept. The successors of a state, fingerprinted one after the other,
share its unchanged machines, so a small memo has almost every hit a large one would, without
keeping old machines alive (a 100k memo measured +900 bytes per explored state)."""
_CACHED_TYPES = frozenset({"Sock", "ThreadEntry", "Interface", "IPMsg", "Host"})
"""Immutable parts of the state shared between many worlds, whose encodings are cached."""


def _field_names(tp: type) -> tuple[str, ...]:
    names = _FIELDS.get(tp)
    if names is None:
        names = tuple(f.name for f in dataclasses.fields(tp))
        _FIELDS[tp] = names
    return names


class Keyer:
    """Builds canonical keys of worlds for one exploration (one runtime, one horizon).

    Speed: a value is encoded as a time-independent structure plus the list of its absolute
    deadlines (made relative to `now` only when a key is built), and the structure of a host
    or a datagram is cached by object identity (the cache holds the object, so an identity
    is never reused while cached): successor worlds share most of their parent's objects.

    The identity cache needs only recent objects: the successors of a state, keyed one
    after the other, share its objects, so the first successor's misses are the others'
    hits. 5,000 objects measured as fast as 100,000 on the explore benchmark (within its
    run-to-run noise) and cut its real memory from 4.9 KB to 0.8 KB per state: the kept
    objects (old hosts, sockets, messages) were most of its resident set.
    """

    def __init__(self, runtime: Any, horizon: int, frames: bool = True,
                 cache_size: int = 5_000) -> None:
        self.runtime = runtime
        self.horizon = horizon
        self.frames = frames and hasattr(runtime, "frame_key")
        self._codes: dict[Code, bytes] = {}
        self._objs: dict[int, tuple[Any, bytes, tuple[int, ...]]] = {}
        self._types: dict[type, Callable[[Any, list[int]], Any]] = {}
        self._inner: dict[type, Callable[[Any, list[int]], Any]] = {}
        self._digests: dict[tuple[int, int], tuple[Machine, bytes]] = {}
        self._limit = min(NEVER, horizon)  # a deadline at or beyond it is keyed as ∞ (`rel`)
        self.cache_size = cache_size
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

    def enc(self, x: Any, dls: list[int]) -> Any:
        """The time-independent structure of `x`; its deadlines are appended to `dls`."""
        tp = type(x)
        if tp is int or tp is str or x is None or tp is bytes:
            return x
        f = self._types.get(tp)
        if f is None:
            f = self._encoder(tp)
            self._types[tp] = f
        return f(x, dls)

    def _encoder(self, tp: type) -> Callable[[Any, list[int]], Any]:
        enc = self.enc
        if tp is bool:
            return lambda x, d: ("b", x)
        if issubclass(tp, Enum):
            return lambda x, d: x.value
        if tp is tuple:
            return self._tuple
        if tp is list:
            return lambda x, d: ("l", *[enc(v, d) for v in x])
        if issubclass(tp, Code):
            return lambda x, d: self.code(x)
        if tp.__name__ in _CACHED_TYPES and dataclasses.is_dataclass(tp):
            cached = self.cached

            def shared(x: Any, d: list[int]) -> Any:
                b, t = cached(x)
                d.extend(t)
                return ("#", b)

            self._types[tp] = shared  # (the inner encoding below is used by `cached`)
            return shared
        return self._dc_encoder(tp)

    def _dc_encoder(self, tp: type) -> Callable[[Any, list[int]], Any]:
        enc = self.enc
        if dataclasses.is_dataclass(tp):
            names = _field_names(tp)
            plain = tuple(n for n in names if n not in _DEADLINE_FIELDS)
            timed = tuple(n for n in names if n in _DEADLINE_FIELDS)
            tname = tp.__name__

            def dc(x: Any, d: list[int]) -> Any:
                for n in timed:
                    d.append(getattr(x, n))
                out: list[Any] = [tname]
                for n in plain:
                    v = getattr(x, n)
                    t = type(v)
                    # `enc`'s own first test, inlined: a plain leaf is its own structure
                    if t is int or t is str or v is None or t is bytes:
                        out.append(v)
                    elif t is bool:
                        out.append(("b", v))  # as `enc` keys a bool
                    else:
                        out.append(enc(v, d))
                return tuple(out)

            return dc
        if issubclass(tp, int):
            return lambda x, d: int(x)
        if issubclass(tp, str):
            return lambda x, d: str(x)
        if issubclass(tp, (types.FunctionType, types.BuiltinFunctionType, type, Registered,
                           Spawn)):
            return lambda x, d: ("p", program_key(x))  # by structure, never by name
        if issubclass(tp, frozenset):
            return lambda x, d: ("fs", *sorted(marshal.dumps(enc(v, d), 2) for v in x))
        if tp is float:
            return lambda x, d: ("f", repr(x))
        raise TypeError(f"no canonical key for a {tp.__name__} in the world")

    def value(self, x: Any, now: int) -> Any:
        """A marshal-able canonical form of a model value, deadlines relative to `now`."""
        dls: list[int] = []
        st = self.enc(x, dls)
        return (st, tuple([self.rel(d, now) for d in dls])) if dls else st

    def cached(self, x: Any, inner: Callable[[Any, list[int]], Any] | None = None
               ) -> tuple[bytes, tuple[int, ...]]:
        """The marshalled structure of an immutable object and its absolute deadlines."""
        hit = self._objs.get(id(x))
        if hit is not None and hit[0] is x:
            return hit[1], hit[2]
        return self._miss(x, inner)

    def _miss(self, x: Any, inner: Callable[[Any, list[int]], Any] | None
              ) -> tuple[bytes, tuple[int, ...]]:
        """`cached(x, inner)` for an object not in the cache: encode it and keep it."""
        dls: list[int] = []
        tp = type(x)
        if inner is None:
            inner = self._inner.get(tp)
        if inner is None:
            inner = self._dc_encoder(tp) if dataclasses.is_dataclass(tp) else self.enc
            self._inner[tp] = inner
        b = marshal.dumps(inner(x, dls), 2)
        t = tuple(dls)
        objs = self._objs
        if len(objs) >= self.cache_size:
            for k in list(itertools.islice(objs, self.cache_size // 4)):
                del objs[k]  # the oldest quarter (insertion order)
        objs[id(x)] = (x, b, t)
        return b, t

    # components ----------------------------------------------------------------------------

    def _snippet(self, s: Snippet, d: list[int]) -> Any:
        req = s.request
        if isinstance(req, (Return, Raised)):
            code: Any = ("done",)  # a finished thread's future is its result
        else:
            code = self.code(s.code)
        creating = None if s.creating is None else (program_key(s.creating[0]),
                                                    self.enc(s.creating[1], d))
        d.append(s.deadline)
        return (s.tid, s.org, code, self.enc(req, d), creating)

    def _app(self, a: Any, d: list[int]) -> Any:
        d.append(a.deadline)
        return (a.tid, self.code(a.code), self.enc(a.request, d))

    def _part(self, x: Any, inner: Callable[[Any, list[int]], Any], d: list[int]) -> Any:
        """An immutable part of a machine by its cached structure (deadlines to `d`)."""
        b, t = self.cached(x, inner)
        d.extend(t)
        return b

    def _hit(self, x: Any, inner: Callable[[Any, list[int]], Any], d: list[int]) -> bytes:
        """`_part`, with the cache's hit taken here (the common case: one lookup)."""
        hit = self._objs.get(id(x))
        if hit is not None and hit[0] is x:
            d.extend(hit[2])
            return hit[1]
        b, t = self._miss(x, inner)
        d.extend(t)
        return b

    def _tuple(self, x: tuple[Any, ...], d: list[int]) -> Any:
        enc = self.enc
        out: list[Any] = []
        for v in x:
            t = type(v)
            if t is int or t is str or v is None or t is bytes:  # `enc`'s first test, inlined
                out.append(v)
            elif t is bool:
                out.append(("b", v))  # as `enc` keys a bool
            else:
                out.append(enc(v, d))
        return tuple(out)

    def _host(self, h: Host, d: list[int]) -> Any:
        """A host by the cached keys of its field tuples: a step that changes one thread
        re-encodes `ts` and takes the sockets', interfaces' and out-queue's keys from the
        cache (each tuple is immutable all the way down, and held by the cache)."""
        hit, tup, enc = self._hit, self._tuple, self.enc
        out: list[Any] = ["H"]
        for n in _field_names(type(h)):  # every field, so a field added later is keyed too
            v = getattr(h, n)
            if n in _DEADLINE_FIELDS:
                d.append(v)
            elif type(v) is tuple:
                out.append(hit(v, tup, d))
            else:
                out.append(enc(v, d))
        return tuple(out)

    def _machine(self, m: Machine, d: list[int]) -> Any:
        enc, hit = self.enc, self._hit
        # Snippets, applications and the host are cached by identity: a step changes one
        # of them, and the others' structure is reused.
        snippets = tuple([hit(s, self._snippet, d) for s in m.snippets])
        rets = []
        for r in m.storerets:
            d.append(r.deadline)
            rets.append((r.tid, enc(r.value, d)))
        apps = tuple([hit(a, self._app, d) for a in m.apps])
        host = None if m.host is None else hit(m.host, self._host, d)
        return (m.name, m.conn, host, enc(m.store, d), snippets, tuple(rets), apps)

    def machine(self, m: Machine, now: int) -> Any:
        """A machine's key: its cached structure and its deadlines relative to now."""
        b, t = self.cached(m, self._machine)
        lim = self._limit
        return (b, tuple([None if x >= lim else x - now for x in t]))  # `rel`, inlined

    def machine_digest(self, m: Machine, now: int) -> bytes:
        """The 128-bit digest of `machine(m, now)`, memoised by the machine's identity and
        the time: a successor world keeps every machine its transition did not change, at the
        same time, so an unchanged machine costs one lookup (the memo holds the machine, so
        an identity is never reused while memoised)."""
        key = (id(m), now)
        memo = self._digests
        hit = memo.get(key)
        if hit is not None and hit[0] is m:
            return hit[1]
        d = hashlib.blake2b(marshal.dumps(self.machine(m, now), 2), digest_size=16).digest()
        if len(memo) >= _DIGEST_MEMO:
            for k in list(itertools.islice(memo, _DIGEST_MEMO // 2)):
                del memo[k]  # the oldest quarter (insertion order)
        memo[key] = (m, d)
        return d

    def inflight(self, f: InFlight, now: int) -> bytes:
        mb, _ = self.cached(f.msg)
        if f.hold is not None:  # held for neighbour resolution (network.neighbours)
            if f.router:  # held by the router on its way
                return marshal.dumps((self.rel(f.deadline, now), mb, f.src,
                                      self.rel(f.hold, now), True), 2)
            return marshal.dumps((self.rel(f.deadline, now), mb, f.src,
                                  self.rel(f.hold, now)), 2)
        return marshal.dumps((self.rel(f.deadline, now), mb, f.src), 2)

    def world(self, w: World, monitors: Any = ()) -> Any:
        """The canonical key of `w` together with the monitors' keys: each machine by the
        128-bit digest of its key (combined per component: `machine_digest`)."""
        now = w.now
        md = self.machine_digest
        lim = self._limit
        return (tuple([md(m, now) for m in w.machines]),
                tuple(sorted([self.inflight(f, now) for f in w.net])),
                tuple([(None if e.at >= lim else e.at - now, e.kind, e.host)
                       for e in w.schedule]),  # `rel`, inlined
                w.drops, monitors)

    def fingerprint(self, w: World, monitors: Any = ()) -> bytes:
        """The 8-byte (64-bit) digest of `world(w, monitors)`."""
        return hashlib.blake2b(marshal.dumps(self.world(w, monitors), 2),
                               digest_size=DIGEST_SIZE).digest()


def collision_probability(states: int) -> float:
    """An upper bound on the probability that two of `states` distinct states share a
    fingerprint (the birthday bound n(n-1)/2 / 2^64 for uniformly distributed 64-bit
    digests), so that one of them would be wrongly taken as visited."""
    return min(1.0, states * (states - 1) / 2 / 2.0 ** (8 * DIGEST_SIZE))
