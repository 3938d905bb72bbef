"""Strict trace reading: each input that once made replay trace back or accept a changed trace
(issue 10's measured list) now gets one line naming file and line, exit status 2."""

from __future__ import annotations

import bz2
import gzip
import json
import lzma
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from udpsem.base.jsonl import MAX_LINE
from udpsem.cli import main


@pytest.fixture(scope="module")
def good(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    p = tmp_path_factory.mktemp("v") / "good.jsonl"
    main(["run", "heartbeat", "--duration", "2s", "--dup", "0.3", "--loss", "0.1",
          "--disconnect", "KURT@1s-1500ms", "--seed", "3", "--trace", str(p), "--json"])
    return p.read_text(encoding="utf-8").splitlines(keepends=True)


def _cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    try:
        main(list(args))
        code = 0
    except SystemExit as e:
        code = int(e.code or 0)
    out = capsys.readouterr()
    return code, out.out, out.err


def _refused(capsys: pytest.CaptureFixture[str], path: Path, *needles: str) -> str:
    for cmd in (["replay", str(path)], ["rules", "--coverage", str(path)]):
        code, _, err = _cli(capsys, *cmd)
        assert code == 2, (cmd, err)
        assert err.count("\n") == 1 and "Traceback" not in err, err
        assert str(path) in err
        for n in needles:
            assert n in err, (n, err)
    return err


def _write(tmp: Path, name: str, lines: list[str]) -> Path:
    p = tmp / name
    p.write_text("".join(lines), encoding="utf-8")
    return p


def _edit(good: list[str], line: int, fn: Callable[[dict[str, Any]], None]) -> list[str]:
    out = list(good)
    obj = json.loads(out[line])
    fn(obj)
    out[line] = json.dumps(obj) + "\n"
    return out


def test_the_good_trace_replays(good: list[str], tmp_path: Path,
                                capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _cli(capsys, "replay", str(_write(tmp_path, "g.jsonl", good)))
    assert code == 0 and "replayed" in out


def test_bytes(good: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    p = tmp_path / "ff.jsonl"
    p.write_bytes(b"\xff\n")
    _refused(capsys, p, ":1:", "not UTF-8", "0xff")
    p.write_bytes(good[0].encode() + b'{"type": "st\xc3ep"}\n')
    _refused(capsys, p, ":2:", "not UTF-8")
    for name, pack in (("bzip2", bz2.compress), ("xz", lzma.compress)):
        p.write_bytes(pack("".join(good).encode()))
        _refused(capsys, p, f"{name}-compressed")
    p.write_bytes(gzip.compress("".join(good).encode())[:200])
    code, _, err = _cli(capsys, "replay", str(p))
    assert code == 2 and "gzip" in err and "Traceback" not in err


def test_limits(good: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    deep = "[" * 5000 + "]" * 5000
    _refused(capsys, _write(tmp_path, "deep.jsonl", [good[0], deep + "\n"]), ":2:",
             "nested deeper")
    mid = '{"a":' * 100 + "1" + "}" * 100
    _refused(capsys, _write(tmp_path, "mid.jsonl", [good[0], mid + "\n"]), ":2:",
             "nested deeper")
    huge = good[1].replace('"t":0', '"t":' + "9" * 4301, 1)
    _refused(capsys, _write(tmp_path, "digits.jsonl", [good[0], huge]), ":2:", "digits")
    big = good[1].replace('"t":0', '"t":' + str(1 << 64), 1)
    _refused(capsys, _write(tmp_path, "big.jsonl", [good[0], big]), ":2:", "64-bit")
    nan = good[0].replace('"loss":0.1', '"loss":NaN')
    _refused(capsys, _write(tmp_path, "nan.jsonl", [nan, *good[1:]]), ":1:", "NaN")
    dup = good[1].replace('{"type":"step",', '{"type":"step","type":"step",', 1)
    _refused(capsys, _write(tmp_path, "dupkey.jsonl", [good[0], dup]), ":2:", "duplicate key")
    long = tmp_path / "long.jsonl"
    long.write_text(good[0] + '"' + "x" * (MAX_LINE + 10) + '"\n', encoding="utf-8")
    _refused(capsys, long, ":2:", "longer than")


@pytest.mark.parametrize(("line", "edit", "needle"), [
    (1, lambda r: r["choices"].__setitem__(0, ["pick", 0.0]), "choices"),
    (1, lambda r: r["choices"].__setitem__(0, ["pick", True]), "choices"),
    (1, lambda r: r["choices"].__setitem__(0, ["nosuch", 1]), "choices"),
    (1, lambda r: r.__setitem__("t", "0"), "t:"),
    (1, lambda r: r.__setitem__("digest", 7), "digest"),
    (1, lambda r: r["label"].__setitem__("kind", "bogus"), "label"),
    (1, lambda r: r.__setitem__("extra", 1), "extra"),
    (0, lambda h: h["timing"].__setitem__("dstore", "100000"), "timing.dstore"),
    (0, lambda h: h["faults"].__setitem__("max_copies", 3.0), "faults.max_copies"),
    (0, lambda h: h["params"].__setitem__("duration_ns", "1s"), "params.duration_ns"),
    (0, lambda h: h["consts"].__setitem__("open_max", "1024"), "consts.open_max"),
    (0, lambda h: h["consts"].__setitem__("eph", [1]), "consts.eph"),
    (0, lambda h: h["hosts"][0].__setitem__("addresses", ["192.168.0.300"]), "hosts"),
    (0, lambda h: h.__setitem__("format", 2.0), "version"),
    (0, lambda h: h.pop("claims"), "claims"),
])
def test_loose_types_are_refused(good: list[str], tmp_path: Path,
                                 capsys: pytest.CaptureFixture[str], line: int,
                                 edit: Callable[[dict[str, Any]], None], needle: str) -> None:
    p = _write(tmp_path, "t.jsonl", _edit(good, line, edit))
    _refused(capsys, p, f":{line + 1}:", needle)


@pytest.mark.parametrize(("edit", "field"), [
    (lambda h: h["hosts"][1].__setitem__("addresses", ["192.168.0.99"]), "hosts[1].addresses"),
    (lambda h: h["hosts"][0].__setitem__("name", "BOB"), "hosts[0].name"),
    (lambda h: h["faults"].__setitem__("max_copies", 7), "'faults'"),
    (lambda h: h["faults"].__setitem__("loss", 0.5), "'faults'"),
    (lambda h: h["faults"].__setitem__("preset", "paper"), "'faults'"),
    (lambda h: h["faults"]["disconnects"][0].__setitem__("end", 1_600_000_000), "'faults'"),
    (lambda h: h["consts"].__setitem__("linux_error_order", False), "'consts'"),
    (lambda h: h["consts"].__setitem__("open_max", 7), "'consts'"),
    (lambda h: h["timing"].__setitem__("dsch", 400_000), "'timing'"),
    (lambda h: h["timing"].__setitem__("dpropmax", 20_000_000), "'timing'"),
    (lambda h: h["params"].__setitem__("duration_ns", 3_000_000_000), "'params'"),
    (lambda h: h["params"].__setitem__("period_ns", 50_000_000), "'params'"),
    (lambda h: h["params"].__setitem__("clients", 2), "params.clients"),
    (lambda h: h["params"].pop("period_ns"), "params.period_ns"),
    (lambda h: h["claims"].__setitem__("world", "0" * 32), "'world'"),
])
def test_changed_claims_are_named(good: list[str], tmp_path: Path,
                                  capsys: pytest.CaptureFixture[str],
                                  edit: Callable[[dict[str, Any]], None], field: str) -> None:
    p = _write(tmp_path, "c.jsonl", _edit(good, 0, edit))
    code, _, err = _cli(capsys, "replay", str(p))
    assert code == 2 and err.count("\n") == 1, err
    assert ":1:" in err and field in err, err


def test_gzip_trace_replays(good: list[str], tmp_path: Path,
                            capsys: pytest.CaptureFixture[str]) -> None:
    p = tmp_path / "g.jsonl.gz"
    p.write_bytes(gzip.compress("".join(good).encode()))
    code, out, _ = _cli(capsys, "replay", str(p))
    assert code == 0 and "replayed" in out
    code, out, _ = _cli(capsys, "rules", "--coverage", str(p))
    assert code == 0 and "rules exercised" in out


def test_structure(good: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _refused(capsys, _write(tmp_path, "twohead.jsonl", [good[0], good[0], *good[1:]]), ":2:",
             "second header")
    _refused(capsys, _write(tmp_path, "array.jsonl", [good[0], "[1, 2]\n"]), ":2:",
             "not a JSON object")
    code, out, _ = _cli(capsys, "replay", str(_write(tmp_path, "swap.jsonl",
                                                     [good[0], good[2], good[1], *good[3:]])))
    assert code == 1 and "step 0" in out
