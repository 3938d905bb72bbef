"""One readable rendering of a world state, used by the CLI, the explorer, counterexample
reports and GraphML node summaries.

`render(world)` gives a `StateView`: sections (the clock, one per machine, the network, the
schedule), each a list of rows with a stable key. `mark_changes(prev, cur)` flags the rows
that differ from the previous state (by key), so any front end can highlight what a step
changed. Addresses are dotted quads, `∞` is shown as such, and times are seconds with at
least millisecond digits (`20.000s`, `1.094703s`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from udpsem.base.time import MS, NEVER, US, S
from udpsem.hosts.state import (
    Delay2,
    ExitState,
    Host,
    Poll2,
    Print2,
    RecvFrom2,
    Ret,
    Run,
    Select2,
    SendTo2,
    Sock,
    ThreadEntry,
    Zombie,
)
from udpsem.hosts.values import Fail, Ok, at_default, ip_str, port_str
from udpsem.network.messages import ICMP, UDP, IPMsg
from udpsem.state.components import (
    App,
    ModCall,
    Raised,
    Return,
    Sleep,
    Snippet,
    StoreGet,
    StoreNew,
    StoreRet,
    StoreSet,
)

# Call fields that hold an IP address (IP is a plain int in the model).
_IP_FIELDS = frozenset({"ip", "is1", "is2", "is3", "is4", "src", "dst", "addr"})
_ADDR_FIELDS = frozenset({"dest"})  # (IP, port) pairs


def fmt_time(t: int) -> str:
    """Seconds with millisecond digits, more only where needed: `20.000s`, `1.094703s`,
    `∞` for the infinite timer."""
    if t >= NEVER:
        return "∞"
    sign = "-" if t < 0 else ""
    t = abs(t)
    whole, frac = divmod(t, S)
    if frac % MS == 0:
        digits = f"{frac // MS:03d}"
    elif frac % US == 0:
        digits = f"{frac // US:06d}"
    else:
        digits = f"{frac:09d}"
    return f"{sign}{whole}.{digits}s"


def fmt_dur(d: int) -> str:
    """A duration in the unit that reads best: `100µs`, `5.3ms`, `2.6s`, `∞`."""
    if d >= NEVER:
        return "∞"
    if abs(d) >= S:
        return f"{d / S:g}s"
    if abs(d) >= MS:
        return f"{d / MS:g}ms"
    if abs(d) >= US:
        return f"{d / US:g}µs"
    return f"{d}ns"


def data_text(b: bytes, limit: int = 24) -> str:
    """A payload as a short quoted string."""
    text = b[:limit].decode("latin-1")
    shown = "".join(c if 32 <= ord(c) < 127 else f"\\x{ord(c):02x}" for c in text)
    return f'"{shown}"' + ("…" if len(b) > limit else "") + (f" ({len(b)} B)" if len(b) > limit
                                                            else "")


def addr_text(ip: int | None, port: int | None) -> str:
    return f"{ip_str(ip)}:{port_str(port)}"


def msg_text(m: IPMsg) -> str:
    """`UDP 192.168.0.11:46586 → 192.168.0.14:7658 "ping"`, or an ICMP error with its quote."""
    b = m.body
    if isinstance(b, UDP):
        return f"UDP {addr_text(m.src, b.sport)} → {addr_text(m.dst, b.dport)} {data_text(b.data)}"
    if isinstance(b, ICMP):
        return (f"{b.kind.value} {ip_str(m.src)} → {ip_str(m.dst)} about "
                f"{addr_text(b.is3, b.ps3)} → {addr_text(b.is4, b.ps4)}")
    return f"{ip_str(m.src)} → {ip_str(m.dst)} {value_text(b)}"


def value_text(x: Any) -> str:
    """Any model value, readably (LIB calls, results, messages, store operations...)."""
    if x is None:
        return "()"
    if isinstance(x, bool):
        return "T" if x else "F"
    if isinstance(x, Enum):
        return str(x.value)
    if isinstance(x, (int, str)):
        return str(x) if isinstance(x, int) else repr(x)
    if isinstance(x, bytes):
        return data_text(x)
    if isinstance(x, Ok):
        return "OK " + value_text(x.value)
    if isinstance(x, Fail):
        return "FAIL " + x.errno.value
    if isinstance(x, IPMsg):
        return msg_text(x)
    if isinstance(x, (tuple, list)):
        return "(" + ", ".join(value_text(v) for v in x) + ")"
    if isinstance(x, StoreNew):
        return f"store new {value_text(x.value)}"
    if isinstance(x, StoreSet):
        return f"store set l{x.loc} := {value_text(x.value)}"
    if isinstance(x, StoreGet):
        return f"store get l{x.loc}"
    if isinstance(x, ModCall):
        return f"module call {x.fn}{value_text(tuple(x.arg) if isinstance(x.arg, list) else x.arg)}"
    if isinstance(x, Return):
        return f"finished with {value_text(x.value)}"
    if isinstance(x, Raised):
        return f"raised {x.error}"
    if dataclasses.is_dataclass(x) and not isinstance(x, type):
        return call_text(x)
    if callable(x):
        return getattr(x, "__name__", "program")
    return str(x)


def call_text(c: Any) -> str:
    """A LIB call as `sendto(fd 3, 192.168.0.11:7658, "ping", nonblock F)`."""
    name = getattr(type(c), "name", None)
    if not isinstance(name, str) or any(f.name == "name" for f in dataclasses.fields(c)):
        name = type(c).__name__
    parts = []
    for f in dataclasses.fields(c):
        v = getattr(c, f.name)
        if at_default(f, v):
            continue  # an extension field (issue 12) at its default: shown as before
        if f.name in _IP_FIELDS and (v is None or isinstance(v, int)):
            parts.append(f"{f.name} {ip_str(v)}")
        elif f.name in _ADDR_FIELDS and isinstance(v, tuple) and len(v) == 2:
            parts.append(addr_text(v[0], v[1]))
        elif f.name == "fd":
            parts.append(f"fd {v}")
        elif f.name == "program" and callable(v):
            parts.append(getattr(v, "__name__", "program"))
        else:
            parts.append(f"{f.name} {value_text(v)}")
    return f"{name}({', '.join(parts)})"


def timer_text(deadline: int, now: int) -> str:
    if deadline >= NEVER:
        return "timer ∞"
    return f"timer {fmt_dur(deadline - now)} (at {fmt_time(deadline)})"


def thread_state_text(st: Any) -> str:
    if isinstance(st, Run):
        return "running"
    if isinstance(st, Ret):
        return f"returning {value_text(st.value)}" + (f" from {st.call}" if st.call else "")
    if isinstance(st, SendTo2):
        dest = "" if st.dest is None else " to " + addr_text(*st.dest)
        return f"blocked in sendto(fd {st.fd}{dest}, {data_text(st.data)}): out-queue full"
    if isinstance(st, RecvFrom2):
        return f"blocked in recvfrom(fd {st.fd})"
    if isinstance(st, Select2):
        xs = "" if st.excepts is None else f", excepts {list(st.excepts)}"
        return (f"blocked in select(reads {list(st.reads)}, writes {list(st.writes)}{xs})")
    if isinstance(st, Poll2):
        return "blocked in poll(" + ", ".join(f"fd {fd} events {ev:#x}"
                                               for fd, ev in st.fds) + ")"
    if isinstance(st, Delay2):
        return "sleeping in delay"
    if isinstance(st, Print2):
        return f"printing {st.text!r}"
    if isinstance(st, ExitState):
        return "exiting"
    if isinstance(st, Zombie):
        return "zombie (another thread called exit)"
    return value_text(st)


def sock_text(s: Sock) -> str:
    """A socket as its quad with options, pending error and receive queue."""
    opts = [n for n, on in (("bsdcompat", s.f.bsdcompat), ("reuseaddr", s.f.reuseaddr)) if on]
    text = f"fd {s.fd}: {addr_text(s.is1, s.ps1)} ↔ {addr_text(s.is2, s.ps2)}"
    if opts:
        text += " [" + ", ".join(opts) + "]"
    if s.es is not None:
        text += f" pending error {s.es.value}"
    if any(s.lk):
        text += " locked " + "/".join(n for n, on in zip(("read", "write"), s.lk, strict=True)
                                      if on)
    if s.cl:
        text += " closing"
    if s.mq:
        text += f"; receive queue {len(s.mq)}: " + "; ".join(msg_text(m) for m in s.mq[:3])
        if len(s.mq) > 3:
            text += f"; … {len(s.mq) - 3} more"
    else:
        text += "; receive queue empty"
    return text


def _short_program(code: Any) -> str:
    from udpsem.programs.runtime import program_name

    prog = getattr(code, "program", None)
    name = program_name(prog).rsplit(".", 1)[-1] if prog is not None else "thread"
    n = getattr(code, "n", None)
    return f"{name}" + (f" after {n} answers" if n is not None else "")


@dataclass
class Row:
    """One line of a rendered state; `key` is stable across states (for diffs)."""

    key: str
    text: str
    changed: bool = False


@dataclass
class Section:
    key: str
    title: str
    rows: list[Row] = field(default_factory=list)
    changed: bool = False        # the title or any row changed
    status: str = ""  # "connected", "unplugged", "crashed" for machines
    title_changed: bool = False


@dataclass
class StateView:
    """A rendered state: `time` and its sections."""

    now: int
    sections: list[Section]
    removed: list[str] = field(default_factory=list)  # keys of rows gone since the previous

    def as_json(self) -> dict[str, Any]:
        return {"now": self.now, "time": fmt_time(self.now), "removed": self.removed,
                "sections": [{"key": s.key, "title": s.title, "status": s.status,
                              "changed": s.changed, "title_changed": s.title_changed,
                              "rows": [{"key": r.key, "text": r.text, "changed": r.changed}
                                       for r in s.rows]} for s in self.sections]}

    def text(self, show_changes: bool = True) -> str:
        """Plain text, one row a line; changed rows start with `*`."""
        out = [f"t = {fmt_time(self.now)}"]
        for s in self.sections:
            out.append(("* " if show_changes and s.title_changed else "") + s.title)
            for r in s.rows:
                mark = "* " if show_changes and r.changed else "  "
                out.append(f"{mark}  {r.text}")
        if show_changes and self.removed:
            out.append(f"  (gone since the previous state: {', '.join(self.removed)})")
        return "\n".join(out)


def _host_rows(key: str, h: Host, now: int) -> list[Row]:
    rows = []
    for i in h.ifds:
        ifname = i.ifid if isinstance(i.ifid, str) else f"{i.ifid[0]}{i.ifid[1]}"
        addrs = ", ".join(ip_str(a) + ("" if a != i.primary else " (primary)") for a in i.ipset)
        rows.append(Row(f"{key}/if/{ifname}", f"interface {ifname}: {addrs} /{i.netmask}"))
    for s in h.s:
        rows.append(Row(f"{key}/sock/{s.fd}", "socket " + sock_text(s)))
    for e in h.ts:
        rows.append(Row(f"{key}/ts/{e.tid}", _entry_text(e, now)))
    if h.oq:
        rows.append(Row(f"{key}/oq", f"out-queue {len(h.oq)}"
                        f"{' (full)' if h.oqf else ''}, {timer_text(h.oq_deadline, now)}: "
                        + "; ".join(msg_text(m) for m in h.oq[:3])
                        + (f"; … {len(h.oq) - 3} more" if len(h.oq) > 3 else "")))
    else:
        rows.append(Row(f"{key}/oq", "out-queue empty"))
    return rows


def _entry_text(e: ThreadEntry, now: int) -> str:
    return f"thread {e.tid}: {thread_state_text(e.state)}, {timer_text(e.deadline, now)}"


def _snippet_text(s: Snippet, now: int) -> str:
    what = ("creating a thread" if s.creating is not None
            else "waiting for an answer" if s.request is None
            else f"next: {value_text(s.request)}")
    return (f"program of thread {s.tid} ({s.org.lower()}, {_short_program(s.code)}): {what}"
            + ("" if s.request is None else f", {timer_text(s.deadline, now)}"))


def _app_text(a: App, now: int) -> str:
    if a.request is None:
        what = "waiting for the module's answer"
    elif isinstance(a.request, Sleep):
        what = f"sleeping until {fmt_time(a.deadline)}"
    elif isinstance(a.request, ModCall):
        what = f"will call {a.request.fn} at {fmt_time(a.deadline)}"
    else:
        what = value_text(a.request)
    return f"application {a.tid}: {what}"


def _storeret_text(r: StoreRet, now: int) -> str:
    return f"store answer {value_text(r.value)} for thread {r.tid}, {timer_text(r.deadline, now)}"


def render(world: Any) -> StateView:
    """The rendered state of `world` (rows unmarked; see `mark_changes`)."""
    now = world.now
    sections = []
    for m in world.machines:
        key = m.name
        if m.host is None:
            sections.append(Section(key, f"{m.name}: crashed", [], status="crashed"))
            continue
        status = "connected" if m.conn else "unplugged"
        rows = _host_rows(key, m.host, now)
        for s in m.snippets:
            rows.append(Row(f"{key}/snip/{s.tid}", _snippet_text(s, now)))
        for a in m.apps:
            rows.append(Row(f"{key}/app/{a.tid}", _app_text(a, now)))
        for r in m.storerets:
            rows.append(Row(f"{key}/storeret/{r.tid}", _storeret_text(r, now)))
        if m.store:
            rows.append(Row(f"{key}/store", "store: " + ", ".join(
                f"l{loc} = {value_text(v)}" for loc, v in m.store)))
        sections.append(Section(key, f"{m.name}: {status}", rows, status=status))
    net_rows = [Row(f"net/{f.seq}",
                    f"{msg_text(f.msg)} from {f.src or 'outside'}, arrives "
                    f"{fmt_time(f.deadline)} (in {fmt_dur(f.deadline - now)})")
                for f in world.net]
    sections.append(Section("net", f"network: {len(world.net)} in flight", net_rows))
    if world.drops:
        sections[-1].rows.append(Row("net/drops", "successive drops: " + ", ".join(
            f"{h} {n}" for h, n in world.drops)))
    sched_rows = [Row(f"sched/{ev.kind}/{ev.host}/{ev.at}",
                      f"{ev.kind} {ev.host} at {fmt_time(ev.at)}") for ev in world.schedule]
    sections.append(Section("sched", "scheduled faults" if sched_rows
                            else "scheduled faults: none", sched_rows))
    return StateView(now, sections)


def mark_changes(prev: StateView | None, cur: StateView) -> StateView:
    """Flag in `cur` the rows (and machine titles) that differ from `prev`; list gone rows."""
    if prev is None:
        return cur
    old = {r.key: r.text for s in prev.sections for r in s.rows}
    old_titles = {s.key: s.title for s in prev.sections}
    seen = set()
    for s in cur.sections:
        s.title_changed = old_titles.get(s.key) != s.title
        s.changed = s.title_changed
        for r in s.rows:
            seen.add(r.key)
            r.changed = old.get(r.key) != r.text
            s.changed = s.changed or r.changed
    cur.removed = [k for k in old if k not in seen]
    for s in cur.sections:
        if any(k.startswith(s.key + "/") for k in cur.removed):
            s.changed = True
    return cur


def summary(world: Any) -> str:
    """One line per state (GraphML node labels): the clock, each machine's threads and
    queues, and the messages in flight."""
    parts = [f"t={fmt_time(world.now)}"]
    for m in world.machines:
        if m.host is None:
            parts.append(f"{m.name}: crashed")
            continue
        ts = "; ".join(f"{e.tid} {thread_state_text(e.state)}" for e in m.host.ts)
        mq = sum(len(s.mq) for s in m.host.s)
        parts.append(f"{m.name}{'' if m.conn else ' (unplugged)'}: [{ts}] recv-queued {mq}, "
                     f"out-queue {len(m.host.oq)}")
    parts.append(f"in flight {len(world.net)}")
    return " | ".join(parts)
