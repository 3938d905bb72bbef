"""An in-memory, deterministic network for the sessions cores (no model needed).

`Net` wires one `ServerCore` and any number of `ClientCore`s together. Every datagram
may be dropped, duplicated and delayed (independent delays reorder); all choices come
from one seeded `random.Random`, so a seed names a run. The virtual clock jumps to the
earliest pending event: a datagram arrival or a core's timer (from its `SetTimer`
effects). The harness also checks the cores' timer contract: after every call, the last
`SetTimer` agrees with `next_deadline()`.

The tests at the bottom check the harness itself. The session tests live in
`test_sessions_core.py` and `test_sessions_delivery.py`.
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any

from udpsem.base.time import MS, S
from udpsem.programs.sessions import (
    DEFAULT_TIMING,
    ClientCore,
    Effect,
    HandshakeResend,
    Send,
    ServerCore,
    SessionReady,
    SetTimer,
    Timing,
    int_serializer,
    string_serializer,
)

SRV: tuple[int, int] = (0x0A000001, 7000)


def client_addr(i: int) -> tuple[int, int]:
    """The i-th client's address: its own host and port."""
    return (0x0A000002 + i, 5000 + i)


@dataclass(frozen=True)
class Faults:
    """Per-datagram fault odds (percent) and the delay range (ns); a range reorders."""

    loss_pct: int = 0
    dup_pct: int = 0
    min_delay_ns: int = 1 * MS
    max_delay_ns: int = 1 * MS


PERFECT = Faults()
HARSH = Faults(loss_pct=30, dup_pct=20, min_delay_ns=1 * MS, max_delay_ns=300 * MS)


@dataclass(order=True)
class _Flight:
    at: int
    n: int
    src: Hashable = field(compare=False)
    dst: Hashable = field(compare=False)
    data: bytes = field(compare=False)


Core = ClientCore[Any, Any] | ServerCore[Any, Any]


