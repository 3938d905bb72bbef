"""The view package: the state renderer, sequence charts (from trace labels alone), the
session over a replayed trace, the explorer's JSON API, and the `chart`/`ui` commands."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import urllib.error
import urllib.request
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from udpsem.base.time import NEVER, S
from udpsem.hosts.state import Timing
from udpsem.view.chart import load, svg
from udpsem.view.events import events
from udpsem.view.session import PathError, Session, StatePath, format_path, parse_path
from udpsem.view.state import fmt_dur, fmt_time, mark_changes, render

SVG = "{http://www.w3.org/2000/svg}"
# The issue's "done when" run: KURT unplugged 20 s - 40 s, 10 % loss, Theorem 2's assumptions.
DONE_WHEN = ["run", "heartbeat", "--seed", "7", "--duration", "60s", "--loss", "0.1",
             "--preset", "paper", "--disconnect", "KURT@20s-40s"]


def udpsem(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    p = subprocess.run([sys.executable, "-m", "udpsem", *args], capture_output=True,
                       text=True, timeout=300, check=False)
    if check:
        assert p.returncode == 0, p.stderr
    return p


@pytest.fixture(scope="module")
def hb_trace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("view") / "t.jsonl"
    udpsem(*DONE_WHEN, "--trace", str(path))
    return path


def _records(path: Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    lines = [json.loads(x) for x in path.read_text().splitlines()]
    return lines[0], lines[1:]


# The state renderer ---------------------------------------------------------------------------

def test_time_formats() -> None:
    assert fmt_time(20 * S) == "20.000s"
    assert fmt_time(1_094_703) == "0.001094703s"
    assert fmt_time(1_500_000) == "0.001500s"
    assert fmt_time(NEVER) == "∞"
    assert fmt_dur(NEVER) == "∞"
    assert fmt_dur(100_000) == "100µs"
    assert fmt_dur(5_300_000) == "5.3ms"


def test_state_is_readable_and_marks_changes(hb_trace: Path) -> None:
    sess = Session.load(hb_trace)
    _, recs = _records(hb_trace)
    i = next(r["i"] for r in recs if r["rule"] == "host_disconnect")
    before, after = render(sess.worlds[i]), mark_changes(render(sess.worlds[i]),
                                                         render(sess.worlds[i + 1]))
    text = after.text()
    assert "4611686018427387904" not in text and "timer ∞" in text
    assert "192.168.0.11:46586 ↔ 192.168.0.14:7658" in text  # the socket quad, dotted
    kurt = next(s for s in after.sections if s.key == "KURT")
    assert kurt.status == "unplugged" and kurt.changed
    assert next(s for s in before.sections if s.key == "KURT").status == "connected"
    alan = next(s for s in after.sections if s.key == "ALAN")
    assert not alan.changed and not any(r.changed for r in alan.rows)
    assert "sched/disconnect/KURT/20000000000" in after.removed
    # a send shows the datagram in flight with its arrival time and remaining delay
    k = next(r["i"] for r in recs if r["partner"] == "net_accept_single")
    net = next(s for s in mark_changes(render(sess.worlds[k]),
                                       render(sess.worlds[k + 1])).sections if s.key == "net")
    (row,) = net.rows
    d = next(v for kk, v in recs[k]["choices"] if kk == "delay")
    assert row.changed and f"(in {fmt_dur(d)})" in row.text and '"ping"' in row.text


# Charts ----------------------------------------------------------------------------------------

def test_chart_pairs_sends_with_deliveries(hb_trace: Path) -> None:
    header, recs = _records(hb_trace)
    data = events(header, recs)
    fates = Counter(m.fate for m in data.msgs)
    partners = Counter(r["partner"] for r in recs if r["label"]["kind"] == "send")
    assert fates["dropped"] == partners["net_accept_drop"] == 2
    assert fates["send_unplugged"] == partners["host_send_disc"] == 20
    assert fates["delivered"] == partners["net_accept_single"] \
        == sum(r["rule"] == "delivery_in_udp_1" for r in recs)
    t = Timing()
    for m in data.msgs:
        if m.fate == "delivered":
            assert m.src == "KURT" and m.dst == "ALAN"
            assert m.t1 is not None and t.dpropmin <= m.t1 - m.t0 <= t.dpropmax
            assert recs[m.i1]["rule"] == "delivery_in_udp_1"  # type: ignore[index]
        if m.fate == "send_unplugged":
            assert 20 * S <= m.t0 < 40 * S
    assert [(b.host, b.kind, b.t0, b.t1) for b in data.bands] == [
        ("KURT", "unplugged", 20 * S, 40 * S)]
    assert [v for _, _, v in data.status["ALAN"]] == [1, 0, 1]


def test_chart_duplicates_and_unplugged_receiver(tmp_path: Path) -> None:
    # ALAN is unplugged (not allowed under --preset paper) and datagrams get duplicated.
    path = tmp_path / "d.jsonl"
    p = udpsem("run", "heartbeat", "--seed", "3", "--duration", "12s", "--dup", "0.5",
               "--disconnect", "ALAN@4s-8s", "--trace", str(path), check=False)
    assert p.returncode == 1, p.stderr  # unplugging ALAN breaks Theorem 2: exit status 1
    header, recs = _records(path)
    data = events(header, recs)
    copies = sum(len([1 for k, _ in r["choices"] if k == "delay"]) for r in recs
                 if r["partner"] in ("net_accept_single", "net_accept_dup"))
    arrived = sum(r["label"]["kind"] == "deliver" for r in recs)
    fates = Counter(m.fate for m in data.msgs)
    assert fates["delivered"] + fates["recv_unplugged"] + fates["in_flight"] == copies
    assert fates["delivered"] + fates["recv_unplugged"] == arrived
    assert fates["recv_unplugged"] == sum(r["rule"] == "host_recv_disc" for r in recs) > 0
    dups = [m for m in data.msgs if m.copies > 1]
    assert dups and all(m.rule == "net_accept_dup" or m.fate != "delivered" or m.copies > 1
                        for m in dups)
    doc = ET.fromstring(svg(data))
    classes = Counter(g.get("class") for g in doc.iter(f"{SVG}g"))
    assert classes["msg recv_unplugged"] == fates["recv_unplugged"]


def test_chart_svg_shows_the_run(hb_trace: Path, tmp_path: Path) -> None:
    out = tmp_path / "t.svg"
    p = udpsem("chart", str(hb_trace), "-o", str(out))
    assert "38 delivered, 2 dropped, 20 send unplugged" in p.stdout
    doc = ET.parse(out).getroot()  # valid XML
    assert doc.tag == f"{SVG}svg"
    groups = list(doc.iter(f"{SVG}g"))
    classes = Counter(g.get("class") for g in groups)
    assert classes["msg delivered"] == 38
    assert classes["msg dropped"] == 2
    assert classes["msg send_unplugged"] == 20
    assert classes["band unplugged"] == 1
    assert classes["status"] == 3
    assert classes["violation"] == 0
    texts = " ".join(t.text or "" for t in doc.iter(f"{SVG}text"))
    assert "KURT unplugged" in texts and "status 0 from 21.608382783s" in texts
    # every element says what it is on hover, and which step drew it
    for g in groups:
        if g.get("data-i") is not None:
            assert g.find(f"{SVG}title") is not None
    # the band spans 20 s to 40 s on the time axis
    t0, t1 = int(doc.get("data-t0")), int(doc.get("data-t1"))  # type: ignore[arg-type]
    x0, x1 = float(doc.get("data-x0")), float(doc.get("data-x1"))  # type: ignore[arg-type]
    band = next(g for g in groups if g.get("class") == "band unplugged").find(f"{SVG}rect")
    assert band is not None
    scale = (x1 - x0) / (t1 - t0)
    assert float(band.get("x")) == pytest.approx(x0 + 20 * S * scale, abs=0.1)  # type: ignore
    assert float(band.get("width")) == pytest.approx(20 * S * scale, abs=0.2)  # type: ignore


def test_chart_window_hosts_and_html(hb_trace: Path, tmp_path: Path) -> None:
    out = tmp_path / "w.html"
    udpsem("chart", str(hb_trace), "-o", str(out), "--from", "15s", "--to", "25s",
           "--hosts", "KURT")
    page = out.read_text()
    assert page.startswith("<!doctype html>") and "<svg" in page and "mouseenter" in page
    doc = ET.fromstring(page[page.index("<svg"):page.index("</svg>") + 6])
    groups = [g for g in doc.iter(f"{SVG}g") if (g.get("class") or "").startswith("msg")]
    _, recs = _records(hb_trace)
    sent = [r for r in recs if r["label"]["kind"] == "send" and 15 * S <= r["t"] <= 25 * S]
    assert len(groups) == len(sent)  # only the window's datagrams
    names = {t.text for t in doc.iter(f"{SVG}text")}
    assert "KURT" in names and "ALAN" not in names


@pytest.mark.parametrize("args, needle", [
    (["-o", "x.png"], ".svg or .html"),
    (["-o", "x.svg", "--hosts", "BOB"], "BOB"),
    (["-o", "x.svg", "--from", "5s", "--to", "2s"], "--to"),
    (["-o", "x.svg", "--from", "5q"], "--from"),
])
def test_chart_bad_input(hb_trace: Path, tmp_path: Path, args: list[str], needle: str) -> None:
    args = [a if not a.startswith("x.") else str(tmp_path / a) for a in args]
    p = udpsem("chart", str(hb_trace), *args, check=False)
    assert p.returncode == 2 and needle in p.stderr and "Traceback" not in p.stderr
    assert len(p.stderr.strip().splitlines()) == 1


@pytest.fixture(scope="module")
def cx_run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("cx")
    out = {"cx": d / "cx.jsonl", "chart": d / "cx.svg", "graph": d / "g.graphml"}
    p = udpsem("explore", "heartbeat", "--horizon", "4s", "--preset", "paper",
               "--max-successive-drops", "2", "--counterexample", str(out["cx"]), "--chart",
               str(out["chart"]), "--graph", str(out["graph"]), check=False)
    # Theorem 2 is violated (two pings lost in a row); explore's exit status for a violation
    # is not this file's concern (issue 10 settles it), so both 0 and 1 are accepted here
    assert p.returncode in (0, 1), p.stderr
    return out


def test_counterexample_chart(cx_run: dict[str, Path]) -> None:
    doc = ET.parse(cx_run["chart"]).getroot()
    groups = Counter(g.get("class") for g in doc.iter(f"{SVG}g"))
    assert groups["violation"] == 1 and groups["msg dropped"] == 2
    texts = " ".join(t.text or "" for t in doc.iter(f"{SVG}text"))
    assert "theorem2 violated" in texts
    p = udpsem("explore", "heartbeat", "--horizon", "1s", "--chart",
               str(cx_run["chart"].with_name("x.svg")), check=False)
    assert p.returncode == 2 and "--counterexample" in p.stderr


def test_chart_without_check_draws_no_violation(cx_run: dict[str, Path]) -> None:
    assert load(str(cx_run["cx"]), check=False).violations == []
    (v,) = load(str(cx_run["cx"])).violations
    assert v.t == 3 * S and "theorem2" in v.text


def test_graphml_edges_and_nodes(cx_run: dict[str, Path]) -> None:
    import networkx as nx  # type: ignore[import-untyped]

    g = nx.read_graphml(cx_run["graph"])
    nodes = dict(g.nodes(data=True))
    assert sum(1 for d in nodes.values() if d["initial"]) >= 1
    bad = [d for d in nodes.values() if d["violated"]]
    assert [d["violated"] for d in bad] == ["theorem2"]
    assert all("t=" in d["summary"] and "ALAN" in d["summary"] for d in nodes.values())
    edges = list(g.edges(data=True, keys=True))
    for _, _, _, d in edges:
        assert json.loads(d["choices"])[0][0] == "pick" and d["label"] and d["rule"]
    # a send has several outcomes (drop or one of the delays): they are told apart
    sends = [d for _, _, _, d in edges if d["rule"] == "delivery_out_1"]
    assert {d["partner"] for d in sends} >= {"net_accept_drop", "net_accept_single"}
    assert len({d["choices"] for d in sends}) > 2


# Sessions and paths ----------------------------------------------------------------------------

def test_paths_roundtrip_and_branching(hb_trace: Path) -> None:
    sess = Session.load(hb_trace)
    assert len(sess.steps) == len(_records(hb_trace)[1])
    # a step whose only choice is which candidate fires: the trace's step is a successor
    k = next(r["i"] for r in sess.records if len(r["choices"]) == 1 and r["i"] > 40)
    succ = sess.successors(StatePath(k))
    on_trace = [s for s in succ if s["choices"] == sess.records[k]["choices"]]
    assert len(on_trace) == 1 and on_trace[0]["rule"] == sess.records[k]["rule"]
    other = next(s for s in succ if s["choices"] != sess.records[k]["choices"])
    q = StatePath(k, (tuple(tuple(c) for c in other["choices"]),))
    assert parse_path(format_path(q)) == q
    worlds, steps = sess.resolve(q)
    assert steps[-1].transition.rule == other["rule"] and worlds[-1].now == other["t"]
    with pytest.raises(PathError):
        sess.resolve(StatePath(len(sess.steps) + 1))
    with pytest.raises(PathError):
        sess.resolve(StatePath(k, ((("pick", 999),),)))
    with pytest.raises(PathError):
        parse_path("x")


# The JSON API ----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def api(hb_trace: Path) -> Iterator[str]:
    from udpsem.view.server import make_server

    srv = make_server(Session.load(hb_trace))
    assert srv.server_address[0] == "127.0.0.1"
    th = threading.Thread(target=srv.serve_forever, daemon=True)
    th.start()
    yield f"http://127.0.0.1:{srv.server_address[1]}"
    srv.shutdown()
    srv.server_close()


def _get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=30) as r:
        body = r.read()
        return json.loads(body) if r.headers["Content-Type"] == "application/json" else body


def test_api_info_and_state(api: str, hb_trace: Path) -> None:
    info = _get(api + "/api/info")
    assert info["program"] == "heartbeat" and info["hosts"] == ["ALAN", "KURT"]
    _, recs = _records(hb_trace)
    assert info["trace_steps"] == len(recs)
    i = next(r["i"] for r in recs if r["rule"] == "host_disconnect")
    st = _get(f"{api}/api/state?path={i + 1}")
    assert st["step"]["rule"] == "host_disconnect" and "KURT is unplugged" in st["step"]["label"]
    assert "HOST(T, h) --n·disconnect--> HOST(F, h)" in st["step"]["rule_doc"]["doc"]
    kurt = next(s for s in st["state"]["sections"] if s["key"] == "KURT")
    assert kurt["status"] == "unplugged" and kurt["changed"]
    assert st["back"] == str(i) and st["forward"] == str(i + 2)
    assert st["verdicts"]["theorem2"]["holds"] and st["verdicts"]["host_ok"]["holds"]
    first = _get(api + "/api/state?path=0")
    assert first["step"] is None and first["back"] is None and first["index"] == 0


def test_api_branch_and_back(api: str) -> None:
    st = _get(api + "/api/state?path=42")
    follows = [s for s in st["successors"] if s["follows_trace"]]
    assert [s["path"] for s in follows] == ["43"]
    off = next(s for s in st["successors"] if not s["follows_trace"])
    br = _get(f"{api}/api/state?path={urllib.request.quote(off['path'])}")
    assert br["branched"] == 1 and br["index"] == 43 and br["step"]["rule"] == off["rule"]
    assert br["back"] == "42" and br["forward"] is None
    chart = _get(f"{api}/api/chart?path={urllib.request.quote(off['path'])}")
    assert ET.fromstring(chart).tag == f"{SVG}svg"


@pytest.mark.parametrize("url, status", [("/api/state?path=999999", 400),
                                         ("/api/state?path=abc", 400),
                                         ("/api/nothing", 404)])
def test_api_errors(api: str, url: str, status: int) -> None:
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(api + url, timeout=30)
    assert e.value.code == status and "error" in json.loads(e.value.read())


def test_ui_command_serves_on_loopback(hb_trace: Path) -> None:
    p = subprocess.Popen([sys.executable, "-m", "udpsem", "ui", str(hb_trace)],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert p.stdout is not None
        line = p.stdout.readline()
        assert line.startswith("udpsem explorer: http://127.0.0.1:"), line
        url = line.split()[2]
        assert _get(url + "api/info")["program"] == "heartbeat"
        page = _get(url)
        assert b"udpsem explorer" in page
    finally:
        p.terminate()
        p.wait(timeout=10)


def test_ui_bad_input() -> None:
    p = udpsem("ui", "no-such-thing", check=False)
    assert p.returncode == 2 and "no-such-thing" in p.stderr and "Traceback" not in p.stderr


def test_state_command(hb_trace: Path) -> None:
    p = udpsem("state", str(hb_trace), "--at", "20s")
    lines = p.stdout.splitlines()
    assert lines[0].endswith("host_disconnect: KURT is unplugged")
    assert "* KURT: unplugged" in lines and "ALAN: connected" in lines
    assert "reconnect KURT at 40.000s" in p.stdout
    js = json.loads(udpsem("state", str(hb_trace), "--step", "0", "--json").stdout)
    assert js["step"] == 0 and js["time"] == "0.000s"
    bad = udpsem("state", str(hb_trace), "--step", "999999", check=False)
    assert bad.returncode == 2 and "steps" in bad.stderr


def test_chart_of_a_crash(tmp_path: Path) -> None:
    # ALAN crashes at 8 s: its calls and status end there, KURT's pings leave the network
    path = tmp_path / "c.jsonl"
    p = udpsem("run", "heartbeat", "--seed", "2", "--duration", "12s", "--loss", "0.2",
               "--crash", "ALAN@8s", "--trace", str(path), check=False)
    assert p.returncode == 1, p.stderr  # the crash breaks Theorem 2: exit status 1
    header, recs = _records(path)
    data = events(header, recs)
    assert [(b.host, b.kind, b.t0, b.t1) for b in data.bands] == [("ALAN", "crashed", 8 * S,
                                                                   None)]
    assert data.ends == {"ALAN": 8 * S}
    assert all(c.t1 is not None and c.t1 <= 8 * S for c in data.calls if c.host == "ALAN")
    outside = [m for m in data.msgs if m.fate == "outside"]
    assert outside and all(m.t0 >= 8 * S and m.dst == "ALAN" for m in outside)
    assert len(outside) == sum(r["rule"] == "net_emit_outside" for r in recs)


def test_session_guarantee_verdicts(tmp_path: Path) -> None:
    path = tmp_path / "e.jsonl"
    udpsem("run", "echo", "--clients", "2", "--messages", "3", "--loss", "0.3", "--dup", "0.2",
           "--seed", "1", "--trace", str(path))
    sess = Session.load(path)
    v = sess.verdicts(StatePath(len(sess.steps)))
    assert v["session_guarantees"]["holds"] and "2 client" in v["session_guarantees"]["message"]
    assert "theorem2" not in v and v["no_escape"]["holds"]
    assert "session_guarantees" not in sess.verdicts(StatePath(0))  # no session yet


def test_ui_of_a_fresh_run() -> None:
    p = subprocess.Popen([sys.executable, "-m", "udpsem", "ui", "heartbeat", "--duration", "3s",
                          "--disconnect", "KURT@1s-2s"], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    try:
        assert p.stdout is not None
        url = p.stdout.readline().split()[2]
        assert url.startswith("http://127.0.0.1:")
        info = _get(url + "api/info")
        assert info["program"] == "heartbeat" and "KURT unplugged 1.000s–2.000s" in info["title"]
    finally:
        p.terminate()
        p.wait(timeout=10)


def test_chart_of_icmp_errors() -> None:
    # A's connected socket sends to a port of B where nothing listens: B answers ICMP port
    # unreachable, A's socket records it, A's next sendto fails with ECONNREFUSED.
    import io

    from udpsem.base.time import S as SEC
    from udpsem.hosts.calls import connect, delay, print_endline_flush, sendto, socket
    from udpsem.hosts.values import UDPError, ip
    from udpsem.network.faults import Faults
    from udpsem.programs.runtime import GeneratorRuntime
    from udpsem.programs.world import HostSpec, build_world
    from udpsem.state.components import ModCall
    from udpsem.traces.record import run_world

    def pinger() -> Any:
        fd = yield socket()
        yield connect(fd, ip("10.0.0.2"), 9000)
        for _ in range(3):
            try:
                yield sendto(fd, None, b"ping", False)
            except UDPError as e:
                yield print_endline_flush(f"send failed: {e.errno}")
            yield delay(200_000)

    def idle() -> Any:
        return None
        yield  # a generator that returns at once

    hosts = [HostSpec("A", ["10.0.0.1"], lambda: (yield ModCall("ping")),
                      module={"ping": pinger}),
             HostSpec("B", ["10.0.0.2"], lambda: (yield ModCall("idle")),
                      module={"idle": idle})]
    setup, world = build_world(hosts, Faults(), GeneratorRuntime(), horizon=1 * SEC)
    trace = io.StringIO()
    run_world(setup, world, seed=1, trace=trace)
    lines = [json.loads(x) for x in trace.getvalue().splitlines()]
    data = events(lines[0], lines[1:])
    rules = Counter(r["rule"] for r in lines[1:])
    pings = [m for m in data.msgs if not m.icmp]
    errors = [m for m in data.msgs if m.icmp]
    assert [m.fate for m in pings] == ["no_socket"] * rules["delivery_in_udp_2"]
    assert len(errors) == rules["delivery_in_icmp_1"] > 0
    assert all(m.fate == "delivered" and (m.src, m.dst) == ("B", "A") for m in errors)
    marks = Counter((mk.kind, mk.host, mk.lane) for mk in data.marks)
    assert marks[("icmp", "A", "")] == rules["delivery_in_icmp_1"]
    assert marks[("error", "A", "thread 0")] == rules["sendto_5"] == 1
    doc = ET.fromstring(svg(data))
    classes = Counter(g.get("class") for g in doc.iter(f"{SVG}g"))
    assert classes["msg no_socket"] == len(pings) and classes["mark icmp"] == len(errors)
    orange = [ln for g in doc.iter(f"{SVG}g") if g.get("class") == "msg delivered"
              for ln in g.iter(f"{SVG}line")]
    assert orange and all(ln.get("stroke") == "#ff7f0e" for ln in orange)


# `udpsem ui FILE.py`: the explorer for a user's own program file -------------------------------

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
BUGGY = str(EXAMPLES / "reqresp_buggy.py")
# Seed 2 of reqresp_buggy: a slow first answer makes the client retry and then take the stale
# reply as the answer to its second question (`udpsem run ... --seed 2` exits 1 saying so).
BUGGY_SEED = "2"


def _serve(*args: str) -> tuple[subprocess.Popen[str], str]:
    p = subprocess.Popen([sys.executable, "-m", "udpsem", "ui", *args],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert p.stdout is not None
    line = p.stdout.readline()
    if not line.startswith("udpsem explorer: http://127.0.0.1:"):
        p.kill()
        raise AssertionError(f"no address printed: {line!r} {p.communicate()[1]}")
    return p, line.split()[2]


@pytest.fixture(scope="module")
def user_ui() -> Iterator[str]:
    p, url = _serve(BUGGY, "--seed", BUGGY_SEED)
    yield url
    p.terminate()
    p.wait(timeout=10)


def test_ui_program_file_api(user_ui: str, tmp_path: Path) -> None:
    # the same run as `udpsem run FILE.py --seed 2`: same steps, same verdict
    trace = tmp_path / "r.jsonl"
    ran = udpsem("run", BUGGY, "--seed", BUGGY_SEED, "--json", "--trace", str(trace),
                 check=False)
    assert ran.returncode == 1
    summary = json.loads(ran.stdout)
    _, recs = _records(trace)
    info = _get(user_ui + "api/info")
    assert info["program"] == BUGGY and info["hosts"] == ["CLIENT", "SERVER"]
    assert info["trace_steps"] == summary["transitions"] == len(recs)
    first = _get(user_ui + "api/state?path=0")
    assert set(first["verdicts"]) == {"host_ok", "network_ok", "answers_match", "no_escape"}
    assert all(v["holds"] for v in first["verdicts"].values())
    # step by step along the recorded run: each state's step is the trace's
    for k in (1, 2, len(recs) // 2):
        st = _get(f"{user_ui}api/state?path={k}")
        assert st["step"]["rule"] == recs[k - 1]["rule"] and st["back"] == str(k - 1)
    last = _get(f"{user_ui}api/state?path={len(recs)}")
    bad = last["verdicts"]["answers_match"]
    assert not bad["holds"] and "b're 1' as the answer to b'2'" in bad["message"]
    assert summary["violations"][0].endswith(bad["message"])
    # branching off the user's program: the model computes the successor (here the slowest
    # delay of the exploration grid, dpropmax = 10 ms, instead of the trace's)
    k = next(r["i"] for r in recs if r["partner"] == "net_accept_single")
    st = _get(f"{user_ui}api/state?path={k}")
    slow = next(s for s in st["successors"] if ["delay", 10_000_000] in s["choices"])
    assert not slow["follows_trace"]
    br = _get(f"{user_ui}api/state?path={urllib.request.quote(slow['path'])}")
    assert br["branched"] == 1 and br["step"]["partner"] == "net_accept_single"
    assert br["back"] == str(k) and "answers_match" in br["verdicts"]
    net = next(s for s in br["state"]["sections"] if s["key"] == "net")
    assert any("(in 10ms)" in r["text"] and r["changed"] for r in net["rows"])
    # and on from there: the successors of the branched state are the model's
    nxt = br["successors"][0]
    br2 = _get(f"{user_ui}api/state?path={urllib.request.quote(nxt['path'])}")
    assert br2["branched"] == 2 and br2["step"]["rule"] == nxt["rule"]
    chart = _get(f"{user_ui}api/chart?path={urllib.request.quote(nxt['path'])}")
    assert ET.fromstring(chart).tag == f"{SVG}svg"


def test_ui_program_file_fault_defaults_and_options() -> None:
    # examples/sessions.py's WorldSpec sets loss 0.2, dup 0.1: they apply, --loss overrides
    p, url = _serve(str(EXAMPLES / "sessions.py"), "--seed", "2", "--loss", "0", "--duration",
                    "2s")
    try:
        info = _get(url + "api/info")
        assert info["title"] == f"{EXAMPLES / 'sessions.py'}, seed 2: dup 0.1"
        last = _get(f"{url}api/state?path={info['trace_steps']}")
        assert last["verdicts"]["session_guarantees"]["holds"]
        assert last["verdicts"]["lengths_right"]["holds"]
    finally:
        p.terminate()
        p.wait(timeout=10)


@pytest.mark.parametrize("args", [
    ["nosuch.py"],
    [f"{BUGGY}:nope"],
    [BUGGY, "--period", "1s"],
    [BUGGY, "--loss", "2"],
    [BUGGY, "--disconnect", "CLIENT@5s"],
])
def test_ui_program_file_bad_input_as_run(args: list[str]) -> None:
    ui_p = udpsem("ui", *args, check=False)
    run_p = udpsem("run", *args, check=False)
    assert ui_p.returncode == run_p.returncode == 2
    assert ui_p.stderr == run_p.stderr and "Traceback" not in ui_p.stderr
    assert len(ui_p.stderr.strip().splitlines()) == 1


def test_ui_program_file_that_raises_as_run(tmp_path: Path) -> None:
    bad = tmp_path / "broken.py"
    bad.write_text("import udpsem\n\ndef world():\n    return 1 / 0\n")
    ui_p = udpsem("ui", str(bad), check=False)
    run_p = udpsem("run", str(bad), check=False)
    assert ui_p.returncode == run_p.returncode == 2
    assert ui_p.stderr == run_p.stderr and "world() raised ZeroDivisionError" in ui_p.stderr


def test_ui_trace_of_a_program_file(tmp_path: Path) -> None:
    trace = tmp_path / "r.jsonl"
    udpsem("run", BUGGY, "--seed", BUGGY_SEED, "--trace", str(trace), check=False)
    no_prog = udpsem("ui", str(trace), check=False)
    assert no_prog.returncode == 2 and f"--program {BUGGY}" in no_prog.stderr
    opts = udpsem("ui", str(trace), "--seed", "3", check=False)
    assert opts.returncode == 2 and "--seed" in opts.stderr and "PROGRAM" in opts.stderr
    other = udpsem("ui", str(trace), "--program", str(EXAMPLES / "reqresp.py"), check=False)
    assert other.returncode == 2 and "not the file the trace was recorded from" in other.stderr
    p, url = _serve(str(trace), "--program", BUGGY)
    try:
        info = _get(url + "api/info")
        last = _get(f"{url}api/state?path={info['trace_steps']}")
        assert not last["verdicts"]["answers_match"]["holds"]
    finally:
        p.terminate()
        p.wait(timeout=10)
    # `udpsem chart --program` replays it too and draws the violation
    out = tmp_path / "r.svg"
    udpsem("chart", str(trace), "--program", BUGGY, "-o", str(out))
    doc = ET.parse(out).getroot()
    assert Counter(g.get("class") for g in doc.iter(f"{SVG}g"))["violation"] == 1
