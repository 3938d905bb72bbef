"""Sans-I/O protocol cores of the reliable-sessions library (docs/sessions.md#handshake).

A core is a deterministic state machine. It never touches a socket, a clock or global
randomness: the driver feeds it datagrams and the current time (int nanoseconds) and
performs the effects it returns. `ServerCore` takes an injected random source for cookies.

Effects:
* `Send(addr, data)`: send one datagram.
* `SetTimer(when)`: the core's next wake-up is now `when` (absolute ns), or `None` for
  "no wake-up needed". It replaces any earlier request. It is emitted whenever a call
  changes `next_deadline()`; the driver then calls `on_timer(now)` at the first
  `now >= when`. Early or spurious `on_timer` calls are harmless.
* `SessionReady(addr)`: a handshake completed (server: with client `addr`, now waiting in
  `pop_accept`; client: with its server, so `connect` may return).

Retransmission (B.5) follows the source's sender loop: the loop waits while `out_buf` is
empty; `send` wakes it, so a value sent while the loop is idle goes out at once; after each
round it sleeps one period and then, if `out_buf` is non-empty, sends every element again.
When nothing is buffered no timer is armed, so an idle system is quiescent.

The handshake is driven by the tables in `handshake.py`. Each core records which row
fired (`last_row`, `row_counts`) for tests and coverage.

Unexpected datagrams (the rows with action VIOLATION, and an ACK beyond anything sent) are
dropped and counted per reason in `dropped` in robust mode (the default), and raise
`ProtocolViolation` in strict mode, before any state changes. Datagrams the spec says to
ignore are counted in `ignored` in both modes.
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Hashable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final, Generic, Protocol, TypeVar

from udpsem.base.time import MS, S

from .handshake import (
    CLIENT_INDEX,
    SERVER_INDEX,
    Action,
    ClientState,
    Entry,
    Event,
    Row,
)
from .wire import (
    Ack,
    Cookie,
    CookieAck,
    Data,
    HandshakeOther,
    Init,
    InitAck,
    Message,
    Serializer,
    Some,
    WireError,
    decode_message,
    encode_message,
)

A = TypeVar("A")
B = TypeVar("B")
Addr = Hashable
"""An opaque, hashable address, e.g. `(ip_int, port)`; the core only compares it."""

COOKIE_BOUND: Final = 2**30 - 1
"""Cookies are uniform in `[0, COOKIE_BOUND)`, as the source's `Rand 1073741823`."""


# --------------------------------------------------------------------------------- effects


@dataclass(frozen=True, slots=True)
class Send:
    """Send `data` as one datagram to `addr`."""

    addr: Addr
    data: bytes


@dataclass(frozen=True, slots=True)
class SetTimer:
    """The core's next wake-up (absolute ns), or None: none needed. Replaces earlier ones."""

    when: int | None


@dataclass(frozen=True, slots=True)
class SessionReady:
    """A handshake with `addr` completed."""

    addr: Addr


Effect = Send | SetTimer | SessionReady


# --------------------------------------------------------------------------------- config


