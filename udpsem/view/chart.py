"""Sequence charts of traces as plain SVG text (and a self-contained HTML page around it).

Time runs left to right; each host is a lifeline with a sub-lane per thread (and one for the
module calls of the application). Datagrams are arrows from send to arrival with their fate:
a lost one ends in a red cross halfway, one sent while unplugged is a grey stub with a cross,
one discarded at an unplugged receiver is a dashed arrow ending in a ring, copies of a
duplicated one are violet arrows, ICMP errors are orange. Disconnect and crash windows are
shaded bands; select timeouts, ICMP errors recorded on a socket and escaped exceptions are
marks on the thread's lane; the heartbeat's get_status answers are a status strip under the
detector's lifeline; a property violation is a red line. Every element has a hover title and
`data-i` (the step that made it) so the explorer can link it to its step.
"""

from __future__ import annotations

import math
from html import escape
from typing import Any

from udpsem.base.time import MS, S
from udpsem.view.events import Annot, CallBar, ChartData, Mark, Msg, msg_tooltip
from udpsem.view.state import fmt_dur, fmt_time
from udpsem.view.thin import BIN_PX, MAX_ELEMENTS, Changing, Thinned, thin, window_elements

LEFT = 120        # room for host names
RIGHT = 30
TOP = 64          # title and legend
AXIS = 22
SUB = 15          # height of one thread sub-lane
LIFE = 18         # the lifeline band itself
STATUS = 14
ANNOT = 20        # a program annotation lane: its events and its verdict strip
GAP = 46          # between hosts: room for arrows
LEGEND_H = 30

FATE_STYLE = {
    "delivered": "#1f6fb2",
    "dropped": "#d62728",
    "send_unplugged": "#7f7f7f",
    "recv_unplugged": "#7f7f7f",
    "no_socket": "#ff7f0e",
    "outside": "#7f7f7f",
    "in_flight": "#1f6fb2",
}


def nice_step(span: int, target: int) -> int:
    """A round tick step (1, 2, 5 × 10^k ns) giving about `target` ticks over `span`."""
    if span <= 0:
        return S
    raw = span / max(target, 1)
    if raw >= 60 * S:  # minutes and hours, not 5000 s
        for m in (1, 2, 5, 10, 15, 30, 60, 120, 180, 360, 720, 1440):
            if m * 60 * S >= raw:
                return m * 60 * S
    k = 10 ** math.floor(math.log10(raw))
    for m in (1, 2, 5, 10):
        if m * k >= raw:
            return max(1, int(m * k))
    return max(1, int(10 * k))


def _title(text: str) -> str:
    return f"<title>{escape(text)}</title>"


class _Layout:
    def __init__(self, data: ChartData, t0: int, t1: int, hosts: list[str], width: int) -> None:
        self.t0, self.t1 = t0, max(t1, t0 + 1)
        self.width = width
        self.plot_w = width - LEFT - RIGHT
        self.hosts = hosts
        self.y: dict[str, float] = {}        # lifeline centre
        self.lane_y: dict[tuple[str, str], float] = {}
        self.block: dict[str, tuple[float, float]] = {}
        y = TOP + LEGEND_H + AXIS + 10
        for h in hosts:
            top = y
            self.y[h] = y + LIFE / 2
            y += LIFE
            for lane in data.lanes.get(h, []):
                self.lane_y[(h, lane)] = y + SUB / 2
                y += SUB
            if data.status.get(h):
                self.lane_y[(h, "status")] = y + STATUS / 2 + 2
                y += STATUS + 4
            for lane in data.annot_lanes.get(h, []):
                self.lane_y[(h, "annot " + lane)] = y + ANNOT / 2
                y += ANNOT
            self.block[h] = (top, y)
            y += GAP
        self.height = int(y - GAP + AXIS + 30)

    def x(self, t: int) -> float:
        return LEFT + (min(max(t, self.t0), self.t1) - self.t0) * self.plot_w / (self.t1 - self.t0)

    def inside(self, t: int) -> bool:
        return self.t0 <= t <= self.t1