class Net:
    """One server core at `SRV` and client cores at their addresses, on a lossy wire."""

    def __init__(self, seed: int, faults: Faults = PERFECT, *, strict: bool = False,
                 timing: Timing = DEFAULT_TIMING, server_ser: tuple[Any, Any] | None = None,
                 resend: HandshakeResend = HandshakeResend.SILENCE) -> None:
        self.resend = resend
        self.rng = random.Random(seed)
        self.faults = faults
        self.strict = strict
        self.timing = timing
        self.now = 0
        self._n = 0
        self.flights: list[_Flight] = []
        self.timers: dict[Hashable, int | None] = {}
        self.nodes: dict[Hashable, Core] = {}
        self.ready: list[tuple[Hashable, Hashable, int]] = []  # (node, peer, time)
        self.log: list[tuple[int, str, Hashable, Hashable, bytes]] = []
        self.drop: Callable[[Hashable, Hashable, bytes], bool] = lambda src, dst, data: False
        self.reordered = 0  # arrivals overtaken by a later-sent datagram on the same path
        self._last_n: dict[tuple[Hashable, Hashable], int] = {}
        ser_out, ser_in = server_ser or (int_serializer, string_serializer)
        self.server: ServerCore[Any, Any] = ServerCore(
            ser_out, ser_in, random.Random(seed ^ 0x5EED), timing=timing, strict=strict)
        self.nodes[SRV] = self.server

    # ------------------------------------------------------------------ building

    def add_client(self, addr: Hashable, *, start: bool = True,
                   ser: tuple[Any, Any] | None = None) -> ClientCore[Any, Any]:
        """Put a new client core at `addr` (replacing any old one) and start it now."""
        ser_out, ser_in = ser or (string_serializer, int_serializer)
        cli: ClientCore[Any, Any] = ClientCore(SRV, ser_out, ser_in, timing=self.timing,
                                               strict=self.strict, resend=self.resend)
        self.nodes[addr] = cli
        self.timers[addr] = None
        if start:
            self.apply(addr, cli.start(self.now))
        return cli

    def inject(self, src: Hashable, dst: Hashable, data: bytes, delay_ns: int = 0) -> None:
        """Put a datagram on the wire as if `src` sent it (no faults applied)."""
        self._n += 1
        heapq.heappush(self.flights, _Flight(self.now + delay_ns, self._n, src, dst, data))

    # ------------------------------------------------------------------ effects

    def apply(self, node: Hashable, effects: list[Effect]) -> None:
        """Perform a core's effects, then check its timer contract."""
        for eff in effects:
            if isinstance(eff, Send):
                self._transmit(node, eff.addr, eff.data)
            elif isinstance(eff, SetTimer):
                self.timers[node] = eff.when
            elif isinstance(eff, SessionReady):
                self.ready.append((node, eff.addr, self.now))
            else:
                raise TypeError(f"not an effect: {eff!r}")
        core = self.nodes[node]
        assert self.timers.get(node) == core.next_deadline(), (node, effects)

    def _transmit(self, src: Hashable, dst: Hashable, data: bytes) -> None:
        f = self.faults
        self.log.append((self.now, "send", src, dst, data))
        if self.drop(src, dst, data):
            return
        copies = 0 if self.rng.randrange(100) < f.loss_pct else 1
        if copies and self.rng.randrange(100) < f.dup_pct:
            copies = 2
        for _ in range(copies):
            delay = self.rng.randint(f.min_delay_ns, f.max_delay_ns)
            self._n += 1
            heapq.heappush(self.flights, _Flight(self.now + delay, self._n, src, dst, data))

    # ------------------------------------------------------------------ running

    def next_event_time(self) -> int | None:
        """When the next datagram lands or timer fires, if anything is pending."""
        times = [t for t in self.timers.values() if t is not None]
        if self.flights:
            times.append(self.flights[0].at)
        return min(times) if times else None

    def step(self) -> bool:
        """Advance to and run the earliest event (datagrams before timers at a tie)."""
        t = self.next_event_time()
        if t is None:
            return False
        assert t >= self.now
        self.now = t
        if self.flights and self.flights[0].at == t:
            fl = heapq.heappop(self.flights)
            node = self.nodes.get(fl.dst)
            self.log.append((t, "recv", fl.src, fl.dst, fl.data))
            path = (fl.src, fl.dst)
            self.reordered += fl.n < self._last_n.get(path, -1)
            self._last_n[path] = max(fl.n, self._last_n.get(path, -1))
            if node is not None:
                self.apply(fl.dst, node.on_datagram(fl.src, fl.data, t))
            return True
        for addr in sorted(self.timers, key=repr):
            when = self.timers[addr]
            if when is not None and when <= t:
                self.apply(addr, self.nodes[addr].on_timer(t))
        return True

    def run(self, until_ns: int, stop: Callable[[], bool] = lambda: False,
            each: Callable[[], None] = lambda: None, tick_ns: int | None = None) -> bool:
        """Step until `stop()` or virtual time would pass `until_ns`; True iff stopped.

        `each()` (the application) runs before every event, and at least every `tick_ns`
        of virtual time when given, so it can act while the network is quiet.
        """
        while not stop():
            each()
            t = self.next_event_time()
            if tick_ns is not None and (t is None or t > self.now + tick_ns):
                if self.now + tick_ns > until_ns:
                    return stop()
                self.now += tick_ns
                continue
            if t is None or t > until_ns:
                self.now = max(self.now, until_ns) if t is not None else self.now
                return stop()
            self.step()
        return True

    def send_from(self, node: Hashable, *args: Any) -> None:
        """Call the node's `send` at the current time and perform its effects."""
        core = self.nodes[node]
        self.apply(node, core.send(*args, self.now))


# ---------------------------------------------------------------------- harness self-tests


def _handshake_run(seed: int) -> list[tuple[int, str, Hashable, Hashable, bytes]]:
    net = Net(seed, HARSH)
    for i in range(2):
        net.add_client(client_addr(i))
    net.run(30 * S, stop=lambda: len(net.ready) == 4)
    return net.log


def test_harness_is_deterministic_per_seed() -> None:
    assert _handshake_run(7) == _handshake_run(7)
    assert _handshake_run(7) != _handshake_run(8)


def test_harness_perfect_wire_handshake_takes_two_round_trips() -> None:
    net = Net(1)
    net.add_client(client_addr(0))
    assert net.run(10 * S, stop=lambda: len(net.ready) == 2)
    assert net.now == 4 * MS  # four one-way hops of 1 ms
    assert [r[0] for r in net.ready] == [SRV, client_addr(0)]
