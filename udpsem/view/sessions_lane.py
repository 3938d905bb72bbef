"""The sessions lane of a chart: a program annotation for programs that use the reliable
sessions driver (`udpsem.programs.sessions`, docs/sessions.md), as the heartbeat's status
strip is one for the heartbeat.

Each session end (a client's channel, or one the server accepted) gets a lane of its own
under its host, named after its peer (`⇄ SERVER:7000`), on which the chart shows:

* `connected`: the client's `connect` returned, or the server accepted the session;
* `sent`: a value the program handed to `send` (▲, with its number and value);
* `delivered`: a value the driver delivered in order to `recv` (●);
* `acked`: an acknowledgement arriving for the end's data (`ACK n`: the peer expects value
  number n next; a repeated one says so);

and under them a verdict strip: green while the sessions' guarantees (B.8.1/B.8.2, in-order
exactly-once prefixes, one session per client: `SessionMonitor`) hold for this session, red
from the step that breaks them, with the breach as its hover text.

The annotations come from a replay (the store operations and datagrams of each step, as the
`SessionMonitor` reads them), so `udpsem chart --no-check` has none.
"""

from __future__ import annotations

from typing import Any

from udpsem.core.drivers import Step
from udpsem.hosts.values import ip_str
from udpsem.network.messages import UDP, IPMsg
from udpsem.programs.sessions.driver import SessionMonitor
from udpsem.programs.sessions.wire import Ack, WireError, decode_message
from udpsem.view.events import Annot, ChartData


def _short(v: Any) -> str:
    text = repr(v)
    return text if len(text) <= 40 else text[:37] + "..."


class SessionLanes:
    """Follows a run step by step (`on_step(i, step)`) and collects each session end's
    annotations and verdict strip; `apply(data)` puts them on a chart's data. `owner`
    maps dotted addresses to host names (from the trace header)."""

    def __init__(self, owner: dict[str, str] | None = None) -> None:
        self.mon = SessionMonitor()
        self.owner = owner or {}
        self.lane_of: dict[int, str] = {}  # id of the monitor's end -> its lane
        self.seen: dict[int, tuple[int, int, bool]] = {}  # sent, delivered, connected
        self.acks: dict[int, int] = {}  # highest ACK seen by an end
        self.events: list[Annot] = []
        self.lanes: dict[str, list[str]] = {}
        self.strips: dict[tuple[str, str], list[tuple[int, int, bool, str]]] = {}
        self.first_breach: tuple[int, int, str] | None = None
        self._signature: tuple[int, ...] = ()

    def _ends(self) -> list[tuple[Any, bool]]:
        return [(e, True) for e in self.mon.clients] + [(e, False) for e in self.mon.servers]

    def _lane(self, end: Any, client: bool) -> str:
        lane = self.lane_of.get(id(end))
        if lane is None:
            ip, port = end.chan.peer
            peer = self.owner.get(ip_str(ip), ip_str(ip))
            lane = f"⇄ {peer}:{port}"
            taken = self.lanes.setdefault(end.host, [])
            if lane in taken:  # a second session with the same peer (a restart)
                lane = f"{lane} #{sum(1 for x in taken if x.startswith(lane)) + 1}"
            taken.append(lane)
            self.lane_of[id(end)] = lane
            self.strips[(end.host, lane)] = []
        return lane

    def on_step(self, i: int, st: Step) -> None:
        """Feed step number `i` of the run."""
        self.mon.on_step(st)
        t = st.transition
        now = t.world.now
        for end, client in self._ends():
            sent, delivered = len(end.sent), len(end.delivered)
            connected = bool(end.connected)
            old = self.seen.get(id(end))
            if old == (sent, delivered, connected):
                continue
            lane = self._lane(end, client)
            o_sent, o_deliv, o_conn = old if old is not None else (0, 0, not client)
            if connected and not o_conn or (old is None and not client):
                what = "connect returned" if client else "the server accepted the session"
                self.events.append(Annot(end.host, lane, i, now, "connected", what))
            for k in range(o_sent, sent):
                self.events.append(Annot(end.host, lane, i, now, "sent",
                                         f"sent value {k}: {_short(end.sent[k])}"))
            for k in range(o_deliv, delivered):
                self.events.append(Annot(end.host, lane, i, now, "delivered",
                                         f"delivered value {k}: {_short(end.delivered[k])}"))
            self.seen[id(end)] = (sent, delivered, connected)
        lab = t.label
        if lab.kind == "deliver" and t.rule == "delivery_in_udp_1" and \
                isinstance(lab.value, IPMsg) and isinstance(lab.value.body, UDP):
            self._ack(i, now, lab.value)
        self._verdicts(i, now)

    def _ack(self, i: int, now: int, m: IPMsg) -> None:
        body = m.body
        assert isinstance(body, UDP)
        for end, client in self._ends():
            if (m.dst, body.dport) != tuple(end.chan.addr) or \
                    (m.src, body.sport) != tuple(end.chan.peer):
                continue
            try:
                msg = decode_message(body.data)
            except WireError:
                return
            if not isinstance(msg, Ack):
                return
            best = self.acks.get(id(end), -1)
            again = " (a repeat: nothing new acknowledged)" if msg.n <= best else ""
            self.acks[id(end)] = max(best, msg.n)
            self.events.append(Annot(end.host, self._lane(end, client), i, now, "acked",
                                     f"ACK {msg.n} arrived: the peer expects value "
                                     f"{msg.n} next{again}"))
            return

    def _verdicts(self, i: int, now: int) -> None:
        sig = tuple(x for e, _ in self._ends() for x in (len(e.sent), len(e.delivered),
                                                         int(bool(e.connected))))
        sig += (len(self.mon.clients), len(self.mon.servers))
        if sig == self._signature:
            return
        self._signature = sig
        bad = self.mon.violations()
        if bad and self.first_breach is None:
            self.first_breach = (i, now, "; ".join(bad))
        for end, client in self._ends():
            lane = self._lane(end, client)
            addr = end.chan.addr if client else end.chan.peer
            who = f"{ip_str(addr[0])}:{addr[1]}"
            mine = [b for b in bad if who in b]
            strip = self.strips[(end.host, lane)]
            holds = not mine
            if not strip or strip[-1][2] != holds:
                msg = ("the session guarantees hold (in order, exactly once, one session "
                       "per client)" if holds else "; ".join(mine))
                strip.append((i, now, holds, msg))

    def apply(self, data: ChartData) -> None:
        """Put the lanes on `data` (nothing for a program without sessions); the first
        breach is drawn as a session_guarantees violation."""
        if not self.lanes:
            return
        data.annot_lanes = {h: list(ls) for h, ls in self.lanes.items()}
        for ev in self.events:
            data.annotations.setdefault(ev.host, []).append(ev)
        data.verdict_strips = {k: list(v) for k, v in self.strips.items() if v}
        if self.first_breach is not None and not any(
                "session_guarantees" in v.text for v in data.violations):
            i, t, msg = self.first_breach
            from udpsem.view.events import Mark

            data.violations.append(Mark("", "", i, t, "violation",
                                        f"session_guarantees violated: {msg}"))
