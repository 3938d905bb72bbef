"""Errors in user programs are shown, not swallowed (issue 9.2, 9.3): every bad request is
rejected where it is yielded, with a one-line message naming the thread, the call, the
argument and the line; an escaping exception stops the run with the user's traceback, the
host, thread, step and virtual time."""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Callable, Generator
from typing import Any

import pytest

from udpsem.base.time import S
from udpsem.hosts.calls import bind, create, delay, select, sendto, socket
from udpsem.hosts.values import ip
from udpsem.network.faults import Faults
from udpsem.programs.runtime import GeneratorRuntime
from udpsem.programs.world import HostSpec, build_world
from udpsem.state.components import ModCall, Sleep, new
from udpsem.traces.record import ProgramFailure, run_world

Gen = Generator[Any, Any, Any]


class Opaque:
    """A plain object: not data (its repr holds a memory address)."""


def _fail_module(fn: Callable[..., Gen], arg: tuple[Any, ...] = ()) -> ProgramFailure:
    hosts = [HostSpec("A", ["10.0.0.1"], lambda: (yield ModCall("f", arg)),
                      module={"f": fn})]
    setup, world = build_world(hosts, Faults(), GeneratorRuntime(), horizon=1 * S)
    with pytest.raises(ProgramFailure) as info:
        run_world(setup, world, 0)
    return info.value


def _fail_app(app: Callable[..., Gen]) -> ProgramFailure:
    setup, world = build_world([HostSpec("A", ["10.0.0.1"], app)], Faults(),
                               GeneratorRuntime(), horizon=1 * S)
    with pytest.raises(ProgramFailure) as info:
        run_world(setup, world, 0)
    return info.value


def _line(fn: Callable[..., Any], offset: int) -> str:
    return f"test_user_errors.py:{fn.__code__.co_firstlineno + offset}"


def test_exception_in_module_function_stops_the_run_with_the_users_frames() -> None:
    def boom() -> Gen:
        yield socket()
        return 1 // 0

    e = _fail_module(boom)
    text = e.report()
    first = text.splitlines()[0]
    assert first.startswith("exception escaped thread A/f (host A, tid 0) at step ")
    assert "t = " in first and first.endswith("ZeroDivisionError: integer division or modulo "
                                              "by zero")
    assert e.step > 0
    assert f'line {boom.__code__.co_firstlineno + 2}, in boom' in text
    assert "return 1 // 0" in text
    assert "udpsem/programs/runtime.py" not in text  # only the user's frames


def test_port_out_of_range() -> None:
    def prog() -> Gen:
        fd = yield socket()
        yield bind(fd, None, 70000)

    assert str(_fail_module(prog)).endswith(
        "ProgramError: bind: port must be None or a port, an int in 1..65535, got int 70000 "
        f"(at {_line(prog, 2)})")


def test_str_ip() -> None:
    def prog() -> Gen:
        fd = yield socket()
        yield sendto(fd, ("10.0.0.2", 9), b"x", False)

    assert str(_fail_module(prog)).endswith(
        "sendto: dest [0] must be an IP value (use udpsem.ip('10.0.0.1')), got str "
        f"'10.0.0.2' (at {_line(prog, 2)})")


def test_str_payload() -> None:
    def prog() -> Gen:
        fd = yield socket()
        yield sendto(fd, (ip("10.0.0.2"), 9), "hello", False)  # type: ignore[arg-type]

    assert "sendto: data must be bytes (encode a str first), got str 'hello'" in \
        str(_fail_module(prog))


def test_float_delay_and_str_select_timeout() -> None:
    def prog() -> Gen:
        yield delay(0.5)  # type: ignore[arg-type]

    assert "delay: us must be an int of microseconds in -2**62..2**62-1 (the LIB's int), " \
        "got float 0.5" in \
        str(_fail_module(prog))

    def prog2() -> Gen:
        fd = yield socket()
        yield select([fd], [], "1s")  # type: ignore[arg-type]

    assert "select: timeout_us must be None or an int of microseconds in -2**62..2**62-1 " \
        "(the LIB's int), got str '1s'" in \
        str(_fail_module(prog2))


def test_negative_durations_are_the_models_einval_not_a_misuse() -> None:
    from udpsem.hosts.values import Errno, UDPError

    def prog() -> Gen:
        got = []
        for call in (delay(-1), select([], [], -1)):
            try:
                yield call
            except UDPError as e:
                got.append(e.errno)
        return got

    hosts = [HostSpec("A", ["10.0.0.1"], lambda: (yield ModCall("f")), module={"f": prog})]
    setup, world = build_world(hosts, Faults(), GeneratorRuntime(), horizon=1 * S)
    res = run_world(setup, world, 0)
    assert res.rules_fired["delay_2"] == 1 and res.rules_fired["select_5"] == 1
    assert Errno.EINVAL  # (the values are checked by the rules' own tests)


