"""The generator-thread runtime (docs/architecture.md#principles).

A program thread is a Python generator function. It yields requests — LIB calls
(`fd = yield socket()`), store operations (`r = yield new(0)`) — and receives answers: the
value of `OK v` is sent in, `FAIL e` is thrown in as `UDPError(e)`. Its return value is the
thread's result (`modret` for a module function).

A live generator cannot be copied or hashed, yet states must be. So a thread's model state is
a `Code`: (who, program, argument, the answers received so far), immutable and hashable.

*Who* a thread is comes from the world, never from Python: where it lives and what the world
registered it as — `(host, tid, name)` for an application (`name` "app") or a module function
(`name` its key in the host's module), and for a thread started by `create` the identity of
its creator at the moment it created it (the creator's Code digest, which fixes the program
and argument it passed). A Python qualified name or a `repr` never stands for an identity:
two lambdas of one module, two closures of one factory on two hosts, or one function
registered under two names are different threads.

Equality and hashing use a running BLAKE2 digest over who, the argument's structural
encoding (`udpsem.programs.data.canonical`) and the answers, so they cost O(1) however long
the thread has run. The runtime keeps the live generator as a cache keyed by Code; a single
simulation path pops the old entry and stores the new one, never rebuilding. When a second
branch needs a Code whose generator has moved on (exploration), the runtime rebuilds it by
replaying the answers.
"""

from __future__ import annotations

import hashlib
import traceback
from collections.abc import Callable, Generator
from typing import Any

from udpsem.hosts.calls import Create
from udpsem.hosts.values import Fail, Ok, UDPError
from udpsem.programs.checks import ProgramError, check_request, check_result
from udpsem.programs.data import ALLOWED, canonical_bytes, not_data
from udpsem.state.components import Raised, Return

Program = Callable[..., Generator[Any, Any, Any]]


class AppError(Exception):
    """An exception that escaped a module function, raised in the application."""


def program_name(program: Any) -> str:
    """A readable name of a Python function, for display only (never an identity)."""
    if isinstance(program, (Registered, Spawn)):
        program = program.fn
    mod = getattr(program, "__module__", "?")
    return f"{mod}.{getattr(program, '__qualname__', type(program).__name__)}"


APPLICATION = "application"
"""The last element of an application's `where`: `(host, tid, "app", APPLICATION)`."""


class Registered:
    """A module function as a world registered it: `fn` under `name` in host `host`'s
    module, run as thread `tid` (the calling application's). Calling it calls `fn`."""

    __slots__ = ("fn", "host", "name", "tid")

    def __init__(self, host: str, tid: int, name: str, fn: Program) -> None:
        self.host, self.tid, self.name, self.fn = host, tid, name, fn

    def __call__(self, *args: Any) -> Any:
        return self.fn(*args)

    def who(self) -> tuple[Any, ...]:
        return (self.host, self.tid, self.name)


class Spawn:
    """The program of a `create(f, x)` as the runtime rewrote it: `fn` is f, `parent` the
    digest of the creating thread's Code when it yielded the call (its identity), `label`
    the creator's readable name. Calling it calls `fn`."""

    __slots__ = ("fn", "label", "parent")

    def __init__(self, fn: Program, parent: bytes, label: str) -> None:
        self.fn, self.parent, self.label = fn, parent, label

    def __call__(self, *args: Any) -> Any:
        return self.fn(*args)


def _answer_bytes(answer: Any) -> bytes:
    try:
        return canonical_bytes(answer)
    except TypeError:
        return ("repr:" + type(answer).__name__).encode()  # never reached for model answers


def _seed(who: tuple[Any, ...], arg: Any) -> bytes:
    try:
        a = canonical_bytes(arg)
    except TypeError:
        a = b"?"  # not data: rejected where it enters (see `start`); kept distinct by `who`
    return hashlib.blake2b(canonical_bytes(("thread", who)) + b"|" + a,
                           digest_size=16).digest()


