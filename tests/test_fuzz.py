"""Fuzzing the readers and the command line (issue 10).

* **Mutated traces.** A real trace is mutated (byte flips, truncation, deleted, duplicated and
  swapped lines, changed values and types, deep nesting, huge numbers, bytes that are not
  UTF-8, gzip) and given to `udpsem replay` and `udpsem rules --coverage`. Each must end with
  exit status 0, 1 or 2 and never raise (no traceback). A mutant that replays with 0 must be
  the original trace *unchanged*, up to what is documented as not checked: a prefix of whole
  records (a shorter run is still a run), JSON layout, and the header's `seed` and `udpsem`
  fields, which do not shape the world.
* **Argument lists.** Random argument lists over the real commands and options, with values
  both good and bad (NaN, infinities, huge and negative numbers, markup-like text, unknown
  names): exit status 0, 1, 2 and never a traceback.

Counts: `ci` profile a few hundred inputs; `HYPOTHESIS_PROFILE=thorough` 10,000 traces and
2,000 argument lists. Set `UDPSEM_FUZZ_REPORT=FILE` to append the tallies as JSON.
"""

from __future__ import annotations

import contextlib
import gzip
import io
import json
import os
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from udpsem.cli import main
from udpsem.network.faults import Faults, Window
from udpsem.traces.record import run

THOROUGH = os.environ.get("HYPOTHESIS_PROFILE") == "thorough"
TRACE_EXAMPLES = 10_000 if THOROUGH else 250
ARGV_EXAMPLES = 2_000 if THOROUGH else 150
S = 1_000_000_000
TALLY: Counter[str] = Counter()


def _good_trace() -> bytes:
    buf = io.StringIO()
    run("heartbeat", {"duration_ns": 1200_000_000}, Faults(loss=0.2, dup=0.3, max_copies=3,
        disconnects=(Window("KURT", 300_000_000, 700_000_000),)), 11, trace=buf)
    return buf.getvalue().encode()


GOOD = _good_trace()
GOOD_LINES = GOOD.splitlines(keepends=True)
GOOD_OBJS = [json.loads(x) for x in GOOD_LINES]


