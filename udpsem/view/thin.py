"""Thinning a chart of a long trace: ordinary traffic summarised, every anomaly kept.

A 24-hour heartbeat has about 86,000 pings and 250,000 LIB calls: drawn one by one that is
a chart of 100 MB in which nothing can be seen. When a time window holds more elements than
a budget (`MAX_ELEMENTS`), the window is cut into bins of `BIN_PX` pixels and:

* **ordinary** elements are summarised per bin: datagrams delivered once (not ICMP, not
  duplicated) become one `Traffic` band per bin and (sender, receiver) with their count and
  delays; LIB and module calls that succeeded and are shorter than a bin become one
  `CallGroup` per bin and lane with their count and names. A call longer than a bin is drawn
  as itself (one thread makes one call at a time, so a lane has at most one per bin);
* every **anomaly** is kept, never merged into ordinary traffic: lost, unplugged, discarded,
  duplicated, ICMP, no-socket, outside and still-in-flight datagrams, failed calls, select
  timeouts, ICMP errors, failed sends, escaped exceptions, console output, status changes,
  session events, fault windows and violations. Anomalies of one kind on one lane (or between
  one pair of hosts) within one bin, which could not be told apart at that scale anyway, are
  drawn once with their number `n` and first and last times (`×n` on the chart), so that
  the chart's size is bounded by the number of bins, not by the length of the trace;
* status strips keep every change; changes closer than a bin are drawn as one "changing"
  segment with their number.

The chart says that it was thinned and how; `--from/--to` on a shorter window gives every
element again. Each kept group carries its count, so `sum(n)` of a kind equals the number
of anomalies of that kind in the window (tests/test_view_thin.py checks it).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field, replace
from typing import Any

from udpsem.view.events import Annot, CallBar, ChartData, Mark, Msg

MAX_ELEMENTS = 2000
"""Most elements drawn one by one before a window is thinned. The README's 60 s heartbeat has
291 (one ping a second, about four calls per ping), so windows of up to about six minutes
of the heartbeat are drawn in full detail."""

BIN_PX = 4
"""Width of a thinning bin in pixels: about the size of one drawn mark (a cross, a diamond
is 8-10 px), so two anomalies in one bin would overlap anyway."""


@dataclass
class Traffic:
    """Ordinary datagrams from `src` to `dst` sent within one bin."""

    src: str | None
    dst: str | None
    t0: int  # the bin
    t1: int
    n: int
    i0: int  # the first one's send step
    first: int  # send time of the first and of the last
    last: int
    dmin: int
    dmax: int


@dataclass
class CallGroup:
    """Short calls that succeeded on one lane within one bin."""

    host: str
    lane: str
    t0: int
    t1: int
    n: int
    i0: int
    names: Counter[str] = field(default_factory=Counter)


@dataclass
class Thinned:
    """What a thinned window draws instead of `data`'s elements, and what it summarised."""

    bins: int
    bin_ns: int
    elements: int  # how many there were in the window
    msgs: list[Msg]
    calls: list[CallBar]
    marks: list[Mark]
    traffic: list[Traffic]
    call_groups: list[CallGroup]
    status: dict[str, list[tuple[int, int, Any]]]
    annotations: list[Annot] = field(default_factory=list)
    ordinary_msgs: int = 0
    ordinary_calls: int = 0
    anomalies: Counter[str] = field(default_factory=Counter)


def is_ordinary_msg(m: Msg) -> bool:
    """A datagram delivered once: no loss, no copy, no ICMP."""
    return m.fate == "delivered" and not m.icmp and m.copies == 1


def msg_in(m: Msg, t0: int, t1: int) -> bool:
    end = m.t1 if m.t1 is not None else m.t0
    return not (end < t0 or m.t0 > t1)


def call_in(c: CallBar, t0: int, t1: int) -> bool:
    return not ((c.t1 if c.t1 is not None else t1) < t0 or c.t0 > t1)


def window_elements(data: ChartData, t0: int, t1: int, hosts: list[str]) -> int:
    """How many elements a chart of the window [t0, t1] over `hosts` draws one by one."""
    shown = set(hosts)
    n = sum(1 for m in data.msgs if (m.src in shown or m.dst in shown) and msg_in(m, t0, t1))
    n += sum(1 for c in data.calls if c.host in shown and call_in(c, t0, t1))
    n += sum(1 for mk in data.marks if mk.host in shown and t0 <= mk.t <= t1)
    n += sum(1 for h, ch in data.status.items() if h in shown for (_, t, _) in ch
             if t0 <= t <= t1)
    n += sum(1 for h, evs in data.annotations.items() if h in shown for e in evs
             if t0 <= e.t <= t1)
    return n


def anomaly_kind(m: Msg) -> str:
    """The kind a datagram's anomaly is counted under (its SVG class, `msg <fate>`, plus
    whether it is ICMP or a duplicated copy)."""
    return m.fate + (" icmp" if m.icmp else "") + (" dup" if m.copies > 1 else "")


