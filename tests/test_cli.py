"""The command line: outputs, and bad input as one clear line with exit status 2."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest


def udpsem(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "udpsem", *args], capture_output=True,
                          text=True, timeout=300, check=False)


def test_issue_example_json() -> None:
    p = udpsem("run", "heartbeat", "--seed", "7", "--duration", "60s", "--loss", "0.1",
               "--preset", "paper", "--disconnect", "KURT@20s-40s", "--json")
    assert p.returncode == 0, p.stderr
    d = json.loads(p.stdout)
    assert set(d) >= {"seed", "duration_ns", "transitions", "status_changes", "get_status",
                      "rules_fired"}
    assert d["seed"] == 7 and d["duration_ns"] == 60_000_000_000
    assert [v for _, v in d["status_changes"]] == [1, 0, 1]
    assert d["get_status"]["violations"] == 0
    assert d["get_status"]["checked"] > 0
    # every transition names one rule; synchronisations name a partner rule too
    assert d["transitions"] <= sum(d["rules_fired"].values()) <= 2 * d["transitions"]
    assert d["rules_fired"]["time_pass"] < d["transitions"]
    assert d["rules_fired"]["select_4"] > 0


def test_run_timeline_and_replay(tmp_path: Path) -> None:
    trace = tmp_path / "t.jsonl"
    p = udpsem("run", "heartbeat", "--duration", "5s", "--disconnect", "KURT@1s-3s",
               "--trace", str(trace))
    assert p.returncode == 0, p.stderr
    assert "get_status" in p.stdout and "disconnect" in p.stdout
    assert "rules fired" in p.stdout
    assert "KURT up" in p.stdout and "ALAN believes" in p.stdout
    r = udpsem("replay", str(trace), "--json")
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    assert d["ok"] is True and d["steps"] == len(trace.read_text().splitlines()) - 1


def test_rules_table_and_one_rule() -> None:
    p = udpsem("rules")
    assert p.returncode == 0
    for name in ("socket_1", "sendto_1", "select_1", "delivery_in_udp_1", "net_accept_dup"):
        assert name in p.stdout
    one = udpsem("rules", "select_3")
    assert one.returncode == 0 and "urgent" in one.stdout and "Description" in one.stdout


def test_schema_is_json_schema() -> None:
    p = udpsem("schema")
    assert p.returncode == 0
    d = json.loads(p.stdout)
    assert "$defs" in d and "Header" in d["$defs"] and "Record" in d["$defs"]


def _bad(p: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert p.returncode == 2, (p.returncode, p.stdout, p.stderr)
    assert "Traceback" not in p.stderr and "Traceback" not in p.stdout
    lines = [line for line in p.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, p.stderr
    for n in needles:
        assert n in lines[0], lines[0]


@pytest.mark.parametrize("args,needles", [
    (["run", "pingpong"], ["unknown program", "pingpong", "heartbeat"]),
    (["run", "heartbeat", "--duration", "60x"], ["--duration", "60x"]),
    (["run", "heartbeat", "--duration", "abc"], ["--duration", "abc"]),
    (["run", "heartbeat", "--disconnect", "KURT20s-40s"], ["KURT20s-40s"]),
    (["run", "heartbeat", "--disconnect", "KURT@40s-20s"], ["KURT@40s-20s"]),
    (["run", "heartbeat", "--disconnect", "BOB@1s-2s"], ["BOB"]),
    (["run", "heartbeat", "--crash", "KURT"], ["KURT"]),
    (["run", "heartbeat", "--preset", "paper", "--crash", "KURT@5s"], ["paper", "crash"]),
    (["run", "heartbeat", "--preset", "paper", "--disconnect", "ALAN@1s-2s"], ["ALAN"]),
    (["run", "heartbeat", "--loss", "2"], ["--loss"]),
    (["run"], ["PROGRAM"]),
    (["rules", "no_such_rule"], ["no_such_rule"]),
    (["frobnicate"], ["frobnicate"]),
])
def test_bad_input_one_line_exit_2(args: list[str], needles: list[str]) -> None:
    _bad(udpsem(*args), *needles)


def _trace(tmp: Path) -> Path:
    t = tmp / "ok.jsonl"
    p = udpsem("run", "heartbeat", "--duration", "1s", "--trace", str(t), "--json")
    assert p.returncode == 0
    return t


def test_replay_bad_files(tmp_path: Path) -> None:
    good = _trace(tmp_path).read_text().splitlines(keepends=True)
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    _bad(udpsem("replay", str(empty)), "empty", str(empty))
    notjson = tmp_path / "notjson.jsonl"
    notjson.write_text(good[0] + "this is not json\n")
    _bad(udpsem("replay", str(notjson)), "not JSON", ":2")
    trunc = tmp_path / "trunc.jsonl"
    trunc.write_text("".join(good[:10]) + good[10][: len(good[10]) // 2])
    _bad(udpsem("replay", str(trunc)), "truncated", ":11")
    other = tmp_path / "other.jsonl"
    head = json.loads(good[0])
    head["format"] = 1
    other.write_text(json.dumps(head) + "\n" + "".join(good[1:]))
    _bad(udpsem("replay", str(other)), "version 1")
    nohead = tmp_path / "nohead.jsonl"
    nohead.write_text("".join(good[1:]))
    _bad(udpsem("replay", str(nohead)), "header", ":1")
    badrec = tmp_path / "badrec.jsonl"
    badrec.write_text(good[0] + '{"type": "step", "i": "x"}\n')
    _bad(udpsem("replay", str(badrec)), ":2", "invalid step record")
    _bad(udpsem("replay", str(tmp_path / "missing.jsonl")), "cannot read")
    unknown = tmp_path / "unknown.jsonl"
    head = json.loads(good[0])
    head["program"] = "nosuch"
    unknown.write_text(json.dumps(head) + "\n")
    _bad(udpsem("replay", str(unknown)), "unknown program")


def test_run_ui_and_real_share_one_set_of_scenario_options() -> None:
    """D6: the scenario options come from one decorator (`cli_input.scenario_options`): an
    option the commands share is the same option (type, default, repeatable, metavar)."""
    from typing import Any

    import click

    from udpsem.cli import run
    from udpsem.cli_input import scenario_options
    from udpsem.real.cli import real
    from udpsem.view.cli import ui

    def opts(cmd: Any) -> dict[str, Any]:
        return {p.name: p for p in cmd.params if isinstance(p, click.Option)}

    r, u, x = opts(run), opts(ui), opts(real)
    model = {"seed", "loss", "dup", "max_copies", "preset"}
    common = {"duration", "period", "clients", "messages", "disconnects", "crashes"}
    assert model | common | {"ifdowns"} <= set(r)
    assert model | common <= set(u) and "ifdowns" not in u
    assert common | {"ifdowns"} <= set(x) and not model & set(x)
    for name in model | common:
        for other in (u, x):
            if name in other:
                a, b = r[name], other[name]
                assert (repr(a.type), a.default, a.multiple, a.metavar) == \
                    (repr(b.type), b.default, b.multiple, b.metavar), name
    with pytest.raises(ValueError):
        scenario_options("explore")
