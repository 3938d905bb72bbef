"""The check of the trace checker (issue 13, item 6).

Model traces of every catalogued program, with their choices stripped, are accepted; each of
a set of single mutations is rejected at the record it touched; an acceptance comes with a
model run that replays. Real runs are checked in tests/test_real.py.
"""

from __future__ import annotations

import io
import json
from typing import Any

import pytest

from udpsem.base.time import MS, S
from udpsem.check import build, check, parse, witness_lines
from udpsem.network.faults import Faults, Window
from udpsem.traces.encode import dumps
from udpsem.traces.record import run
from udpsem.traces.replay import replay

# (program, params, faults, seed): small runs of every program, with faults.
CASES = [
    ("heartbeat", {"duration_ns": 4 * S}, Faults(), 1),
    ("heartbeat", {"duration_ns": 5 * S}, Faults(loss=0.2, dup=0.2,
                                                 disconnects=(Window("KURT", 2 * S, 3 * S),)),
     2),
    ("echo", {"duration_ns": 3 * S, "clients": 1, "messages": 3}, Faults(), 3),
    ("echo", {"duration_ns": 3 * S, "clients": 2, "messages": 3}, Faults(), 4),
    ("echo", {"duration_ns": 3 * S, "clients": 1, "messages": 3}, Faults(loss=0.1, dup=0.1), 5),
]


def model_trace(program: str, params: dict[str, int], faults: Faults, seed: int) -> list[str]:
    buf = io.StringIO()
    run(program, params, faults, seed, trace=buf)
    return buf.getvalue().splitlines()


@pytest.fixture(scope="module")
def traces() -> dict[int, list[str]]:
    return {k: model_trace(*c) for k, c in enumerate(CASES)}


@pytest.mark.parametrize("k", range(len(CASES)), ids=[f"{c[0]}-{c[3]}" for c in CASES])
def test_stripped_model_traces_are_accepted(traces: dict[int, list[str]], k: int,
                                            tmp_path: Any) -> None:
    tr = parse(traces[k])
    assert tr.observations and not tr.real
    v = check(tr, max_nodes=50_000)
    assert v.verdict == "accepted", v.as_json()
    assert v.matched == len(tr.observations)
    # The run found is an ordinary trace that replays step by step.
    w = tmp_path / "witness.jsonl"
    w.write_text("".join(dumps(x) + "\n" for x in witness_lines(tr, v)))
    r = replay(w, rebuild_with=build)
    assert r.ok, r.divergence
    assert r.steps == len(v.steps)


def _records(lines: list[str]) -> list[dict[str, Any]]:
    return [json.loads(x) for x in lines[1:]]


def _mutated(lines: list[str], recs: list[dict[str, Any]]) -> list[str]:
    return [lines[0], *(json.dumps(r) for r in recs)]


def _first(recs: list[dict[str, Any]], pred: Any, after: int = 1 * S) -> dict[str, Any]:
    return next(r for r in recs if r["t"] > after and pred(r["label"]))


def _rejected_at(lines: list[str], record: int) -> dict[str, Any]:
    v = check(parse(lines), max_nodes=50_000)
    out = v.as_json()
    assert v.verdict == "rejected", out
    assert v.stuck is not None and v.stuck.i == record, out
    assert v.rejects, out  # the candidates tried, each with its reason
    return out


def test_changed_return_value_is_rejected_there(traces: dict[int, list[str]]) -> None:
    lines = traces[0]
    recs = _records(lines)
    r = _first(recs, lambda lab: lab["kind"] == "storeret" and lab.get("host") == "ALAN"
               and lab.get("tid") == 0 and lab.get("value") in (0, 1))
    r["label"]["value"] = 1 - r["label"]["value"]
    out = _rejected_at(_mutated(lines, recs), r["i"])
    assert any("the trace has storeret" in c["reason"] for c in out["candidates"])


def test_changed_recvfrom_result_is_rejected_there(traces: dict[int, list[str]]) -> None:
    lines = traces[2]
    recs = _records(lines)
    r = _first(recs, lambda lab: lab["kind"] == "return" and isinstance(lab.get("value"), dict)
               and isinstance(lab["value"].get("ok"), list) and len(lab["value"]["ok"]) == 3,
               after=0)
    r["label"]["value"]["ok"][1] += 1  # the source port
    _rejected_at(_mutated(lines, recs), r["i"])


def test_calls_swapped_across_threads_are_rejected(traces: dict[int, list[str]]) -> None:
    lines = traces[0]
    recs = _records(lines)
    a = _first(recs, lambda lab: lab["kind"] == "call" and lab.get("host") == "KURT")
    b = _first(recs, lambda lab: lab["kind"] == "call" and lab.get("host") == "ALAN"
               and lab.get("tid") == 1, after=a["t"])
    a["label"], b["label"] = b["label"], a["label"]
    _rejected_at(_mutated(lines, recs), a["i"])


def test_datagram_never_sent_is_rejected(traces: dict[int, list[str]]) -> None:
    lines = traces[0]
    recs = _records(lines)
    sent = _first(recs, lambda lab: lab["kind"] == "send")
    fake = json.loads(json.dumps(sent))
    fake["t"] = sent["t"] + 500 * MS  # KURT sends once a second: nothing was sent then
    fake["i"] = max(r["i"] for r in recs) + 1
    at = next(k for k, r in enumerate(recs) if r["t"] > fake["t"])
    recs.insert(at, fake)
    _rejected_at(_mutated(lines, recs), fake["i"])


