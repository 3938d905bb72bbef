"""Exit statuses like the field's tools (issue 9.6), for every command of mine: 0 nothing
violated, 1 a property violated (or an exception escaped a thread, or a replay diverged),
2 bad input. Each is also stated in the command's --help."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import pytest

from udpsem.cli import main

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"

RAISES = '''
import udpsem

def boom():
    yield udpsem.delay(5)
    raise RuntimeError("user bug")

def world():
    return udpsem.WorldSpec(hosts=[udpsem.HostSpec(
        "A", ["10.0.0.1"], lambda: (yield udpsem.ModCall("boom")), module={"boom": boom})],
        horizon=udpsem.S)
'''


def _code(*args: str) -> tuple[int, str, str]:
    """Exit status, stdout and stderr of `udpsem ARGS` through the real entry point."""
    out, err = io.StringIO(), io.StringIO()
    code = 0
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            main(list(args))
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else 1
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def raising(tmp_path: Path) -> Path:
    p = tmp_path / "raises.py"
    p.write_text(RAISES)
    return p


def test_run(tmp_path: Path, raising: Path) -> None:
    assert _code("run", "heartbeat", "--duration", "2s", "--json")[0] == 0
    code, out, _ = _code("run", "heartbeat", "--loss", "0.6", "--duration", "8s", "--json")
    assert code == 1 and json.loads(out)["get_status"]["violations"] > 0  # Theorem 2
    assert _code("run", str(EXAMPLES / "lease.py"), "--loss", "0.6", "--json")[0] == 1
    code, _, err = _code("run", str(raising))
    assert code == 1
    assert "exception escaped thread A/boom" in err and "(host A, tid 0)" in err
    assert 'raise RuntimeError("user bug")' in err  # the user's frame, with its line
    assert _code("run", "nosuch")[0] == 2
    assert _code("run", "heartbeat", "--duration", "soon")[0] == 2
    assert _code("run", str(tmp_path / "missing.py"))[0] == 2
    assert _code("run", f"{EXAMPLES / 'reqresp.py'}:nope")[0] == 2


def test_explore(raising: Path) -> None:
    assert _code("explore", str(EXAMPLES / "reqresp.py"), "--json")[0] == 0
    code, out, _ = _code("explore", "heartbeat", "--horizon", "3s", "--preset", "paper",
                         "--dpropmax", "600ms", "--no-model-invariants", "--json")
    assert code == 1 and json.loads(out)["verdicts"]["theorem2"] == "violated"
    code, out, _ = _code("explore", str(raising), "--json", "--counterexample", "/dev/null")
    assert code == 1 and json.loads(out)["verdicts"]["no_escape"] == "violated"
    assert "user bug" in json.loads(out)["violation"]["message"]
    assert _code("explore", "nosuch")[0] == 2
    assert _code("explore", "heartbeat", "--horizon", "-1s")[0] == 2


def test_replay(tmp_path: Path) -> None:
    trace = tmp_path / "t.jsonl"
    assert _code("run", "heartbeat", "--duration", "2s", "--trace", str(trace), "--json")[0] == 0
    assert _code("replay", str(trace))[0] == 0
    lines = trace.read_text().splitlines()
    rec = json.loads(lines[5])
    rec["digest"] = "0" * 16
    lines[5] = json.dumps(rec)
    bad = tmp_path / "bad.jsonl"
    bad.write_text("\n".join(lines) + "\n")
    code, out, _ = _code("replay", str(bad))
    assert code == 1 and "diverged" in out
    assert _code("replay", str(tmp_path / "missing.jsonl"))[0] == 2
    assert _code("replay", str(trace), "--program", str(EXAMPLES / "reqresp.py"))[0] == 2


def test_rules_programs_schema() -> None:
    assert _code("rules")[0] == 0
    assert _code("rules", "bind_1")[0] == 0
    assert _code("rules", "no_such_rule")[0] == 2
    assert _code("programs")[0] == 0
    assert _code("schema")[0] == 0
    assert _code("no-such-command")[0] == 2


@pytest.mark.parametrize("command", ["run", "explore", "replay"])
def test_help_states_the_exit_statuses(command: str) -> None:
    code, out, _ = _code(command, "--help")
    assert code == 0
    text = " ".join(out.split())
    assert "Exit status: 0" in text and "1 " in text and "2 bad input" in text
