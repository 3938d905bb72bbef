"""What a sequence chart shows, worked out from trace records alone.

A trace records transitions, not datagrams, so the pairing of a send with its deliveries is
reconstructed from the labels: the network's `delay` choices of a send say when each copy
arrives (`deadline = t + delay`), and delivery is sharp (`net_emit` fires exactly at the
deadline). So a `deliver` (or `host_recv_disc`, or an `out` for an address nobody owns) at
time t of message m is the pending copy of m with deadline t. Two copies of the same message
with the same deadline are indistinguishable, so which one is matched does not matter.

Records are plain dicts as in a trace file (`traces.record.record_json`); the explorer feeds
the records of its current path the same way.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from udpsem.hosts.values import ip_str
from udpsem.view.state import fmt_dur, fmt_time

# Module functions whose answers are summarised as a status strip instead of call bars:
# the heartbeat's get_status is polled every --period (599 calls in a 60 s run).
STATUS_CALLS = frozenset({"get_status"})

# Notable steps that are not datagrams: rule -> (kind, text).
MARK_RULES = {
    "select_4": ("timeout", "select timed out with nothing ready"),
    "poll_4": ("timeout", "poll timed out"),
    "delivery_in_icmp_1": ("icmp", "ICMP error recorded on the socket"),
    "sendto_5": ("error", "sendto failed with the pending ICMP error"),
}


@dataclass
class Msg:
    """One copy of a datagram: sent at `t0` by `src` (a host, or None from outside), arriving
    at `t1` at `dst` (None: still in flight at the end, or lost)."""

    i0: int
    t0: int
    src: str | None
    dst: str | None
    text: str
    fate: str  # delivered | dropped | send_unplugged | recv_unplugged | no_socket |
    #            outside | in_flight
    icmp: bool = False
    copies: int = 1
    i1: int | None = None
    t1: int | None = None
    rule: str = ""


@dataclass
class CallBar:
    """A LIB call (or a module call, `tid` "app") from its call to its return."""

    host: str
    lane: str
    name: str
    text: str
    i0: int
    t0: int
    i1: int | None = None
    t1: int | None = None
    result: str = ""
    failed: bool = False


@dataclass
class Mark:
    host: str
    lane: str
    i: int
    t: int
    kind: str  # timeout | icmp | error | exception | console | violation
    text: str


@dataclass
class Band:
    host: str
    kind: str  # unplugged | crashed
    i0: int
    t0: int
    t1: int | None = None
    i1: int | None = None


@dataclass
class ChartData:
    """Everything a chart draws, from a header and records."""

    program: str
    hosts: list[str]
    t_end: int
    steps: int
    lanes: dict[str, list[str]] = field(default_factory=dict)
    msgs: list[Msg] = field(default_factory=list)
    calls: list[CallBar] = field(default_factory=list)
    marks: list[Mark] = field(default_factory=list)
    bands: list[Band] = field(default_factory=list)
    status: dict[str, list[tuple[int, int, Any]]] = field(default_factory=dict)
    violations: list[Mark] = field(default_factory=list)
    ends: dict[str, int] = field(default_factory=dict)  # host -> when it crashed
    title: str = ""

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = defaultdict(int)
        for m in self.msgs:
            out[m.fate] += 1
        return dict(out)


def _ip(v: Any) -> str:
    return ip_str(v) if isinstance(v, int) else str(v)


def msg_json_text(v: dict[str, Any]) -> str:
    """A message label value (as in a trace) as text."""
    body = v.get("body", {})
    if "udp" in body:
        sp, dp = body["udp"]
        data = body.get("data", {})
        payload = data.get("bytes", "") if isinstance(data, dict) else str(data)
        if len(payload) > 24:
            payload = payload[:24] + "…"
        return (f"UDP {v.get('src')}:{sp if sp is not None else '*'} → "
                f"{v.get('dst')}:{dp if dp is not None else '*'} \"{payload}\"")
    if "icmp" in body:
        q = body.get("quote", [None] * 4)
        return (f"{body['icmp']} {v.get('src')} → {v.get('dst')} about "
                f"{q[0]}:{q[1]} → {q[2]}:{q[3]}")
    return f"{v.get('src')} → {v.get('dst')}"


def json_value_text(v: Any, key: str = "") -> str:
    """A jsonable label value as short text (IP fields as dotted quads)."""
    if v is None:
        return "()"
    if isinstance(v, bool):
        return "T" if v else "F"
    if isinstance(v, int):
        return _ip(v) if key in ("ip", "src", "dst", "is1", "is2") else str(v)
    if isinstance(v, str):
        return repr(v) if len(v) <= 30 else repr(v[:30]) + "…"
    if isinstance(v, list):
        if key == "dest" and len(v) == 2 and isinstance(v[0], int):
            return f"{_ip(v[0])}:{v[1]}"
        return "(" + ", ".join(json_value_text(x) for x in v) + ")"
    if isinstance(v, dict):
        if "ok" in v and len(v) == 1:
            return "OK " + json_value_text(v["ok"])
        if "fail" in v:
            return "FAIL " + str(v["fail"])
        if "bytes" in v:
            b = v["bytes"]
            return f'"{b[:24]}"' + ("…" if len(b) > 24 else "")
        if "body" in v:
            return msg_json_text(v)
        if "program" in v and len(v) == 1:
            return str(v["program"]).rsplit(".", 1)[-1]
        name = v.get("_", "")
        args = ", ".join(f"fd {x}" if k == "fd" else f"{k} none" if x is None
                         else f"{k} {json_value_text(x, k)}"
                         for k, x in v.items() if k != "_")
        return f"{name}({args})"
    return str(v)


def describe(header: dict[str, Any]) -> str:
    """`heartbeat, seed 7: loss 0.1, preset paper, KURT unplugged 20.000s–40.000s`."""
    f = header.get("faults", {})
    parts = []
    if f.get("loss"):
        parts.append(f"loss {f['loss']}")
    if f.get("dup"):
        parts.append(f"dup {f['dup']}")
    if f.get("preset"):
        parts.append(f"preset {f['preset']}")
    if f.get("max_successive_drops"):
        parts.append(f"≤ {f['max_successive_drops']} successive drops")
    for w in f.get("disconnects", []):
        end = "the end" if w.get("end") is None else fmt_time(w["end"])
        parts.append(f"{w['host']} unplugged {fmt_time(w['start'])}–{end}")
    for c in f.get("crashes", []):
        parts.append(f"{c['host']} crashes at {fmt_time(c['at'])}")
    seed = header.get("seed")
    head = str(header.get("program", "?")) + ("" if seed is None else f", seed {seed}")
    return head + (": " + ", ".join(parts) if parts else "")


def label_text(rec_label: dict[str, Any]) -> str:
    """A trace label as one line: `KURT thread 1 calls sendto(...)`."""
    kind = rec_label.get("kind", "")
    who = rec_label.get("host") or "network"
    tid = rec_label.get("tid")
    if tid is not None:
        who += f" thread {tid}"
    v = rec_label.get("value")
    text = {
        "call": "calls", "return": "gets", "store": "store", "storeret": "store answers",
        "modcall": "application calls", "modret": "module returns", "send": "sends",
        "deliver": "receives", "tau": "internal step", "time": "time passes",
        "disconnect": "is unplugged", "reconnect": "is plugged back in", "crash": "crashes",
        "exit": "exits", "console": "prints", "out": "leaves the network:",
        "in": "enters the network:", "wake": "application wakes", "thread_end": "thread ends",
    }.get(kind, kind)
    if kind == "time":
        return f"time passes {fmt_dur(int(v or 0))}"
    if kind == "modcall" and isinstance(v, list) and v:
        return f"{who} {text} {v[0]}{json_value_text(v[1] if len(v) > 1 else [])}"
    if v is None:
        return f"{who} {text}"
    return f"{who} {text} {json_value_text(v)}"


def _addr_hosts(header: dict[str, Any]) -> dict[str, str]:
    out = {}
    for h in header.get("hosts", []):
        for a in h.get("addresses", []):
            out[a] = h["name"]
    return out


def events(header: dict[str, Any], records: Iterable[dict[str, Any]],
           t_end: int | None = None) -> ChartData:
    """The chart contents of a trace (header and step records)."""
    hosts = [h["name"] for h in header.get("hosts", [])]
    owner = _addr_hosts(header)
    data = ChartData(header.get("program", "?"), hosts, 0, 0, title=describe(header))
    lanes: dict[str, set[str]] = {h: set() for h in hosts}
    pending: dict[tuple[int, str], list[Msg]] = defaultdict(list)  # (deadline, msg) -> copies
    open_calls: dict[tuple[str, str], CallBar] = {}
    modcalls: dict[tuple[str, str], CallBar] = {}
    status_last: dict[str, Any] = {}
    open_bands: dict[str, Band] = {}
    last_t = 0
    n = 0
    for rec in records:
        n += 1
        i, t, rule, partner = rec["i"], rec["t"], rec["rule"], rec.get("partner")
        lab = rec["label"]
        kind, host, tid, value = lab["kind"], lab.get("host"), lab.get("tid"), lab.get("value")
        last_t = t
        if host is not None and host not in lanes:
            hosts.append(host)
            lanes[host] = set()
        lane = "app" if kind in ("modcall", "modret") else f"thread {tid}"
        if kind == "send":
            key = _msg_key(value)
            text = msg_json_text(value)
            icmp = "icmp" in value.get("body", {})
            dst = owner.get(value.get("dst", ""))
            if partner in ("net_accept_single", "net_accept_dup"):
                delays = [v for k, v in rec["choices"] if k == "delay"]
                for d in delays:
                    m = Msg(i, t, host, dst, text, "in_flight", icmp, len(delays), rule=partner)
                    pending[(t + d, key)].append(m)
                    data.msgs.append(m)
            elif partner == "net_accept_drop":
                data.msgs.append(Msg(i, t, host, dst, text, "dropped", icmp, rule=partner))
            elif partner == "host_send_disc":
                data.msgs.append(Msg(i, t, host, dst, text, "send_unplugged", icmp,
                                     rule=partner))
        elif kind in ("deliver", "out"):
            key = _msg_key(value)
            copies = pending.get((t, key))
            if copies:
                m = copies.pop(0)
                if not copies:
                    del pending[(t, key)]
            else:  # not sent within this trace (e.g. injected before it starts)
                m = Msg(i, t, None, host, msg_json_text(value), "in_flight",
                        "icmp" in value.get("body", {}))
                data.msgs.append(m)
            m.i1, m.t1 = i, t
            if kind == "out":  # dst stays the host that owned the address (if any)
                m.fate = "outside"
            elif rule == "host_recv_disc":
                m.fate, m.dst = "recv_unplugged", host
            elif rule == "delivery_in_udp_2":
                m.fate, m.dst = "no_socket", host
            else:
                m.fate, m.dst = "delivered", host
            m.rule = rule
        elif kind == "in":
            d = next((v for k, v in rec["choices"] if k == "delay"), 0)
            m = Msg(i, t, None, owner.get(value.get("dst", "")), msg_json_text(value),
                    "in_flight", "icmp" in value.get("body", {}))
            pending[(t + d, _msg_key(value))].append(m)
            data.msgs.append(m)
        elif kind == "call" and host is not None:
            name = value.get("_", "call") if isinstance(value, dict) else "call"
            lanes[host].add(lane)
            bar = CallBar(host, lane, name, json_value_text(value), i, t)
            open_calls[(host, lane)] = bar
            data.calls.append(bar)
        elif kind == "return" and host is not None:
            done = open_calls.pop((host, lane), None)
            if done is not None:
                bar = done
                bar.i1, bar.t1 = i, t
                bar.result = json_value_text(value)
                bar.failed = isinstance(value, dict) and "fail" in value
        elif kind == "modcall" and host is not None:
            fn = value[0] if isinstance(value, list) and value else "?"
            args = value[1] if isinstance(value, list) and len(value) > 1 else []
            bar = CallBar(host, "app", fn, f"{fn}{json_value_text(args)}", i, t)
            modcalls[(host, str(tid))] = bar
            if fn not in STATUS_CALLS:
                lanes[host].add("app")
                data.calls.append(bar)
        elif kind == "modret" and host is not None:
            done = modcalls.pop((host, str(tid)), None)
            if done is not None:
                bar = done
                bar.i1, bar.t1, bar.result = i, t, json_value_text(value)
                if bar.name in STATUS_CALLS and status_last.get(host, object()) != value:
                    status_last[host] = value
                    data.status.setdefault(host, []).append((i, t, value))
        elif kind in ("disconnect", "crash") and host is not None:
            b = open_bands.pop(host, None)
            if b is not None:  # crashed while unplugged: the unplugged band ends here
                b.t1, b.i1 = t, i
            if kind == "crash":  # the host's calls never return; its status stops here
                for (h, _), bar in list(open_calls.items()):
                    if h == host:
                        bar.i1, bar.t1, bar.result = i, t, "(crashed)"
                        del open_calls[(h, _)]
                data.ends[host] = t
            band = Band(host, "unplugged" if kind == "disconnect" else "crashed", i, t)
            open_bands[host] = band
            data.bands.append(band)
        elif kind == "reconnect" and host is not None:
            b = open_bands.pop(host, None)
            if b is not None:
                b.t1, b.i1 = t, i
        elif kind == "thread_end" and host is not None and value is not None:
            lanes[host].add(lane)
            data.marks.append(Mark(host, lane, i, t, "exception",
                                   f"exception escaped thread {tid}: {value}"))
        elif kind == "console" and host is not None:
            data.marks.append(Mark(host, lane, i, t, "console", f"console: {value!r}"))
        if rule in MARK_RULES and host is not None:
            mk, text = MARK_RULES[rule]
            if tid is None:
                mk_lane = ""  # a host event (e.g. an ICMP error arriving): on the lifeline
            else:
                mk_lane = lane
                lanes[host].add(lane)
            data.marks.append(Mark(host, mk_lane, i, t, mk, text))
    data.steps = n
    data.t_end = max(last_t, t_end or 0)
    data.lanes = {h: sorted(ls, key=_lane_order) for h, ls in lanes.items()}
    return data


def _lane_order(lane: str) -> tuple[int, int]:
    if lane == "app":
        return (0, 0)
    try:
        return (1, int(lane.split()[-1]))
    except ValueError:
        return (2, 0)


def _msg_key(value: Any) -> str:
    import json

    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def msg_tooltip(m: Msg) -> str:
    """The hover text of a datagram copy."""
    fate = {
        "delivered": "delivered",
        "dropped": "LOST: the network dropped it",
        "send_unplugged": "LOST: sent while the sender was unplugged",
        "recv_unplugged": "DISCARDED: arrived while the receiver was unplugged",
        "no_socket": "arrived for no socket (ICMP port unreachable generated)",
        "outside": "left the modelled network (no live machine owns the address)",
        "in_flight": "still in flight at the end",
    }[m.fate]
    out = f"{m.text}\nsent {fmt_time(m.t0)} by {m.src or 'outside'} (step {m.i0})"
    if m.t1 is not None:
        out += f"\narrived {fmt_time(m.t1)} at {m.dst} (step {m.i1}) after {fmt_dur(m.t1 - m.t0)}"
    if m.copies > 1:
        out += f"\nduplicated: one of {m.copies} copies"
    return out + "\n" + fate
