"""The generator-thread runtime (DESIGN.md §3.5).

A program thread is a Python generator function. It yields requests — LIB calls
(`fd = yield socket()`), store operations (`r = yield new(0)`) — and receives answers: the
value of `OK v` is sent in, `FAIL e` is thrown in as `UDPError(e)`. Its return value is the
thread's result (`modret` for a module function).

A live generator cannot be copied or hashed, yet states must be. So a thread's model state is
a `Code`: (program, argument, the answers received so far), immutable and hashable. Equality
and hashing use a running BLAKE2 digest of the answers, so they cost O(1) however long the
thread has run. The runtime keeps the live generator as a cache keyed by Code; a single
simulation path pops the old entry and stores the new one, never rebuilding. When a second
branch needs a Code whose generator has moved on (exploration), the runtime rebuilds it by
replaying the answers.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Generator
from typing import Any

from udpsem.hosts.calls import Create
from udpsem.hosts.values import Fail, Ok, UDPError
from udpsem.semantics.components import Raised, Return

Program = Callable[..., Generator[Any, Any, Any]]


class AppError(Exception):
    """An exception that escaped a module function, raised in the application."""


def program_name(program: Any) -> str:
    """A stable name for a program (used in traces and digests)."""
    mod = getattr(program, "__module__", "?")
    return f"{mod}.{getattr(program, '__qualname__', repr(program))}"


def _answer_repr(answer: Any) -> str:
    if isinstance(answer, Raised):
        return f"Raised({answer.error!r})"
    return repr(answer)


class Code:
    """(program, argument, answers so far) — a thread's state, hashed by digest."""

    __slots__ = ("program", "arg", "prev", "answer", "n", "digest", "_hash")

    def __init__(self, program: Program, arg: Any, prev: Code | None, answer: Any) -> None:
        self.program = program
        self.arg = arg
        self.prev = prev
        self.answer = answer
        self.n = 0 if prev is None else prev.n + 1
        if prev is None:
            seed = f"{program_name(program)}|{arg!r}".encode()
            self.digest = hashlib.blake2b(seed, digest_size=16).digest()
        else:
            self.digest = hashlib.blake2b(prev.digest + _answer_repr(answer).encode(),
                                          digest_size=16).digest()
        self._hash = hash(self.digest)

    def __eq__(self, other: object) -> bool:
        return self is other or (isinstance(other, Code) and self.digest == other.digest)

    def __hash__(self) -> int:
        return self._hash

    def __repr__(self) -> str:
        return f"Code({program_name(self.program)}, n={self.n}, {self.digest.hex()[:16]})"

    def answers(self) -> list[Any]:
        """The answers in the order received."""
        out = []
        c: Code | None = self
        while c is not None and c.prev is not None:
            out.append(c.answer)
            c = c.prev
        out.reverse()
        return out


def _deliver(gen: Generator[Any, Any, Any], answer: Any, first: bool) -> Any:
    """Feed one answer (or start the generator) and return its next request."""
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
    except StopIteration as stop:
        return Return(stop.value)
    except UDPError as e:
        return Raised(f"UDP {e.errno.value}")
    except Exception as e:  # noqa: BLE001 — an escaping exception is data in the model
        return Raised(f"{type(e).__name__}: {e}")
    if isinstance(req, Create) and not callable(req.program):
        return Raised(f"TypeError: create needs a program, got {req.program!r}")
    return req


class GeneratorRuntime:
    """Runs generator threads, caching one live generator per current Code."""

    def __init__(self) -> None:
        self.live: dict[Code, Generator[Any, Any, Any]] = {}
        self.rebuilds = 0

    def start(self, program: Program, arg: Any) -> tuple[Code, Any]:
        code = Code(program, arg, None, None)
        gen = self._fresh(program, arg)
        req = _deliver(gen, None, True)
        self._keep(code, gen, req)
        return code, req

    def advance(self, code: Code, answer: Any) -> tuple[Code, Any]:
        gen = self.live.pop(code, None)
        if gen is None:
            gen = self._rebuild(code)
        req = _deliver(gen, answer, False)
        new = Code(code.program, code.arg, code, answer)
        self._keep(new, gen, req)
        return new, req

    def discard(self, code: Any) -> None:
        gen = self.live.pop(code, None)
        if gen is not None:
            gen.close()

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
        gen = self._fresh(code.program, code.arg)
        _deliver(gen, None, True)
        for a in code.answers():
            _deliver(gen, a, False)
        return gen
