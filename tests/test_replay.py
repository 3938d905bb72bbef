"""Replay: recorded traces re-run from their choices alone; tampering is caught."""

from __future__ import annotations

import json
from itertools import pairwise
from pathlib import Path

import pytest

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
