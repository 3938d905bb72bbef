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
from udpsem.view.events import ChartData, Mark, Msg, msg_tooltip
from udpsem.view.state import fmt_time

LEFT = 120        # room for host names
RIGHT = 30
TOP = 64          # title and legend
AXIS = 22
SUB = 15          # height of one thread sub-lane
LIFE = 18         # the lifeline band itself
STATUS = 14
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
            self.block[h] = (top, y)
            y += GAP
        self.height = int(y - GAP + AXIS + 30)

    def x(self, t: int) -> float:
        return LEFT + (min(max(t, self.t0), self.t1) - self.t0) * self.plot_w / (self.t1 - self.t0)

    def inside(self, t: int) -> bool:
        return self.t0 <= t <= self.t1


def svg(data: ChartData, *, t_from: int | None = None, t_to: int | None = None,
        hosts: list[str] | None = None, width: int = 1600, title: str | None = None,
        marker_t: int | None = None) -> str:
    """The chart as an SVG document (a string). `t_from`/`t_to` choose a time window,
    `hosts` the lifelines (in that order), `marker_t` draws the explorer's current time."""
    t0 = t_from if t_from is not None else 0
    t1 = t_to if t_to is not None else max(data.t_end, 1)
    shown = [h for h in (hosts or data.hosts) if h in data.hosts]
    lay = _Layout(data, t0, t1, shown, width)
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
    _legend(out, TOP)
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
    _calls(out, data, lay)
    _status(out, data, lay)
    for m in data.msgs:
        _arrow(out, m, lay)
    for mk in data.marks:
        _mark(out, mk, lay)
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


def _legend(out: list[str], y: float) -> None:
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
        ("strip", "", "get_status answer 1 / 0"),
    ]
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
    tip = _title(msg_tooltip(m))
    cls = f"msg {m.fate}"
    attrs = f'class="{cls}" data-i="{m.i0}"' + (f' data-j="{m.i1}"' if m.i1 is not None else "")
    x0 = lay.x(m.t0)
    if src_shown:
        assert m.src is not None
        ys = _edge_y(lay, m.src, m.dst)
    else:
        ys = (lay.block[m.dst][0] - GAP / 2) if m.dst is not None else 0  # from outside
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


def _calls(out: list[str], data: ChartData, lay: _Layout) -> None:
    for c in data.calls:
        key = (c.host, c.lane)
        if key not in lay.lane_y:
            continue
        end = c.t1 if c.t1 is not None else lay.t1
        if end < lay.t0 or c.t0 > lay.t1:
            continue
        y = lay.lane_y[key]
        x0, x1 = lay.x(c.t0), lay.x(end)
        colour = "#c0392b" if c.failed else ("#6a8caf" if c.lane != "app" else "#5b8c5a")
        tip = f"{c.host} {c.lane}: {c.text}\ncalled {fmt_time(c.t0)} (step {c.i0})"
        if c.t1 is not None:
            tip += f"\nreturned {c.result} at {fmt_time(c.t1)} (step {c.i1})"
        else:
            tip += "\nnot returned by the end"
        out.append(f'<g class="call" data-i="{c.i0}"><rect x="{x0:.1f}" y="{y - 4:.1f}" '
                   f'width="{max(x1 - x0, 1.5):.1f}" height="8" rx="2" fill="{colour}" '
                   f'opacity="0.75"/>{_title(tip)}</g>')
        if c.lane == "app" and x1 - x0 > 60:
            out.append(f'<text x="{x0 + 3:.1f}" y="{y + 3:.1f}" font-size="8" fill="white" '
                       f'pointer-events="none">{escape(c.name)} → {escape(c.result[:20])}</text>')


def _status(out: list[str], data: ChartData, lay: _Layout) -> None:
    for host, changes in data.status.items():
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
            x0, x1 = lay.x(t), lay.x(end)
            colour = "#2ca02c" if v == 1 else ("#d62728" if v == 0 else "#999")
            out.append(f'<g class="status" data-i="{i}"><rect x="{x0:.1f}" y="{y - 6:.1f}" '
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
    tip = _title(f"{mk.host} {mk.lane} at {fmt_time(mk.t)} (step {mk.i}): {mk.text}")
    if mk.kind == "timeout":
        shape = _diamond(x, y, "#8c564b")
    elif mk.kind == "icmp":
        shape = (f'<path d="M{x:.1f},{y - 5:.1f} L{x + 5:.1f},{y + 4:.1f} L{x - 5:.1f},'
                 f'{y + 4:.1f} z" fill="#ff7f0e"/>')
    elif mk.kind in ("exception", "error"):
        shape = _cross(x, y, "#d62728", 5)
    else:
        shape = f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="#17becf"/>'
    out.append(f'<g class="mark {mk.kind}" data-i="{mk.i}">{shape}{tip}</g>')


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
    recs = list(records)
    data = events(header, recs, header.get("params", {}).get("duration_ns"))
    if check and (header.get("program") != "custom" or rebuild_with is not None):
        from udpsem.view.session import Session

        try:
            sess = Session.load(trace, rebuild_with=rebuild_with, program=program)
        except TraceError:
            return data
        add_violations(data, sess.first_violations())
    return data


def add_violations(data: ChartData, found: list[tuple[str, int, int, str]]) -> None:
    """Draw (property, step, time, message) violations."""
    for prop, i, t, msg in found:
        data.violations.append(Mark("", "", i, t, "violation", f"{prop} violated: {msg}"))
