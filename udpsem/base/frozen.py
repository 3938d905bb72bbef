"""Faster construction of frozen, slotted dataclasses, with the same meaning.

A frozen dataclass's generated `__init__` sets every field through
`object.__setattr__(self, name, value)`, which looks the name up again on every call; the
model builds a dozen such records per transition, and that lookup was a fifth of a run's
time. `fast_init(*classes)` gives each class an `__init__` that sets the fields through the
slots' own descriptors instead: the same parameters (names, order, defaults, default
factories), the same `__post_init__` call, and the instances stay frozen (assignment still
raises `FrozenInstanceError`); equality, hashing, `repr`, pickling and `dataclasses.replace`
are the dataclass's own. A class it cannot treat exactly so (not a frozen slotted dataclass,
or with `InitVar`, `init=False` or keyword-only fields) is refused at import, never
silently changed.

In the compiled build (setup.py) a record's class is a mypyc native class: its fields are
the class's own attribute descriptors rather than `__slots__`, which `fast_init` uses the same
way. Such a class's own pickling sets its fields through the frozen `__setattr__` and fails;
`enable_pickling()` gives every compiled frozen dataclass a `__reduce__` that rebuilds it field
by field instead (a no-op in the pure build), for `explore --workers`.
"""

from __future__ import annotations

import dataclasses
from typing import Any, TypeVar

T = TypeVar("T")

_HAS_FACTORY = object()


def _slotted(cls: type) -> bool:
    return "__slots__" in cls.__dict__


def _compiled(cls: type) -> bool:
    """A mypyc native class (compiled build): its attributes are in `__mypyc_attrs__`."""
    return "__mypyc_attrs__" in cls.__dict__


def _make_init(cls: type) -> Any:
    params = getattr(cls, "__dataclass_params__", None)
    if params is None or not params.frozen or not (_slotted(cls) or _compiled(cls)):
        raise TypeError(f"fast_init: {cls.__qualname__} is not a frozen, slotted dataclass")
    fields = dataclasses.fields(cls)
    if len(fields) != len(cls.__dataclass_fields__):  # type: ignore[attr-defined]
        raise TypeError(f"fast_init: {cls.__qualname__} has InitVar or ClassVar fields")
    env: dict[str, Any] = {"_HAS_FACTORY": _HAS_FACTORY}
    sig, body = [], []
    for k, f in enumerate(fields):
        if not f.init or f.kw_only:
            raise TypeError(f"fast_init: {cls.__qualname__}.{f.name} is init=False or "
                            "keyword-only")
        n = f.name  # parameters keep the field names, so keyword calls work the same
        if n == "self" or n == "_HAS_FACTORY" or n.startswith(("_set", "_default", "_factory")):
            raise TypeError(f"fast_init: {cls.__qualname__}.{n}: reserved name")
        env[f"_set{k}"] = cls.__dict__[n].__set__
        if f.default is not dataclasses.MISSING:
            env[f"_default{k}"] = f.default
            sig.append(f"{n}=_default{k}")
        elif f.default_factory is not dataclasses.MISSING:
            env[f"_factory{k}"] = f.default_factory
            sig.append(f"{n}=_HAS_FACTORY")
            body.append(f"    if {n} is _HAS_FACTORY: {n} = _factory{k}()")
        else:
            sig.append(n)
        body.append(f"    _set{k}(self, {n})")
    if hasattr(cls, "__post_init__"):
        body.append("    self.__post_init__()")
    src = f"def __init__(self, {', '.join(sig)}):\n" + ("\n".join(body) or "    pass") + "\n"
    if not sig:
        src = "def __init__(self):\n" + ("\n".join(body) or "    pass") + "\n"
    exec(src, env)  # noqa: S102 — generated from the dataclass's own field list
    init = env["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    return init


def fast_init(*classes: type) -> None:
    """Give each frozen, slotted dataclass the faster `__init__` (see the module notes)."""
    for cls in classes:
        cls.__init__ = _make_init(cls)  # type: ignore[misc]


_REPLACERS: dict[type, Any] = {}
_KEEP = object()


def _make_replacer(cls: type) -> Any:
    """`dataclasses.replace` for one dataclass, generated from its field list: a parameter
    per field (left at `_KEEP`: the field's current value) and one call of the class. None
    for a class it would not treat exactly so (InitVar, `init=False` or keyword-only fields:
    `dataclasses.replace` does)."""
    fields = dataclasses.fields(cls)
    if len(fields) != len(cls.__dataclass_fields__) or any(  # type: ignore[attr-defined]
            not f.init or f.kw_only or f.name in ("obj", "_KEEP", "_cls") for f in fields):
        return None
    names = [f.name for f in fields]
    args = ", ".join(f"obj.{n} if {n} is _KEEP else {n}" for n in names)
    src = (f"def replace(obj, /, {', '.join(f'{n}=_KEEP' for n in names)}):\n"
           f"    return _cls({args})\n") if names else "def replace(obj, /):\n    return _cls()\n"
    env: dict[str, Any] = {"_KEEP": _KEEP, "_cls": cls}
    exec(src, env)  # noqa: S102 — generated from the dataclass's own field list
    return env["replace"]


def replace(obj: T, /, **changes: Any) -> T:
    """`dataclasses.replace(obj, **changes)`, the same meaning (the class is called with
    every field, `__post_init__` runs), faster: the rules build a few records a step this
    way, and the generic version walks every field of, e.g., a 20-field socket. Each class's
    replacer is generated once, from its field list; a class with InitVar, `init=False` or
    keyword-only fields goes through `dataclasses.replace`."""
    tp = type(obj)
    r = _REPLACERS.get(tp, _KEEP)
    if r is _KEEP:
        r = _REPLACERS[tp] = _make_replacer(tp)
    if r is None:
        return dataclasses.replace(obj, **changes)  # type: ignore[type-var]
    out: T = r(obj, **changes)
    return out


def _rebuild(cls: Any, values: tuple[Any, ...]) -> Any:
    """Unpickle a compiled frozen dataclass: a bare instance whose fields are set directly."""
    obj = cls.__new__(cls)
    for f, v in zip(dataclasses.fields(cls), values, strict=True):
        object.__setattr__(obj, f.name, v)
    return obj


def _reduce(self: Any) -> tuple[Any, ...]:
    cls = type(self)
    return _rebuild, (cls, tuple(getattr(self, f.name) for f in dataclasses.fields(cls)))


def enable_pickling(package: str = "udpsem") -> int:
    """Make every compiled frozen dataclass of the loaded `package` modules picklable (see
    the module notes); returns how many classes it changed (0 in the pure build). Call it
    before pickling: an unpickling process needs nothing, `_rebuild` is a plain function."""
    import sys

    changed = 0
    for name, mod in list(sys.modules.items()):
        if mod is None or not (name == package or name.startswith(package + ".")):
            continue
        for cls in list(vars(mod).values()):
            if (isinstance(cls, type) and cls.__module__ == name and _compiled(cls)
                    and getattr(getattr(cls, "__dataclass_params__", None), "frozen", False)
                    and cls.__dict__.get("__reduce__") is not _reduce):
                cls.__reduce__ = _reduce  # type: ignore[method-assign,assignment]
                changed += 1
    return changed
