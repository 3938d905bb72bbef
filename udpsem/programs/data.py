"""What may enter a world as a value: data, encoded by structure.

Arguments of threads and module calls, module results, stored values and `create` arguments
become part of the model state, its digests and its traces. They must therefore be *data*:
`None`, `bool`, `int`, `float`, `str`, `bytes`, tuples, lists, dicts, sets and frozensets of
data, dataclass instances whose fields are data, and enum members. Their canonical encoding
(`canonical`) is by structure only, so it is the same in every process whatever
PYTHONHASHSEED is and never contains a memory address. Anything else (a plain object, a
function, an open file, a generator) is rejected with `not_data`, which names where in the
value the offending part sits and its type.
"""

from __future__ import annotations

import dataclasses
import json
from enum import Enum
from typing import Any

ALLOWED = ("None, bool, int, float, str, bytes, tuple, list, dict, set, frozenset, "
           "a dataclass of those, an enum member")


def not_data(x: Any, path: str = "") -> str | None:
    """None if `x` is data; else a description of the first part that is not, e.g.
    `a Foo object at [1].conf` (the path is empty for `x` itself)."""
    seen: set[int] = set()
    return _not_data(x, path, seen)


def _not_data(x: Any, path: str, seen: set[int]) -> str | None:
    if x is None or isinstance(x, (bool, int, float, str, bytes, Enum)):
        return None
    if isinstance(x, (tuple, list, dict, set, frozenset)) or (
            dataclasses.is_dataclass(x) and not isinstance(x, type)):
        if id(x) in seen:
            return f"a cycle at {path or 'the value itself'}"
        seen.add(id(x))
        try:
            if isinstance(x, (tuple, list)):
                for k, v in enumerate(x):
                    bad = _not_data(v, f"{path}[{k}]", seen)
                    if bad:
                        return bad
            elif isinstance(x, dict):
                for key, v in x.items():  # not `k` (an int above): compiled, one type
                    bad = _not_data(key, f"{path} (a key)", seen) or \
                        _not_data(v, f"{path}[{key!r}]", seen)
                    if bad:
                        return bad
            elif isinstance(x, (set, frozenset)):
                for v in x:
                    bad = _not_data(v, f"{path} (a member)", seen)
                    if bad:
                        return bad
            else:
                for f in dataclasses.fields(x):
                    bad = _not_data(getattr(x, f.name), f"{path}.{f.name}", seen)
                    if bad:
                        return bad
        finally:
            seen.discard(id(x))
        return None
    where = f" at {path}" if path else ""
    return f"{article(type(x).__name__)} object{where}"


def article(word: str) -> str:
    """`a word` or `an word`."""
    return f"{'an' if word[:1].lower() in 'aeiou' else 'a'} {word}"


def canonical(x: Any) -> Any:
    """The JSON-ready structural encoding of a data value (TypeError for anything else).

    Types are tagged where JSON would confuse them (tuples and lists, bytes and str, floats);
    dict items and set members are sorted by their encoding; dataclasses are encoded by
    their type's name and fields, enums by their type's name and member name."""
    if x is None or isinstance(x, (bool, str)) and not isinstance(x, Enum):
        return x
    if isinstance(x, int) and not isinstance(x, Enum):
        return x
    if isinstance(x, Enum):
        return {"enum": type(x).__name__, "name": x.name}
    if isinstance(x, float):
        return {"float": repr(x)}
    if isinstance(x, bytes):
        return {"bytes": x.hex()}
    if isinstance(x, tuple):
        return {"tuple": [canonical(v) for v in x]}
    if isinstance(x, list):
        return [canonical(v) for v in x]
    if isinstance(x, dict):
        items = sorted(([canonical(k), canonical(v)] for k, v in x.items()), key=_text)
        return {"dict": items}
    if isinstance(x, (set, frozenset)):
        return {"set": sorted((canonical(v) for v in x), key=_text)}
    if dataclasses.is_dataclass(x) and not isinstance(x, type):
        return {"dataclass": type(x).__name__,
                "fields": [[f.name, canonical(getattr(x, f.name))] for f in dataclasses.fields(x)]}
    raise TypeError(f"not data: a {type(x).__name__} object")


def _text(x: Any) -> str:
    return json.dumps(x, sort_keys=True, separators=(",", ":"))


_ascii = json.encoder.encode_basestring_ascii  # what json.dumps writes for a str
_FIELD_NAMES: dict[type, tuple[str, ...]] = {}


def canonical_text(x: Any) -> str:
    """`_text(canonical(x))`, written directly (no intermediate structure): the answer of
    every LIB call goes through here, once per thread step. Dicts and sets, whose items are
    sorted by their text, take the general way."""
    tp = type(x)
    if x is None:
        return "null"
    if tp is bool:
        return "true" if x else "false"
    if tp is int:
        return str(x)
    if tp is str:
        return str(_ascii(x))
    if tp is tuple:
        return '{"tuple":[' + ",".join([canonical_text(v) for v in x]) + "]}"
    if tp is list:
        return "[" + ",".join([canonical_text(v) for v in x]) + "]"
    if tp is bytes:
        return '{"bytes":"' + bytes(x).hex() + '"}'
    if isinstance(x, Enum):
        return '{"enum":' + str(_ascii(tp.__name__)) + ',"name":' + str(_ascii(x.name)) + "}"
    if dataclasses.is_dataclass(x) and not isinstance(x, type):
        names = _FIELD_NAMES.get(tp)
        if names is None:
            names = _FIELD_NAMES[tp] = tuple(f.name for f in dataclasses.fields(x))
        return ('{"dataclass":' + str(_ascii(tp.__name__)) + ',"fields":[' +
                ",".join(["[" + str(_ascii(n)) + "," + canonical_text(getattr(x, n)) + "]"
                          for n in names]) + "]}")
    return _text(canonical(x))


def canonical_bytes(x: Any) -> bytes:
    """`canonical(x)` as compact JSON bytes."""
    return canonical_text(x).encode()
