"""Reading JSON Lines files defensively: every problem is a `JsonlError` naming file and line.

Used for trace files (replay, `rules --coverage`, `check`). What it guards against:

* compressed input: gzip (read transparently), bzip2, xz, zstd, zip (named, not read);
* bytes that are not UTF-8 (the offset of the first bad byte is given);
* a line longer than `MAX_LINE` bytes (read in bounded pieces, never whole);
* JSON that is not strict: `NaN`, `Infinity`, a duplicated object key;
* nesting deeper than `MAX_DEPTH`, integers outside the signed 64-bit range, integers with
  more digits than Python parses (4300), and floats that are not finite.

A line that does not end with a newline is "truncated" when it is not complete JSON.
"""

from __future__ import annotations

import gzip
import io
import json
import math
import re
import zlib
from collections.abc import Generator
from pathlib import Path
from typing import IO, Any, TextIO

MAX_LINE = 8 << 20
"""Longest line read (bytes): far above a real trace line (a 64 KiB datagram in a label is
about 400 KiB escaped), far below what would exhaust memory."""

MAX_DEPTH = 64
"""Deepest nesting of arrays and objects: real trace lines nest at most about 10 deep."""

INT_MIN, INT_MAX = -(1 << 63), (1 << 63) - 1
"""Integers in a trace are times, counts, ports and indices: signed 64-bit at most."""

_MAGIC = ((b"\x1f\x8b", "gzip"), (b"BZh", "bzip2"), (b"\xfd7zXZ\x00", "xz"),
          (b"\x28\xb5\x2f\xfd", "zstd"), (b"PK\x03\x04", "zip"))


class JsonlError(ValueError):
    """A JSON Lines file that cannot be read: the message names the file and line."""


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _strict_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out = dict(pairs)
    if len(out) != len(pairs):
        seen: set[str] = set()
        for k, _ in pairs:
            if k in seen:
                raise ValueError(f"duplicate key {k!r}")
            seen.add(k)
    return out


_DECODER = json.JSONDecoder(parse_constant=_reject_constant, object_pairs_hook=_strict_pairs)


def check_value(obj: Any) -> str | None:
    """Why `obj` (parsed JSON) breaks the limits above, or None."""
    stack: list[tuple[Any, int]] = [(obj, 1)]
    while stack:
        x, d = stack.pop()
        if isinstance(x, bool) or x is None or isinstance(x, str):
            continue
        if isinstance(x, int):
            if not INT_MIN <= x <= INT_MAX:
                return f"integer {str(x)[:20]}... is outside the signed 64-bit range" \
                    if len(str(x)) > 20 else f"integer {x} is outside the signed 64-bit range"
            continue
        if isinstance(x, float):
            if not math.isfinite(x):
                return "a number is not finite"
            continue
        if d > MAX_DEPTH:
            return f"nested deeper than {MAX_DEPTH} levels"
        if isinstance(x, list):
            stack.extend((v, d + 1) for v in x)
        elif isinstance(x, dict):
            stack.extend((v, d + 1) for v in x.values())
    return None


# What a line must contain for its value to break a limit: an integer outside the signed
# 64-bit range is a run of more than 19 digits, or of 19 digits above 9223372036854775807; a
# float that parses to an infinity has an exponent of at least 3 digits or at least 309
# digits; nesting deeper than MAX_DEPTH needs more than MAX_DEPTH opening brackets. The text
# of strings counts too, so a line without any of these cannot break a limit (its parsed
# value need not be walked); a line with one is walked. (Times near NEVER, 2**62, have 19
# digits below the bound: the common case is decided by the comparison.)
_EXPONENT = re.compile(r"[eE][-+]?\d{3}")
_LONG_DIGITS = re.compile(r"\d{19,}")
_INT_MAX_DIGITS = str(INT_MAX)


def may_break_limits(text: str) -> bool:
    """Whether `text` could hold a value that breaks a limit (if not, its parsed value
    need not be walked by `check_value`)."""
    return _EXPONENT.search(text) is not None or may_break_integer_limits(text)


def may_break_integer_limits(text: str) -> bool:
    """`may_break_limits` for a text whose numbers are all integers (no fraction, no
    exponent: then no float can be infinite): too deep, or an integer out of range."""
    if text.count("[") + text.count("{") > MAX_DEPTH:
        return True
    for run in _LONG_DIGITS.findall(text):
        if len(run) > 19 or run > _INT_MAX_DIGITS:
            return True
    return False