def _call(argv: list[str]) -> int:
    """Run the CLI in this process; the exit status (any other exception is a traceback and
    fails the test)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            main(argv)
            code = 0
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else (0 if e.code is None else 2)
    assert "Traceback" not in err.getvalue(), err.getvalue()
    return code


# Mutations ----------------------------------------------------------------------------------

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner,
                                                                 max_size=3),
    max_leaves=6)


def _paths(x: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix] if prefix else []
    if isinstance(x, dict):
        for k, v in x.items():
            out.extend(_paths(v, (*prefix, k)))
    elif isinstance(x, list):
        for i, v in enumerate(x):
            out.extend(_paths(v, (*prefix, i)))
    return out


def _set(obj: Any, path: tuple[Any, ...], value: Any) -> Any:
    obj = json.loads(json.dumps(obj))
    t = obj
    for p in path[:-1]:
        t = t[p]
    t[path[-1]] = value
    return obj


def _retyped(v: Any, how: int) -> Any:
    if isinstance(v, bool):
        return [int(v), str(v).lower(), None][how % 3]
    if isinstance(v, int):
        return [str(v), float(v), v + 1, -v - 1, 2**63 + v, True][how % 6]
    if isinstance(v, float):
        return [str(v), int(v), v * 2 + 1][how % 3]
    if isinstance(v, str):
        return [v + "x", "", 7, None, v.upper() if v.upper() != v else v + "Q"][how % 5]
    if v is None:
        return [0, "", False][how % 3]
    return [None, 0, "x"][how % 3]


@st.composite
def mutants(draw: st.DrawFn) -> tuple[str, bytes]:
    kind = draw(st.sampled_from(["flip", "truncate", "delete", "duplicate", "swap", "value",
                                 "retype", "nest", "huge", "utf8", "gzip", "key"]))
    lines = list(GOOD_LINES)
    n = len(lines)
    if kind == "flip":
        data = bytearray(GOOD)
        for _ in range(draw(st.integers(1, 4))):
            i = draw(st.integers(0, len(data) - 1))
            data[i] ^= draw(st.integers(1, 255))
        return kind, bytes(data)
    if kind == "truncate":
        return kind, GOOD[: draw(st.integers(0, len(GOOD) - 1))]
    if kind == "delete":
        i = draw(st.integers(0, n - 1))
        return kind, b"".join(lines[:i] + lines[i + 1:])
    if kind == "duplicate":
        i = draw(st.integers(0, n - 1))
        return kind, b"".join(lines[: i + 1] + lines[i:])
    if kind == "swap":
        i, j = draw(st.integers(0, n - 1)), draw(st.integers(0, n - 1))
        lines[i], lines[j] = lines[j], lines[i]
        return kind, b"".join(lines)
    i = draw(st.integers(0, n - 1)) if draw(st.booleans()) else 0  # headers half the time
    obj = GOOD_OBJS[i]
    paths = _paths(obj)
    path = draw(st.sampled_from(paths))
    if kind == "value":
        new = _set(obj, path, draw(JSON_VALUES))
    elif kind == "retype":
        t = obj
        for p in path:
            t = t[p]
        new = _set(obj, path, _retyped(t, draw(st.integers(0, 5))))
    elif kind == "nest":
        depth = draw(st.sampled_from([65, 100, 900, 5000]))
        text = json.dumps(_set(obj, path, "NEST"))
        lines[i] = text.replace('"NEST"', "[" * depth + "]" * depth).encode() + b"\n"
        return kind, b"".join(lines)
    elif kind == "huge":
        digits = draw(st.sampled_from([19, 20, 400, 4301, 5000]))
        text = json.dumps(_set(obj, path, "HUGE"))
        lines[i] = text.replace('"HUGE"', "9" * digits).encode() + b"\n"
        return kind, b"".join(lines)
    elif kind == "utf8":
        raw = bytearray(lines[i])
        at = draw(st.integers(0, len(raw) - 1))
        raw[at:at] = draw(st.sampled_from([b"\xff", b"\xc3", b"\xed\xa0\x80", b"\x80\x80"]))
        lines[i] = bytes(raw)
        return kind, b"".join(lines)
    elif kind == "gzip":
        inner = draw(st.sampled_from(["whole", "cut"]))
        packed = gzip.compress(GOOD, mtime=0)
        return kind, packed if inner == "whole" else packed[: draw(st.integers(0, len(packed)))]
    else:  # key: rename a key
        *head, last = path
        if not isinstance(last, str):
            return kind, GOOD
        t = json.loads(json.dumps(obj))
        parent = t
        for p in head:
            parent = parent[p]
        parent[last + draw(st.sampled_from(["_", "x", "2"]))] = parent.pop(last)
        new = t
    lines[i] = json.dumps(new).encode() + b"\n"
    return kind, b"".join(lines)


_UNCHECKED = ("seed", "udpsem")


def _unchanged(data: bytes) -> bool:
    """The mutant says what the original says (up to a prefix of whole records, JSON layout,
    and the documented unchecked header fields)."""
    if data[:2] == b"\x1f\x8b":
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError):
            return False
    try:
        objs = [json.loads(x) for x in data.decode("utf-8").splitlines() if x.strip()]
    except (ValueError, UnicodeDecodeError):
        return False
    if not objs or len(objs) > len(GOOD_OBJS):
        return False
    head = {k: v for k, v in objs[0].items() if k not in _UNCHECKED} \
        if isinstance(objs[0], dict) else objs[0]
    good_head = {k: v for k, v in GOOD_OBJS[0].items() if k not in _UNCHECKED}
    return head == good_head and objs[1:] == GOOD_OBJS[1: len(objs)]


def _fuzz_dir() -> Path:
    import tempfile

    return Path(tempfile.mkdtemp(prefix="udpsem-fuzz-"))


DIR = _fuzz_dir()


@settings(max_examples=TRACE_EXAMPLES, deadline=None, database=None,
          suppress_health_check=list(HealthCheck))
@given(mutants())
def test_mutated_traces(m: tuple[str, bytes]) -> None:
    kind, data = m
    p = DIR / ("t.jsonl.gz" if data[:2] == b"\x1f\x8b" else "t.jsonl")
    p.write_bytes(data)
    code = _call(["replay", str(p)])
    assert code in (0, 1, 2)
    TALLY[f"replay exit {code}"] += 1
    TALLY[f"kind {kind}"] += 1
    if code == 0:
        assert _unchanged(data), f"a changed trace ({kind}) replayed with exit 0"
        TALLY["accepted unchanged"] += 1
    cov = _call(["rules", "--coverage", str(p)])
    assert cov in (0, 2)
    TALLY["inputs"] += 1


# Argument lists -----------------------------------------------------------------------------

NUMBERS = ["0", "1", "-1", "3", "0.5", "1e400", "nan", "NaN", "inf", "-inf", "1e-9",
           str(2**64), "9" * 30, "", "x", "0x10", " 1", "½"]
DURATIONS = ["1s", "500ms", "2.5s", "0s", "-1s", "1", "s", "nan s", "1e3s", "10000000000h",
             "1.0000000001s", "1 s", "∞", "2s"]
TEXTS = ["br[/]x.jsonl", "[red]a[/]", "[/]", "a[b]c", "KURT@1s-2s", "KURT@2s-1s", "ALAN@0s",
         "BOB@1s-2s", "KURT@", "@1s", "K[b]URT@1s-2s", "KURT@50s", "x" * 300, "é", "-"]
OPTIONS: dict[str, list[str]] = {
    "run": ["--seed", "--duration", "--period", "--clients", "--messages", "--loss", "--dup",
            "--max-copies", "--preset", "--disconnect", "--crash", "--trace", "--settle",
            "--json"],
    "explore": ["--horizon", "--preset", "--delays", "--max-copies", "--max-successive-drops",
                "--dpropmin", "--dpropmax", "--disconnect", "--fault-grid", "--fault-jitter",
                "--timing", "--strategy", "--seeds", "--workers", "--max-depth",
                "--max-states", "--max-seconds", "--max-memory", "--clients", "--messages",
                "--graph", "--counterexample", "--no-shrink", "--settle", "--json",
                "--all-violations"],
    "replay": ["--json"], "rules": ["--coverage"], "schema": [], "programs": [],
}
FLAGS = {"--json", "--no-shrink", "--all-violations", "--coverage"}


def _value(opt: str, draw: st.DrawFn) -> str:
    if opt in ("--duration", "--period", "--horizon", "--dpropmin", "--dpropmax",
               "--fault-jitter", "--settle"):
        return draw(st.sampled_from(DURATIONS))
    if opt in ("--trace", "--graph", "--counterexample"):
        return draw(st.sampled_from(["out.jsonl", "br[/]x.jsonl", "[red]x[/].jsonl",
                                     "nodir/x.jsonl", "out.jsonl.gz", ""]))
    if opt in ("--disconnect", "--crash"):
        return draw(st.sampled_from(TEXTS))
    if opt in ("--preset", "--timing", "--strategy"):
        return draw(st.sampled_from(["paper", "eager", "lazy", "bfs", "dfs", "random", "x"]))
    if opt == "--max-memory":
        return draw(st.sampled_from(["1MB", "2GB", "x", "0", "-1GB", "1e3GB"]))
    return draw(st.sampled_from(NUMBERS))


@st.composite
def argvs(draw: st.DrawFn) -> list[str]:
    cmd = draw(st.sampled_from([*OPTIONS, "bogus", "--help", "--version", ""]))
    if cmd in ("", "--help", "--version", "bogus"):
        return [cmd] if cmd else []
    out = [cmd]
    if cmd in ("run", "explore"):
        out.append(draw(st.sampled_from(["heartbeat", "echo", "nosuch", "[b]x"])))
    elif cmd in ("replay", "rules"):
        out.append(draw(st.sampled_from(["missing.jsonl", "good.jsonl", "[x]y", "sendto_1"])))
    for opt in draw(st.lists(st.sampled_from(OPTIONS[cmd] or ["--json"]), max_size=5)):
        out.append(opt)
        if opt not in FLAGS:
            out.append(_value(opt, draw))
    if cmd == "run" and "--duration" not in out:
        out += ["--duration", "300ms"]  # keep each input fast; values are fuzzed when given
    if cmd == "explore":
        out += ["--max-seconds", "2"]
    return out


@settings(max_examples=ARGV_EXAMPLES, deadline=None, database=None,
          suppress_health_check=list(HealthCheck))
@given(argvs())
def test_fuzzed_argument_lists(argv: list[str]) -> None:
    here = os.getcwd()
    os.chdir(DIR)
    try:
        (DIR / "good.jsonl").write_bytes(GOOD)
        for d in ("br[", "[red]x["):
            (DIR / d).mkdir(exist_ok=True)
        code = _call(argv)
    finally:
        os.chdir(here)
    assert code in (0, 1, 2), (argv, code)
    TALLY[f"argv exit {code}"] += 1
    TALLY["argv inputs"] += 1


@pytest.fixture(scope="module", autouse=True)
def _report() -> Any:
    yield
    out = os.environ.get("UDPSEM_FUZZ_REPORT")
    if out:
        with open(out, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(dict(sorted(TALLY.items()))) + "\n")
