"""CLI robustness (issue 10): non-finite numbers, user text never read as markup, output
options and strategies, bounded workers, bare `udpsem`, explore bounds, progress lines, SIGINT."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from udpsem.cli import cli
from udpsem.explore import ExploreConfig, explore
from udpsem.explore.engine import over_budget


def _run(*args: str, cwd: Path | None = None,
         timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "udpsem", *args], capture_output=True, check=False,
                          text=True, timeout=timeout, cwd=cwd)


def _sigint_default() -> None:
    """A test run in the background inherits an ignored SIGINT, which Python then keeps
    ignoring; the child gets the default disposition back (Python then raises
    KeyboardInterrupt on it, as for a user's Ctrl-C)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _cli(*args: str) -> Any:
    return CliRunner().invoke(cli, list(args))


@pytest.mark.parametrize("value", ["nan", "NaN", "inf", "-inf", "infinity", "1e400", "x"])
@pytest.mark.parametrize("option", ["--loss", "--dup"])
def test_non_finite_probabilities_are_refused(option: str, value: str) -> None:
    res = _cli("run", "heartbeat", option, value)
    assert res.exit_code == 2, res.output
    assert "Traceback" not in res.output


def test_loss_nan_one_line() -> None:
    p = _run("run", "heartbeat", "--loss", "nan")
    assert p.returncode == 2 and p.stderr.count("\n") == 1 and "finite" in p.stderr


def test_huge_numbers_are_refused() -> None:
    assert _cli("run", "heartbeat", "--seed", str(1 << 64)).exit_code == 2
    res = _cli("run", "heartbeat", "--duration", "999999999h")
    assert res.exit_code == 2 and "too long" in res.output


def test_bracketed_paths_are_not_markup(tmp_path: Path) -> None:
    for d in ("br[", "g[", "c[red]x["):  # each path's "/" makes its front a directory
        (tmp_path / d).mkdir()
    p = _run("run", "heartbeat", "--duration", "1s", "--trace", "br[/]x.jsonl", cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    assert "br[/]x.jsonl" in p.stdout and (tmp_path / "br[/]x.jsonl").exists()
    p = _run("replay", "br[/]x.jsonl", cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    p = _run("explore", "heartbeat", "--horizon", "3s", "--preset", "paper",
             "--max-successive-drops", "2", "--graph", "g[/b]r.graphml",
             "--counterexample", "c[red]x[/].jsonl", cwd=tmp_path)
    assert p.returncode in (0, 1), p.stderr
    assert "Traceback" not in p.stderr
    assert (tmp_path / "g[/b]r.graphml").exists() and (tmp_path / "c[red]x[/].jsonl").exists()
    assert "c[red]x[/].jsonl" in p.stdout


def test_output_options_and_strategies(tmp_path: Path) -> None:
    res = _cli("explore", "heartbeat", "--strategy", "random", "--graph",
               str(tmp_path / "r.graphml"))
    assert res.exit_code == 2 and "--graph" in res.output
    assert not (tmp_path / "r.graphml").exists()
    cx = tmp_path / "cx.jsonl"
    res = _cli("explore", "heartbeat", "--horizon", "4s", "--preset", "paper",
               "--max-successive-drops", "2", "--strategy", "random", "--seeds", "30",
               "--counterexample", str(cx), "--json")
    out = json.loads(res.output)
    if out["violation"] is not None:
        assert cx.exists() and out["counterexample"] == str(cx)
    res = _cli("explore", "heartbeat", "--chart", str(tmp_path / "c.svg"))
    assert res.exit_code == 2 and "--counterexample" in res.output


def test_workers_are_bounded() -> None:
    assert _cli("explore", "heartbeat", "--strategy", "random", "--workers", "256").exit_code == 2
    assert _cli("explore", "heartbeat", "--strategy", "random", "--workers", "0").exit_code == 2


def test_bare_udpsem_prints_help() -> None:
    p = _run()
    assert p.returncode == 0 and "Commands:" in p.stdout and p.stderr == ""


def test_explore_bounds_stop_and_say_so() -> None:
    out = json.loads(_cli("explore", "heartbeat", "--horizon", "9s", "--preset", "paper",
                          "--disconnect", "KURT@3s-6s", "--max-states", "500",
                          "--json").output)
    assert out["complete"] is False and out["stopped_by"] == ["max-states"]
    assert "unknown" in out["verdicts"].values() and out["frontier"] > 0
    out = json.loads(_cli("explore", "heartbeat", "--horizon", "9s", "--preset", "paper",
                          "--disconnect", "KURT@3s-6s", "--max-seconds", "0.01",
                          "--json").output)
    assert out["complete"] is False and out["stopped_by"] == ["max-seconds"]
    out = json.loads(_cli("explore", "heartbeat", "--horizon", "9s", "--max-memory", "1MB",
                          "--json").output)
    assert out["complete"] is False and out["stopped_by"] == ["max-memory"]
    res = _cli("explore", "heartbeat", "--max-states", "500", "--horizon", "9s",
               "--preset", "paper")
    assert "stopped by max-states" in res.output and "partial" in res.output
    assert _cli("explore", "heartbeat", "--max-memory", "lots").exit_code == 2


def test_over_budget() -> None:
    cfg = ExploreConfig(max_seconds=1.0)
    assert over_budget(cfg, time.perf_counter()) is None
    assert over_budget(cfg, time.perf_counter() - 2) == "seconds"
    assert over_budget(ExploreConfig(max_memory=1), time.perf_counter()) == "memory"


def test_random_walks_respect_max_seconds() -> None:
    from dataclasses import replace

    res, _ = explore(replace(ExploreConfig(strategy="random", seeds=400, max_seconds=0.001)))
    assert "seconds" in res.truncated and not res.complete


def test_explore_echo_two_clients_two_messages() -> None:
    """`explore echo --clients 2 --messages 2` ends within the default bounds and says
    whether it was complete (issue 10's "done when")."""
    p = _run("explore", "echo", "--clients", "2", "--messages", "2", "--json",
             "--max-seconds", "20")
    assert p.returncode in (0, 1), p.stderr
    out = json.loads(p.stdout)
    assert isinstance(out["complete"], bool)
    if not out["complete"]:
        assert out["stopped_by"]
    assert _cli("explore", "heartbeat", "--clients", "2").exit_code == 2


def test_progress_lines_when_not_a_tty() -> None:
    # Lines every 0.05 s (UDPSEM_PROGRESS_SECONDS), so a fast search still prints some.
    p = subprocess.run([sys.executable, "-m", "udpsem", "explore", "heartbeat", "--horizon",
                        "20s", "--preset", "paper", "--disconnect", "KURT@3s-6s",
                        "--max-seconds", "12"], capture_output=True, check=False, text=True,
                       timeout=600, env={**os.environ, "UDPSEM_PROGRESS_SECONDS": "0.05"})
    assert "udpsem explore:" in p.stderr and "states" in p.stderr


@pytest.mark.skipif(os.name != "posix", reason="SIGINT semantics")
def test_sigint_reports_counts_and_writes_files(tmp_path: Path) -> None:
    g = tmp_path / "g.graphml"
    proc = subprocess.Popen([sys.executable, "-m", "udpsem", "explore", "echo", "--clients",
                             "2", "--messages", "2", "--json", "--graph", str(g),
                             "--max-seconds", "60"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=_sigint_default)  # noqa: PLW1509  (no threads here)
    time.sleep(10)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=400)
    assert proc.returncode == 130, err
    d = json.loads(out)
    assert d["stopped_by"] == ["interrupted (SIGINT)"] and d["states"] > 0
    assert "Traceback" not in err
    import networkx as nx

    assert nx.read_graphml(str(g)).number_of_nodes() == d["states"]


def _wait_until_read(proc: subprocess.Popen[str], path: Path, at_least: int,
                     timeout: float = 120) -> None:
    """Wait until process `proc` has read `at_least` bytes of `path` (its file offset, from
    /proc/PID/fdinfo), or has ended."""
    target = str(path.resolve())
    fds = Path(f"/proc/{proc.pid}/fd")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            for f in fds.iterdir():
                if os.readlink(f) == target:
                    info = Path(f"/proc/{proc.pid}/fdinfo/{f.name}").read_text()
                    pos = int(info.split("pos:", 1)[1].split()[0])
                    if pos >= at_least:
                        return
        except (OSError, IndexError, ValueError):
            pass
        time.sleep(0.01)


@pytest.mark.skipif(os.name != "posix", reason="SIGINT semantics")
def test_sigint_in_replay_reports_steps(tmp_path: Path) -> None:
    t = tmp_path / "long.jsonl"
    assert _run("run", "heartbeat", "--duration", "200s", "--trace", str(t),
                "--json").returncode == 0
    proc = subprocess.Popen([sys.executable, "-m", "udpsem", "replay", str(t)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=_sigint_default)  # noqa: PLW1509  (no threads here)
    # Signal while replay is checking steps: once it has read 5 % of the trace, its imports
    # are done, its handler is in place and most steps are still to come (about 1 s of them,
    # compiled). Signalling at a fixed time raced both ends: under load imports alone took
    # over 4 s, and a compiled replay of this trace (18,047 steps) ends in about 1 s, so a
    # signal during interpreter shutdown killed Python (exit -2) in a CI run.
    size = t.stat().st_size
    _wait_until_read(proc, t, size // 20)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    if proc.returncode == 0:
        pytest.skip("the replay finished before the signal")
    assert proc.returncode == 130 and "interrupted after" in out and "Traceback" not in err