def svg(data: ChartData, *, t_from: int | None = None, t_to: int | None = None,
        hosts: list[str] | None = None, width: int = 1600, title: str | None = None,
        marker_t: int | None = None, max_elements: int = MAX_ELEMENTS) -> str:
    """The chart as an SVG document (a string). `t_from`/`t_to` choose a time window,
    `hosts` the lifelines (in that order), `marker_t` draws the explorer's current time.
    A window with more than `max_elements` elements is thinned (`udpsem.view.thin`; 0:
    never), and the chart says so."""
    t0 = t_from if t_from is not None else 0
    t1 = t_to if t_to is not None else max(data.t_end, 1)
    shown = [h for h in (hosts or data.hosts) if h in data.hosts]
    lay = _Layout(data, t0, t1, shown, width)
    thinned: Thinned | None = None
    if max_elements and window_elements(data, lay.t0, lay.t1, shown) > max_elements:
        thinned = thin(data, lay.t0, lay.t1, shown, lay.plot_w)
    out: list[str] = []
    w, h = lay.width, lay.height
    out.append(f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" '
               f'viewBox="0 0 {w} {h}" font-family="DejaVu Sans, Helvetica, Arial, sans-serif" '
               f'font-size="11" class="udpsem-chart" data-t0="{lay.t0}" data-t1="{lay.t1}" '
               f'data-x0="{LEFT}" data-x1="{LEFT + lay.plot_w}" data-y0="{TOP + LEGEND_H}" '
               f'data-y1="{h - 20}">')
    out.append("<defs>"
               '<marker id="ah" viewBox="0 0 8 8" refX="7" refY="4" markerWidth="7" '
               'markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L8,4 L0,8 z" '
               'fill="context-stroke"/></marker>'
               '<pattern id="hatch" width="6" height="6" patternUnits="userSpaceOnUse" '
               'patternTransform="rotate(45)"><rect width="6" height="6" fill="#f3e3e3"/>'
               '<line x1="0" y1="0" x2="0" y2="6" stroke="#d9a0a0" stroke-width="2"/>'
               "</pattern></defs>")
    out.append(f'<rect x="0" y="0" width="{w}" height="{h}" fill="white"/>')
    heading = (title or data.title or data.program) + \
        f" — {data.steps} steps, {fmt_time(t0)} to {fmt_time(t1)}"
    out.append(f'<text x="{LEFT}" y="22" font-size="15" font-weight="bold">'
               f"{escape(heading)}</text>")
    counts = data.counts()
    summary = ", ".join(f"{v} {k.replace('_', ' ')}" for k, v in sorted(counts.items()))
    out.append(f'<text x="{LEFT}" y="40" fill="#444">datagram copies: {escape(summary)}</text>')
    if thinned is not None:
        out.append(f'<text class="thinned" x="{LEFT}" y="54" fill="#a33" font-size="10">'
                   f"{escape(thin_note(thinned))}</text>")
    _legend(out, TOP, sessions=bool(data.annot_lanes), status=bool(data.status))
    _axis(out, lay, TOP + LEGEND_H + AXIS - 4, top=True)
    _axis(out, lay, h - 24, top=False)
    # bands under everything
    for b in data.bands:
        if b.host not in lay.block:
            continue
        end = b.t1 if b.t1 is not None else lay.t1
        if end < lay.t0 or b.t0 > lay.t1:
            continue
        y0, y1 = lay.block[b.host]
        x0, x1 = lay.x(b.t0), lay.x(end)
        fill = "url(#hatch)" if b.kind == "unplugged" else "#444"
        op = "1" if b.kind == "unplugged" else "0.25"
        tip = f"{b.host} {b.kind} from {fmt_time(b.t0)}" + (
            f" to {fmt_time(b.t1)}" if b.t1 is not None else " to the end")
        out.append(f'<g class="band {b.kind}" data-i="{b.i0}"><rect x="{x0:.1f}" '
                   f'y="{y0 - 4:.1f}" width="{max(x1 - x0, 1):.1f}" height="{y1 - y0 + 8:.1f}" '
                   f'fill="{fill}" opacity="{op}"/>{_title(tip)}'
                   f'<text x="{x0 + 4:.1f}" y="{y1 + 1:.1f}" fill="#a33" font-weight="bold">'
                   f"{escape(b.host)} {b.kind}</text></g>")
    # lifelines and lanes
    for host in shown:
        y0, y1 = lay.block[host]
        cy = lay.y[host]
        out.append(f'<text x="{LEFT - 10}" y="{cy + 4:.1f}" text-anchor="end" font-size="13" '
                   f'font-weight="bold">{escape(host)}</text>')
        out.append(f'<line x1="{LEFT}" y1="{cy:.1f}" x2="{LEFT + lay.plot_w}" y2="{cy:.1f}" '
                   f'stroke="#333" stroke-width="2"/>')
        for lane in data.lanes.get(host, []):
            ly = lay.lane_y[(host, lane)]
            out.append(f'<text x="{LEFT - 10}" y="{ly + 3:.1f}" text-anchor="end" fill="#777" '
                       f'font-size="9">{escape(lane)}</text>')
            out.append(f'<line x1="{LEFT}" y1="{ly:.1f}" x2="{LEFT + lay.plot_w}" y2="{ly:.1f}" '
                       f'stroke="#e4e4e4"/>')
    for (host, lane), strip in data.verdict_strips.items():
        _verdict_strip(out, host, lane, strip, lay)
    if thinned is None:
        _calls(out, data.calls, lay)
        _status(out, data.status, data, lay)
        for m in data.msgs:
            _arrow(out, m, lay)
        for mk in data.marks:
            _mark(out, mk, lay)
        for host, evs in data.annotations.items():
            for ev in evs:
                _annot(out, ev, lay)
    else:
        _call_groups(out, thinned, lay)
        _calls(out, thinned.calls, lay)
        _status(out, thinned.status, data, lay)
        _traffic(out, thinned, lay)
        for m in thinned.msgs:
            _arrow(out, m, lay)
        for mk in thinned.marks:
            _mark(out, mk, lay)
        for ev in thinned.annotations:
            _annot(out, ev, lay)
    for v in data.violations:
        if lay.inside(v.t):
            x = lay.x(v.t)
            out.append(f'<g class="violation" data-i="{v.i}"><line x1="{x:.1f}" '
                       f'y1="{TOP + LEGEND_H + AXIS:.1f}" x2="{x:.1f}" y2="{h - 30}" '
                       f'stroke="#d62728" stroke-width="2.5"/>{_title(v.text)}'
                       f'<text x="{x - 4:.1f}" y="{TOP + LEGEND_H + AXIS + 12:.1f}" '
                       f'text-anchor="end" fill="#d62728" font-weight="bold">'
                       f"{escape(v.text[:90])}</text></g>")
    if marker_t is not None and lay.inside(marker_t):
        x = lay.x(marker_t)
        out.append(f'<line class="now" x1="{x:.1f}" y1="{TOP + LEGEND_H:.1f}" x2="{x:.1f}" '
                   f'y2="{h - 20}" stroke="#2ca02c" stroke-width="2" stroke-dasharray="6 3"/>')
    out.append("</svg>")
    return "\n".join(out)


