"""The application of a real run, as it really behaved.

In the model an application (the environment) sleeps sharply: its next module call comes
exactly `period` after the previous return. A real application cannot be sharp: a sleep
overshoots by the scheduler's latency, which on a busy machine exceeds any sensible
tolerance and would make every real trace drift away from the model. So a real trace
records how long each application really waited before each module call (`header.real.
app_gaps`: per host, the time from the start, or from the previous `modret`, to the next
`modcall`), and the checker runs the same application program with those waits: the module
calls, their arguments and their order are still the program's own; only the environment's
timing is taken from the measurement, as the disconnect windows are.
"""

from __future__ import annotations

from collections.abc import Generator, Sequence
from typing import Any

from udpsem.hosts.values import Ok
from udpsem.programs.runtime import AppError, GeneratorRuntime
from udpsem.state.components import ModCall, Raised, Return, Sleep

FOREVER = 1 << 62


def _deliver(gen: Generator[Any, Any, Any], answer: Any, first: bool) -> Any:
    """Feed the wrapped application one answer; its next request, or Return at its end
    (an exception it raises escapes the wrapper, as it would escape the application)."""
    try:
        if first:
            return next(gen)
        if isinstance(answer, Raised):
            return gen.throw(AppError(answer.error))
        return gen.send(answer.value if isinstance(answer, Ok) else answer)
    except StopIteration as stop:
        return Return(stop.value)  # past any horizon: the real application made no further call


def measured_app(program: Any, arg: Any, gaps: Sequence[int]) -> Generator[Any, Any, Any]:
    """Run application `program(arg)` (the application's own code object, as the world was
    built with it: a program file's applications are lambdas, which no name could find
    again), replacing its sleeps by the measured waits `gaps` before each module call."""
    gen = GeneratorRuntime._fresh(program, arg)
    req = _deliver(gen, None, True)
    k = 0
    while True:
        if isinstance(req, Return):
            return req.value
        if isinstance(req, Raised):
            raise AppError(req.error)
        if isinstance(req, Sleep):
            req = _deliver(gen, Ok(None), False)
            continue
        if not isinstance(req, ModCall):
            raise TypeError(f"the application yielded {req!r}")
        if k >= len(gaps):
            yield Sleep(FOREVER)
            continue
        gap = gaps[k]
        k += 1
        if gap > 0:
            yield Sleep(gap)
        try:
            value = yield req
        except AppError as e:
            req = _deliver(gen, Raised(str(e)), False)
            continue
        req = _deliver(gen, Ok(value), False)


class MeasuredApp:
    """Application `program` run with measured waits (`measured_app`); called with the
    thread's argument `(arg, gaps)`, which is data. The program is held as the object
    itself: the thread's identity is the `who` it is started with (the application's own),
    never the program's name or address."""

    __slots__ = ("program",)

    def __init__(self, program: Any) -> None:
        self.program = program

    def __call__(self, arg: Any, gaps: Sequence[int]) -> Generator[Any, Any, Any]:
        return measured_app(self.program, arg, gaps)


def app_gaps(events: Sequence[tuple[int, dict[str, Any]]]) -> dict[str, list[int]]:
    """Per host, the waits before each module call of its application (tid 0), from
    `(t, label)` pairs in time order."""
    last: dict[str, int] = {}
    out: dict[str, list[int]] = {}
    for t, lab in events:
        host, kind = lab.get("host"), lab["kind"]
        if host is None or lab.get("tid") != 0:
            continue
        if kind == "modcall":
            out.setdefault(host, []).append(t - last.get(host, 0))
        elif kind == "modret":
            last[host] = t
    return out


def with_measured_apps(runtime: Any, world: Any, gaps: dict[str, list[int]]) -> Any:
    """`world` with every application replaced by `measured_app` over its measured gaps
    (a host with none recorded makes no module call)."""
    from dataclasses import replace

    from udpsem.state.components import App
    from udpsem.state.world import World

    machines = []
    for m in world.machines:
        apps = []
        for a in m.apps:
            code, req = runtime.start(MeasuredApp(a.code.program),
                                      (a.code.arg, tuple(gaps.get(m.name, ()))), a.code.who)
            deadline = req.ns if isinstance(req, Sleep) else 0
            apps.append(App(a.tid, code, req, deadline))
        machines.append(replace(m, apps=tuple(apps)))
    return World(world.now, tuple(machines), world.net, world.schedule, world.drops, world.seq)
