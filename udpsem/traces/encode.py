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

from udpsem.hosts.values import Fail, Ok, ip_str
from udpsem.network.messages import ICMP, UDP, IPMsg
from udpsem.programs.runtime import Code, Registered, Spawn, program_name


def jsonable(x: Any) -> Any:
    """A JSON-ready canonical form of a model value."""
    if x is None or isinstance(x, (bool, int, str)) and not isinstance(x, Enum):
        return x
    if isinstance(x, Enum):
        return x.value
    if isinstance(x, bytes):
        return {"bytes": x.decode("latin-1")}
    if isinstance(x, (tuple, list)):
        return [jsonable(v) for v in x]
    if isinstance(x, Ok):
        return {"ok": jsonable(x.value)}
    if isinstance(x, Fail):
        return {"fail": x.errno.value}
    if isinstance(x, IPMsg):
        return {"src": ip_str(x.src), "dst": ip_str(x.dst), "body": jsonable(x.body)}
    if isinstance(x, UDP):
        return {"udp": [x.sport, x.dport], "data": jsonable(x.data)}
    if isinstance(x, ICMP):
        return {"icmp": x.kind.value, "quote": [ip_str(x.is3), x.ps3, ip_str(x.is4), x.ps4]}
    if isinstance(x, Code):
        return {"code": x.name, "n": x.n, "digest": x.digest.hex()}
    if isinstance(x, (Registered, Spawn)):
        return {"program": program_name(x.fn)}
    if dataclasses.is_dataclass(x) and not isinstance(x, type):
        out: dict[str, Any] = {"_": type(x).__name__}
        name = getattr(type(x), "name", None)
        if isinstance(name, str) and not any(f.name == "name" for f in dataclasses.fields(x)):
            out["_"] = name  # LIB calls are named as in MODEL.md
        for f in dataclasses.fields(x):
            out[f.name] = jsonable(getattr(x, f.name))
        return out
    if isinstance(x, dict):
        return {str(k): jsonable(v) for k, v in sorted(x.items(), key=lambda kv: str(kv[0]))}
    if callable(x):
        return {"program": program_name(x)}
    if isinstance(x, range):
        return [x.start, x.stop]
    return {"repr": repr(x)}


def dumps(x: Any) -> str:
    """Compact canonical JSON text."""
    return json.dumps(x, separators=(",", ":"), ensure_ascii=True)


class StateDigest:
    """Digests of successive worlds that re-encode only the components that changed.

    The digest is a pure function of the world: BLAKE2 over the clock, the serial counter and
    the digests of each machine, the messages in flight, the schedule and the drop counts,
    each from its canonical JSON. Components a step did not touch are the very same objects
    as before, so their part is taken from the previous call; the cache holds only the parts
    of the last world (and the objects themselves, so an `id` is never reused meanwhile).
    """

    def __init__(self) -> None:
        self._last: dict[int, tuple[Any, bytes]] = {}

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
            hit = (obj, hashlib.blake2b(dumps(jsonable(obj)).encode(), digest_size=16).digest())
        fresh[id(obj)] = hit
        return hit[1]


def digest(world: Any) -> str:
    """A 16-hex-digit digest of a world (see StateDigest)."""
    return StateDigest()(world)
