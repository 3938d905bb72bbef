"""The one progress line of the long commands (`udpsem explore`, `check`, `real`):
`udpsem.cli_input.ProgressLine`."""

from __future__ import annotations

import io
import os
import subprocess
import sys

import pytest

from udpsem.cli_input import PROGRESS_SECONDS, ProgressLine, progress_interval


def _text(d: dict[str, int]) -> str:
    return f"{d['n']} done"


def test_plain_lines_are_whole_lines_with_the_prefix() -> None:
    out = io.StringIO()
    with ProgressLine("udpsem test", _text, every=0, stream=out, terminal=False) as line:
        for n in range(3):
            line({"n": n})
    assert out.getvalue() == "udpsem test: 0 done\nudpsem test: 1 done\nudpsem test: 2 done\n"
    assert line.lines == 3


def test_plain_lines_are_throttled() -> None:
    # An interval of a day: no call in this test comes that late, so none prints.
    out = io.StringIO()
    with ProgressLine("udpsem test", _text, every=86_400, stream=out, terminal=False) as line:
        for n in range(1000):
            line({"n": n})
    assert out.getvalue() == "" and line.lines == 0


def test_disabled_shows_nothing_on_a_terminal_or_not() -> None:
    for terminal in (False, True):
        out = io.StringIO()
        with ProgressLine("udpsem test", _text, every=0, enabled=False, stream=out,
                          terminal=terminal) as line:
            line({"n": 1})
        assert out.getvalue() == ""


def test_interval_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("UDPSEM_PROGRESS_SECONDS", "0.25")
    assert progress_interval() == 0.25
    assert ProgressLine("p", _text).every == 0.25
    for bad in ("abc", "0", "-1", "inf", "nan", ""):
        monkeypatch.setenv("UDPSEM_PROGRESS_SECONDS", bad)
        assert progress_interval() == PROGRESS_SECONDS, bad
    monkeypatch.delenv("UDPSEM_PROGRESS_SECONDS")
    assert progress_interval() == PROGRESS_SECONDS == 5.0


def test_terminal_line_is_rewritten_and_cleared_at_the_end() -> None:
    out = io.StringIO()
    with ProgressLine("udpsem test", _text, stream=out, terminal=True) as line:
        line({"n": 41})
        line({"n": 42})
        assert line._live is not None and line._live.live.is_started
    text = out.getvalue()
    assert "udpsem test:" in text and "42 done" in text
    assert line.lines == 0  # rewritten in place, not plain lines
    assert line._live is None
    # The last thing written erases the line (cursor up, erase line) and shows the cursor
    # again, so what the command prints next starts on a clean line.
    assert text.endswith("\x1b[2K") or "\x1b[?25h" in text[-40:], repr(text[-40:])


def test_terminal_line_is_wrapped_not_cut_on_a_narrow_terminal() -> None:
    # rich's default cuts a line wider than the terminal with "…" (an 80-column terminal lost
    # explore's rate and elapsed time); wrapped, every figure is shown.
    out = io.StringIO()
    long = ", ".join(f"{k} figure{k}" for k in range(12))  # about 130 columns
    with ProgressLine("udpsem test", lambda d: long, stream=out, terminal=True) as line:
        line({})
    text = out.getvalue()
    assert "…" not in text and "11 figure11" in text


def test_terminal_line_cleared_on_interrupt_and_the_interrupt_goes_on() -> None:
    out = io.StringIO()
    line = ProgressLine("udpsem test", _text, stream=out, terminal=True)
    with pytest.raises(KeyboardInterrupt), line:
        line({"n": 7})
        raise KeyboardInterrupt
    assert line._live is None
    assert "\x1b[?25h" in out.getvalue()  # cursor shown again: the display was stopped
    # Later calls (a command's last figures after the interrupt) print plain lines, not
    # into a stopped display.
    line.every = 0
    line({"n": 8})
    assert out.getvalue().endswith("udpsem test: 8 done\n")


def test_check_and_explore_share_the_helper() -> None:
    """D7: the two progress lines that were copies are one helper."""
    from importlib import import_module

    check_cli = import_module("udpsem.check.cli")
    explore_cli = import_module("udpsem.explore.cli")  # `udpsem.explore` is also a function

    assert not hasattr(check_cli, "_Progress")
    assert not hasattr(explore_cli, "_ProgressLines")
    assert not hasattr(explore_cli, "_progress_interval")
    assert check_cli.ProgressLine is explore_cli.ProgressLine is ProgressLine


def test_explore_json_prints_no_progress() -> None:
    p = subprocess.run([sys.executable, "-m", "udpsem", "explore", "heartbeat", "--horizon",
                        "5s", "--json", "--max-seconds", "3"], capture_output=True,
                       check=False, text=True, timeout=300,
                       env={**os.environ, "UDPSEM_PROGRESS_SECONDS": "0.000001"})
    assert p.returncode in (0, 1), p.stderr
    assert "udpsem explore:" not in p.stderr
