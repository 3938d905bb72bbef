"""The echo example (docs/sessions.md#echo) in the model: the scenario, its CLI, replay, and the
known limitations of B.9 shown on recorded traces."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from udpsem.base.time import MS, S
from udpsem.network.faults import Crash, Faults
from udpsem.programs.echo import EchoObserver, message
from udpsem.traces.record import run
from udpsem.traces.replay import replay


def _udpsem(*args: str, hashseed: str = "0") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONHASHSEED": hashseed}
    return subprocess.run([sys.executable, "-m", "udpsem", *args], capture_output=True,
                          text=True, env=env, timeout=120, check=False)


def _sends(trace: Path, host: str) -> list[tuple[int, bytes]]:
    """(time, payload) of every datagram `host` put on the network."""
    out = []
    for line in trace.read_text().splitlines()[1:]:
        rec = json.loads(line)
        lab = rec["label"]
        if lab["kind"] == "send" and lab.get("host") == host and "udp" in lab["value"]["body"]:
            out.append((rec["t"], lab["value"]["body"]["data"]["bytes"].encode("latin-1")))
    return out


def test_strings_have_unique_lengths() -> None:
    lengths = [len(message(i, k, 3)) for i in (1, 2, 3) for k in range(20)]
    assert len(set(lengths)) == len(lengths)
    assert message(2, 5, 3).startswith("c2.5.")


def test_echo_command_lossy_dup_every_reply_correct() -> None:
    """The acceptance command: every reply correct, in order, exactly once, per client."""
    p = _udpsem("run", "echo", "--clients", "3", "--messages", "20", "--loss", "0.3", "--dup",
                "0.2", "--seed", "1", "--json")
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    assert out["violations"] == []
    assert len(out["clients"]) == 3
    addresses = {c["address"] for c in out["clients"]}
    assert len(addresses) == 3
    for c in out["clients"]:
        assert c["sent"] == c["received"] == c["correct"] == 20, c
        assert c["in_order"] and c["duplicates"] == 0
        assert c["connect_ns"] is not None and c["finish_ns"] is not None
    assert out["rules_fired"]["net_accept_drop"] > 0 and out["rules_fired"]["net_accept_dup"] > 0


def test_echo_readable_output_has_the_client_table() -> None:
    p = _udpsem("run", "echo", "--clients", "2", "--messages", "3", "--seed", "2")
    assert p.returncode == 0, p.stderr
    assert "echo: 2 clients, 3 strings each" in p.stdout
    assert "0 guarantee violations" in p.stdout
    assert "10.0.0.12:5000" in p.stdout
    assert "get_status" not in p.stdout  # the timeline names only the heartbeat's returns


def test_echo_bad_parameters_are_user_errors() -> None:
    p = _udpsem("run", "echo", "--period", "1s")
    assert p.returncode == 2 and "does not apply to echo" in p.stderr
    p = _udpsem("run", "echo", "--crash", "NOBODY@1s")
    assert p.returncode == 2 and "unknown host 'NOBODY'" in p.stderr


def test_echo_reaches_quiescence_after_the_last_reply() -> None:
    """No polling: once every reply is in and acknowledged, the run jumps to the horizon."""
    res = run("echo", {"clients": 2, "messages": 4, "duration_ns": 3600 * S}, Faults(), seed=5)
    obs: EchoObserver = res.observer
    rows = obs.rows()
    assert all(r["finish_ns"] is not None for r in rows)
    assert res.final is not None and res.final.now == 3600 * S
    assert res.transitions < 3000  # an hour of virtual time, but nothing happens after the end


def test_echo_trace_replays_in_a_fresh_process(tmp_path: Path) -> None:
    trace = tmp_path / "echo.jsonl"
    p = _udpsem("run", "echo", "--clients", "2", "--messages", "4", "--loss", "0.3", "--dup",
                "0.3", "--seed", "7", "--duration", "40s", "--trace", str(trace), "--json",
                hashseed="1")
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["violations"] == []
    r = _udpsem("replay", str(trace), "--json", hashseed="12345")
    assert r.returncode == 0, r.stdout + r.stderr
    out = json.loads(r.stdout)
    assert out["ok"] and out["steps"] == len(trace.read_text().splitlines()) - 1


def test_echo_same_seed_same_trace(tmp_path: Path) -> None:
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    for path, hs in ((a, "3"), (b, "99")):
        p = _udpsem("run", "echo", "--messages", "3", "--loss", "0.2", "--seed", "11",
                    "--duration", "20s", "--trace", str(path), "--json", hashseed=hs)
        assert p.returncode == 0, p.stderr
    assert a.read_bytes() == b.read_bytes()


# B.9: known limitations, shown --------------------------------------------------------------


def test_b9_client_restarted_on_the_same_address_never_connects(tmp_path: Path) -> None:
    """C1 finishes its session, then a second incarnation binds the same address and calls
    connect: the server's table says Connected, so its INITs are ignored and it re-sends INIT
    once a second until the end of the run. The trace replays exactly."""
    trace = tmp_path / "restart.jsonl"
    with trace.open("w") as fh:
        res = run("echo", {"clients": 2, "messages": 2, "restart": 1, "duration_ns": 30 * S},
                  Faults(), seed=3, trace=fh)
    obs: EchoObserver = res.observer
    c1, c2 = obs.rows()
    assert c1["finish_ns"] is not None and c1["correct"] == 2
    assert c1["reconnect_ns"] is None  # the restarted client never connects
    assert c2["finish_ns"] is not None and "reconnect_ns" not in c2
    assert obs.violations() == []
    assert len(obs.monitor.servers) == 2  # no second session for C1's address
    inits = [t for t, data in _sends(trace, "C1") if data == b"L_4_INIT0"]
    restarted = [t for t in inits if t > c1["finish_ns"]]
    assert len(restarted) >= 25  # one a second from the restart to the 30 s horizon
    assert restarted[-1] > 29 * S
    r = _udpsem("replay", str(trace), "--json")
    assert r.returncode == 0 and json.loads(r.stdout)["ok"], r.stdout + r.stderr


def test_b9_dead_peer_is_never_detected(tmp_path: Path) -> None:
    """The server crashes mid-run: the client's recv never fails and it retransmits its DATA
    every 0.35 s until the horizon, into a network where nobody owns the address."""
    trace = tmp_path / "crash.jsonl"
    with trace.open("w") as fh:
        res = run("echo", {"clients": 1, "messages": 50, "duration_ns": 20 * S},
                  Faults(crashes=(Crash("SERVER", 2 * S),)), seed=1, trace=fh)
    obs: EchoObserver = res.observer
    (c1,) = obs.rows()
    assert c1["connect_ns"] is not None and c1["finish_ns"] is None
    assert 0 < c1["received"] < 50
    assert obs.violations() == []  # no exception, no error: it just waits
    data = [t for t, d in _sends(trace, "C1") if d.startswith(b"R_R_") and t > 2 * S]
    assert len(data) >= 40  # ~18 s / 0.35 s rounds
    assert data[-1] > 19 * S
    assert res.rules_fired["net_emit_outside"] >= 40
    assert replay(trace).ok


def test_b9_client_crash_server_retransmits_forever(tmp_path: Path) -> None:
    """A client crashes with replies still unacknowledged (window of 8): the server's session
    retransmits them forever; nothing tells it the peer is gone."""
    res = run("echo", {"clients": 1, "messages": 8, "window": 8, "duration_ns": 12 * S},
              Faults(crashes=(Crash("C1", 500 * MS),)), seed=2)
    obs: EchoObserver = res.observer
    ((client, server),) = obs.monitor.pairs()
    assert server is not None and len(server.sent) > len(client.delivered)  # unacknowledged
    assert res.rules_fired["net_emit_outside"] >= 20  # ~11.5 s / 0.35 s rounds


@pytest.mark.parametrize("strict", [0, 1])
def test_echo_strict_and_robust_agree_in_a_closed_world(strict: int) -> None:
    res = run("echo", {"clients": 2, "messages": 5, "strict": strict, "duration_ns": 60 * S},
              Faults(loss=0.3, dup=0.3), seed=21)
    obs: EchoObserver = res.observer
    assert obs.violations() == []
    assert all(r["correct"] == 5 for r in obs.rows())


def test_summary_shape() -> None:
    res = run("echo", {"clients": 1, "messages": 1}, Faults(), seed=0)
    s: dict[str, Any] = res.observer.summary()
    assert set(s) == {"clients", "violations"}
    assert set(s["clients"][0]) == {"host", "address", "sent", "received", "correct", "in_order",
                                     "duplicates", "connect_ns", "finish_ns"}