def parse_line(text: str) -> Any:
    """One strict JSON value (ValueError with a one-line reason)."""
    try:
        obj = _DECODER.decode(text)
    except json.JSONDecodeError as e:
        raise ValueError(f"not JSON ({e.msg} at column {e.colno})") from None
    except RecursionError:
        raise ValueError(f"nested deeper than {MAX_DEPTH} levels") from None
    except ValueError as e:  # NaN/Infinity, duplicate keys, an integer of > 4300 digits
        msg = str(e)
        if "integer string conversion" in msg or "digits" in msg:
            msg = "an integer has too many digits"
        raise ValueError(msg) from None
    why = check_value(obj) if may_break_limits(text) else None
    if why is not None:
        raise ValueError(why)
    return obj


def _open(path: Path) -> IO[bytes]:
    try:
        raw = path.open("rb")
    except OSError as e:
        raise JsonlError(f"{path}: cannot read: {e.strerror or e}") from None
    head = raw.read(8)
    raw.seek(0)
    for magic, name in _MAGIC:
        if head.startswith(magic):
            if name == "gzip":
                return gzip.GzipFile(fileobj=raw, mode="rb")  # type: ignore[return-value]
            raw.close()
            raise JsonlError(f"{path}: {name}-compressed input: decompress it first "
                             f"(gzip, .jsonl.gz, is read directly)")
    return raw


def read_texts(path: str | Path, what: str = "file") -> Generator[tuple[int, str], None, None]:
    """(line number, text) for every non-blank line of `path`, not yet parsed (`parse_text`
    parses one as `read_lines` does); JsonlError on a line too long, not UTF-8 or in corrupt
    gzip data, naming `path` and the line. The file is closed when the iterator is."""
    p = Path(path)
    fh = _open(p)
    offset = 0
    n = 0
    try:
        while True:
            try:
                raw = fh.readline(MAX_LINE + 1)
            except (OSError, EOFError, zlib.error, gzip.BadGzipFile) as e:
                raise JsonlError(f"{p}:{n + 1}: corrupt gzip data: {e}") from None
            if not raw:
                return
            n += 1
            if len(raw) > MAX_LINE:
                raise JsonlError(f"{p}:{n}: line longer than {MAX_LINE} bytes")
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as e:
                raise JsonlError(f"{p}:{n}: not UTF-8 text (byte 0x{raw[e.start]:02x} at "
                                 f"offset {offset + e.start} of the {what})") from None
            offset += len(raw)
            if not text.strip():
                continue
            yield n, text
    finally:
        fh.close()


def parse_text(path: str | Path, n: int, text: str) -> Any:
    """Line `n` of `path` (from `read_texts`) parsed strictly; JsonlError naming the line."""
    try:
        return parse_line(text)
    except ValueError as e:
        if not text.endswith("\n") and str(e).startswith("not JSON"):
            raise JsonlError(f"{path}:{n}: truncated line (it ends mid-JSON)") from None
        raise JsonlError(f"{path}:{n}: {e}") from None


def read_lines(path: str | Path, what: str = "file") -> Generator[tuple[int, Any], None, None]:
    """(line number, parsed JSON value) for every non-blank line of `path`; JsonlError on
    anything wrong, naming `path` and the line. The file is closed when the iterator is."""
    p = Path(path)
    texts = read_texts(p, what)
    try:
        for n, text in texts:
            yield n, parse_text(p, n, text)
    finally:
        texts.close()


def open_text_for_writing(path: str | Path) -> TextIO:
    """A text file for writing JSON Lines: gzip-compressed when the name ends in `.gz`."""
    p = Path(path)
    if p.name.endswith(".gz"):
        return io.TextIOWrapper(gzip.GzipFile(p, mode="wb", mtime=0), encoding="utf-8",
                                newline="\n")
    return p.open("w", encoding="utf-8", newline="\n")


__all__ = ["MAX_DEPTH", "MAX_LINE", "JsonlError", "check_value", "may_break_integer_limits",
           "may_break_limits",
           "open_text_for_writing", "parse_line", "parse_text", "read_lines", "read_texts"]
