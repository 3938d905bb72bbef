"""Determinism: same seed and options, byte-identical trace, in any process."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from udpsem.base.time import S
from udpsem.network.faults import Faults
from udpsem.traces.record import run

ARGS = ["run", "heartbeat", "--seed", "11", "--duration", "12s", "--loss", "0.2", "--dup",
        "0.2", "--disconnect", "KURT@3s-6s"]


def _trace_in_subprocess(tmp: Path, hashseed: str) -> bytes:
    out = tmp / f"t{hashseed}.jsonl"
    env = {**os.environ, "PYTHONHASHSEED": hashseed}
    subprocess.run([sys.executable, "-m", "udpsem", *ARGS, "--trace", str(out), "--json"],
                   check=True, env=env, capture_output=True)
    return out.read_bytes()


def test_same_trace_bytes_across_processes_and_hash_seeds(tmp_path: Path) -> None:
    a = _trace_in_subprocess(tmp_path, "0")
    b = _trace_in_subprocess(tmp_path, "12345")
    c = _trace_in_subprocess(tmp_path, "random")
    assert a == b == c
    assert a.count(b"\n") > 500


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**32), loss=st.sampled_from([0.0, 0.3]),
       dup=st.sampled_from([0.0, 0.3]))
def test_same_seed_same_trace_in_process(seed: int, loss: float, dup: float) -> None:
    traces = []
    for _ in range(2):
        buf = io.StringIO()
        run("heartbeat", {"duration_ns": 3 * S}, Faults(loss=loss, dup=dup), seed, trace=buf)
        traces.append(buf.getvalue())
    assert traces[0] == traces[1]


def test_different_seeds_differ() -> None:
    bufs = []
    for seed in (1, 2):
        buf = io.StringIO()
        run("heartbeat", {"duration_ns": 3 * S}, Faults(loss=0.2), seed, trace=buf)
        bufs.append(buf.getvalue())
    assert bufs[0] != bufs[1]