@dataclass(frozen=True, slots=True)
class Timing:
    """The source's timing constants (B.6); outside the verified spec, hence parameters.

    The cores use the first two; `recv_poll_ns` and `accept_poll_ns` are for drivers
    that poll as the source's `recv` and `accept` do.
    """

    handshake_resend_ns: int = 1 * S
    retransmit_ns: int = 350 * MS
    recv_poll_ns: int = 150 * MS
    accept_poll_ns: int = 1 * S

    def __post_init__(self) -> None:
        for name in ("handshake_resend_ns", "retransmit_ns", "recv_poll_ns", "accept_poll_ns"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise ValueError(f"Timing.{name} must be a positive int of ns, got {value!r}")


DEFAULT_TIMING: Final = Timing()


class HandshakeResend(StrEnum):
    """When a connecting client re-sends its current request (B.4, "1 s of silence").

    `SILENCE` (default) is the source: each wait is a 1 s receive timeout, so *any*
    datagram, even one that is ignored, restarts the wait. Its liveness gap: if COOKIE-ACK
    is lost and the server's session already retransmits DATA more often than once a
    second, the client never re-sends COOKIE and never connects (B.8.4 does not promise
    liveness). `PERIOD` re-sends once per second since the last re-send whatever arrives;
    ignored datagrams do not delay it.
    """

    SILENCE = "silence"
    PERIOD = "period"


class RandomSource(Protocol):
    """The injected randomness: `random.Random` fits."""

    def randrange(self, stop: int, /) -> int:
        """A uniform integer in `[0, stop)`."""
        ...


class ProtocolViolation(Exception):
    """Strict mode: a datagram the source would have crashed on (B.4 last row)."""

    def __init__(self, reason: str, src: Addr, data: bytes, row: str | None) -> None:
        self.reason, self.src, self.data, self.row = reason, src, data, row
        where = f" (row {row})" if row else ""
        super().__init__(f"protocol violation{where}: {reason} from {src!r}: {data[:60]!r}")


class NotConnected(RuntimeError):
    """`send`/`try_recv` on a client whose handshake has not completed."""


# --------------------------------------------------------------------------------- channel


class Channel(Generic[A, B]):
    """One session's data-transfer state (B.5), the same on client and server.

    Values are kept encoded (`out_buf` holds payload bytes, `in_buf` pairs of bytes and
    decoded value), so a snapshot is hashable whatever the user's value type.
    """

    def __init__(self, peer: Addr, ser_out: Serializer[A], ser_in: Serializer[B],
                 timing: Timing) -> None:
        self.peer = peer
        self.ser_out, self.ser_in, self.timing = ser_out, ser_in, timing
        self.sid_lb = 0
        self.out_buf: deque[bytes] = deque()
        self.ack_id = 0
        self.in_buf: deque[tuple[bytes, B]] = deque()
        self.next_tx: int | None = None  # None: the sender loop is waiting for a value

    def send(self, value: A, now: int) -> list[Effect]:
        """Append `value`; if the sender loop was idle it transmits at once (source: signal)."""
        payload = self.ser_out.encode(value)
        # Checked now, so an oversized value fails at the caller, not in a later timer.
        encode_message(Data(self.sid_lb + len(self.out_buf), payload))
        self.out_buf.append(payload)
        if self.next_tx is None:
            return self._transmit(now)
        return []

    def _transmit(self, now: int) -> list[Effect]:
        self.next_tx = now + self.timing.retransmit_ns
        return [Send(self.peer, encode_message(Data(self.sid_lb + i, p)))
                for i, p in enumerate(self.out_buf)]

    def on_timer(self, now: int) -> list[Effect]:
        """Fire the retransmission round if due; go idle once `out_buf` is empty."""
        if self.next_tx is None or now < self.next_tx:
            return []
        if not self.out_buf:
            self.next_tx = None
            return []
        return self._transmit(now)

    def ack_ok(self, n: int) -> bool:
        """An ACK cannot acknowledge more than was ever sent (only forged traffic does)."""
        return n <= self.sid_lb + len(self.out_buf)

    def on_ack(self, n: int) -> None:
        """`ACK(n)`: drop the acknowledged prefix; ACKs are never answered."""
        if n > self.sid_lb:
            for _ in range(n - self.sid_lb):
                self.out_buf.popleft()
            self.sid_lb = n

    def on_data(self, seq: int, payload: bytes, value: B) -> list[Effect]:
        """`DATA(seq, v)`: deliver if `seq = ackId`, else discard; always reply `ACK(ackId)`."""
        if seq == self.ack_id:
            self.in_buf.append((payload, value))
            self.ack_id += 1
        return [Send(self.peer, encode_message(Ack(self.ack_id)))]

    def try_recv(self) -> Some[B] | None:
        """Pop the head of `in_buf` as `Some(v)`, or None when empty."""
        if not self.in_buf:
            return None
        return Some(self.in_buf.popleft()[1])

    def snapshot(self, now: int | None) -> tuple[Any, ...]:
        """`(sidLB, out_buf, ackId, in_buf, next_tx)` with buffers as tuples of bytes."""
        return (self.sid_lb, tuple(self.out_buf), self.ack_id,
                tuple(p for p, _ in self.in_buf), _rel(self.next_tx, now))


def _rel(deadline: int | None, now: int | None) -> int | None:
    """A deadline, relative to `now` when given (time is then out of the state's identity)."""
    if deadline is None or now is None:
        return deadline
    return deadline - now


def _min(*deadlines: int | None) -> int | None:
    present = [d for d in deadlines if d is not None]
    return min(present) if present else None


# --------------------------------------------------------------------------------- common


class _Core:
    """Bookkeeping shared by both cores: modes, counters, row records, timer effects."""

    def __init__(self, strict: bool, timing: Timing) -> None:
        self.strict = strict
        self.timing = timing
        self.dropped: Counter[str] = Counter()
        self.ignored: Counter[str] = Counter()
        self.row_counts: Counter[str] = Counter()
        self.last_row: str | None = None

    def next_deadline(self) -> int | None:
        """The earliest time at which the core wants `on_timer`; None if none."""
        raise NotImplementedError

    def _fire(self, row: Row) -> None:
        self.row_counts[row.id] += 1
        self.last_row = row.id

    def _violation(self, reason: str, src: Addr, data: bytes, row: Row | None) -> list[Effect]:
        if self.strict:
            raise ProtocolViolation(reason, src, data, row.id if row else None)
        if row is not None:
            self._fire(row)
        self.dropped[reason] += 1
        return []

    def _with_timer(self, before: int | None, effects: list[Effect]) -> list[Effect]:
        after = self.next_deadline()
        if after != before:
            effects.append(SetTimer(after))
        return effects


def _parse(data: bytes) -> Message | None:
    try:
        return decode_message(data)
    except WireError:
        return None


def _payload(ser: Serializer[B], msg: Message | None) -> tuple[Message | None, Any]:
    """Decode a DATA payload with the user's serializer; a bad payload makes it malformed."""
    if isinstance(msg, Data):
        try:
            return msg, ser.decode(msg.payload)
        except WireError:
            return None, None
    return msg, None


# --------------------------------------------------------------------------------- client


class ClientCore(_Core, Generic[A, B]):
    """The client side: the handshake of B.4, then one session with `server`.

    `ser_out` encodes the values this client sends (type A), `ser_in` decodes what the
    server sends (type B).
    """

    def __init__(self, server: Addr, ser_out: Serializer[A], ser_in: Serializer[B], *,
                 timing: Timing = DEFAULT_TIMING, strict: bool = False,
                 resend: HandshakeResend = HandshakeResend.SILENCE) -> None:
        super().__init__(strict, timing)
        self.resend = HandshakeResend(resend)
        self.server = server
        self.ser_out, self.ser_in = ser_out, ser_in
        self.state = ClientState.CONNECTING_INIT
        self.cookie: int | None = None
        self.resend_at: int | None = None  # handshake: 1 s of silence re-sends the request
        self.channel: Channel[A, B] | None = None
        self._started = False

    @property
    def connected(self) -> bool:
        """True once COOKIE-ACK has arrived."""
        return self.state == ClientState.CONNECTED

    def next_deadline(self) -> int | None:
        """The handshake re-send time, or the channel's retransmission time."""
        return _min(self.resend_at, self.channel.next_tx if self.channel else None)

    def _request(self) -> bytes:
        if self.state == ClientState.CONNECTING_INIT:
            return encode_message(Init())
        assert self.cookie is not None
        return encode_message(Cookie(self.cookie))

    def start(self, now: int) -> list[Effect]:
        """Begin `connect`: send INIT and wait (call once)."""
        if self._started:
            raise RuntimeError("ClientCore.start called twice")
        self._started = True
        before = self.next_deadline()
        self.resend_at = now + self.timing.handshake_resend_ns
        return self._with_timer(before, [Send(self.server, self._request())])

    def _classify(self, src: Addr, data: bytes) -> tuple[Event, Message | None, Any]:
        if src != self.server:
            return Event.FOREIGN, None, None
        msg = _parse(data)
        if self.state == ClientState.CONNECTED:
            msg, value = _payload(self.ser_in, msg)
        else:
            value = None  # DATA is ignored during the handshake: no need to decode it
        match msg:
            case None:
                return Event.MALFORMED, None, None
            case InitAck():
                return Event.INIT_ACK, msg, None
            case CookieAck():
                return Event.COOKIE_ACK, msg, None
            case Init() | Cookie() | HandshakeOther():
                return Event.OTHER_HANDSHAKE, msg, None
            case Ack():
                return Event.ACK, msg, None
            case Data():
                return Event.DATA, msg, value
        raise AssertionError(msg)

    def on_datagram(self, src: Addr, data: bytes, now: int) -> list[Effect]:
        """A datagram `data` from `src` arrived at time `now` (only after `start`)."""
        if not self._started:
            raise RuntimeError("ClientCore.on_datagram before start(): connect has not begun")
        before = self.next_deadline()
        event, msg, value = self._classify(src, data)
        row = CLIENT_INDEX[(self.state, event)]
        effects: list[Effect] = []
        match row.action:
            case Action.VIOLATION:
                reason = "foreign source" if event == Event.FOREIGN else "malformed"
                return self._violation(reason, src, data, row)
            case Action.SEND_COOKIE:
                assert isinstance(msg, InitAck)
                self.cookie = msg.cookie
                self.state = ClientState.CONNECTING_COOKIE
                self.resend_at = now + self.timing.handshake_resend_ns
                effects.append(Send(self.server, self._request()))
            case Action.OPEN_CLIENT_SESSION:
                self.state = ClientState.CONNECTED
                self.resend_at = None
                self.channel = Channel(self.server, self.ser_out, self.ser_in, self.timing)
                effects.append(SessionReady(self.server))
            case Action.IGNORE:
                self.ignored[f"{self.state}: {event}"] += 1
                if self.state != ClientState.CONNECTED and self.resend == HandshakeResend.SILENCE:
                    # The source re-enters a 1 s receive timeout after any datagram.
                    self.resend_at = now + self.timing.handshake_resend_ns
            case Action.PROCESS:
                assert self.channel is not None
                if isinstance(msg, Ack):
                    if not self.channel.ack_ok(msg.n):
                        return self._violation("ACK beyond sent", src, data, None)
                    self.channel.on_ack(msg.n)
                else:
                    assert isinstance(msg, Data)
                    effects += self.channel.on_data(msg.seq, msg.payload, value)
            case _:
                raise AssertionError(f"client row {row.id} has server action {row.action}")
        self._fire(row)
        return self._with_timer(before, effects)

    def on_timer(self, now: int) -> list[Effect]:
        """Time is `now`: re-send the handshake request or retransmit, if due."""
        before = self.next_deadline()
        effects: list[Effect] = []
        if self.resend_at is not None and now >= self.resend_at:
            row = CLIENT_INDEX[(self.state, Event.TIMEOUT)]
            assert row.action == Action.RESEND_REQUEST
            self.resend_at = now + self.timing.handshake_resend_ns
            effects.append(Send(self.server, self._request()))
            self._fire(row)
        if self.channel is not None and self.channel.next_tx is not None \
                and now >= self.channel.next_tx:
            row = CLIENT_INDEX[(self.state, Event.TIMEOUT)]
            effects += self.channel.on_timer(now)
            self._fire(row)
        return self._with_timer(before, effects)

    def _chan(self) -> Channel[A, B]:
        if self.channel is None:
            raise NotConnected("the client's handshake has not completed")
        return self.channel

    def send(self, value: A, now: int) -> list[Effect]:
        """Queue `value` for the server (B.5); raises `NotConnected`, `WireError`."""
        chan = self._chan()
        before = self.next_deadline()
        return self._with_timer(before, chan.send(value, now))

    def try_recv(self) -> Some[B] | None:
        """The next value from the server as `Some(v)`, or None if none has arrived."""
        return self._chan().try_recv()

    def snapshot(self, now: int | None = None) -> tuple[Any, ...]:
        """The full protocol state, hashable; deadlines relative to `now` if given.

        Counters and row records are diagnostics and are left out.
        """
        return ("client", self._started, self.state.value, self.cookie,
                _rel(self.resend_at, now),
                self.channel.snapshot(now) if self.channel else None)


# --------------------------------------------------------------------------------- server

SessionId = int
"""A server session handle: sessions are numbered 0, 1, ... in creation order."""


@dataclass(slots=True)
class _TableEntry:
    cookie: int
    session: SessionId | None = None  # None: HalfOpen(cookie); else Connected(session, cookie)


class ServerCore(_Core, Generic[A, B]):
    """The server side: one socket, a connection table keyed by source address (B.4).

    `ser_out` encodes what the server sends (type B in B.1), `ser_in` decodes what
    clients send. Table entries and sessions are never removed (B.9).
    """

    def __init__(self, ser_out: Serializer[A], ser_in: Serializer[B], rng: RandomSource, *,
                 timing: Timing = DEFAULT_TIMING, strict: bool = False) -> None:
        super().__init__(strict, timing)
        self.ser_out, self.ser_in = ser_out, ser_in
        self.rng = rng
        self.table: dict[Addr, _TableEntry] = {}  # insertion-ordered: deterministic
        self.sessions: list[Channel[A, B]] = []
        self.accept_queue: deque[SessionId] = deque()

    def next_deadline(self) -> int | None:
        """The earliest retransmission time over all sessions."""
        return _min(*(c.next_tx for c in self.sessions))

    def _entry_state(self, entry: _TableEntry | None) -> Entry:
        if entry is None:
            return Entry.ABSENT
        return Entry.HALF_OPEN if entry.session is None else Entry.CONNECTED

    def _classify(self, entry: _TableEntry | None, data: bytes) -> tuple[Event, Message | None,
                                                                         Any]:
        msg = _parse(data)
        value = None
        if entry is not None and entry.session is not None:
            msg, value = _payload(self.ser_in, msg)
        match msg:
            case None:
                return Event.MALFORMED, None, None
            case Init():
                return Event.INIT, msg, None
            case InitAck():
                return Event.INIT_ACK, msg, None
            case Cookie(cookie):
                match_ = entry is not None and cookie == entry.cookie
                return (Event.COOKIE_MATCH if match_ else Event.COOKIE_OTHER), msg, None
            case CookieAck():
                return Event.COOKIE_ACK, msg, None
            case HandshakeOther():
                return Event.OTHER_HANDSHAKE, msg, None
            case Ack():
                return Event.ACK, msg, None
            case Data():
                return Event.DATA, msg, value
        raise AssertionError(msg)

    def _new_cookie(self) -> int:
        cookie = self.rng.randrange(COOKIE_BOUND)
        if not (isinstance(cookie, int) and 0 <= cookie < COOKIE_BOUND):
            raise ValueError(f"random source returned {cookie!r}, not in [0, {COOKIE_BOUND})")
        return cookie

    def on_datagram(self, src: Addr, data: bytes, now: int) -> list[Effect]:
        """A datagram `data` from client address `src` arrived at time `now`."""
        before = self.next_deadline()
        entry = self.table.get(src)
        state = self._entry_state(entry)
        event, msg, value = self._classify(entry, data)
        row = SERVER_INDEX[(state, event)]
        effects: list[Effect] = []
        match row.action:
            case Action.VIOLATION:
                return self._violation(f"{state}: {event}", src, data, row)
            case Action.NEW_COOKIE:
                entry = self.table[src] = _TableEntry(self._new_cookie())
                effects.append(Send(src, encode_message(InitAck(entry.cookie))))
            case Action.RESEND_INIT_ACK:
                assert entry is not None
                effects.append(Send(src, encode_message(InitAck(entry.cookie))))
            case Action.OPEN_SERVER_SESSION:
                assert entry is not None
                entry.session = len(self.sessions)
                self.sessions.append(Channel(src, self.ser_out, self.ser_in, self.timing))
                self.accept_queue.append(entry.session)
                effects += [Send(src, encode_message(CookieAck(0))), SessionReady(src)]
            case Action.RESEND_COOKIE_ACK:
                effects.append(Send(src, encode_message(CookieAck(0))))
            case Action.IGNORE:
                self.ignored[f"{state}: {event}"] += 1
            case Action.PROCESS:
                assert entry is not None and entry.session is not None
                chan = self.sessions[entry.session]
                if isinstance(msg, Ack):
                    if not chan.ack_ok(msg.n):
                        return self._violation("ACK beyond sent", src, data, None)
                    chan.on_ack(msg.n)
                else:
                    assert isinstance(msg, Data)
                    effects += chan.on_data(msg.seq, msg.payload, value)
            case _:
                raise AssertionError(f"server row {row.id} has client action {row.action}")
        self._fire(row)
        return self._with_timer(before, effects)

    def on_timer(self, now: int) -> list[Effect]:
        """Time is `now`: run every due retransmission round, in session order."""
        before = self.next_deadline()
        effects: list[Effect] = []
        for chan in self.sessions:
            effects += chan.on_timer(now)
        return self._with_timer(before, effects)

    def pop_accept(self) -> tuple[SessionId, Addr] | None:
        """The oldest session not yet accepted, with its client address, or None."""
        if not self.accept_queue:
            return None
        sid = self.accept_queue.popleft()
        return sid, self.sessions[sid].peer

    def _chan(self, session: SessionId) -> Channel[A, B]:
        if not (isinstance(session, int) and 0 <= session < len(self.sessions)):
            raise KeyError(f"no session {session!r}")
        return self.sessions[session]

    def send(self, session: SessionId, value: A, now: int) -> list[Effect]:
        """Queue `value` for the client of `session` (B.5); raises `WireError` if too big."""
        chan = self._chan(session)
        before = self.next_deadline()
        return self._with_timer(before, chan.send(value, now))

    def try_recv(self, session: SessionId) -> Some[B] | None:
        """The next value from the client of `session` as `Some(v)`, or None."""
        return self._chan(session).try_recv()

    def peer(self, session: SessionId) -> Addr:
        """The client address of `session`."""
        return self._chan(session).peer

    def snapshot(self, now: int | None = None) -> tuple[Any, ...]:
        """The full protocol state, hashable; deadlines relative to `now` if given.

        The table is in insertion order (it decides session numbering, so it is state).
        Counters and row records are diagnostics and are left out.
        """
        return ("server",
                tuple((addr, e.cookie, e.session) for addr, e in self.table.items()),
                tuple((c.peer, c.snapshot(now)) for c in self.sessions),
                tuple(self.accept_queue))