def _legend(out: list[str], y: float, sessions: bool = False, status: bool = True) -> None:
    x = LEFT
    items = [
        ("arrow", "#1f6fb2", "datagram delivered"),
        ("cross", "#d62728", "lost by the network"),
        ("stub", "#7f7f7f", "sent while unplugged"),
        ("ring", "#7f7f7f", "discarded: receiver unplugged"),
        ("arrow", "#9467bd", "duplicated copy"),
        ("arrow", "#ff7f0e", "ICMP error"),
        ("diamond", "#8c564b", "select timeout"),
        ("band", "", "unplugged / crashed"),
    ]
    if status or not sessions:
        items.append(("strip", "", "get_status answer 1 / 0"))
    if sessions:
        items.append(("session", "", "session: value sent / delivered / ACK; guarantees"))
    for kind, colour, text in items:
        cy = y + 10
        if kind == "arrow":
            out.append(f'<line x1="{x}" y1="{cy}" x2="{x + 22}" y2="{cy}" stroke="{colour}" '
                       f'stroke-width="1.5" marker-end="url(#ah)"/>')
        elif kind == "cross":
            out.append(f'<line x1="{x}" y1="{cy}" x2="{x + 14}" y2="{cy}" stroke="{colour}" '
                       f'stroke-width="1.5"/>' + _cross(x + 18, cy, colour))
        elif kind == "stub":
            out.append(f'<line x1="{x}" y1="{cy}" x2="{x + 8}" y2="{cy}" stroke="{colour}" '
                       f'stroke-width="1.5"/>' + _cross(x + 12, cy, colour))
        elif kind == "ring":
            out.append(f'<line x1="{x}" y1="{cy}" x2="{x + 16}" y2="{cy}" stroke="{colour}" '
                       f'stroke-width="1.5" stroke-dasharray="3 2"/><circle cx="{x + 20}" '
                       f'cy="{cy}" r="3.5" fill="white" stroke="{colour}" stroke-width="1.5"/>')
        elif kind == "diamond":
            out.append(_diamond(x + 10, cy, colour))
        elif kind == "band":
            out.append(f'<rect x="{x}" y="{cy - 6}" width="10" height="12" fill="url(#hatch)"/>'
                       f'<rect x="{x + 12}" y="{cy - 6}" width="10" height="12" fill="#444" '
                       f'opacity="0.25"/>')
        elif kind == "session":
            out.append(f'<path d="M{x + 3},{cy - 6} L{x + 6.5},{cy} L{x - 0.5},{cy} z" '
                       f'fill="#1f6fb2"/><circle cx="{x + 12}" cy="{cy}" r="3" '
                       f'fill="#2ca02c"/><line x1="{x + 19}" y1="{cy - 3}" x2="{x + 19}" '
                       f'y2="{cy + 3}" stroke="#7f7f7f" stroke-width="1.5"/>'
                       f'<rect x="{x}" y="{cy + 5}" width="11" height="2.5" fill="#2ca02c"/>'
                       f'<rect x="{x + 11}" y="{cy + 5}" width="11" height="2.5" '
                       f'fill="#d62728"/>')
        elif kind == "strip":
            out.append(f'<rect x="{x}" y="{cy - 4}" width="11" height="8" fill="#2ca02c"/>'
                       f'<rect x="{x + 11}" y="{cy - 4}" width="11" height="8" fill="#d62728"/>')
        out.append(f'<text x="{x + 27}" y="{cy + 4}" fill="#333">{escape(text)}</text>')
        x += 34 + int(len(text) * 6.1)


