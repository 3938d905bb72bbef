"""Timing parameters too long for the model's clock (dsch, doq, dpropmin, dpropmax, dstore,
dthread): a deadline `now + d` set before the horizon must stay a finite instant, below
`NEVER` (2^62 ns, the model's ∞), or an upper-bound timer would force nothing. Such a value
is bad input wherever a user can give one (a trace's header for check, replay and ui;
explore's --dpropmin/--dpropmax): one line, exit status 2, never a run."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from udpsem.base.time import LAST, NEVER, S, longest_timer, timer_too_long

HORIZON = 1 * S  # the trace below: `udpsem run heartbeat --duration 1s`


def _udpsem(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "udpsem", *args], capture_output=True,
                          text=True, timeout=300, check=False)


@pytest.fixture(scope="module")
def trace(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    t = tmp_path_factory.mktemp("timers") / "hb.jsonl"
    r = _udpsem("run", "heartbeat", "--duration", "1s", "--trace", str(t))
    assert r.returncode == 0, r.stderr
    return t.read_text().splitlines()


def _with_timing(lines: list[str], path: Path, **timing: int) -> Path:
    header = json.loads(lines[0])
    assert header["params"]["duration_ns"] == HORIZON
    header["timing"].update(timing)
    path.write_text("\n".join([json.dumps(header), *lines[1:]]) + "\n")
    return path


def _one_line_error(r: subprocess.CompletedProcess[str], *words: str) -> None:
    # One error line (ui says "loading TRACE …" before it), and it names what is wrong.
    assert r.returncode == 2, r.stdout + r.stderr
    errors = [x for x in r.stderr.splitlines() if x.startswith("udpsem: error: ")]
    assert len(errors) == 1 and "Traceback" not in r.stderr, r.stderr
    assert r.stderr.splitlines()[-1] == errors[0], r.stderr
    assert all(w in errors[0] for w in words), r.stderr


def test_the_longest_timer_keeps_every_deadline_finite() -> None:
    assert longest_timer(HORIZON) == LAST - HORIZON
    assert HORIZON + longest_timer(HORIZON) == LAST < NEVER
    assert timer_too_long("dsch", LAST - HORIZON, HORIZON) is None
    msg = timer_too_long("dsch", LAST - HORIZON + 1, HORIZON)
    assert msg is not None and msg.startswith("dsch ") and "too long" in msg
    assert timer_too_long("doq", NEVER, HORIZON) is not None
    assert longest_timer(LAST) == 0 and timer_too_long("doq", 1, LAST) is not None


@pytest.mark.parametrize(("field", "value"), [("dsch", NEVER), ("doq", NEVER),
                                              ("dsch", (1 << 63) - 1), ("doq", (1 << 63) - 1),
                                              ("dpropmax", NEVER - 1),
                                              ("dthread", LAST - HORIZON + 1)])
def test_check_refuses_a_header_timer_that_reaches_never(trace: list[str], tmp_path: Path,
                                                         field: str, value: int) -> None:
    # Before, check accepted these traces: its model's timers then ended at ∞.
    t = _with_timing(trace, tmp_path / "t.jsonl", **{field: value})
    _one_line_error(_udpsem("check", str(t)), f"timing.{field}", "too long", "at most")


def test_check_takes_the_longest_timer_that_fits(trace: list[str], tmp_path: Path) -> None:
    t = _with_timing(trace, tmp_path / "t.jsonl", dsch=LAST - HORIZON, doq=LAST - HORIZON)
    r = _udpsem("check", str(t))
    assert r.returncode == 0 and r.stdout.startswith("accepted"), r.stdout + r.stderr


@pytest.mark.parametrize("command", ["replay", "ui"])
def test_replay_and_ui_refuse_it_before_anything_else(trace: list[str], tmp_path: Path,
                                                      command: str) -> None:
    # (ui would serve the trace until stopped: it must end at once, with the error.)
    t = _with_timing(trace, tmp_path / "t.jsonl", doq=NEVER)
    _one_line_error(_udpsem(command, str(t)), "timing.doq", "too long")


def test_explore_refuses_a_propagation_delay_that_reaches_never() -> None:
    _one_line_error(_udpsem("explore", "heartbeat", "--horizon", "3s", "--dpropmax",
                            f"{LAST}ns"), "--dpropmax", "too long", "at most")
    _one_line_error(_udpsem("explore", "heartbeat", "--horizon", "3s", "--dpropmin",
                            f"{LAST - 3 * S + 1}ns", "--dpropmax", f"{LAST}ns"),
                    "--dpropmin", "too long")
    r = _udpsem("explore", "heartbeat", "--horizon", "3s", "--dpropmax", f"{LAST - 3 * S}ns",
                "--max-seconds", "3", "--json")
    assert r.returncode in (0, 1), r.stderr  # the longest that fits runs
    assert json.loads(r.stdout)["horizon_ns"] == 3 * S
