"""The examples in examples/: each runs, replays in a fresh process, and is explored
(issue 9.8). The request/response pair is the acceptance test: exploring the buggy
version exits 1 with a counterexample that replays; the fixed version's exploration is
complete and exits 0."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from udpsem.cli import cli

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def _udpsem(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """`udpsem ARGS` in a fresh Python process."""
    env = {**os.environ, "PYTHONHASHSEED": "123"}
    return subprocess.run([sys.executable, "-m", "udpsem", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=600, check=False)


def _run_and_replay(tmp_path: Path, name: str, *opts: str) -> dict[str, object]:
    trace = tmp_path / f"{name}.jsonl"
    res = CliRunner().invoke(cli, ["run", str(EXAMPLES / f"{name}.py"), "--seed", "1",
                                   "--trace", str(trace), "--json", *opts])
    assert res.exit_code == 0, res.output
    summary = json.loads(res.output)
    header = json.loads(trace.read_text().splitlines()[0])
    assert header["source"]["file"].endswith(f"{name}.py")
    assert len(header["source"]["sha256"]) == 64
    rp = _udpsem("replay", str(trace), "--program", str(EXAMPLES / f"{name}.py"),
                 cwd=tmp_path)
    assert rp.returncode == 0, rp.stdout + rp.stderr
    assert f"replayed {summary['transitions']} steps" in " ".join(rp.stdout.split())
    return summary


def _explore(*args: str) -> tuple[int, dict[str, object]]:
    res = CliRunner().invoke(cli, ["explore", *args, "--json"])
    assert res.exit_code in (0, 1), res.output
    return res.exit_code, json.loads(res.output)


def test_reqresp_acceptance(tmp_path: Path) -> None:
    # udpsem run examples/reqresp.py --seed 1 --trace t.jsonl; in a new process
    # udpsem replay t.jsonl --program examples/reqresp.py
    trace = tmp_path / "t.jsonl"
    r = _udpsem("run", str(EXAMPLES / "reqresp.py"), "--seed", "1", "--trace", str(trace),
                cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    rp = _udpsem("replay", str(trace), "--program", str(EXAMPLES / "reqresp.py"), cwd=tmp_path)
    assert rp.returncode == 0 and "replayed" in rp.stdout, rp.stdout + rp.stderr
    # the fixed version: complete exploration, nothing violated, exit 0
    code, out = _explore(str(EXAMPLES / "reqresp.py"))
    assert code == 0 and out["complete"] is True
    assert set(out["verdicts"].values()) == {"holds"}  # type: ignore[union-attr]
    assert "answers_match" in out["verdicts"]  # type: ignore[operator]
    # the buggy version: exit 1 and a counterexample (default name) that replays
    ex = _udpsem("explore", str(EXAMPLES / "reqresp_buggy.py"), cwd=tmp_path)
    assert ex.returncode == 1, ex.stdout + ex.stderr
    assert "answers_match: violated" in ex.stdout
    cx = tmp_path / "reqresp_buggy.counterexample.jsonl"
    assert cx.exists()
    rp = _udpsem("replay", str(cx), "--program", str(EXAMPLES / "reqresp_buggy.py"),
                 cwd=tmp_path)
    assert rp.returncode == 0, rp.stdout + rp.stderr
    # the counterexample ends in the stale reply the invariant names
    last = json.loads(cx.read_text().splitlines()[-1])
    assert last["type"] == "step"


def test_replay_refuses_another_or_no_program_file(tmp_path: Path) -> None:
    trace = tmp_path / "t.jsonl"
    res = CliRunner().invoke(cli, ["run", str(EXAMPLES / "reqresp.py"), "--trace", str(trace)])
    assert res.exit_code == 0, res.output
    other = _udpsem("replay", str(trace), "--program", str(EXAMPLES / "reqresp_buggy.py"),
                    cwd=tmp_path)
    assert other.returncode == 2
    assert "is not the file the trace was recorded from" in other.stderr
    none = _udpsem("replay", str(trace), cwd=tmp_path)
    assert none.returncode == 2
    assert "replay it with --program" in none.stderr and "reqresp.py" in none.stderr


@pytest.mark.parametrize(("name", "states"), [("lease", 300), ("sessions", 300),
                                              ("select_many", 300)])
def test_example_runs_replays_and_explores(tmp_path: Path, name: str, states: int) -> None:
    summary = _run_and_replay(tmp_path, name)
    assert summary["violations"] == []
    assert summary["transitions"] > 20  # type: ignore[operator]
    code, out = _explore(str(EXAMPLES / f"{name}.py"), "--max-states", str(states))
    assert code == 0, out
    assert out["states"] == states and out["violation"] is None


def test_lease_split_brain_under_loss(tmp_path: Path) -> None:
    res = CliRunner().invoke(cli, ["run", str(EXAMPLES / "lease.py"), "--seed", "1",
                                   "--loss", "0.6", "--json"])
    assert res.exit_code == 1, res.output
    out = json.loads(res.output)
    assert out["violations"] and "both hold the lease" in out["violations"][0]


def test_examples_pass_mypy_strict_with_the_public_api() -> None:
    """A user program importing only `udpsem` type-checks under mypy --strict (the package
    ships py.typed; `invariant` is typed)."""
    pytest.importorskip("mypy")
    files = [str(EXAMPLES / f"{n}.py") for n in ("reqresp", "reqresp_buggy", "lease",
                                                 "select_many")]
    for f in files:  # these import nothing from udpsem but `udpsem` itself
        imports = [ln for ln in Path(f).read_text().splitlines()
                   if ln.startswith(("import udpsem", "from udpsem"))]
        assert all(ln in ("import udpsem", "from udpsem import HostSpec, ModCall, WorldSpec")
                   for ln in imports), imports
    r = subprocess.run([sys.executable, "-m", "mypy", "--strict", "--no-incremental", *files],
                       capture_output=True, text=True, timeout=600, check=False)
    assert r.returncode == 0, r.stdout + r.stderr