def _axis(out: list[str], lay: _Layout, y: float, top: bool) -> None:
    span = lay.t1 - lay.t0
    step = nice_step(span, max(4, lay.plot_w // 90))
    first = -(-lay.t0 // step) * step
    out.append(f'<line x1="{LEFT}" y1="{y:.1f}" x2="{LEFT + lay.plot_w}" y2="{y:.1f}" '
               f'stroke="#999"/>')
    t = first
    while t <= lay.t1:
        x = lay.x(t)
        out.append(f'<line x1="{x:.1f}" y1="{y - 3:.1f}" x2="{x:.1f}" y2="{y + 3:.1f}" '
                   f'stroke="#999"/>')
        label = _tick_label(t, step)
        ty = y - 6 if top else y + 14
        out.append(f'<text x="{x:.1f}" y="{ty:.1f}" text-anchor="middle" fill="#666">'
                   f"{label}</text>")
        t += step


def _tick_label(t: int, step: int) -> str:
    if step >= 60 * S:  # hours and minutes on long traces
        h, m = divmod(t // (60 * S), 60)
        return (f"{h}h" if h else "") + (f"{m}m" if m or not h else "")
    if step >= S:
        return f"{t // S}s"
    if step >= MS:
        return f"{t / S:.3f}".rstrip("0").rstrip(".") + "s"
    return f"{t / S:.6f}".rstrip("0").rstrip(".") + "s"


def _cross(x: float, y: float, colour: str, r: float = 4) -> str:
    return (f'<path d="M{x - r:.1f},{y - r:.1f} L{x + r:.1f},{y + r:.1f} M{x - r:.1f},'
            f'{y + r:.1f} L{x + r:.1f},{y - r:.1f}" stroke="{colour}" stroke-width="2"/>')


def _diamond(x: float, y: float, colour: str, r: float = 4) -> str:
    return (f'<path d="M{x:.1f},{y - r:.1f} L{x + r:.1f},{y:.1f} L{x:.1f},{y + r:.1f} '
            f'L{x - r:.1f},{y:.1f} z" fill="{colour}"/>')


def _edge_y(lay: _Layout, host: str, towards: str | None) -> float:
    """Where an arrow leaves or reaches `host`'s lifeline block, on the side of `towards`."""
    y1 = lay.block[host][1]
    if towards is None or towards not in lay.y:
        return lay.y[host]
    return lay.y[host] if lay.y[towards] < lay.y[host] else y1


def _arrow(out: list[str], m: Msg, lay: _Layout) -> None:
    end_t = m.t1 if m.t1 is not None else m.t0
    if end_t < lay.t0 or m.t0 > lay.t1:
        return
    src_shown = m.src in lay.y
    dst_shown = m.dst in lay.y
    if not src_shown and not dst_shown:
        return
    colour = FATE_STYLE[m.fate]
    if m.icmp:
        colour = "#ff7f0e"
    elif m.copies > 1 and m.fate in ("delivered", "in_flight"):
        colour = "#9467bd"
    tip = _title(_group_text(m.n, m.t0, m.t_last, "datagram copies like this one")
                 + msg_tooltip(m))
    cls = f"msg {m.fate}"
    attrs = f'class="{cls}" data-i="{m.i0}"' + (f' data-j="{m.i1}"' if m.i1 is not None else "")
    attrs += _group_attrs(m.n, m.t0, m.t_last)
    x0 = lay.x(m.t0)
    if src_shown:
        assert m.src is not None
        ys = _edge_y(lay, m.src, m.dst)
    else:
        ys = (lay.block[m.dst][0] - GAP / 2) if m.dst is not None else 0  # from outside
    if m.n > 1:
        tip += _count_label(x0 + 5, ys + (12 if m.fate != "send_unplugged" else -3), m.n,
                            colour)
    if m.fate == "send_unplugged":
        if not src_shown:
            return
        assert m.src is not None
        dy = 10 if (m.dst in lay.y and lay.y[m.dst] > lay.y[m.src]) or m.dst is None else -10
        ys2 = lay.block[m.src][1] if dy > 0 else lay.y[m.src]
        out.append(f'<g {attrs}><line x1="{x0:.1f}" y1="{ys2:.1f}" x2="{x0:.1f}" '
                   f'y2="{ys2 + dy:.1f}" stroke="{colour}" stroke-width="1.5"/>'
                   f"{_cross(x0, ys2 + dy * 1.5, colour, 3.5)}{tip}</g>")
        return
    if m.fate == "dropped":
        if m.dst in lay.y and src_shown:
            yd = _edge_y(lay, m.dst, m.src)
        else:
            yd = ys + GAP
        ym = ys + (yd - ys) * 0.45
        out.append(f'<g {attrs}><line x1="{x0:.1f}" y1="{ys:.1f}" x2="{x0 + 1:.1f}" '
                   f'y2="{ym:.1f}" stroke="{colour}" stroke-width="1.5"/>'
                   f"{_cross(x0 + 1, ym, colour, 5)}{tip}</g>")
        return
    if m.t1 is None:  # still in flight at the end of the trace: dashed, open-ended
        yd = _edge_y(lay, m.dst, m.src) if m.dst in lay.y else ys + GAP
        xe = LEFT + lay.plot_w
        out.append(f'<g {attrs}><line x1="{x0:.1f}" y1="{ys:.1f}" x2="{xe:.1f}" y2="{yd:.1f}" '
                   f'stroke="{colour}" stroke-width="1.2" stroke-dasharray="4 3"/>{tip}</g>')
        return
    x1 = lay.x(m.t1)
    if m.fate == "outside" or not dst_shown:
        if m.dst in lay.y and src_shown:
            yd = _edge_y(lay, m.dst, m.src)
        else:
            yd = ys + GAP * 0.6
        out.append(f'<g {attrs}><line x1="{x0:.1f}" y1="{ys:.1f}" x2="{x1:.1f}" y2="{yd:.1f}" '
                   f'stroke="{colour}" stroke-width="1.2" stroke-dasharray="2 2" '
                   f'marker-end="url(#ah)"/>{tip}</g>')
        return
    assert m.dst is not None
    yd = _edge_y(lay, m.dst, m.src) if src_shown else lay.y[m.dst]
    if m.fate == "recv_unplugged":
        out.append(f'<g {attrs}><line x1="{x0:.1f}" y1="{ys:.1f}" x2="{x1:.1f}" y2="{yd:.1f}" '
                   f'stroke="{colour}" stroke-width="1.5" stroke-dasharray="3 2"/>'
                   f'<circle cx="{x1:.1f}" cy="{yd:.1f}" r="3.5" fill="white" '
                   f'stroke="{colour}" stroke-width="1.5"/>{tip}</g>')
        return
    mult = ""
    if m.copies > 1:
        ty = ys + (yd - ys) * 0.5
        mult = (f'<text x="{x0 + 3:.1f}" y="{ty:.1f}" font-size="9" fill="{colour}" '
                f'font-weight="bold">×{m.copies}</text>')
    out.append(f'<g {attrs}><line x1="{x0:.1f}" y1="{ys:.1f}" x2="{x1:.1f}" y2="{yd:.1f}" '
               f'stroke="{colour}" stroke-width="1.3" marker-end="url(#ah)"/>{mult}{tip}</g>')


def _group_attrs(n: int, first: int, last: int | None) -> str:
    """The attributes of a thinned chart's group of n elements (none for a single one)."""
    if n == 1:
        return ""
    return f' data-n="{n}" data-from="{first}" data-to="{last if last is not None else first}"'


def _group_text(n: int, first: int, last: int | None, what: str) -> str:
    if n == 1:
        return ""
    end = fmt_time(last) if last is not None else fmt_time(first)
    return f"{n} {what} from {fmt_time(first)} to {end} (thinned: drawn once); the first:\n"


def _count_label(x: float, y: float, n: int, colour: str) -> str:
    return (f'<text x="{x:.1f}" y="{y:.1f}" font-size="9" fill="{colour}" font-weight="bold" '
            f'pointer-events="none">×{n}</text>')


def _calls(out: list[str], calls: list[CallBar], lay: _Layout) -> None:
    for c in calls:
        key = (c.host, c.lane)
        if key not in lay.lane_y:
            continue
        end = c.t1 if c.t1 is not None else lay.t1
        if end < lay.t0 or c.t0 > lay.t1:
            continue
        y = lay.lane_y[key]
        x0, x1 = lay.x(c.t0), lay.x(max(end, c.t_last or end))
        colour = "#c0392b" if c.failed else ("#6a8caf" if c.lane != "app" else "#5b8c5a")
        tip = (_group_text(c.n, c.t0, c.t_last, "failed calls")
               + f"{c.host} {c.lane}: {c.text}\ncalled {fmt_time(c.t0)} (step {c.i0})")
        if c.t1 is not None:
            tip += f"\nreturned {c.result} at {fmt_time(c.t1)} (step {c.i1})"
        else:
            tip += "\nnot returned by the end"
        count = _count_label(x1 + 2, y + 3, c.n, colour) if c.n > 1 else ""
        out.append(f'<g class="call{" failed" if c.failed else ""}" data-i="{c.i0}"'
                   f'{_group_attrs(c.n, c.t0, c.t_last)}><rect x="{x0:.1f}" y="{y - 4:.1f}" '
                   f'width="{max(x1 - x0, 1.5):.1f}" height="8" rx="2" fill="{colour}" '
                   f'opacity="0.75"/>{count}{_title(tip)}</g>')
        if c.lane == "app" and x1 - x0 > 60:
            out.append(f'<text x="{x0 + 3:.1f}" y="{y + 3:.1f}" font-size="8" fill="white" '
                       f'pointer-events="none">{escape(c.name)} → {escape(c.result[:20])}</text>')


def _status(out: list[str], status: dict[str, list[tuple[int, int, Any]]], data: ChartData,
            lay: _Layout) -> None:
    for host, changes in status.items():
        key = (host, "status")
        if key not in lay.lane_y:
            continue
        y = lay.lane_y[key]
        out.append(f'<text x="{LEFT - 10}" y="{y + 3:.1f}" text-anchor="end" fill="#777" '
                   f'font-size="9">get_status</text>')
        for k, (i, t, v) in enumerate(changes):
            end = changes[k + 1][1] if k + 1 < len(changes) else data.ends.get(host, lay.t1)
            if end < lay.t0 or t > lay.t1:
                continue
            if isinstance(v, Changing):  # thinned: n changes within one bin, then the last
                xa, xb = lay.x(t), lay.x(v.last)
                tip = (f"{host} get_status: {v.n} changes from {fmt_time(t)} to "
                       f"{fmt_time(v.last)} (thinned), then {v.value}")
                out.append(f'<g class="status changing" data-i="{i}"'
                           f'{_group_attrs(v.n, t, v.last)}><rect x="{xa:.1f}" '
                           f'y="{y - 6:.1f}" width="{max(xb - xa, BIN_PX):.1f}" height="12" '
                           f'fill="#ff7f0e"/>{_title(tip)}</g>')
                t, v = v.last, v.value
                if end <= t:
                    continue
                cls = "status rest"  # the last value of the changes: not a change of its own
            else:
                cls = "status"
            x0, x1 = lay.x(t), lay.x(end)
            colour = "#2ca02c" if v == 1 else ("#d62728" if v == 0 else "#999")
            out.append(f'<g class="{cls}" data-i="{i}"><rect x="{x0:.1f}" y="{y - 6:.1f}" '
                       f'width="{max(x1 - x0, 1):.1f}" height="12" fill="{colour}"/>'
                       f"{_title(f'{host} get_status answers {v} from {fmt_time(t)}')}</g>")
            label = f"status {v} from {fmt_time(t)}"
            if lay.inside(t) and x1 - x0 < 6.2 * len(label) + 6:
                label = f"{v}" if x1 - x0 >= 12 else ""
            if lay.inside(t) and label:
                out.append(f'<text x="{x0 + 3:.1f}" y="{y + 4:.1f}" font-size="10" '
                           f'fill="white" font-weight="bold" pointer-events="none">'
                           f"{escape(label)}</text>")


def _mark(out: list[str], mk: Mark, lay: _Layout) -> None:
    key = (mk.host, mk.lane)
    if not lay.inside(mk.t) or mk.host not in lay.y:
        return
    y = lay.lane_y.get(key, lay.y[mk.host])
    x = lay.x(mk.t)
    tip = _title(_group_text(mk.n, mk.t, mk.t_last, "marks like this one")
                 + f"{mk.host} {mk.lane} at {fmt_time(mk.t)} (step {mk.i}): {mk.text}")
    if mk.kind == "timeout":
        colour = "#8c564b"
        shape = _diamond(x, y, colour)
    elif mk.kind == "icmp":
        colour = "#ff7f0e"
        shape = (f'<path d="M{x:.1f},{y - 5:.1f} L{x + 5:.1f},{y + 4:.1f} L{x - 5:.1f},'
                 f'{y + 4:.1f} z" fill="{colour}"/>')
    elif mk.kind in ("exception", "error"):
        colour = "#d62728"
        shape = _cross(x, y, colour, 5)
    else:
        colour = "#17becf"
        shape = f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{colour}"/>'
    if mk.n > 1:
        shape += _count_label(x + 5, y - 3, mk.n, colour)
    out.append(f'<g class="mark {mk.kind}" data-i="{mk.i}"'
               f'{_group_attrs(mk.n, mk.t, mk.t_last)}>{shape}{tip}</g>')


ANNOT_STYLE = {"connected": "#2ca02c", "sent": "#1f6fb2", "delivered": "#2ca02c",
               "acked": "#7f7f7f"}


def _annot(out: list[str], ev: Annot, lay: _Layout) -> None:
    """A program annotation: a session's connect (a bar), values sent (▲ above the lane's
    line), values delivered (● below it) and acknowledgements received (a tick)."""
    key = (ev.host, "annot " + ev.lane)
    if key not in lay.lane_y or not lay.inside(ev.t):
        return
    y, x = lay.lane_y[key], lay.x(ev.t)
    colour = ANNOT_STYLE.get(ev.kind, "#17becf")
    if ev.kind == "sent":
        shape = (f'<path d="M{x:.1f},{y - 8:.1f} L{x + 3.5:.1f},{y - 2:.1f} '
                 f'L{x - 3.5:.1f},{y - 2:.1f} z" fill="{colour}"/>')
    elif ev.kind == "delivered":
        shape = f'<circle cx="{x:.1f}" cy="{y + 4:.1f}" r="3" fill="{colour}"/>'
    elif ev.kind == "acked":
        shape = (f'<line x1="{x:.1f}" y1="{y - 3:.1f}" x2="{x:.1f}" y2="{y + 3:.1f}" '
                 f'stroke="{colour}" stroke-width="1.5"/>')
    else:  # connected
        shape = (f'<rect x="{x - 1.5:.1f}" y="{y - 8:.1f}" width="3" height="16" '
                 f'fill="{colour}"/>')
    if ev.n > 1:
        shape += _count_label(x + 4, y - 1, ev.n, colour)
    tip = _title(_group_text(ev.n, ev.t, ev.t_last, f"{ev.kind} events")
                 + f"{ev.host} {ev.lane} at {fmt_time(ev.t)} (step {ev.i}): {ev.text}")
    out.append(f'<g class="annot {ev.kind}" data-i="{ev.i}"'
               f'{_group_attrs(ev.n, ev.t, ev.t_last)}>{shape}{tip}</g>')


def _verdict_strip(out: list[str], host: str, lane: str,
                   strip: list[tuple[int, int, bool, str]], lay: _Layout) -> None:
    """A program annotation lane's name, its line, and its verdict: green while the
    guarantees hold along the run, red from the step that breaks them."""
    key = (host, "annot " + lane)
    if key not in lay.lane_y:
        return
    y = lay.lane_y[key]
    out.append(f'<text x="{LEFT - 10}" y="{y + 3:.1f}" text-anchor="end" fill="#777" '
               f'font-size="9">{escape(lane)}</text>')
    for k, (i, t, holds, msg) in enumerate(strip):
        end = strip[k + 1][1] if k + 1 < len(strip) else lay.t1
        if end < lay.t0 or t > lay.t1:
            continue
        x0, x1 = lay.x(t), lay.x(end)
        colour = "#2ca02c" if holds else "#d62728"
        out.append(f'<g class="verdict {"holds" if holds else "violated"}" data-i="{i}">'
                   f'<rect x="{x0:.1f}" y="{y - 1:.1f}" width="{max(x1 - x0, 1):.1f}" '
                   f'height="2.5" fill="{colour}"/>'
                   f"{_title(f'{host} {lane} from {fmt_time(t)}: {msg}')}</g>")


def _traffic(out: list[str], th: Thinned, lay: _Layout) -> None:
    """Ordinary datagrams of a thinned chart: one band per bin and (sender, receiver),
    darker for more."""
    most = max((tr.n for tr in th.traffic), default=1)
    for tr in th.traffic:
        if tr.src not in lay.y and tr.dst not in lay.y:
            continue
        if tr.src in lay.y and tr.dst in lay.y:
            assert tr.src is not None and tr.dst is not None
            ya, yb = _edge_y(lay, tr.src, tr.dst), _edge_y(lay, tr.dst, tr.src)
        else:
            h = tr.src if tr.src in lay.y else tr.dst
            assert h is not None
            ya = lay.block[h][1]
            yb = ya + GAP * 0.6
        top, bot = min(ya, yb), max(ya, yb)
        x0, x1 = lay.x(tr.t0), lay.x(tr.t1)
        op = 0.2 + 0.6 * tr.n / most
        tip = (f"{tr.n} datagram{'s' if tr.n > 1 else ''} {tr.src or 'outside'} → "
               f"{tr.dst or 'outside'} delivered, sent {fmt_time(tr.first)} to "
               f"{fmt_time(tr.last)} (from step {tr.i0}), delay {fmt_dur(tr.dmin)} to "
               f"{fmt_dur(tr.dmax)}")
        out.append(f'<g class="traffic" data-i="{tr.i0}" data-n="{tr.n}"><rect x="{x0:.1f}" '
                   f'y="{top:.1f}" width="{max(x1 - x0 - 0.5, 0.5):.1f}" '
                   f'height="{bot - top:.1f}" fill="#1f6fb2" opacity="{op:.2f}"/>'
                   f"{_title(tip)}</g>")


def _call_groups(out: list[str], th: Thinned, lay: _Layout) -> None:
    """Short calls that succeeded, of a thinned chart: one block per bin and lane."""
    for cg in th.call_groups:
        key = (cg.host, cg.lane)
        if key not in lay.lane_y:
            continue
        y = lay.lane_y[key]
        x0, x1 = lay.x(cg.t0), lay.x(cg.t1)
        colour = "#6a8caf" if cg.lane != "app" else "#5b8c5a"
        names = ", ".join(f"{k} ×{v}" for k, v in sorted(cg.names.items()))
        tip = (f"{cg.host} {cg.lane}: {cg.n} call{'s' if cg.n > 1 else ''} from "
               f"{fmt_time(cg.t0)} to {fmt_time(cg.t1)} (from step {cg.i0}): {names}")
        out.append(f'<g class="callgroup" data-i="{cg.i0}" data-n="{cg.n}"><rect '
                   f'x="{x0:.1f}" y="{y - 3:.1f}" width="{max(x1 - x0 - 0.5, 0.5):.1f}" '
                   f'height="6" fill="{colour}" opacity="0.45"/>{_title(tip)}</g>')


def thin_note(th: Thinned) -> str:
    """What the chart says about its thinning (one line)."""
    kept = ", ".join(f"{v:,} {k}" for k, v in sorted(th.anomalies.items()) if v)
    return (f"thinned, {th.elements:,} elements: {th.ordinary_msgs:,} datagrams delivered once "
            f"and {th.ordinary_calls:,} short calls as counts per {_short_dur(th.bin_ns)}; "
            f"every anomaly kept ({kept or 'none'}; ×n: n in one {BIN_PX} px bin); "
            f"--from/--to for full detail")


def _short_dur(d: int) -> str:
    """A duration to three significant digits: `9.94s`, `250ms`."""
    for unit, name in ((S, "s"), (MS, "ms")):
        if d >= unit:
            return f"{d / unit:.3g}{name}"
    return fmt_dur(d)


def html(data: ChartData, **kw: Any) -> str:
    """A self-contained HTML page: the SVG chart with hover details in a side box."""
    body = svg(data, **kw)
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>{escape(data.title or data.program)} — udpsem chart</title>
<style>
body {{ font-family: DejaVu Sans, Helvetica, Arial, sans-serif; margin: 0; }}
#chart {{ overflow-x: auto; }}
#details {{ position: fixed; right: 12px; bottom: 12px; max-width: 460px; white-space: pre-wrap;
  background: #fffbe6; border: 1px solid #d8c77a; padding: 8px 10px; font-size: 12px;
  box-shadow: 0 2px 6px rgba(0,0,0,.15); }}
g.msg:hover line, g.call:hover rect, g.mark:hover path {{ stroke-width: 3; opacity: 1; }}
</style></head><body>
<div id="chart">{body}</div>
<div id="details">Hover over an arrow, a call bar or a mark for details.</div>
<script>
const box = document.getElementById('details');
document.querySelectorAll('svg g[data-i]').forEach(g => {{
  const t = g.querySelector('title');
  if (!t) return;
  g.addEventListener('mouseenter', () => {{ box.textContent = t.textContent; }});
}});
</script>
</body></html>
"""


def load(trace: str, check: bool = True, rebuild_with: Any = None,
         program: str | None = None) -> ChartData:
    """The chart contents of a trace file. With `check`, the trace is replayed (through the
    program catalog, `program` for a trace of a program file, or `rebuild_with`) and each
    property monitor's first violation is drawn; a trace that cannot be rebuilt is then
    drawn from its records alone."""
    from udpsem.traces.replay import TraceError, read_trace
    from udpsem.view.events import events

    header, records = read_trace(trace)
    data = events(header, records, header.get("params", {}).get("duration_ns"))
    if check and (header.get("program") != "custom" or rebuild_with is not None):
        from udpsem.view.events import addr_hosts
        from udpsem.view.session import replay_findings
        from udpsem.view.sessions_lane import SessionLanes

        lanes = SessionLanes(addr_hosts(header))
        try:
            found = replay_findings(trace, program=program, rebuild_with=rebuild_with,
                                    on_step=lanes.on_step)
        except TraceError:
            return data
        add_violations(data, found)
        lanes.apply(data)
    return data


def add_violations(data: ChartData, found: list[tuple[str, int, int, str]]) -> None:
    """Draw (property, step, time, message) violations."""
    for prop, i, t, msg in found:
        data.violations.append(Mark("", "", i, t, "violation", f"{prop} violated: {msg}"))
