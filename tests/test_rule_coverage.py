"""Rule coverage: the opt-in counter, trace counting, and `udpsem rules --coverage`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from udpsem.cli import main
from udpsem.core import coverage


def _trace(tmp_path: Path) -> Path:
    p = tmp_path / "t.jsonl"
    p.write_text("\n".join(json.dumps(r) for r in [
        {"type": "header", "program": "heartbeat"},
        {"type": "step", "i": 0, "rule": "sendto_1", "partner": None},
        {"type": "step", "i": 1, "rule": "delivery_out_1", "partner": "net_accept_single"},
        {"type": "step", "i": 2, "rule": "sendto_1", "partner": None},
    ]) + "\n", encoding="utf-8")
    return p


def test_hit_counts_only_while_on() -> None:
    saved = coverage.stop()
    try:
        coverage.hit("socket_1")
        assert coverage.counts is None
        c = coverage.start()
        coverage.hit("socket_1", "create_call_1")
        assert c["socket_1"] == 1 and c["create_call_1"] == 1
        assert coverage.stop() is c and coverage.counts is None
    finally:
        coverage.start().update(saved)


def test_count_traces_and_report(tmp_path: Path) -> None:
    c = coverage.count_traces([str(_trace(tmp_path))] * 2)
    assert c["sendto_1"] == 4 and c["net_accept_single"] == 2
    rows = dict(coverage.report(c))
    assert rows["sendto_1"] == 4 and rows["ret_1"] == 0
    assert list(rows) == coverage.registered()


def test_count_traces_names_the_bad_line(tmp_path: Path) -> None:
    p = tmp_path / "bad.jsonl"
    p.write_text('{"type": "header"}\n{"type": "step", "i": 0}\n', encoding="utf-8")
    with pytest.raises(ValueError, match=r"bad.jsonl:2: step record without a rule name"):
        coverage.count_traces([str(p)])
    with pytest.raises(ValueError, match="cannot read"):
        coverage.count_traces([str(tmp_path / "missing.jsonl")])


def test_cli_rules_coverage(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    real = tmp_path / "real.jsonl"
    main(["run", "heartbeat", "--duration", "2s", "--trace", str(real), "--json"])
    capsys.readouterr()
    main(["rules", "--coverage", str(real)])
    out = capsys.readouterr().out
    assert "sendto_1" in out and "rules exercised" in out
    # the CLI validates every record as replay does: a hand-made partial trace is refused
    with pytest.raises(SystemExit) as e:
        main(["rules", "--coverage", str(_trace(tmp_path))])
    assert e.value.code == 2
    assert "t.jsonl:1" in capsys.readouterr().err


def test_cli_rules_coverage_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as e:
        main(["rules", "--coverage", str(tmp_path / "missing.jsonl")])
    assert e.value.code != 0
    assert "cannot read" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["rules", "--coverage"])
