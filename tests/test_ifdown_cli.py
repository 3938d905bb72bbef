"""`--ifdown HOST@START-END` for `udpsem explore` and `udpsem real` (as `udpsem run` has it,
tests/test_link_layer.py): a host's interfaces administratively down during a window, its
routes gone (host_ifdown, host_ifup, host_recv_ifdown)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from udpsem.base.time import MS, S
from udpsem.check import check, parse
from udpsem.network.faults import Faults, Window
from udpsem.real import netns as real_netns
from udpsem.real.net import leftover_namespaces
from udpsem.real.run import run_program
from udpsem.traces.encode import dumps


def udpsem(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "udpsem", *args], capture_output=True,
                          text=True, timeout=600, check=False)


# explore --------------------------------------------------------------------------------------

def test_explore_ifdown_of_the_sender_escapes_with_enetunreach() -> None:
    """KURT's interface down at 1 s: its next ping fails with ENETUNREACH, which the paper's
    sender does not catch (no_escape), exactly when the window starts."""
    r = udpsem("explore", "heartbeat", "--horizon", "3s", "--ifdown", "KURT@1s-2s", "--json")
    assert r.returncode == 1, r.stderr
    out = json.loads(r.stdout)
    v = out["violation"]
    assert v["property"] == "no_escape" and "ENETUNREACH" in v["message"]
    assert v["time_ns"] == 1 * S and v["ifdowns"] == ["KURT@1.000000000s-2.000000000s"]


def test_explore_ifdown_of_the_detector_breaks_theorem2_and_replays(tmp_path: Path) -> None:
    """ALAN's interface down 2 s–4 s: KURT's pings are lost on arrival, ALAN reports KURT
    down although it is up (the paper assumes the detector's link stays up). The
    counterexample names the window in its header and replays; the same without the window
    holds."""
    cx = tmp_path / "cx.jsonl"
    r = udpsem("explore", "heartbeat", "--horizon", "6s", "--ifdown", "ALAN@2s-4s",
               "--counterexample", str(cx), "--json")
    assert r.returncode == 1, r.stderr
    assert json.loads(r.stdout)["violation"]["property"] == "theorem2"
    lines = cx.read_text().splitlines()
    header = json.loads(lines[0])
    assert header["faults"]["ifdowns"] == [{"host": "ALAN", "start": 2 * S, "end": 4 * S}]
    rules = [json.loads(line).get("rule") for line in lines[1:]]
    assert "host_ifdown" in rules and "host_recv_ifdown" in rules
    rp = udpsem("replay", str(cx))
    assert rp.returncode == 0, rp.stdout + rp.stderr
    plain = udpsem("explore", "heartbeat", "--horizon", "6s", "--json")
    assert plain.returncode == 0 and json.loads(plain.stdout)["violation"] is None


@pytest.mark.parametrize("args, says", [
    (["--ifdown", "ALAN@2s"], "--ifdown"),
    (["--ifdown", "NOBODY@1s-2s"], "NOBODY"),
    (["--preset", "paper", "--ifdown", "ALAN@1s-2s"], "--ifdown ALAN"),
])
def test_explore_ifdown_bad_input(args: list[str], says: str) -> None:
    r = udpsem("explore", "heartbeat", "--horizon", "2s", *args)
    assert r.returncode == 2 and says in r.stderr and "Traceback" not in r.stderr, r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


# real -----------------------------------------------------------------------------------------

def test_real_ifdown_needs_namespaces() -> None:
    r = udpsem("real", "heartbeat", "--duration", "1s", "--ifdown", "ALAN@200ms-400ms")
    assert r.returncode == 2 and "--ifdown needs --netns" in r.stderr
    r = udpsem("real", "heartbeat", "--netns", "--ifdown", "ALAN@2s")
    assert r.returncode == 2 and "--ifdown" in r.stderr and "Traceback" not in r.stderr


# As in tests/test_real.py: a real trace is checked with 20 ms of tolerance, then 50, 100 ms,
# for a loaded 2-core machine; every label's value, order and thread is matched exactly.
TOLERANCES = (20 * MS, 50 * MS, 100 * MS)


@pytest.mark.skipif(real_netns.unavailable() is not None,
                    reason=f"network namespaces: {real_netns.unavailable()}")
def test_real_ifdown_in_namespaces_is_recorded_and_accepted() -> None:
    """ALAN's eth0 down 0.5 s–3 s (`ip link set eth0 down` in its namespace): KURT's pings
    stop arriving, ALAN's 2.5 s select times out and it reports KURT down; the trace records
    the window at the moments it really happened, and the checker finds the run in the
    model (which schedules the same window)."""
    verdicts = []
    for tol in TOLERANCES:
        run = run_program("heartbeat", {"duration_ns": 4 * S},
                          Faults(ifdowns=(Window("ALAN", 500 * MS, 3000 * MS),)), netns=True)
        assert not run.result.errors
        w = run.result.faults.ifdowns[0]
        assert w.host == "ALAN" and 500 * MS <= w.start < w.end is not None
        header = run.lines[0]
        assert header["faults"]["ifdowns"][0]["start"] == w.start
        assert [e.label.kind for e in run.result.events
                if e.label.kind in ("ifdown", "ifup")] == ["ifdown", "ifup"]
        v = check(parse([dumps(x) for x in run.lines]), tol, 20_000)
        if v.verdict == "accepted":
            break
        verdicts.append(v.as_json())
    else:
        raise AssertionError(f"no real run accepted: {verdicts}")
    assert 0 in [v for _, v in run.observer.status_changes()]
    # every namespace this process made is gone (others' runs may come and go meanwhile)
    mine = f"udpsem{os.getpid()}"
    assert [n for n in leftover_namespaces() if n.startswith(mine)] == []