class Code:
    """(who, program, argument, answers so far) — a thread's state, hashed by digest."""

    __slots__ = ("_hash", "answer", "arg", "digest", "n", "name", "place", "prev", "program",
                 "who")
    program: Program
    arg: Any
    prev: Code | None
    answer: Any
    n: int
    digest: bytes
    who: tuple[Any, ...]
    name: str
    place: tuple[str, int] | None
    _hash: int

    def __init__(self, program: Program, arg: Any, prev: Code | None, answer: Any,
                 who: tuple[Any, ...] = (), name: str = "",
                 place: tuple[str, int] | None = None) -> None:
        self.program = program
        self.arg = arg
        self.prev = prev
        self.answer = answer
        if prev is None:
            self.n = 0
            self.who, self.name, self.place = who, name, place
            self.digest = _seed(who, arg)
        else:
            self.n = prev.n + 1
            self.who, self.name, self.place = prev.who, prev.name, prev.place
            self.digest = hashlib.blake2b(prev.digest + _answer_bytes(answer),
                                          digest_size=16).digest()
        self._hash = hash(self.digest)

    def __eq__(self, other: object) -> bool:
        return self is other or (isinstance(other, Code) and self.digest == other.digest)

    def __hash__(self) -> int:
        return self._hash

    def __repr__(self) -> str:
        return f"Code({self.name}, n={self.n}, {self.digest.hex()[:16]})"

    def answers(self) -> list[Any]:
        """The answers in the order received (a runtime without history keeps none: then
        RuntimeError)."""
        out = []
        c: Code | None = self
        while c is not None and c.prev is not None:
            out.append(c.answer)
            c = c.prev
        if c is not None and c.n != 0:
            raise RuntimeError(f"thread {self.name}: its runtime kept no history of answers")
        out.reverse()
        return out


def identity(program: Any, where: tuple[Any, ...] | None
             ) -> tuple[tuple[Any, ...], str, tuple[str, int] | None]:
    """(who, readable name, (host, tid) if known) of a thread about to run `program` at
    `where` = (host, tid, registered name) (see the module notes)."""
    place = (str(where[0]), int(where[1])) if where is not None and len(where) >= 2 else None
    if isinstance(program, Spawn):
        host = place[0] if place else program.label.split("/", 1)[0]
        fn = getattr(program.fn, "__name__", "?")
        return (("create", program.parent.hex()),
                f"{host}/{fn} (created by {program.label})", place)
    if where is not None:
        return tuple(where), f"{where[0]}/{where[2]}" if len(where) >= 3 else str(where), place
    if isinstance(program, Registered):
        return program.who(), f"{program.host}/{program.name}", (program.host, program.tid)
    # Started directly (tests, the real backend): no world registered it. Its structure
    # (code, closure and defaults by value) identifies it, never its name.
    return ("program", program_key(program).hex()), program_name(program), None


class Escape(Exception):
    """An exception escaped a thread's code (raised out of the runtime only when its
    `stop_on_escape` is set, as `udpsem run` does). `thread` is the thread's readable name
    (`host/name`), `error` the one-line text, `user_traceback` the traceback restricted to
    frames outside the udpsem package."""

    def __init__(self, code: Code, error: str, user_traceback: str,
                 exc: BaseException | None) -> None:
        super().__init__(f"{code.name}: {error}")
        self.thread, self.error, self.user_traceback, self.exc = code.name, error, \
            user_traceback, exc
        self.who, self.place = code.who, code.place

    @property
    def where(self) -> str:
        """`host A, tid 0` (as far as the world told the runtime)."""
        if self.place is not None:
            return f"host {self.place[0]}, tid {self.place[1]}"
        return f"host {self.thread.split('/', 1)[0]}"


_PKG_DIR = __file__.rsplit("/programs/", 1)[0]


def user_traceback(exc: BaseException) -> str:
    """The traceback of `exc` without udpsem's own frames (all frames if none is left)."""
    frames = traceback.extract_tb(exc.__traceback__)
    # A compiled module's frames name its file relative to the package's parent.
    mine = [f for f in frames if not f.filename.startswith((_PKG_DIR, "udpsem/"))]
    text = "".join(traceback.format_list(mine or frames))
    head = "Traceback (most recent call last):\n" if text else ""
    return head + text + "".join(traceback.format_exception_only(type(exc), exc))