def thin(data: ChartData, t0: int, t1: int, hosts: list[str], plot_w: int) -> Thinned:
    """The thinned contents of the window [t0, t1] (see the module's docstring)."""
    span = max(t1 - t0, 1)
    bins = max(1, plot_w // BIN_PX)
    bin_ns = -(-span // bins)
    shown = set(hosts)

    def b(t: int) -> int:
        return min(max((t - t0) // bin_ns, 0), bins - 1)

    out = Thinned(bins, bin_ns, window_elements(data, t0, t1, hosts), [], [], [], [], [], {})
    traffic: dict[tuple[int, str | None, str | None], Traffic] = {}
    call_groups: dict[tuple[int, str, str], CallGroup] = {}
    groups: dict[tuple[Any, ...], tuple[Any, list[int]]] = {}  # key -> (first, [n, last])
    for m in data.msgs:
        if not (m.src in shown or m.dst in shown) or not msg_in(m, t0, t1):
            continue
        k = b(m.t0)
        if is_ordinary_msg(m):
            assert m.t1 is not None
            out.ordinary_msgs += 1
            d = m.t1 - m.t0
            tr = traffic.get((k, m.src, m.dst))
            if tr is None:
                traffic[(k, m.src, m.dst)] = Traffic(m.src, m.dst, t0 + k * bin_ns,
                                                     t0 + (k + 1) * bin_ns, 1, m.i0, m.t0,
                                                     m.t0, d, d)
            else:
                tr.n += 1
                tr.last = m.t0
                tr.dmin, tr.dmax = min(tr.dmin, d), max(tr.dmax, d)
            continue
        kind = anomaly_kind(m)
        out.anomalies["msg " + kind] += 1
        _group(groups, ("msg", k, m.src, m.dst, kind), m, m.t0)
    for c in data.calls:
        if c.host not in shown or not call_in(c, t0, t1):
            continue
        end = c.t1 if c.t1 is not None else t1
        if c.failed:
            out.anomalies["call failed"] += 1
            _group(groups, ("call", b(c.t0), c.host, c.lane), c, c.t0)
            continue
        if end - c.t0 >= bin_ns or c.t1 is None:  # long calls: at most one per bin and lane
            out.calls.append(c)
            continue
        out.ordinary_calls += 1
        k = b(c.t0)
        cg = call_groups.get((k, c.host, c.lane))
        if cg is None:
            cg = CallGroup(c.host, c.lane, t0 + k * bin_ns, t0 + (k + 1) * bin_ns, 0, c.i0)
            call_groups[(k, c.host, c.lane)] = cg
            out.call_groups.append(cg)
        cg.n += 1
        cg.names[c.name] += 1
    for mk in data.marks:
        if mk.host not in shown or not t0 <= mk.t <= t1:
            continue
        out.anomalies["mark " + mk.kind] += 1
        _group(groups, ("mark", b(mk.t), mk.host, mk.lane, mk.kind), mk, mk.t)
    for host, evs in data.annotations.items():
        if host not in shown:
            continue
        for ev in evs:
            if t0 <= ev.t <= t1:
                out.anomalies["session " + ev.kind] += 1
                _group(groups, ("annot", b(ev.t), host, ev.lane, ev.kind), ev, ev.t)
    for key, (first, (n, last)) in groups.items():
        if key[0] == "annot":
            out.annotations.append(first if n == 1 else replace(first, n=n, t_last=last))
        elif key[0] == "msg":
            out.msgs.append(first if n == 1 else replace(first, n=n, t_last=last))
        elif key[0] == "call":
            out.calls.append(first if n == 1 else replace(first, n=n, t_last=last))
        else:
            out.marks.append(first if n == 1 else replace(first, n=n, t_last=last))
    out.msgs.sort(key=lambda m: m.i0)
    out.calls.sort(key=lambda c: c.i0)
    out.marks.sort(key=lambda mk: mk.i)
    out.annotations.sort(key=lambda ev: ev.i)
    out.traffic = sorted(traffic.values(), key=lambda tr: tr.i0)
    for host, changes in data.status.items():
        out.status[host] = thin_changes(changes, t0, bin_ns, bins)
        out.anomalies["status change"] += sum(1 for (_, t, _) in changes if t0 <= t <= t1)
    return out


def _group(groups: dict[tuple[Any, ...], tuple[Any, list[int]]], key: tuple[Any, ...],
           item: Any, t: int) -> None:
    hit = groups.get(key)
    if hit is None:
        groups[key] = (item, [1, t])
    else:
        hit[1][0] += 1
        hit[1][1] = t


def thin_changes(changes: list[tuple[int, int, Any]], t0: int, bin_ns: int,
                 bins: int) -> list[tuple[int, int, Any]]:
    """A status strip's changes with those closer than a bin merged: a run of `n` changes
    within one bin becomes one entry whose value is `Changing(n, last value, last time)`
    (drawn as a "changing" segment up to the last change, then the last value)."""
    out: list[tuple[int, int, Any]] = []
    k = 0
    while k < len(changes):
        i, t, v = changes[k]
        j = k
        while j + 1 < len(changes) and changes[j + 1][1] - t < bin_ns:
            j += 1
        if j == k:
            out.append((i, t, v))
        else:
            out.append((i, t, Changing(j - k + 1, changes[j][2], changes[j][1])))
        k = j + 1
    return out


@dataclass(frozen=True)
class Changing:
    """`n` status changes closer together than a bin, the last to `value` at `last`."""

    n: int
    value: Any
    last: int
