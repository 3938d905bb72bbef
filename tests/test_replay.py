"""Replay: recorded traces re-run from their choices alone; tampering is caught."""

from __future__ import annotations

import json
from itertools import pairwise
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st_

from udpsem.base.time import S
from udpsem.network.faults import Crash, Faults, Window, apply_preset
from udpsem.traces.record import run
from udpsem.traces.replay import TraceError, replay
from udpsem.traces.schema import Header, Record

FAULTS = [
    Faults(),
    Faults(loss=0.3, dup=0.3, max_copies=4),
    apply_preset(Faults(loss=0.2, disconnects=(Window("KURT", 2 * S, 5 * S),)), "paper"),
    Faults(loss=0.1, crashes=(Crash("KURT", 4 * S),), disconnects=(Window("ALAN", 1 * S, None),)),
]


def _record(tmp: Path, faults: Faults, seed: int, duration: int = 8 * S) -> Path:
    p = tmp / f"trace{seed}.jsonl"
    with p.open("w") as fh:
        run("heartbeat", {"duration_ns": duration}, faults, seed, trace=fh)
    return p


@pytest.mark.parametrize("k", range(len(FAULTS)))
def test_replay_reproduces(tmp_path: Path, k: int) -> None:
    p = _record(tmp_path, FAULTS[k], 100 + k)
    lines = p.read_text().splitlines()
    res = replay(p)
    assert res.ok, res.divergence
    assert res.steps == len(lines) - 1 > 100


def test_records_validate_against_schema(tmp_path: Path) -> None:
    p = _record(tmp_path, FAULTS[1], 3, 2 * S)
    lines = p.read_text().splitlines()
    Header.model_validate_json(lines[0])
    for line in lines[1:]:
        Record.model_validate_json(line)


def test_prefix_of_a_trace_replays(tmp_path: Path) -> None:
    p = _record(tmp_path, FAULTS[1], 4, 2 * S)
    lines = p.read_text().splitlines(keepends=True)
    q = tmp_path / "prefix.jsonl"
    q.write_text("".join(lines[:200]))
    res = replay(q)
    assert res.ok and res.steps == 199


def test_tampered_choice_diverges_with_location(tmp_path: Path) -> None:
    p = _record(tmp_path, FAULTS[1], 5, 2 * S)
    lines = p.read_text().splitlines(keepends=True)
    for k, line in enumerate(lines[1:], start=1):
        rec = json.loads(line)
        if any(c[0] == "delay" for c in rec["choices"]):
            rec["choices"] = [[c[0], c[1] + 1 if c[0] == "delay" else c[1]]
                              for c in rec["choices"]]
            lines[k] = json.dumps(rec) + "\n"
            break
    p.write_text("".join(lines))
    res = replay(p)
    assert not res.ok
    assert res.divergence is not None and f"step {k - 1}" in res.divergence


def test_tampered_rule_diverges(tmp_path: Path) -> None:
    p = _record(tmp_path, FAULTS[0], 6, 1 * S)
    lines = p.read_text().splitlines(keepends=True)
    rec = json.loads(lines[5])
    rec["rule"] = "socket_2"
    lines[5] = json.dumps(rec) + "\n"
    p.write_text("".join(lines))
    res = replay(p)
    assert not res.ok and "step 4" in (res.divergence or "")


def test_other_schema_version(tmp_path: Path) -> None:
    p = _record(tmp_path, FAULTS[0], 7, 1 * S)
    lines = p.read_text().splitlines(keepends=True)
    head = json.loads(lines[0])
    head["format"] = 99
    lines[0] = json.dumps(head) + "\n"
    p.write_text("".join(lines))
    with pytest.raises(TraceError, match="format version 99"):
        replay(p)


def test_incremental_digest_equals_fresh_digest() -> None:
    """StateDigest's cache never changes a digest: along a run it agrees with a fresh one,
    and different successive states get different digests."""
    from udpsem.traces.encode import StateDigest, digest

    inc = StateDigest()
    seen = []

    def watch(st) -> None:  # type: ignore[no-untyped-def]
        w = st.transition.world
        d = inc(w)
        assert d == digest(w)
        seen.append(d)

    run("heartbeat", {"duration_ns": 3 * S}, FAULTS[1], 8, observers=(watch,))
    assert len(seen) > 200
    assert sum(1 for a, b in pairwise(seen) if a != b) > len(seen) // 2


def _each_step(program: str, faults: Faults, seed: int, duration: int):  # type: ignore[no-untyped-def]
    steps = []
    run(program, {"duration_ns": duration}, faults, seed, observers=(steps.append,))
    return steps