def _where_yielded(gen: Any) -> str:
    """`file:line` of the innermost frame suspended at a yield (through `yield from`)."""
    g = gen
    while getattr(g, "gi_yieldfrom", None) is not None and \
            getattr(g.gi_yieldfrom, "gi_frame", None) is not None:
        g = g.gi_yieldfrom
    frame = getattr(g, "gi_frame", None)
    if frame is None:
        return "?"
    return f"{frame.f_code.co_filename.rsplit('/', 1)[-1]}:{frame.f_lineno}"


def _is_app(code: Code | None) -> bool | None:
    if code is None or not code.who or code.who[0] in ("program",):
        return None
    return len(code.who) == 4 and code.who[3] == APPLICATION


class GeneratorRuntime:
    """Runs generator threads, caching one live generator per current Code.

    Every request a thread yields is checked (`programs.checks`) before it is handed on; a
    failed check is thrown into the thread as `ProgramError`. An exception that escapes a
    thread becomes `Raised(text)` in the model; with `stop_on_escape` the runtime raises
    `Escape` instead, with the user's traceback.

    With `history` (the default) every Code links to its predecessor, so a generator that has
    moved on (or was dropped) can be rebuilt by replaying the answers: exploration and any
    driver that fires the same candidate twice need that. Without it (a single simulation
    path, which never rebuilds: `traces.record.run`, replay) a Code keeps only its count and
    running digest, so a long run holds memory in proportion to its world, not its history;
    a rebuild is then refused with a RuntimeError."""

    def __init__(self, history: bool = True, stop_on_escape: bool = False) -> None:
        self.live: dict[Code, Generator[Any, Any, Any]] = {}
        self.rebuilds = 0
        self.history = history
        self.stop_on_escape = stop_on_escape

    def start(self, program: Program, arg: Any,
              where: tuple[Any, ...] | None = None) -> tuple[Code, Any]:
        """Code and first request of `program(arg)`; `where` is who the world registered it
        as, `(host, tid, name)` (a `Registered` or `Spawn` program carries its own)."""
        who, name, place = identity(program, where)
        code = Code(program, arg, None, None, who, name, place)
        bad = not_data(arg)
        if bad is not None:
            return code, self._escaped(code, ProgramError(
                f"the thread's argument holds {bad}, which is not data "
                f"({ALLOWED})"), None)
        try:
            gen = self._fresh(program, arg)
        except Exception as e:  # noqa: BLE001 — calling the user's function failed
            return code, self._escaped(code, e, None)
        if not isinstance(gen, Generator):
            return code, self._escaped(code, ProgramError(
                f"{program_name(program)} is not a generator function (calling it "
                f"returned {type(gen).__name__}); a program must yield its LIB calls"), None)
        req = self._deliver(gen, None, True, code)
        self._keep(code, gen, req)
        return code, req

    def advance(self, code: Code, answer: Any) -> tuple[Code, Any]:
        gen = self.live.pop(code, None)
        if gen is None:
            gen = self._rebuild(code)
        new = Code(code.program, code.arg, code, answer)
        if not self.history:
            new.prev = None  # count and digest are kept; the chain of predecessors is not
        req = self._deliver(gen, answer, False, new)
        self._keep(new, gen, req)
        return new, req

    def discard(self, code: Any) -> None:
        gen = self.live.pop(code, None)
        if gen is not None:
            gen.close()

    def frame_key(self, code: Code) -> bytes | None:
        """A key of `code`'s thread state smaller than its answer history: equal keys mean
        equal futures. None when the frame cannot be keyed safely (callers then use
        `code.digest`)."""
        gen = self.live.get(code)
        if gen is None:
            gen = self._rebuild(code)
            self._keep(code, gen, None)
        return generator_key(gen)

    def _escaped(self, code: Code, e: BaseException, gen: Any) -> Raised:
        if isinstance(e, UDPError):
            text = f"UDP {e.errno.value}"
        else:
            text = f"{type(e).__name__}: {e}"
        if self.stop_on_escape:
            raise Escape(code, text, user_traceback(e), e)
        return Raised(text)

    def _deliver(self, gen: Generator[Any, Any, Any], answer: Any, first: bool,
                 code: Code, replaying: bool = False) -> Any:
        """Feed one answer (or start the generator) and return its next request, checked."""
        try:
            if first:
                req = next(gen)
            elif isinstance(answer, Fail):
                req = gen.throw(UDPError(answer.errno))
            elif isinstance(answer, Raised):
                req = gen.throw(AppError(answer.error))
            elif isinstance(answer, Ok):
                req = gen.send(answer.value)
            else:
                req = gen.send(answer)
            app = _is_app(code)
            while True:
                problem = check_request(req, app)
                if problem is None:
                    break
                req = gen.throw(ProgramError(f"{problem} (at "
                                             f"{_where_yielded(gen)})"))
        except StopIteration as stop:
            bad = check_result(stop.value)
            if bad is not None:
                if replaying:
                    return Raised("ProgramError")
                return self._escaped(code, ProgramError(bad), gen)
            return Return(stop.value)
        except Exception as e:  # noqa: BLE001 — an escaping exception is data in the model
            if replaying:
                return Raised(type(e).__name__)
            return self._escaped(code, e, gen)
        if isinstance(req, Create) and not isinstance(req.program, Spawn):
            req = Create(Spawn(req.program, code.digest, code.name), req.arg)
        return req

    def _keep(self, code: Code, gen: Generator[Any, Any, Any], req: Any) -> None:
        if isinstance(req, (Return, Raised)):
            return  # finished: nothing more to feed
        self.live[code] = gen

    @staticmethod
    def _fresh(program: Program, arg: Any) -> Generator[Any, Any, Any]:
        if isinstance(arg, tuple):
            return program(*arg)
        return program(arg)

    def _rebuild(self, code: Code) -> Generator[Any, Any, Any]:
        self.rebuilds += 1
        chain: list[Code] = []
        c: Code | None = code
        while c is not None:
            chain.append(c)
            c = c.prev
        chain.reverse()
        if chain[0].n != 0:
            raise RuntimeError(f"cannot rebuild thread {code.name} (answer {code.n}): this "
                               "runtime keeps no history; use GeneratorRuntime(history=True)")
        gen = self._fresh(code.program, code.arg)
        self._deliver(gen, None, True, chain[0], True)
        for c in chain[1:]:
            self._deliver(gen, c.answer, False, c, True)
        return gen


