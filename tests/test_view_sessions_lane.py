"""The sessions lane (`udpsem.view.sessions_lane`): each session end of a run of the sessions
driver gets a lane with its values sent and delivered, the ACKs it received and a verdict
strip of the session guarantees, on the chart and in the explorer."""

from __future__ import annotations

import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from udpsem.programs.sessions.driver import SessionMonitor
from udpsem.programs.sessions.wire import Ack, WireError, decode_message
from udpsem.view.chart import load, svg
from udpsem.view.events import ChartData
from udpsem.view.session import Session, StatePath
from udpsem.view.sessions_lane import SessionLanes

SVG = "{http://www.w3.org/2000/svg}"
EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
MESSAGES = 3


@pytest.fixture(scope="module")
def echo_trace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # two clients, three strings each, over a network that loses 30 % and duplicates 20 %
    path = tmp_path_factory.mktemp("sessions") / "e.jsonl"
    subprocess.run([sys.executable, "-m", "udpsem", "run", "echo", "--clients", "2",
                    "--messages", str(MESSAGES), "--loss", "0.3", "--dup", "0.2", "--seed", "1",
                    "--trace", str(path)], check=True, capture_output=True)
    return path


@pytest.fixture(scope="module")
def echo_data(echo_trace: Path) -> ChartData:
    return load(str(echo_trace))


def _records(path: Path) -> list[dict[str, Any]]:
    return [json.loads(x) for x in path.read_text().splitlines()[1:]]


def _is_ack(rec: dict[str, Any]) -> bool:
    v = rec["label"].get("value", {})
    data = v.get("body", {}).get("data", {}) if isinstance(v, dict) else {}
    try:
        return isinstance(decode_message(data["bytes"].encode("latin-1")), Ack)
    except (KeyError, WireError):
        return False


def test_each_session_end_has_a_lane(echo_data: ChartData) -> None:
    assert echo_data.annot_lanes == {"C1": ["⇄ SERVER:7000"], "C2": ["⇄ SERVER:7000"],
                                     "SERVER": ["⇄ C2:5000", "⇄ C1:5000"]}


def test_lane_events_are_the_monitors(echo_trace: Path, echo_data: ChartData) -> None:
    # an independent SessionMonitor over the replayed steps: the lane shows what it saw
    sess = Session.load(echo_trace)
    mon = SessionMonitor()
    for st in sess.steps:
        mon.on_step(st)
    for end in [*mon.clients, *mon.servers]:
        evs = [e for e in echo_data.annotations[end.host]
               if (end.host, e.lane) in echo_data.verdict_strips and
               e.lane.endswith(f":{end.chan.peer[1]}")
               and (end.host != "SERVER" or e.lane.startswith(f"⇄ {_host(end)}"))]
        kinds = Counter(e.kind for e in evs)
        assert kinds["sent"] == len(end.sent) == MESSAGES
        assert kinds["delivered"] == len(end.delivered) == MESSAGES
        assert kinds["connected"] == 1
        texts = [e.text for e in evs if e.kind == "delivered"]
        assert texts == [f"delivered value {k}: {v!r}" for k, v in enumerate(end.delivered)]
    # every ACK that reached a session's socket is on its lane, at the step that queued it
    recs = _records(echo_trace)
    acks = [r for r in recs if r["rule"] == "delivery_in_udp_1" and _is_ack(r)]
    lane_acks = [e for evs in echo_data.annotations.values() for e in evs if e.kind == "acked"]
    assert len(lane_acks) == len(acks) > 0
    assert sorted(e.i for e in lane_acks) == [r["i"] for r in acks]
    assert all(recs[e.i]["label"]["host"] == e.host for e in lane_acks)


def _host(end: Any) -> str:
    from udpsem.hosts.values import ip_str

    return {"10.0.0.11": "C1", "10.0.0.12": "C2"}[ip_str(end.chan.peer[0])]


def test_verdict_strips_and_svg(echo_data: ChartData) -> None:
    assert len(echo_data.verdict_strips) == 4
    for strip in echo_data.verdict_strips.values():
        assert [holds for _, _, holds, _ in strip] == [True]
    assert not echo_data.violations
    doc = ET.fromstring(svg(echo_data))
    classes = Counter(g.get("class") for g in doc.iter(f"{SVG}g"))
    assert classes["verdict holds"] == 4 and classes["verdict violated"] == 0
    assert classes["annot sent"] == classes["annot delivered"] == 4 * MESSAGES
    assert classes["annot connected"] == 4
    assert classes["annot acked"] == sum(1 for evs in echo_data.annotations.values()
                                         for e in evs if e.kind == "acked")
    texts = " ".join(t.text or "" for t in doc.iter(f"{SVG}text"))
    assert "⇄ SERVER:7000" in texts and "session: value sent" in texts