def test_time_outside_tolerance_is_rejected(traces: dict[int, list[str]]) -> None:
    lines = traces[0]
    recs = _records(lines)
    r = _first(recs, lambda lab: lab["kind"] == "modcall" and lab.get("host") == "ALAN")
    r["t"] += 10 * MS  # the tolerance is 2 ms
    out = _rejected_at(_mutated(lines, recs), r["i"])
    assert any("tolerance" in c["reason"] or "due by" in c["reason"]
               for c in out["candidates"]), out


def test_a_mutation_within_tolerance_is_still_accepted(traces: dict[int, list[str]]) -> None:
    lines = traces[0]
    recs = _records(lines)
    r = _first(recs, lambda lab: lab["kind"] == "modcall" and lab.get("host") == "ALAN")
    r["t"] += 1 * MS
    assert check(parse(_mutated(lines, recs)), max_nodes=50_000).verdict == "accepted"


def _cli(*args: str) -> Any:
    import subprocess
    import sys

    return subprocess.run([sys.executable, "-m", "udpsem", "check", *args],
                          capture_output=True, text=True, timeout=120, check=False)


def test_check_command_exit_codes(traces: dict[int, list[str]], tmp_path: Any) -> None:
    good = tmp_path / "good.jsonl"
    good.write_text("\n".join(traces[0]) + "\n")
    r = _cli(str(good), "--json", "--witness", str(tmp_path / "w.jsonl"))
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["verdict"] == "accepted" and out["matched"] == out["observations"]
    assert replay(tmp_path / "w.jsonl", rebuild_with=build).ok
    recs = _records(traces[0])
    m = _first(recs, lambda lab: lab["kind"] == "storeret" and lab.get("host") == "ALAN"
               and lab.get("tid") == 0 and lab.get("value") in (0, 1))
    m["label"]["value"] = 1 - m["label"]["value"]
    bad = tmp_path / "bad.jsonl"
    bad.write_text("\n".join(_mutated(traces[0], recs)) + "\n")
    r = _cli(str(bad))
    assert r.returncode == 1
    assert f"first step no rule explains: record {m['i']}" in r.stdout
    for text in ("", "not json\n", '{"type":"header","format":99}\n'):
        junk = tmp_path / "junk.jsonl"
        junk.write_text(text)
        r = _cli(str(junk))
        assert r.returncode == 2 and "Traceback" not in r.stderr and r.stderr.count("\n") == 1
    r = _cli(str(good), "--tolerance", "fast")
    assert r.returncode == 2 and "--tolerance" in r.stderr


def test_check_prints_progress_lines(traces: dict[int, list[str]], tmp_path: Any) -> None:
    import os
    import subprocess
    import sys

    good = tmp_path / "good.jsonl"
    good.write_text("\n".join(traces[3]) + "\n")
    # A progress line at most every 1 µs: one per 256 states searched (echo with 2 clients
    # takes over a thousand), each naming how far the search got.
    r = subprocess.run([sys.executable, "-m", "udpsem", "check", str(good)],
                       capture_output=True, text=True, timeout=120, check=False,
                       env={**os.environ, "UDPSEM_PROGRESS_SECONDS": "0.000001"})
    assert r.returncode == 0, r.stderr
    lines = [x for x in r.stderr.splitlines() if x.startswith("udpsem check: ")]
    assert lines and all("labels explained so far" in x for x in lines), r.stderr


# Real traces of `echo` (2 clients x 3 strings, --netns) recorded on a loaded 2-core machine,
# in which a thread stalled between recording a call and entering the kernel, so the system
# call took effect well after its recorded call (still within 20 ms). Before the checker aimed
# such calls where the trace shows their effect (Checker.aim), the first and the last three
# were left undecided at 20,000 states (as CI's runs were) and the second was even rejected.
# The budget is the one tests/test_real.py uses: an accepted echo run of this size takes about
# 2,000 states, a tenth of it.
STALLED = {
    # SERVER/1's non-blocking recvfrom, recorded before C2 sent the datagram it returned
    "echo_netns_recvfrom_stall.jsonl.gz": 417,
    "echo_netns_recvfrom_stall_rejected.jsonl.gz": 102,  # the same at C2/1
    # SERVER's bind of port 7000, recorded before C2's first INIT arrived and found no socket
    "echo_netns_bind_stall.jsonl.gz": 29,
    # SERVER/4's sendto to its own socket, recorded before SERVER/3's, sent after it
    "echo_netns_sendto_stall.jsonl.gz": 553,
}


def _stalled(name: str) -> list[str]:
    import gzip
    from pathlib import Path

    path = Path(__file__).parent / "data" / "real" / name
    return gzip.decompress(path.read_bytes()).decode().splitlines()


@pytest.mark.parametrize("name", sorted(STALLED))
def test_real_traces_with_stalled_system_calls_are_accepted(name: str) -> None:
    from udpsem.check.search import Checker

    tr = parse(_stalled(name))
    assert tr.real
    setup, world = build(tr.header)
    c = Checker(setup, world, tr.observations, tr.observed, 20 * MS, tr.end, 20_000,
                anchor_timers=True)
    call = next(o for o in tr.observations if o.i == STALLED[name])
    assert call.label["kind"] == "call"
    # The stalled call is aimed later than recorded, within the tolerance.
    assert call.t < c.aim[call.i] <= call.t + 20 * MS
    v = c.run()
    assert v.verdict == "accepted", v.as_json()