# A frame-based state key (for exploration) ---------------------------------------------------
#
# A suspended generator's future depends only on its code, its position, its local (and cell)
# variables and whatever sits on its value stack. The first three are visible from Python; the
# value stack is not (a `for` loop's iterator, an enclosing `with`'s exit, the exception being
# handled in an `except` block all live there). So a frame is keyed only at a yield whose value
# stack holds nothing but the yielded value (or, inside `yield from`, the sub-iterator too,
# which is keyed recursively through `gi_yieldfrom`); the depth at each yield is computed once
# per code object by a stack-depth analysis of its bytecode. Locals are encoded by value with
# their aliasing structure; any value without a canonical encoding (an open generator in a
# local, an arbitrary object) makes the key unavailable, and callers fall back to the Code's
# answer-history digest. Globals are assumed constant (a program that mutates module state is
# already a bug, docs/architecture.md#principles).

import dis as _dis
import marshal as _marshal
import types as _types
from dataclasses import fields as _fields
from dataclasses import is_dataclass as _is_dataclass
from enum import Enum as _Enum

_UNCONDITIONAL = frozenset({"JUMP_FORWARD", "JUMP_BACKWARD", "JUMP_BACKWARD_NO_INTERRUPT",
                            "RETURN_VALUE", "RERAISE", "RAISE_VARARGS", "JUMP_ABSOLUTE",
                            "RETURN_CONST", "JUMP"})