def test_forgotten_yield() -> None:
    def prog() -> Gen:
        fd = socket()  # the bug: no yield
        yield bind(fd, None, 9000)  # type: ignore[arg-type]

    e = _fail_module(prog)
    assert str(e).endswith("ProgramError: bind: fd must be an fd (the value a `yield "
                           "socket()` gave), got a Socket request (a missing `yield`?) "
                           f"(at {_line(prog, 2)})")
    assert e.step == 0  # caught where it was yielded, not later through EBADF


def test_user_can_catch_a_rejected_call() -> None:
    def prog() -> Gen:
        fd = yield socket()
        try:
            yield bind(fd, None, 0)
        except TypeError:
            pass
        yield bind(fd, None, 7000)
        return "ok"

    hosts = [HostSpec("A", ["10.0.0.1"], lambda: (yield ModCall("f")), module={"f": prog})]
    setup, world = build_world(hosts, Faults(), GeneratorRuntime(), horizon=1 * S)
    res = run_world(setup, world, 0)
    assert res.rules_fired["bind_1"] == 1


def test_not_a_generator() -> None:
    def prog() -> int:
        return 3

    assert str(_fail_module(prog)).endswith(  # type: ignore[arg-type]
        "is not a generator function (calling it returned int); a program must yield its "
        "LIB calls")


def test_yield_none_in_an_application() -> None:
    def app() -> Gen:
        yield None

    e = _fail_app(app)
    assert str(e).startswith("exception escaped thread A/app (host A, tid 0) at step 0")
    assert "an application yielded None; it may yield only ModCall(fn, arg) and Sleep(ns)" \
        in str(e)


def test_yield_none_in_a_module_thread() -> None:
    def prog() -> Gen:
        yield None

    assert "ProgramError: yielded None, which is not a LIB call or a store operation" in \
        str(_fail_module(prog))


def test_negative_sleep() -> None:
    def app() -> Gen:
        yield Sleep(-1)

    assert "Sleep: ns must be a non-negative int of nanoseconds (at most 2**62-1), got int -1" in \
        str(_fail_app(app))


def test_object_as_return_value_is_rejected() -> None:
    def prog() -> Gen:
        yield delay(1)
        return Opaque()

    assert str(_fail_module(prog)).endswith(
        "ProgramError: the return value holds an Opaque object, which is not data (None, "
        "bool, int, float, str, bytes, tuple, list, dict, set, frozenset, a dataclass of "
        "those, an enum member)")


def test_object_as_argument_store_value_or_create_argument_is_rejected() -> None:
    def prog(x: Any) -> Gen:
        yield delay(1)

    e = _fail_app(lambda: (yield ModCall("f", (Opaque(),))))
    assert "ModCall('f'): the argument holds an Opaque object at [0], which is not data" in \
        str(e)

    def store() -> Gen:
        yield new({"k": [1, Opaque()]})

    assert "new: the value holds an Opaque object at ['k'][1], which is not data" in \
        str(_fail_module(store))

    def creator() -> Gen:
        yield create(prog, (Opaque(),))

    assert "create: arg holds an Opaque object at [0], which is not data" in \
        str(_fail_module(creator))


class Colour(enum.Enum):
    RED = 1


@dataclasses.dataclass(frozen=True)
class Point:
    x: int
    tag: Colour


def test_data_values_are_encoded_by_structure_in_traces() -> None:
    import io

    def prog(p: Point, d: dict[str, int]) -> Gen:
        yield new((p, d, frozenset({3, 1})))
        return [p.x, d]

    hosts = [HostSpec("A", ["10.0.0.1"],
                      lambda: (yield ModCall("f", (Point(1, Colour.RED), {"b": 2, "a": 1}))),
                      module={"f": prog})]
    setup, world = build_world(hosts, Faults(), GeneratorRuntime(), horizon=1 * S)
    out = io.StringIO()
    run_world(setup, world, 0, trace=out)
    text = out.getvalue()
    assert "0x" not in text and "object at" not in text
    assert '{"_":"Point","x":1,"tag":{"enum":"Colour","name":"RED"}}' in text
    assert '{"a":1,"b":2}' in text


def test_exception_in_a_created_thread_names_host_tid_and_creator() -> None:
    def child(k: int) -> Gen:
        yield delay(k)
        raise ValueError("bad child")

    def starter() -> Gen:
        yield create(child, (5,))

    e = _fail_module(starter)
    assert str(e).startswith("exception escaped thread A/child (created by A/f) (host A, "
                             "tid 1) at step ")
    assert str(e).endswith("ValueError: bad child")
    assert 'raise ValueError("bad child")' in e.report()


def test_calling_a_function_the_module_lacks() -> None:
    def fine() -> Gen:
        yield delay(1)

    hosts = [HostSpec("A", ["10.0.0.1"], lambda: (yield ModCall("nope")),
                      module={"fine": fine})]
    setup, world = build_world(hosts, Faults(), GeneratorRuntime(), horizon=1 * S)
    with pytest.raises(ProgramFailure) as info:
        run_world(setup, world, 0)
    assert str(info.value) == ("exception escaped thread A/nope (host A, tid 0) at step 0, "
                               "t = 0.000000000s: ProgramError: the module has no function 'nope' (it "
                               "has: fine)")
