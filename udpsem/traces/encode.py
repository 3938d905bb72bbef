"""Canonical JSON encoding of model values, and state digests.

Used for trace labels and for the per-step state digest that replay compares. Everything is
encoded by structure (never by `repr` of functions or by set order), so the bytes are the
same in every process whatever PYTHONHASHSEED is.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from enum import Enum
from hashlib import blake2b
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
        self._get = self._cache.get
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
            return "[" + ",".join(self._members(x)) + "]"
        hit = self._get(id(x))
        if hit is not None and hit[0] is x:
            return hit[1]
        return self.fresh(x)

    def fresh(self, x: Any) -> str:
        """The text of `x`, not a plain leaf (int, str, None, bool) and not in the cache
        (the generated encoders call this after their own cache lookup)."""
        tp = type(x)
        outer = self._mutable
        self._mutable = False
        enc = _ENCODERS.get(tp, _UNSEEN)
        if enc is _UNSEEN:
            enc = _ENCODERS[tp] = _make_encoder(tp)
        text: str
        if enc is not None:
            text = enc(x, self, self._get)
        elif tp is list:
            self._mutable = True
            text = "[" + ",".join(self._members(x)) + "]"
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
            for old in list(cache)[: self._size // 2]:
                del cache[old]  # insertion order: the older half
        cache[id(x)] = (x, text)
        return text

    def _members(self, xs: Any) -> list[str]:
        """The texts of a sequence's members (the plain leaves written here)."""
        out: list[str] = []
        cache = self._cache
        for v in xs:
            tv = type(v)
            if tv is int:
                out.append(str(v))
            elif v is None:
                out.append("null")
            elif tv is str:
                out.append(str(_ascii(v)))
            elif tv is bool:
                out.append("true" if v else "false")
            else:
                hit = cache.get(id(v))  # (a cached member: its text, as `self` would)
                out.append(hit[1] if hit is not None and hit[0] is v else self(v))
        return out

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


_Encoder = Callable[[Any, JsonText, Callable[[int], "tuple[Any, str] | None"]], str]
_UNSEEN: Any = object()


def _tuple_text(x: Any, text: JsonText, get: Any) -> str:
    if len(x) == 1:  # most tuples of the world hold one record (an application, a socket)
        v = x[0]
        h = get(id(v))
        return f"[{h[1] if h is not None and h[0] is v else text(v)}]"
    return "[" + ",".join(text._members(x)) + "]"


def _code_text(x: Any, text: JsonText, get: Any) -> str:
    return f'{{"code":{_ascii(x.name)},"n":{x.n},"digest":"{x.digest.hex()}"}}'



def _ok_text(x: Any, text: JsonText, get: Any) -> str:
    return '{"ok":' + text(x.value) + "}"


def _ipmsg_text(x: Any, text: JsonText, get: Any) -> str:
    return ('{"src":' + str(_ascii(ip_str(x.src))) + ',"dst":' + str(_ascii(ip_str(x.dst))) +
            ',"body":' + text(x.body) +
            ("" if x.ttl == IP_DEFAULT_TTL else ',"ttl":' + str(x.ttl)) +
            (',"df":true}' if x.df else "}"))


def _udp_text(x: Any, text: JsonText, get: Any) -> str:
    return '{"udp":[' + text(x.sport) + "," + text(x.dport) + '],"data":' + text(x.data) + "}"


def _bytes_text(x: Any, text: JsonText, get: Any) -> str:
    return '{"bytes":' + str(_ascii(x.decode("latin-1"))) + "}"


# The own cases of `jsonable` met on every step, written directly; the generated encoders of
# frozen dataclass types join them as they are met (None: a type with no encoder of its own,
# written by `dumps(jsonable(x))`).
_ENCODERS: dict[type, _Encoder | None] = {
    tuple: _tuple_text, Code: _code_text, Ok: _ok_text, IPMsg: _ipmsg_text, UDP: _udp_text,
    bytes: _bytes_text}

# Field annotations whose values are plain leaves (an encoder tests those first; any other
# field's value is looked up in the cache first). Only the order of the tests depends on it.
_LEAF_TYPES = frozenset({"int", "bool", "str", "None", "FD", "TID", "IP", "Port"})


def _make_encoder(tp: type) -> _Encoder | None:
    """For a frozen dataclass type that `jsonable` encodes generically, a function
    `enc(x, text, get)` writing `x`'s JSON text: its fields in order, plain leaves written
    directly, the rest taken from the cache (`get(id(value))`) or else written by
    `text.fresh`; an extension field at its default left out (as `jsonable`). It is
    generated from the type's field list (as `base.frozen` does for `__init__`): one
    straight-line function per type, which joins the field names and texts once (a string
    concatenation per field cost as much as the rest). None for other types."""
    head = JsonText._head(tp)
    if head is None:
        return None
    first, fields = head
    ext = _extension_defaults(tp) or {}
    hints = {f.name: str(f.type) for f in dataclasses.fields(tp)}
    env: dict[str, Any] = {"_ascii": _ascii, "FIRST": first}
    body: list[str] = []
    pieces = ["FIRST"]
    for k, (n, key) in enumerate(fields):
        env[f"K{k}"] = key
        body.append(f"    v = x.{n}")
        pad = "    "
        if n in ext:  # the name too is left out at the default: `k{k}` holds it
            env[f"D{k}"] = ext[n]
            body += [f"    if v == D{k}:", f"        k{k} = p{k} = ''", "    else:",
                     f"        k{k} = K{k}"]
            pad = "        "
            pieces += [f"k{k}", f"p{k}"]
        else:
            pieces += [f"K{k}", f"p{k}"]
        leaves = ["if t is int:", f"    p{k} = str(v)",
                  "elif v is None:", f"    p{k} = 'null'",
                  "elif t is str:", f"    p{k} = _ascii(v)",
                  "elif t is bool:", f"    p{k} = 'true' if v else 'false'"]
        if {u.strip() for u in hints[n].split("|")} <= _LEAF_TYPES:
            cached = f"    p{k} = h[1] if h is not None and h[0] is v else text.fresh(v)"
            lines = ["t = type(v)", *leaves, "else:", "    h = get(id(v))", cached]
        else:
            lines = ["h = get(id(v))", "if h is not None and h[0] is v:", f"    p{k} = h[1]",
                     "else:", "    t = type(v)", *("    " + ln for ln in leaves), "    else:",
                     f"        p{k} = text.fresh(v)"]
        body += [pad + ln for ln in lines]
    src = ("def enc(x, text, get):\n" + "\n".join(body) +
           f"\n    return ''.join(({', '.join(pieces)}, '}}'))\n")
    exec(src, env)  # noqa: S102 — generated from the dataclass's own field list
    enc: _Encoder = env["enc"]
    return enc


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
        self.text = JsonText()
        """The JSON texts of values, cached (shared with `traces.record.record_text`)."""

    def __call__(self, world: Any) -> str:
        last = self._last
        fresh: dict[int, tuple[Any, bytes]] = {}
        out = [f"{world.now}|{world.seq}".encode()]
        for part in (*world.machines, world.net, world.schedule, world.drops):
            k = id(part)
            hit = last.get(k)
            if hit is None or hit[0] is not part:
                hit = (part, blake2b(self.text(part).encode(), digest_size=16).digest())
            fresh[k] = hit
            out.append(hit[1])
        self._last = fresh
        # (one BLAKE2 over the joined input: the same digest as updating it part by part)
        return blake2b(b"".join(out), digest_size=8).hexdigest()


def digest(world: Any) -> str:
    """A 16-hex-digit digest of a world (see StateDigest)."""
    return StateDigest()(world)