def test_a_breach_turns_the_strip_red(echo_trace: Path) -> None:
    # the driver is correct, so a breach is made up: from the first delivery on, the
    # monitor reports one for C1's address; only C1's session ends turn red
    sess = Session.load(echo_trace)
    lanes = SessionLanes({"10.0.0.1": "SERVER", "10.0.0.11": "C1", "10.0.0.12": "C2"})
    real = lanes.mon.violations

    def violations() -> list[str]:
        broken = any(e.delivered for e in lanes.mon.clients if e.host == "C1")
        breach = "C1 10.0.0.11:5000: client received [99], not a prefix of the sent [5]"
        return real() + ([breach] if broken else [])

    lanes.mon.violations = violations  # type: ignore[method-assign]
    for i, st in enumerate(sess.steps):
        lanes.on_step(i, st)
    assert lanes.first_breach is not None and "10.0.0.11:5000" in lanes.first_breach[2]
    red = {k for k, strip in lanes.strips.items() if not strip[-1][2]}
    assert red == {("C1", "⇄ SERVER:7000"), ("SERVER", "⇄ C1:5000")}
    assert all(strip[-1][2] for k, strip in lanes.strips.items() if k not in red)
    data = load(str(echo_trace), check=False)
    lanes.apply(data)
    (v,) = data.violations
    assert v.i == lanes.first_breach[0] and "session_guarantees violated" in v.text
    doc = ET.fromstring(svg(data))
    classes = Counter(g.get("class") for g in doc.iter(f"{SVG}g"))
    assert classes["verdict violated"] == 2 and classes["violation"] == 1


def test_thinning_keeps_every_session_event(echo_data: ChartData) -> None:
    doc = ET.fromstring(svg(echo_data, max_elements=50))
    assert any(t.get("class") == "thinned" for t in doc.iter(f"{SVG}text"))
    drawn: Counter[str] = Counter()
    for g in doc.iter(f"{SVG}g"):
        cls = g.get("class") or ""
        if cls.startswith("annot "):
            drawn[cls[6:]] += int(g.get("data-n", "1"))
    want = Counter(e.kind for evs in echo_data.annotations.values() for e in evs)
    assert drawn == want


def test_no_lane_without_replay_or_sessions(echo_trace: Path, tmp_path: Path) -> None:
    assert load(str(echo_trace), check=False).annot_lanes == {}
    hb = tmp_path / "h.jsonl"
    subprocess.run([sys.executable, "-m", "udpsem", "run", "heartbeat", "--duration", "3s",
                    "--trace", str(hb)], check=True, capture_output=True)
    assert load(str(hb)).annot_lanes == {}


def test_program_file_sessions_and_explorer(tmp_path: Path) -> None:
    # examples/sessions.py, the README's fragment made whole: its trace charted with
    # --program, and the explorer's chart of the same run
    trace, prog = tmp_path / "s.jsonl", str(EXAMPLES / "sessions.py")
    # seed 1: both strings answered within the 5 s horizon (seed 2 is still retransmitting)
    subprocess.run([sys.executable, "-m", "udpsem", "run", prog, "--seed", "1", "--trace",
                    str(trace)], check=True, capture_output=True)
    data = load(str(trace), program=prog)
    assert data.annot_lanes == {"CLIENT": ["⇄ SERVER:7000"], "SERVER": ["⇄ CLIENT:5000"]}
    kinds = Counter(e.kind for evs in data.annotations.values() for e in evs)
    assert kinds["sent"] == kinds["delivered"] == 4  # two strings out, two lengths back
    from udpsem.view.server import Explorer

    ex = Explorer(Session.load(trace, program=prog))
    doc = ET.fromstring(ex.chart(StatePath(len(ex.session.steps))))
    classes = Counter(g.get("class") for g in doc.iter(f"{SVG}g"))
    assert classes["annot delivered"] == 4 and classes["verdict holds"] == 2