_SAFE_YIELDS: dict[_types.CodeType, frozenset[int] | None] = {}


class _Unkeyable(Exception):
    """A value with no canonical encoding: the frame key is unavailable."""


def _safe_yield_offsets(co: _types.CodeType) -> frozenset[int] | None:
    """Offsets of the YIELD_VALUEs of `co` at which the value stack holds only the yielded
    value (plus the sub-iterator right after a SEND); None if the analysis fails."""
    if co in _SAFE_YIELDS:
        return _SAFE_YIELDS[co]
    result: frozenset[int] | None
    try:
        result = _analyse(co)
    except Exception:  # noqa: BLE001 — an unexpected bytecode shape: no key, never a wrong one
        result = None
    _SAFE_YIELDS[co] = result
    return result


def _analyse(co: _types.CodeType) -> frozenset[int] | None:
    instrs = list(_dis.get_instructions(co))
    index = {ins.offset: k for k, ins in enumerate(instrs)}
    depth: dict[int, int] = {}
    work: list[tuple[int, int]] = [(instrs[0].offset, 0)]
    parse = getattr(_dis, "_parse_exception_table", None)
    handlers = parse(co) if parse is not None else []
    for e in handlers:
        work.append((e.target, e.depth + (1 if e.lasti else 0) + 1))
    while work:
        off, d = work.pop()
        if off in depth:
            if depth[off] != d:
                return None  # inconsistent: refuse to key this code
            continue
        depth[off] = d
        ins = instrs[index[off]]
        op, arg = ins.opcode, ins.arg
        target = ins.argval if (op in _dis.hasjrel or op in _dis.hasjabs) else None
        if target is not None:
            work.append((target, d + _dis.stack_effect(op, arg, jump=True)))
        if ins.opname not in _UNCONDITIONAL:
            k = index[off] + 1
            if k < len(instrs):
                eff = _dis.stack_effect(op, arg, jump=False) if op >= _dis.HAVE_ARGUMENT \
                    else _dis.stack_effect(op)
                if ins.opname == "RETURN_GENERATOR":
                    eff = 1  # on resumption the frame's first push is the sent None
                work.append((instrs[k].offset, d + eff))
    safe = set()
    for k, ins in enumerate(instrs):
        if ins.opname != "YIELD_VALUE" or ins.offset not in depth:
            continue
        d = depth[ins.offset]
        after_send = k > 0 and instrs[k - 1].opname == "SEND"
        if d == 1 or (d == 2 and after_send):
            safe.add(ins.offset)
    return frozenset(safe)


def _encode_value(x: Any, seen: dict[int, int], keep: list[Any]) -> Any:
    """A marshal-able canonical form of a local's value (aliasing of mutables included)."""
    if x is None or isinstance(x, (bool, int, str, bytes)) and not isinstance(x, _Enum):
        return x if not isinstance(x, bool) else ("b", x)
    if isinstance(x, float):
        return ("f", repr(x))
    if isinstance(x, _Enum):
        return ("e", type(x).__qualname__, _encode_value(x.value, seen, keep))
    if isinstance(x, tuple):
        return ("t", *(_encode_value(v, seen, keep) for v in x))
    if isinstance(x, (list, dict, set, bytearray)):
        ref = seen.get(id(x))
        if ref is not None:
            return ("@", ref)
        seen[id(x)] = len(seen)
        keep.append(x)
        if isinstance(x, list):
            return ("l", *(_encode_value(v, seen, keep) for v in x))
        if isinstance(x, bytearray):
            return ("ba", bytes(x))
        if isinstance(x, set):
            return ("s", *sorted(_marshal.dumps(_encode_value(v, seen, keep), 2)
                                  for v in x))
        return ("d", *((_encode_value(k, seen, keep), _encode_value(v, seen, keep))
                       for k, v in x.items()))  # insertion order is part of a dict's value
    if isinstance(x, frozenset):
        return ("fs", *sorted(_marshal.dumps(_encode_value(v, seen, keep), 2) for v in x))
    if isinstance(x, BaseException):
        return ("x", type(x).__module__, type(x).__qualname__,
                _encode_value(x.args, seen, keep),
                _encode_value(getattr(x, "errno", None), seen, keep))
    if isinstance(x, Code):
        return ("c", x.digest)
    if isinstance(x, (Registered, Spawn, _types.FunctionType, _types.BuiltinFunctionType,
                      type)):
        return ("p", program_key(x))
    if _is_dataclass(x) and not isinstance(x, type):
        params = getattr(type(x), "__dataclass_params__", None)
        if params is None or not params.frozen:
            raise _Unkeyable(type(x).__qualname__)
        return ("dc", type(x).__module__, type(x).__qualname__,
                *(_encode_value(getattr(x, f.name), seen, keep) for f in _fields(x)))
    if isinstance(x, range):
        return ("r", x.start, x.stop, x.step)
    raise _Unkeyable(type(x).__qualname__)


