"""Replaying a trace from its recorded choices alone, checking every step.

Each record's choices are fed to a scripted chooser; the step must be enabled, consume exactly
those choices, and give the recorded rule, partner, label and state digest. The first
difference is reported with its index and what differed.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable, Generator, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from udpsem.base.choice import ChoiceError, ScriptedChooser
from udpsem.base.jsonl import JsonlError, may_break_integer_limits, parse_text, read_texts
from udpsem.core.drivers import Step, step
from udpsem.programs.catalog import UnknownProgram, scenario
from udpsem.state.world import Setup, World
from udpsem.traces.encode import StateDigest
from udpsem.traces.record import (
    SourceMismatch,
    claims,
    hosts_json,
    label_json,
    rebuild,
    record_text,
)
from udpsem.traces.schema import FORMAT_VERSION, Header, Record


class TraceError(Exception):
    """A trace file that cannot be read: says what is wrong and where."""


@dataclass
class ReplayResult:
    """The outcome of a replay."""

    steps: int
    ok: bool
    divergence: str | None = None
    final_time: int = 0
    interrupted: bool = False


def read_trace(path: str | Path) -> tuple[dict[str, Any], Iterator[dict[str, Any]]]:
    """The validated header and an iterator of validated records; TraceError on bad input
    (naming the file and line). Reads plain or gzip-compressed JSON Lines."""
    p = Path(path)
    header, texts = _read_header(p)

    def records() -> Iterator[dict[str, Any]]:
        try:
            for n, text in texts:
                yield _record(p, n, text)
        except JsonlError as e:
            raise TraceError(str(e)) from None
        finally:
            texts.close()

    return header, records()


def _read_header(p: Path) -> tuple[dict[str, Any], Generator[tuple[int, str], None, None]]:
    """The validated header and the (line number, text) of the lines after it."""
    texts = read_texts(p, "trace")
    try:
        try:
            n, text = next(texts)
        except StopIteration:
            raise TraceError(f"{p}: empty trace file (expected a header line)") from None
        header = parse_text(p, n, text)
        if not isinstance(header, dict) or header.get("type") != "header":
            raise TraceError(f"{p}:{n}: the first line is not a trace header")
        if type(header.get("format")) is not int or header["format"] != FORMAT_VERSION:
            raise TraceError(f"{p}:{n}: trace format version {header.get('format')!r} is "
                             f"not supported (this udpsem reads version {FORMAT_VERSION})")
        try:
            Header.model_validate(header)
        except ValidationError as e:
            raise TraceError(f"{p}:{n}: invalid header: {_first_error(e)}") from None
    except JsonlError as e:
        texts.close()
        raise TraceError(str(e)) from None
    except TraceError:
        texts.close()
        raise
    return header, texts


def _record(p: Path, n: int, text: str) -> dict[str, Any]:
    """Line `n`, parsed and validated as a step record (TraceError naming the line)."""
    try:
        rec = parse_text(p, n, text)
    except JsonlError as e:
        raise TraceError(str(e)) from None
    if not isinstance(rec, dict):
        raise TraceError(f"{p}:{n}: not a JSON object")
    if rec.get("type") == "header":
        raise TraceError(f"{p}:{n}: a second header")
    try:
        Record.model_validate(rec)
    except ValidationError as e:
        raise TraceError(f"{p}:{n}: invalid step record: {_first_error(e)}") from None
    return rec


# The end of a record line as `record_text` writes it: its choices (each a kind and an
# integer, a boolean or a plain word) and its digest, closing the line. A line that ends so
# has these choices as its last but one member whatever comes before (a JSON string holds no
# unescaped quote), so replay takes them from here without parsing the line; it parses and
# validates the line only when its text is not the one the replayed step writes.
_TAIL = re.compile(r',"choices":\[((?:\["[a-z]+",(?:0|[1-9][0-9]*|true|false|"\w+")\],?)+)\],'
                   r'"digest":"[0-9a-f]{16}"\}\n?\Z', re.ASCII)
_CHOICE = re.compile(r'\["([a-z]+)",(?:([0-9]+)|(true|false)|"(\w+)")\]', re.ASCII)


def _tail_choices(text: str) -> list[tuple[str, Any]] | None:
    """The choices at the end of a record line as `record_text` writes one, else None."""
    m = _TAIL.match(text, max(0, text.rfind(',"choices":[')))
    if m is None:
        return None
    out: list[tuple[str, Any]] = []
    for kind, num, flag, word in _CHOICE.findall(m.group(1)):
        out.append((kind, int(num) if num else flag == "true" if flag else word))
    return out


def _first_error(e: ValidationError) -> str:
    errs = e.errors()
    # In a union, the branches whose discriminator does not match say only that; the
    # branch that does match says what is wrong.
    err = next((x for x in errs if x["type"] != "literal_error"), errs[0])
    where = ".".join(str(x) for x in err["loc"] if not (isinstance(x, str) and "[" in x))
    got = err.get("input")
    shown = ""
    if isinstance(got, (int, float, str, bool)) or got is None:
        text = json.dumps(got)
        shown = f" (got {text[:40]}{'...' if len(text) > 40 else ''})"
    msg = err["msg"]
    return f"{where}: {msg}{shown}" if where else f"{msg}{shown}"


def check_header(path: str | Path, header: dict[str, Any], setup: Setup, world: World,
                 catalogued: bool = True) -> None:
    """Every world-shaping claim of `header` against the world rebuilt from it: the program's
    parameter names (catalogued programs), the hosts and their addresses, and the digests of
    `claims` recomputed from the rebuilt objects. TraceError naming the first field that
    differs."""
    if catalogued:
        sc = scenario(header["program"])
        given, known = set(header["params"]), set(sc.defaults)
        for k in sorted(given - known):
            raise TraceError(f"{path}:1: header field params.{k}: {sc.name} has no parameter "
                             f"{k!r} (it has {', '.join(sorted(known))})")
        for k in sorted(known - given):
            raise TraceError(f"{path}:1: header field params.{k} is missing")
    rebuilt = hosts_json(world)
    claimed = header["hosts"]
    if len(claimed) != len(rebuilt):
        raise TraceError(f"{path}:1: header field hosts lists {len(claimed)} hosts but the "
                         f"world rebuilt from the header has {len(rebuilt)}")
    for i, (c, r) in enumerate(zip(claimed, rebuilt)):
        for k in ("name", "addresses"):
            if c[k] != r[k]:
                raise TraceError(f"{path}:1: header field hosts[{i}].{k} claims {c[k]} but "
                                 f"the world rebuilt from the header has {r[k]}")
    again = claims(header["program"], header["params"], dict(setup.consts), setup.timing,
                   setup.faults, world, setup.horizon)
    for k, want in header["claims"].items():
        if again[k] != want:
            what = ("the initial world (program, params, hosts or horizon)" if k == "world"
                    else f"its {k}")
            raise TraceError(f"{path}:1: header field {k!r} does not describe the world this "
                             f"trace was recorded in: {what} rebuilt from the header differs "
                             f"from the recorded one (claims.{k} digest)")


def rule_counts(paths: Sequence[str | Path]) -> Counter[str]:
    """How often each rule (and partner rule) fired over trace files, each validated as
    replay validates it (TraceError naming file and line otherwise)."""
    c: Counter[str] = Counter()
    for path in paths:
        _, records = read_trace(path)
        for rec in records:
            c[rec["rule"]] += 1
            if rec["partner"] is not None:
                c[rec["partner"]] += 1
    return c


def _short(x: Any, width: int = 48) -> str:
    text = json.dumps(x, ensure_ascii=True, separators=(",", ":"))
    return text if len(text) <= width else text[: width - 3] + "..."


def label_diff(model: Any, recorded: Any, most: int = 3) -> str:
    """The paths where two labels (as JSON) differ, with short values: `model` is what the
    replayed step gives, `recorded` what the trace says."""
    out: list[str] = []

    def walk(a: Any, b: Any, path: str) -> None:
        if len(out) > most or a == b:
            return
        if isinstance(a, dict) and isinstance(b, dict):
            for k in sorted(set(a) | set(b)):
                if k not in a or k not in b:
                    out.append(f"{path}.{k}: {'absent' if k not in a else _short(a[k])} "
                               f"(trace: {'absent' if k not in b else _short(b[k])})")
                else:
                    walk(a[k], b[k], f"{path}.{k}")
            return
        if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
            for j, (x, y) in enumerate(zip(a, b)):
                walk(x, y, f"{path}[{j}]")
            return
        out.append(f"{path}: {_short(a)} (trace: {_short(b)})")

    walk(model, recorded, "label")
    more = f" and {len(out) - most} more" if len(out) > most else ""
    return "; ".join(out[:most]) + more


def changed_parts(before: World, after: World) -> str:
    """Which parts of the world a step replaced (the only suspects when its digest differs)."""
    parts = [f"machine {m1.name}" for m0, m1 in zip(before.machines, after.machines)
             if m0 is not m1]
    names = {"net": "the messages in flight", "schedule": "the fault schedule",
             "drops": "the drop counts"}
    for name, text in names.items():
        if getattr(before, name, None) is not getattr(after, name, None):
            parts.append(text)
    if before.now != after.now:
        parts.append("the clock")
    return ", ".join(parts) or "nothing (the recorded digest is wrong)"


def _params_known(path: str | Path, header: dict[str, Any]) -> None:
    sc = scenario(header["program"])
    for k in sorted(set(header["params"]) - set(sc.defaults)):
        raise TraceError(f"{path}:1: header field params.{k}: {sc.name} has no parameter "
                         f"{k!r} (it has {', '.join(sorted(sc.defaults))})")


def replay(path: str | Path,
           rebuild_with: Callable[[dict[str, Any]], tuple[Setup, World]] | None = None,
           program: str | None = None) -> ReplayResult:
    """Re-run the trace at `path` from its choices; stops at the first divergence.

    The initial world comes from the header through the program catalog, or from
    `rebuild_with(header)` for a trace of a world built by hand (`run_world`). A trace of
    a program file needs `program`, the file (`FILE.py[:NAME]`); its source must have the
    digest the header records. Nothing the header names is imported.
    """
    p = Path(path)
    header, texts = _read_header(p)
    try:
        return _replay(p, header, texts, rebuild_with, program)
    except JsonlError as e:
        raise TraceError(str(e)) from None
    finally:
        texts.close()


def _replay(path: Path, header: dict[str, Any],
            texts: Generator[tuple[int, str], None, None],
            rebuild_with: Callable[[dict[str, Any]], tuple[Setup, World]] | None,
            program: str | None) -> ReplayResult:
    try:
        if rebuild_with is None and header.get("source") is None:
            if program is None:
                scenario(header["program"])
            _params_known(path, header)
        if rebuild_with is not None:
            setup, world = rebuild_with(header)
        else:
            setup, world = rebuild(header, program, history=False)
    except (UnknownProgram, SourceMismatch) as e:
        raise TraceError(f"{path}:1: {e}") from None
    except (KeyError, TypeError, ValueError) as e:
        raise TraceError(f"{path}:1: header does not describe a runnable setup: {e}") from None
    check_header(path, header, setup, world,
                 catalogued=rebuild_with is None and header.get("source") is None)
    digester = StateDigest()
    n = 0
    try:
        for line, text in texts:
            # The fast path: the choices read off the line's end, the step replayed, and the
            # line compared with the record the replayed step writes. Equal, the line is
            # that record (so valid, and every check below passes). Otherwise, or when the
            # line's end is not as `record_text` writes it, the line is parsed and validated
            # and the checks say what differs, exactly as without the fast path.
            fast = _tail_choices(text)
            st: Step | None = None
            if fast is not None:
                chooser = ScriptedChooser(fast)
                try:
                    st = step(setup, world, chooser)
                except ChoiceError as e:
                    rec = _record(path, line, text)
                    if rec["i"] != n:
                        return ReplayResult(n, False, f"step {n}: record has index {rec['i']}",
                                            world.now)
                    return ReplayResult(n, False, f"step {n} ({rec['rule']}): {e}", world.now)
                except Exception:
                    rec = _record(path, line, text)  # an invalid line is reported first,
                    if rec["i"] != n:  # and a wrong index, as without the fast path
                        return ReplayResult(n, False, f"step {n}: record has index {rec['i']}",
                                            world.now)
                    raise
                # (the record's numbers are integers: floats are written as strings)
                if st is not None and chooser.exhausted and text.removesuffix("\n") == \
                        record_text(n, st, digester) and not may_break_integer_limits(text):
                    world = st.transition.world
                    n += 1
                    continue
            rec = _record(path, line, text)
            i = rec["i"]
            if i != n:
                return ReplayResult(n, False, f"step {n}: record has index {i}", world.now)
            choices = [(k, v) for k, v in rec["choices"]]
            if fast is None:
                chooser = ScriptedChooser(choices)
                try:
                    st = step(setup, world, chooser)
                except ChoiceError as e:
                    return ReplayResult(n, False, f"step {n} ({rec['rule']}): {e}", world.now)
            elif fast != choices:  # (cannot be: the line ends with its choices)
                raise TraceError(f"{path}:{line}: the record's choices could not be read")
            if st is None:
                return ReplayResult(n, False, f"step {n}: the model has no transition here but "
                                    f"the trace records {rec['rule']}", world.now)
            t = st.transition
            problems = []
            if not chooser.exhausted:
                problems.append("not all recorded choices were used")
            if t.rule != rec["rule"] or t.partner != rec["partner"]:
                problems.append(f"rule {t.rule}/{t.partner} but the trace records "
                                f"{rec['rule']}/{rec['partner']}")
            lab = label_json(t.label)  # (JSON-ready already: its value went through jsonable)
            if lab != rec["label"]:
                problems.append("label differs: " + label_diff(lab, rec["label"]))
            if t.world.now != rec["t"]:
                problems.append(f"time {t.world.now} but the trace records {rec['t']}")
            if not problems and digester(t.world) != rec["digest"]:
                problems.append("the successor state differs from the recorded one (digest); "
                                "this step changed " + changed_parts(world, t.world))
            if problems:
                return ReplayResult(n, False, f"step {n} ({rec['rule']}): "
                                    + "; ".join(problems), world.now)
            world = t.world
            n += 1
    except KeyboardInterrupt:
        return ReplayResult(n, False, None, world.now, interrupted=True)
    return ReplayResult(n, True, None, world.now)
