"""Thinned charts of long traces (`udpsem.view.thin`): ordinary traffic becomes counts, and
every anomaly of the trace is still on the chart, counted, at its time."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from udpsem.base.time import S
from udpsem.network.faults import Faults, Window
from udpsem.traces.record import run
from udpsem.view.chart import LEFT, RIGHT, svg
from udpsem.view.events import ChartData, events
from udpsem.view.thin import BIN_PX, is_ordinary_msg, window_elements

SVG = "{http://www.w3.org/2000/svg}"
MINUTES = 4
# 20 % loss without Theorem 2's assumptions (so ALAN's status flaps, several changes within
# one bin), 10 % duplication, KURT unplugged for a minute and ALAN for 30 s (datagrams sent
# into the void and discarded at the receiver): every kind of heartbeat anomaly.
FAULTS = Faults(loss=0.2, dup=0.1, disconnects=(Window("KURT", 60 * S, 120 * S),
                                                 Window("ALAN", 150 * S, 180 * S)))
BUDGET = 300  # well under the ~2,000 elements of this 4-minute run, so it is thinned


@pytest.fixture(scope="module")
def trace() -> tuple[dict[str, Any], list[dict[str, Any]]]:
    out = io.StringIO()
    run("heartbeat", {"duration_ns": MINUTES * 60 * S}, FAULTS, 4, trace=out)
    lines = [json.loads(x) for x in out.getvalue().splitlines()]
    return lines[0], lines[1:]


@pytest.fixture(scope="module")
def data(trace: tuple[dict[str, Any], list[dict[str, Any]]]) -> ChartData:
    return events(*trace)


def _groups(doc: ET.Element) -> list[ET.Element]:
    return [g for g in doc.iter(f"{SVG}g") if g.get("class")]


def _n(g: ET.Element) -> int:
    return int(g.get("data-n", "1"))


def test_thinning_keeps_every_anomaly(data: ChartData) -> None:
    t_end = data.t_end
    assert window_elements(data, 0, t_end, data.hosts) > BUDGET
    doc = ET.fromstring(svg(data, max_elements=BUDGET))
    groups = _groups(doc)
    by_class: dict[str, list[ET.Element]] = {}
    for g in groups:
        by_class.setdefault(g.get("class", ""), []).append(g)
    note = [t for t in doc.iter(f"{SVG}text") if t.get("class") == "thinned"]
    assert len(note) == 1 and "every anomaly kept" in (note[0].text or "")
    # datagrams: every anomalous copy is in a group of its fate, counted, at its time
    anomalous = [m for m in data.msgs if not is_ordinary_msg(m)]
    fates = Counter(m.fate for m in anomalous)
    assert set(fates) >= {"dropped", "send_unplugged", "recv_unplugged", "delivered"}
    for fate, n in fates.items():
        drawn = by_class.get(f"msg {fate}", [])
        assert sum(_n(g) for g in drawn) == n, fate
        for m in (m for m in anomalous if m.fate == fate):
            assert any(int(g.get("data-i", -1)) == m.i0 or
                       int(g.get("data-from", -1)) <= m.t0 <= int(g.get("data-to", -1))
                       for g in drawn), (fate, m.i0)
    # ordinary datagrams are all in the traffic bands' counts, and drawn no other way
    ordinary = [m for m in data.msgs if is_ordinary_msg(m)]
    assert sum(_n(g) for g in by_class["traffic"]) == len(ordinary) > 100
    # marks (select timeouts) and fault windows
    timeouts = [mk for mk in data.marks if mk.kind == "timeout"]
    assert timeouts and sum(_n(g) for g in by_class["mark timeout"]) == len(timeouts)
    for mk in timeouts:
        assert any(int(g.get("data-i", -1)) == mk.i or
                   int(g.get("data-from", -1)) <= mk.t <= int(g.get("data-to", -1))
                   for g in by_class["mark timeout"])
    assert len(by_class["band unplugged"]) == len(data.bands) == 2
    # status changes: each one drawn alone or inside a "changing" segment with its count
    changes = data.status["ALAN"]
    changing = by_class.get("status changing", [])
    assert changing, "this run's status flaps within one bin: the test needs that case"
    assert sum(_n(g) for g in changing) + len(by_class["status"]) == len(changes)
    # calls: short ones as counts, the rest one by one; none lost
    drawn_calls = sum(_n(g) for g in by_class["callgroup"]) + sum(
        _n(g) for c, gs in by_class.items() if c.startswith("call") and c != "callgroup"
        for g in gs)
    assert drawn_calls == len(data.calls)


def test_thinned_chart_is_smaller_and_a_window_is_full_detail(data: ChartData) -> None:
    full = _groups(ET.fromstring(svg(data, max_elements=0)))
    thinned = _groups(ET.fromstring(svg(data, max_elements=BUDGET)))
    assert len(thinned) < len(full)
    # bounded by the bins, not by the trace: per kind, at most one group per bin on each of
    # the at most 4 lanes (or host pairs) it can be on (benchmarks/chart_long.py: 24 h)
    bins = (1600 - LEFT - RIGHT) // BIN_PX
    for cls, n in Counter(g.get("class") for g in thinned).items():
        assert n <= 4 * bins, cls
    # a one-minute window under the budget: every datagram of it drawn as itself
    a, b = 185 * S, 215 * S
    assert window_elements(data, a, b, data.hosts) <= BUDGET
    doc = ET.fromstring(svg(data, t_from=a, t_to=b, max_elements=BUDGET))
    groups = _groups(doc)
    assert not any(g.get("class") in ("traffic", "callgroup") for g in groups)
    assert not any(t.get("class") == "thinned" for t in doc.iter(f"{SVG}text"))
    msgs = [m for m in data.msgs if not ((m.t1 or m.t0) < a or m.t0 > b)]
    assert sum(1 for g in groups if (g.get("class") or "").startswith("msg ")) == len(msgs)


def test_chart_command_thins_and_says_so(tmp_path: Path,
                                         trace: tuple[dict[str, Any], list[dict[str, Any]]]
                                         ) -> None:
    path = tmp_path / "t.jsonl"
    header, recs = trace
    path.write_text("".join(json.dumps(x) + "\n" for x in [header, *recs]))
    out = tmp_path / "t.svg"
    p = subprocess.run([sys.executable, "-m", "udpsem", "chart", str(path), "-o", str(out),
                        "--no-check", "--max-elements", str(BUDGET)], capture_output=True,
                       text=True, check=False)
    assert p.returncode == 0, p.stderr
    doc = ET.parse(out).getroot()
    assert any(t.get("class") == "thinned" for t in doc.iter(f"{SVG}text"))
    p = subprocess.run([sys.executable, "-m", "udpsem", "chart", str(path), "-o", str(out),
                        "--no-check", "--max-elements", "0"], capture_output=True, text=True,
                       check=False)
    assert p.returncode == 0, p.stderr
    doc = ET.parse(out).getroot()
    assert not any(t.get("class") == "thinned" for t in doc.iter(f"{SVG}text"))