@pytest.mark.parametrize(("program", "k"), [("heartbeat", 1), ("heartbeat", 3), ("echo", 1)])
def test_record_text_is_dumps_of_record_json(program: str, k: int) -> None:
    """The record a traced run writes directly is the JSON of `record_json`, byte for byte
    (two digesters: `record_text` shares its cache with the labels)."""
    from udpsem.traces.encode import StateDigest, dumps
    from udpsem.traces.record import record_json, record_text

    a, b = StateDigest(), StateDigest()
    steps = _each_step(program, FAULTS[k], 11 + k, 3 * S)
    assert len(steps) > 200
    for i, st in enumerate(steps):
        assert record_text(i, st, a) == dumps(record_json(i, st, b))


_CHOICES = st_.one_of(
    st_.tuples(st_.sampled_from(["pick", "delay", "sock"]), st_.integers(0, 2**63 - 1)),
    st_.tuples(st_.just("time"), st_.integers(1, 2**62)),
    st_.tuples(st_.just("eph"), st_.integers(0, 65535)),
    st_.tuples(st_.just("icmp"), st_.booleans()),
    st_.tuples(st_.just("neigh"), st_.sampled_from(["hold", "cached"])),
    st_.tuples(st_.just("fate"), st_.sampled_from(["drop", "single", "dup2", "dup17"])),
    st_.tuples(st_.just("errno"), st_.sampled_from(["EAGAIN", "ECONNREFUSED", "EMSGSIZE"])))
# label values that look like a record's end, to try to mislead the reading of its choices
_DECOYS = st_.sampled_from(['],"digest":"0123456789abcdef"}', ',"choices":[["pick",7]]',
                            '"choices":[["pick",7]],"digest":"0123456789abcdef"}\n', "\\", '"'])


@settings(max_examples=200, deadline=None)
@given(st_.lists(_CHOICES, min_size=1, max_size=5), st_.lists(_DECOYS, max_size=3),
       st_.booleans())
def test_a_record_lines_choices_are_read_off_its_end(choices, decoys, newline) -> None:  # type: ignore[no-untyped-def]
    """Replay's fast path reads a record line's choices from its end without parsing the
    line: they are the choices the line's JSON holds, whatever its label's strings hold."""
    from udpsem.traces.encode import dumps
    from udpsem.traces.replay import _tail_choices

    rec = {"type": "step", "i": 3, "t": 5, "rule": "r", "partner": None,
           "label": {"kind": "console", "value": "".join(decoys),
                     "list": [{"choices": [["pick", 9]], "digest": "f" * 16}]},
           "choices": [list(c) for c in choices], "digest": "0123456789abcdef"}
    text = dumps(rec) + ("\n" if newline else "")
    assert _tail_choices(text) == [tuple(c) for c in json.loads(text)["choices"]] == choices
    # a line that does not end as `record_text` writes one is left to the full reading
    assert _tail_choices(json.dumps(rec)) is None
    rec["extra"] = 1
    assert _tail_choices(dumps(rec)) is None


def test_replay_reads_records_written_otherwise(tmp_path: Path) -> None:
    """Lines that are not byte for byte what the replayed step writes (other spacing, other
    key order) are parsed and checked in full, and replay the same."""
    p = _record(tmp_path, FAULTS[1], 12, 2 * S)
    lines = p.read_text().splitlines(keepends=True)
    out = [lines[0]]
    for k, line in enumerate(lines[1:]):
        rec = json.loads(line)
        if k % 3 == 0:
            line = json.dumps(rec) + "\n"  # ", " and ": "
        elif k % 3 == 1:
            line = json.dumps(dict(reversed(list(rec.items()))), separators=(",", ":")) + "\n"
        out.append(line)
    q = tmp_path / "reformatted.jsonl"
    q.write_text("".join(out))
    res = replay(q)
    assert res.ok and res.steps == len(lines) - 1 > 100


def test_replay_still_validates_a_record_that_ends_as_written(tmp_path: Path) -> None:
    """A record whose end is as `record_text` writes it but which is invalid elsewhere, or
    holds a duplicated key, is refused with the line named, as without the fast path."""
    p = _record(tmp_path, FAULTS[0], 13, 1 * S)
    lines = p.read_text().splitlines(keepends=True)
    for bad, why in ((lines[3].replace('"partner":null', '"partner":5', 1), "jsonl:4: invalid step record: partner"),
                     (lines[3].replace('{"type":"step",', '{"type":"step","rule":"x",', 1),
                      "jsonl:4: duplicate key 'rule'"),
                     (lines[3].replace('"i":2,', '"i":7,', 1), None)):
        q = tmp_path / "bad.jsonl"
        q.write_text("".join([*lines[:3], bad, *lines[4:]]))
        if why is None:  # a valid record with another index: a divergence, not an error
            res = replay(q)
            assert not res.ok and res.divergence == "step 2: record has index 7"
            continue
        with pytest.raises(TraceError, match=why):
            replay(q)
