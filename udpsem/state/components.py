"""Components of a machine other than its HOST (docs/model.md#machines): threads (snippets),
the store and its pending answers, the module, and the application that calls it.

A snippet's code is an opaque, hashable `Code` value owned by a `ThreadRuntime` (the generator
runtime in `udpsem.programs.runtime`). When a snippet is computing it has a pending *request*
(what it will output next) and an upper-bound deadline `now + dthread`; while it waits for an
answer its request is None and its deadline NEVER.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from udpsem.base.frozen import fast_init
from udpsem.base.time import NEVER

# What a thread can output ---------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class StoreNew:
    """`store(new v)`: allocate a location holding v; answered with the location."""

    value: Any


@dataclass(frozen=True, slots=True)
class StoreSet:
    """`store(set(l, v))`; answered with ()."""

    loc: int
    value: Any


@dataclass(frozen=True, slots=True)
class StoreGet:
    """`store(get l)`; answered with the value at l."""

    loc: int


StoreOp = StoreNew | StoreSet | StoreGet


@dataclass(frozen=True, slots=True)
class Return:
    """The thread's code finished with a value (`modret v` for an EXTERN snippet)."""

    value: Any


@dataclass(frozen=True, slots=True)
class Raised:
    """An exception escaped the thread's code; `error` is its text (e.g. `UDP ECONNREFUSED`)."""

    error: str


@dataclass(frozen=True, slots=True)
class ModCall:
    """`result = yield ModCall(fn, arg)` in an application: call the module function named
    `fn` (a str) with `arg` (a tuple is spread into positional arguments; data only). The
    result is its return value; an exception escaping it is raised in the application as
    `AppError`."""

    fn: str
    arg: Any = ()


@dataclass(frozen=True, slots=True)
class Sleep:
    """`yield Sleep(ns)` in an application: wait `ns` NANOseconds (a non-negative int; the
    environment's time, not a LIB delay). Result: None."""

    ns: int


def new(value: Any) -> StoreNew:
    """`loc = yield new(v)`: a fresh store location holding v (data); result: the location
    (an int). Errors: none."""
    return StoreNew(value)


def set_(loc: int, value: Any) -> StoreSet:
    """`yield set_(loc, v)`: store v (data) at `loc`; result: None. Errors: none."""
    return StoreSet(loc, value)


def get(loc: int) -> StoreGet:
    """`v = yield get(loc)`: the value at `loc`. Errors: none (an unallocated location
    blocks: the program is ill-typed)."""
    return StoreGet(loc)


# The runtime interface -----------------------------------------------------------------------

class ThreadRuntime(Protocol):
    """Runs thread code: starts it and feeds it answers, returning its next request."""

    def start(self, program: Any, arg: Any,
              where: tuple[Any, ...] | None = None) -> tuple[Any, Any]:
        """Code and first request of `program(arg)`; `where` is `(host, tid, name)`: where
        the thread lives and what the world registered it as (its identity)."""
        ...

    def advance(self, code: Any, answer: Any) -> tuple[Any, Any]:
        """Code and next request after `answer` (an Ok/Fail, a store value, a tid...)."""
        ...

    def discard(self, code: Any) -> None:
        """The thread is gone; its cached generator may be dropped."""
        ...


# Components ----------------------------------------------------------------------------------

EXTERN = "EXTERN"
INTERN = "INTERN"


@dataclass(frozen=True, slots=True)
class Snippet:
    """`THREAD(tid, org, t)_d`, or `THREADCREATE(tid, org, t, t')` when `creating` is set."""

    tid: int
    org: str
    code: Any
    request: Any | None
    deadline: int = NEVER
    creating: tuple[Any, Any] | None = None


@dataclass(frozen=True, slots=True)
class StoreRet:
    """`STORERET(tid, tlty, v)_d`: a pending store answer."""

    tid: int
    value: Any
    deadline: int


@dataclass(frozen=True, slots=True)
class App:
    """The application thread `tid` of a machine, calling the module.

    `request` is a ModCall (made at `deadline`, sharp), a Sleep (wakes at `deadline`), or None
    while it waits for `modret`.
    """

    tid: int
    code: Any
    request: Any | None
    deadline: int = NEVER


def store_alloc(store: tuple[tuple[int, Any], ...]) -> int:
    """The location `store_new_1` allocates: the least one not in the store's domain."""
    used = {loc for loc, _ in store}
    loc = 0
    while loc in used:
        loc += 1
    return loc


def store_put(store: tuple[tuple[int, Any], ...], loc: int,
              value: Any) -> tuple[tuple[int, Any], ...]:
    """`st ⊕ {l ↦ v}`, kept sorted by location."""
    return tuple(sorted([*((k, v) for k, v in store if k != loc), (loc, value)],
                        key=lambda kv: kv[0]))


def store_read(store: tuple[tuple[int, Any], ...], loc: int) -> Any:
    """`st(l)`; KeyError for a location not in the store."""
    for k, v in store:
        if k == loc:
            return v
    raise KeyError(loc)

# Records built on every step: a faster __init__, same meaning (see base.frozen).
fast_init(StoreNew, StoreSet, StoreGet, Return, Raised, ModCall, Sleep, Snippet, StoreRet, App)
