"""Canonical JSON encoding of model values, and state digests.

Used for trace labels and for the per-step state digest that replay compares. Everything is
encoded by structure (never by `repr` of functions or by set order), so the bytes are the
same in every process whatever PYTHONHASHSEED is.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from enum import Enum
from typing import Any

from udpsem.hosts.values import Fail, Ok, at_default, ip_str, is_extension
from udpsem.network.messages import ICMP, IP_DEFAULT_TTL, UDP, IPMsg
from udpsem.programs.runtime import Code, Registered, Spawn, program_name


def jsonable(x: Any) -> Any:
    """A JSON-ready canonical form of a model value."""
    if x is None or isinstance(x, (bool, int, str)) and not isinstance(x, Enum):
        return x
    if isinstance(x, (int, str)) and isinstance(x, Enum):
        return x.value  # a StrEnum or IntEnum member is a str or int
    if isinstance(x, Enum):
        return {"enum": type(x).__name__, "name": x.name}
    if isinstance(x, bytes):
        return {"bytes": x.decode("latin-1")}
    if isinstance(x, (tuple, list)):
        return [jsonable(v) for v in x]
    if isinstance(x, Ok):
        return {"ok": jsonable(x.value)}
    if isinstance(x, Fail):
        return {"fail": x.errno.value}
    if isinstance(x, IPMsg):
        out_msg: dict[str, Any] = {"src": ip_str(x.src), "dst": ip_str(x.dst),
                                   "body": jsonable(x.body)}
        if x.ttl != IP_DEFAULT_TTL:  # extension fields, left out at their defaults
            out_msg["ttl"] = x.ttl
        if x.df:
            out_msg["df"] = True
        return out_msg
    if isinstance(x, UDP):
        return {"udp": [x.sport, x.dport], "data": jsonable(x.data)}
    if isinstance(x, ICMP):
        out_icmp: dict[str, Any] = {"icmp": x.kind.value,
                                    "quote": [ip_str(x.is3), x.ps3, ip_str(x.is4), x.ps4]}
        if x.data:  # the quoted payload (an extension: left out when empty)
            out_icmp["data"] = jsonable(x.data)
        if x.mtu is not None:  # a fragmentation-needed's next-hop MTU (likewise)
            out_icmp["mtu"] = x.mtu
        return out_icmp
    if isinstance(x, Code):
        return {"code": x.name, "n": x.n, "digest": x.digest.hex()}
    if isinstance(x, (Registered, Spawn)):
        return {"program": program_name(x.fn)}
    if dataclasses.is_dataclass(x) and not isinstance(x, type):
        out: dict[str, Any] = {"_": type(x).__name__}
        name = getattr(type(x), "name", None)
        if isinstance(name, str) and not any(f.name == "name" for f in dataclasses.fields(x)):
            out["_"] = name  # LIB calls are named as in docs/model.md#the-lib
        for f in dataclasses.fields(x):
            v = getattr(x, f.name)
            if not at_default(f, v):  # an extension field at its default is left out
                out[f.name] = jsonable(v)
        return out
    if isinstance(x, dict):
        return {str(k): jsonable(v) for k, v in sorted(x.items(), key=lambda kv: str(kv[0]))}
    if callable(x):
        return {"program": program_name(x)}
    if isinstance(x, range):
        return [x.start, x.stop]
    if isinstance(x, float):
        return {"float": repr(x)}
    if isinstance(x, (set, frozenset)):
        return {"set": sorted((jsonable(v) for v in x), key=dumps)}
    # Never a repr: it may hold a memory address, which would make traces differ between
    # runs. Values entering the world are checked to be data (programs.checks), so reaching
    # here is a bug in udpsem, not in the user's program.
    raise TypeError(f"no trace encoding for a {type(x).__name__} value")


def dumps(x: Any) -> str:
    """Compact canonical JSON text."""
    return json.dumps(x, separators=(",", ":"), ensure_ascii=True)


# Types `jsonable` encodes by a case of its own (not by the generic dataclass case); keep this
# in step with `jsonable`. A test checks `JsonText` against `dumps(jsonable(x))` along runs.
_OWN_CASE: tuple[type, ...] = (Ok, Fail, IPMsg, UDP, ICMP, Code, Registered, Spawn)
_ascii = json.encoder.encode_basestring_ascii  # what json.dumps(ensure_ascii=True) uses


def _extension_defaults(tp: Any) -> dict[str, Any] | None:
    """{extension field: default} of a dataclass type (None if it has none)."""
    if not dataclasses.is_dataclass(tp):
        return None
    ext = {f.name: f.default for f in dataclasses.fields(tp) if is_extension(f)}
    return ext or None


class JsonText:
    """`dumps(jsonable(x))`, composed from the cached texts of its immutable parts.

    The text of an immutable value (a frozen dataclass instance, or a tuple, made of
    immutable parts all the way down) is cached by identity (the cache holds the object, so
    an `id` is never reused while cached); a container's text is the join of its members'
    texts, as `json.dumps` would write it. So a world that differs from the last
    one in one socket re-encodes that socket and the few records above it, not the whole
    machine. The cache is bounded: when full, its older half is dropped (recomputed if
    needed again)."""

    def __init__(self, size: int = 8192) -> None:
        self._cache: dict[int, tuple[Any, str]] = {}
        self._size = size
        self._heads: dict[type, tuple[str, tuple[tuple[str, str], ...]] | None] = {}
        self._ext: dict[type, dict[str, Any] | None] = {}
        self._mutable = False  # set while encoding anything that is not immutable

    def __call__(self, x: Any) -> str:
        tp = type(x)
        if tp is int:
            return str(x)
        if tp is str:
            return str(_ascii(x))
        if x is None:
            return "null"
        if tp is bool:
            return "true" if x else "false"
        if tp is list:
            self._mutable = True
            return "[" + ",".join([self(v) for v in x]) + "]"
        hit = self._cache.get(id(x))
        if hit is not None and hit[0] is x:
            return hit[1]
        outer = self._mutable
        self._mutable = False
        if tp is tuple:
            text = "[" + ",".join([self(v) for v in x]) + "]"
        elif tp is Code:  # the own cases of `jsonable` met on every step, written directly
            text = ('{"code":' + str(_ascii(x.name)) + ',"n":' + str(x.n) + ',"digest":"' +
                    x.digest.hex() + '"}')
        elif tp is Ok:
            text = '{"ok":' + self(x.value) + "}"
        elif tp is IPMsg:
            text = ('{"src":' + str(_ascii(ip_str(x.src))) + ',"dst":' +
                    str(_ascii(ip_str(x.dst))) + ',"body":' + self(x.body) +
                    ("" if x.ttl == IP_DEFAULT_TTL else ',"ttl":' + str(x.ttl)) +
                    (',"df":true}' if x.df else "}"))
        elif tp is UDP:
            text = ('{"udp":[' + self(x.sport) + "," + self(x.dport) + '],"data":' +
                    self(x.data) + "}")
        elif tp is bytes:
            text = '{"bytes":' + str(_ascii(x.decode("latin-1"))) + "}"
        else:
            if tp in self._heads:
                head = self._heads[tp]
            else:
                head = self._heads[tp] = self._head(tp)
                self._ext[tp] = _extension_defaults(tp)
            if head is not None:
                first, fields = head
                ext = self._ext.get(tp)
                if ext is None:
                    text = first + "".join([k + self(getattr(x, n)) for n, k in fields]) + "}"
                else:  # extension fields at their default are left out, as in `jsonable`
                    text = first + "".join([k + self(getattr(x, n)) for n, k in fields
                                            if n not in ext or getattr(x, n) != ext[n]]) + "}"
            else:
                text = dumps(jsonable(x))
                if not isinstance(x, _OWN_CASE):
                    self._mutable = True  # an unknown type: never cached
        if self._mutable:
            self._mutable = True
            return text
        self._mutable = outer
        cache = self._cache
        if len(cache) >= self._size:
            for k in list(cache)[: self._size // 2]:
                del cache[k]  # insertion order: the older half
        cache[id(x)] = (x, text)
        return text

    @staticmethod
    def _head(tp: type) -> tuple[str, tuple[tuple[str, str], ...]] | None:
        """For a frozen dataclass that `jsonable` encodes generically: the text up to the
        first field and each field's `,"name":` prefix; None for every other type."""
        if not dataclasses.is_dataclass(tp) or issubclass(tp, _OWN_CASE):
            return None
        params = getattr(tp, "__dataclass_params__", None)
        if params is None or not params.frozen:
            return None
        names = [f.name for f in dataclasses.fields(tp)]
        tag = tp.__name__
        name = getattr(tp, "name", None)
        if isinstance(name, str) and "name" not in names:
            tag = name  # LIB calls are named as in docs/model.md#the-lib
        return ('{"_":' + _ascii(tag),
                tuple((n, "," + _ascii(n) + ":") for n in names))


