"""Checks on what a program thread yields, made where it yields it.

A thread's request enters the world: its arguments become part of the state, the trace and
the host's rules. So before the runtime hands a request on, it checks it here: that it is a
request at all (a LIB call or store operation in a module thread; `ModCall` or `Sleep` in an
application), that every LIB argument has its type and range (ports `1..65535` or None, IPs
as IP values from `ip()`, payloads `bytes`, durations ints of µs (a negative one is the
model's EINVAL, rules delay_2 and select_5), fds as fds, every int in the LIB's range
`-2**62..2**62-1`), and
that every value is data (`udpsem.programs.data`). A failed check is thrown into the thread
at its `yield` as `ProgramError`, so an uncaught one escapes with a traceback pointing at the
user's line (and `udpsem run` stops there; exploration reports `no_escape`).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from udpsem.hosts.calls import LIB_INT_MAX, LIB_INT_MIN, Call
from udpsem.hosts.values import SockOpt
from udpsem.programs.data import ALLOWED, article, not_data
from udpsem.state.components import ModCall, Sleep, StoreGet, StoreNew, StoreSet


class ProgramError(TypeError):
    """A program yielded something the model cannot take (a bad LIB argument, a value that
    is not data, something that is not a request), or is not a generator function."""


IP_MAX = (1 << 32) - 1


def _show(x: Any) -> str:
    if isinstance(x, (Call, ModCall, Sleep, StoreNew, StoreSet, StoreGet)):
        return f"{article(type(x).__name__)} request (a missing `yield`?)"
    if isinstance(x, (int, str, bytes, float)) and not isinstance(x, bool):
        text = repr(x)
        return f"{type(x).__name__} {text if len(text) <= 40 else text[:37] + '...'}"
    if x is None or isinstance(x, bool):
        return repr(x)
    return f"{article(type(x).__name__)} object"


def _int(x: Any) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def _lib_int(x: Any) -> bool:
    """An int in the LIB's range (the paper's OCaml int, `hosts.calls.LIB_INT_MAX`)."""
    return _int(x) and LIB_INT_MIN <= x <= LIB_INT_MAX


RANGE = "in -2**62..2**62-1 (the LIB's int)"


def _fd(x: Any) -> str | None:
    if _lib_int(x) and x >= 0:
        return None
    return f"must be an fd (the value a `yield socket()` gave), got {_show(x)}"


def _ip(x: Any, optional: bool) -> str | None:
    if x is None and optional:
        return None
    if _int(x) and 0 <= x <= IP_MAX:
        return None
    hint = " (use udpsem.ip('10.0.0.1'))" if isinstance(x, str) else ""
    none = "None or " if optional else ""
    return f"must be {none}an IP value{hint}, got {_show(x)}"


def _port(x: Any, optional: bool) -> str | None:
    if x is None and optional:
        return None
    if _int(x) and 1 <= x <= 65535:
        return None
    none = "None or " if optional else ""
    return f"must be {none}a port, an int in 1..65535, got {_show(x)}"


def _duration(x: Any, optional: bool, unit: str) -> str | None:
    if x is None and optional:
        return None
    if _lib_int(x) and x >= 0:
        return None
    none = "None or " if optional else ""
    return f"must be {none}a non-negative int of {unit} (at most 2**62-1), got {_show(x)}"


def _typed(x: Any, tp: type | tuple[type, ...], what: str) -> str | None:
    if isinstance(x, tp) and not (tp is int and isinstance(x, bool)):
        return None
    return f"must be {what}, got {_show(x)}"


def _field(name: str, annotation: str, x: Any) -> str | None:
    optional = "None" in str(annotation)
    if name == "fd":
        return _fd(x)
    if name == "excepts" and x is None:
        return None  # the paper's two-set select
    if name == "fds":  # poll's (fd, events) entries: any int fd (negative ones are skipped)
        if not isinstance(x, tuple):
            return f"must be a list of (fd, events) pairs, got {_show(x)}"
        for k, v in enumerate(x):
            if not (isinstance(v, tuple) and len(v) == 2 and _lib_int(v[0])
                    and _lib_int(v[1])):
                return f"[{k}] must be a pair (fd, events) of ints {RANGE}, got {_show(v)}"
        return None
    if name == "via":
        return _typed(x, str, "a str")
    if name in ("reads", "writes", "excepts"):
        if not isinstance(x, tuple):
            return f"must be a list of fds, got {_show(x)}"
        for k, v in enumerate(x):
            bad = _fd(v)
            if bad:
                return f"[{k}] {bad}"
        return None
    if name == "ip":
        return _ip(x, optional)
    if name == "port":
        return _port(x, optional)
    if name == "dest":
        if x is None and optional:
            return None
        if not isinstance(x, tuple) or len(x) != 2:
            return f"must be None or a pair (ip, port), got {_show(x)}"
        bad = _ip(x[0], False)
        if bad:
            return f"[0] {bad}"
        bad = _port(x[1], False)
        return None if bad is None else f"[1] {bad}"
    if name == "data":
        return _typed(x, bytes, "bytes (encode a str first)")
    if name in ("nonblock", "value", "peek") and "bool" in str(annotation):
        if "int" in str(annotation):  # e.g. setsockopt's value: a bool or an int option
            if isinstance(x, bool) or _lib_int(x):
                return None
            return f"must be a bool or an int {RANGE}, got {_show(x)}"
        return _typed(x, bool, "a bool")
    if name in ("us", "timeout_us", "timeout_ms"):
        # any int in the LIB's range: a negative one is the model's EINVAL (delay_2,
        # select_5) or poll's "for ever", not a misuse; however long, the model keeps it
        # finite (deadline_after)
        if (x is None and optional) or _lib_int(x):
            return None
        none = "None or " if optional else ""
        unit = "milliseconds" if name == "timeout_ms" else "microseconds"
        return f"must be {none}an int of {unit} {RANGE}, got {_show(x)}"
    if name == "opt":
        return _typed(x, SockOpt, "a SockOpt")
    if name == "text":
        return _typed(x, str, "a str")
    if name == "n":
        return None if _lib_int(x) else f"must be an int {RANGE}, got {_show(x)}"
    if name == "program":
        return None if callable(x) else f"must be a generator function, got {_show(x)}"
    bad = not_data(x)
    return None if bad is None else f"holds {bad}, which is not data ({ALLOWED})"


def _data(what: str, x: Any) -> str | None:
    bad = not_data(x)
    if bad is None:
        return None
    return f"{what} holds {bad}, which is not data ({ALLOWED})"


_FIELDS: dict[type, tuple[tuple[str, str], ...]] = {}


def check_request(req: Any, app: bool | None) -> str | None:
    """None if `req` may be yielded by an application (`app` True) or a module thread
    (False; None: either, for a thread started without a world); else a one-line
    description of what is wrong, naming the call and the argument."""
    if app is None:
        if isinstance(req, (ModCall, Sleep)):
            return check_request(req, True)
        return check_request(req, False)
    if app:
        if isinstance(req, ModCall):
            if not isinstance(req.fn, str):
                return f"ModCall: fn must be the name (a str) of a module function, got " \
                       f"{_show(req.fn)}"
            return _data(f"ModCall({req.fn!r}): the argument", req.arg)
        if isinstance(req, Sleep):
            bad = _duration(req.ns, False, "nanoseconds")
            return None if bad is None else f"Sleep: ns {bad}"
        return f"an application yielded {_show(req)}; it may yield only ModCall(fn, arg) " \
               "and Sleep(ns) (LIB calls belong in module functions)"
    if isinstance(req, Call):
        tp = type(req)
        fields = _FIELDS.get(tp)
        if fields is None:
            fields = tuple((f.name, str(f.type)) for f in dataclasses.fields(req))
            _FIELDS[tp] = fields
        for name, annotation in fields:
            bad = _field(name, annotation, getattr(req, name))
            if bad:
                return f"{req.name}: {name} {bad}"
        return None
    if isinstance(req, StoreNew):
        return _data("new: the value", req.value)
    if isinstance(req, StoreSet):
        if not _int(req.loc):
            return f"set: loc must be a location (from `yield new(v)`), got {_show(req.loc)}"
        return _data("set: the value", req.value)
    if isinstance(req, StoreGet):
        if not _int(req.loc):
            return f"get: loc must be a location (from `yield new(v)`), got {_show(req.loc)}"
        return None
    if isinstance(req, (ModCall, Sleep)):
        return f"a module thread yielded {type(req).__name__}; only an application may"
    return f"yielded {_show(req)}, which is not a LIB call or a store operation"


def check_result(value: Any) -> str | None:
    """None if a thread's return value is data; else what is wrong."""
    return _data("the return value", value)