def _frame_struct(gen: Any, seen: dict[int, int], keep: list[Any]) -> Any:
    if not isinstance(gen, _types.GeneratorType):
        raise _Unkeyable("not a generator")
    frame = gen.gi_frame
    if frame is None:
        raise _Unkeyable("finished generator")
    co = gen.gi_code
    safe = _safe_yield_offsets(co)
    if safe is None or frame.f_lasti not in safe:
        raise _Unkeyable("value stack")
    sub = gen.gi_yieldfrom
    locs = frame.f_locals
    return (frame.f_globals.get("__name__", "?"), code_key(co),
            frame.f_lasti,
            tuple((name, _encode_value(locs[name], seen, keep))
                  for name in (*co.co_varnames, *co.co_cellvars, *co.co_freevars)
                  if name in locs),
            None if sub is None else _frame_struct(sub, seen, keep))


_CODE_KEYS: dict[_types.CodeType, bytes] = {}


def code_key(co: _types.CodeType) -> bytes:
    """A digest of a code object's full content (bytecode, constants, names, nested code):
    two functions share it only if they would run the same instructions."""
    k = _CODE_KEYS.get(co)
    if k is None:
        k = hashlib.blake2b(_marshal.dumps(co), digest_size=16).digest()
        _CODE_KEYS[co] = k
    return k


def program_key(fn: Any) -> bytes:
    """A structural key of a program: its module, its code's content, and its closure cells
    and defaults by value. Equal keys mean the same behaviour on the same argument (globals
    are assumed constant); a closure over something without a canonical encoding gets
    `?` for that cell, which is sound wherever the creating thread's own key is also part
    of the state (its state determined the closure). Never a qualified name."""
    if isinstance(fn, (Registered, Spawn)):
        fn = fn.fn
    co = getattr(fn, "__code__", None)
    if not isinstance(co, _types.CodeType):
        return ("builtin:" + program_name(fn)).encode()  # not user code: its name is its kind
    parts: list[Any] = [getattr(fn, "__module__", None) or "?", code_key(co)]
    extra: list[Any] = []
    for cell in getattr(fn, "__closure__", None) or ():
        try:
            extra.append(cell.cell_contents)
        except ValueError:
            extra.append(None)  # an empty cell
    extra.append(getattr(fn, "__defaults__", None))
    extra.append(tuple(sorted((getattr(fn, "__kwdefaults__", None) or {}).items())))
    for v in extra:
        try:
            parts.append(_marshal.dumps(_encode_value(v, {}, []), 2))
        except (_Unkeyable, ValueError, RecursionError):
            parts.append("?")
    return hashlib.blake2b(_marshal.dumps(tuple(parts), 2), digest_size=16).digest()


def generator_key(gen: Any) -> bytes | None:
    """The canonical bytes of a suspended generator's state, or None if it has none that is
    safe (see the notes above)."""
    try:
        return _marshal.dumps(_frame_struct(gen, {}, []), 2)
    except (_Unkeyable, ValueError, RecursionError):
        return None