class StateDigest:
    """Digests of successive worlds that re-encode only the components that changed.

    The digest is a pure function of the world: BLAKE2 over the clock, the serial counter and
    the digests of each machine, the messages in flight, the schedule and the drop counts,
    each from its canonical JSON. Components a step did not touch are the very same objects
    as before, so their part is taken from the previous call (the cache holds only the parts
    of the last world, and the objects themselves, so an `id` is never reused meanwhile);
    a changed component's JSON is composed from the cached texts of its unchanged parts
    (`JsonText`).
    """

    def __init__(self) -> None:
        self._last: dict[int, tuple[Any, bytes]] = {}
        self._text = JsonText()

    def __call__(self, world: Any) -> str:
        fresh: dict[int, tuple[Any, bytes]] = {}
        h = hashlib.blake2b(f"{world.now}|{world.seq}".encode(), digest_size=8)
        for part in (*world.machines, world.net, world.schedule, world.drops):
            h.update(self._part(part, fresh))
        self._last = fresh
        return h.hexdigest()

    def _part(self, obj: Any, fresh: dict[int, tuple[Any, bytes]]) -> bytes:
        hit = self._last.get(id(obj))
        if hit is None or hit[0] is not obj:
            hit = (obj, hashlib.blake2b(self._text(obj).encode(), digest_size=16).digest())
        fresh[id(obj)] = hit
        return hit[1]


def digest(world: Any) -> str:
    """A 16-hex-digit digest of a world (see StateDigest)."""
    return StateDigest()(world)
