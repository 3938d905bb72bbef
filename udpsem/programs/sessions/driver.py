"""The sessions library over the model's LIB (docs/sessions.md): the driver that runs the
sans-I/O cores of `core.py` in generator threads, and a monitor of the B.8 guarantees.

Programs call the B.2 API with `yield from` inside module code (a snippet):

    skt = yield from make_client_skt(string_serializer, int_serializer, (ip, port))
    ch = yield from connect(skt, (server_ip, server_port))
    yield from send(ch, "hello")
    n = yield from recv(ch)

Threads and the store (docs/architecture.md). Program threads share state only through the
modelled store, and the store holds values, never live objects. So:

* Each core (`ClientCore` / `ServerCore`) is owned by exactly one **I/O thread** per socket,
  started with `create` by `connect` / `server_listen`; the core is a local of that thread's
  generator and no other thread ever touches it. This serializes all access to the core.
* User-facing operations talk to the I/O thread through **single-writer store cells** (no
  cell has two writers, so no lost update is possible without an atomic read-modify-write,
  which the store does not offer):
  - `out_log` (written by the user's `send`) and `out_taken` (written by the I/O thread);
  - `in_log` and the accept log (written by the I/O thread) and `in_taken` / `accept_taken`
    (written by `try_recv`/`recv`/`accept`).
  A log is `(base, items)`: `items[j]` is value number `base + j`; the writer trims the
  prefix the reader has reported taken. Each channel end therefore assumes one sending
  thread and one receiving thread at a time (single producer, single consumer), as in the
  echo example; two threads calling `recv` on one channel concurrently could take the same
  value. Likewise one thread calls `accept`, and `server_listen` is not called concurrently
  with itself.
* **Wake-ups are datagrams**, so every wait is a blocking LIB call and an idle system is
  quiescent (no polling): `send` rings the I/O thread by sending a datagram (payload: the
  session number) from the core's socket to the socket's own address, which the model loops
  back (a loopback delivery, never lost); the I/O thread tells it apart from protocol traffic by its
  source, which is the socket itself. A blocked `recv`/`accept`/`connect` waits in a
  blocking `recvfrom` on its own loopback **bell** socket; the I/O thread rings the bell
  after appending to the log. The bell socket's queue is a counting semaphore: a ring can
  never be lost between the reader's check of the log and its wait, and a surplus ring only
  costs the reader one extra check. (The source polls instead, every 0.15 s in `recv` and
  1 s in `accept`; this driver needs neither constant.)

Time. Programs cannot read the clock (docs/architecture.md) and the model offers no clock call. Each
I/O thread keeps a **logical clock**, starting at 0: the sum of the `select` timeouts that
expired. A `select` that returns early because data arrived counts as zero elapsed time,
since the thread cannot know how long it waited. The logical clock is therefore a lower
bound of the time that really passed on the thread, so the core's timers never fire early:
handshake re-sends and retransmissions happen at least 1 s / 0.35 s of model time apart, and
later than that when traffic keeps arriving (a busy server can stretch one session's
retransmission period until the socket is quiet for the rest of it). Safety (B.8.1–3) does
not depend on time at all; only retransmission pacing does.

Errors (B.6). A `sendto` that fails with EINTR, EAGAIN, ENOBUFS, ENOMEM, ECONNREFUSED or
EHOSTUNREACH is the loss of that datagram (retransmission covers it); the same errors from
`select` and `recvfrom` are retried. A wake-up datagram is re-sent until it succeeds, since
nothing else would repeat it. Any other failure escapes the thread.

Codecs. Handles are plain data (they are part of the model state, which exploration
fingerprints), so they name their serializers instead of holding them: `make_*_skt`
registers the serializer under its `name` (composite serializers have structural names) and
the driver looks it up again. Two different codecs with one name are refused.

Cookies. `ServerCore` needs an injectable random source; a thread may not use global
randomness, so the server's I/O thread uses `random.Random(cookie_seed)`, a deterministic
function of its argument (replay and exploration rebuild threads by re-running them).
"""

from __future__ import annotations

import random
from collections.abc import Generator
from dataclasses import dataclass
from typing import Any, TypeVar

from udpsem.base.time import US
from udpsem.hosts.calls import (
    bind,
    create,
    getsockname,
    recvfrom,
    select,
    sendto,
    setsockopt,
    socket,
)
from udpsem.hosts.values import Errno, SockOpt, UDPError, ip
from udpsem.state.components import StoreSet, get, new, set_

from .core import DEFAULT_TIMING, ClientCore, Send, ServerCore, SessionReady, SetTimer, Timing
from .wire import (
    Data,
    Serializer,
    Some,
    bool_serializer,
    bytes_serializer,
    encode_message,
    int_serializer,
    string_serializer,
    unit_serializer,
)

T = TypeVar("T")
Gen = Generator[Any, Any, T]
Addr = tuple[int, int]

LOOPBACK = ip("127.0.0.1")

LOSS_ERRNOS = frozenset({Errno.EINTR, Errno.EAGAIN, Errno.ENOBUFS, Errno.ENOMEM,
                         Errno.ECONNREFUSED, Errno.EHOSTUNREACH})
"""`FAIL` results that B.6 says to treat as the loss of the datagram."""

_EMPTY_LOG: tuple[int, tuple[Any, ...]] = (0, ())


class SessionError(Exception):
    """Misuse of the API: `server_listen` twice, `accept` before `server_listen`."""


_CODECS: dict[str, Serializer[Any]] = {
    s.name: s for s in (string_serializer, int_serializer, bytes_serializer, bool_serializer,
                        unit_serializer)}


def codec_name(ser: Serializer[Any]) -> str:
    """Register `ser` under its name and return the name (what handles hold)."""
    known = _CODECS.setdefault(ser.name, ser)
    if known is not ser and type(known) is not type(ser):
        raise ValueError(f"two different serializers are both named {ser.name!r}")
    return ser.name


def codec(name: str) -> Serializer[Any]:
    """The serializer registered under `name`."""
    return _CODECS[name]


# Handles: immutable values, safe to store, return to the application and pass to `create` --


@dataclass(frozen=True, slots=True)
class ClientSkt:
    """A client socket bound to `addr`, with its codecs (B.2 `make_client_skt`)."""

    fd: int
    addr: Addr
    ser_out: str
    ser_in: str
    strict: bool = False
    timing: Timing = DEFAULT_TIMING


@dataclass(frozen=True, slots=True)
class ServerSkt:
    """The server socket bound to `addr` (B.2 `make_server_skt`). `state` is the store cell
    holding None until `server_listen`, then the `Listening` record."""

    fd: int
    addr: Addr
    ser_out: str
    ser_in: str
    state: int
    strict: bool = False
    timing: Timing = DEFAULT_TIMING
    cookie_seed: int = 0


@dataclass(frozen=True, slots=True)
class Listening:
    """What `server_listen` set up: the accept log, its taken counter and the accept bell."""

    accept_log: int
    accept_taken: int
    bell_fd: int
    bell_addr: Addr


@dataclass(frozen=True, slots=True)
class SessionChannel:
    """One end of a session (B.2 "channel"): store cells shared with the socket's I/O thread.

    `fd`/`addr` are the core's socket and its own address (the I/O thread's doorbell),
    `session` the server's session number (0 on a client), `peer` the other end's address.
    """

    fd: int
    addr: Addr
    session: int
    peer: Addr
    out_log: int
    out_taken: int
    in_log: int
    in_taken: int
    bell_fd: int
    bell_addr: Addr
    ser_out: str


# Small LIB helpers ---------------------------------------------------------------------------


def _sendto(fd: int, dest: Addr, data: bytes) -> Gen[bool]:
    """Send one datagram; False if it failed in a way B.6 counts as its loss."""
    try:
        yield sendto(fd, dest, data, False)
    except UDPError as e:
        if e.errno in LOSS_ERRNOS:
            return False
        raise
    return True


def _ring(fd: int, dest: Addr, data: bytes = b"") -> Gen[None]:
    """Send a wake-up datagram; retried, since nothing else would repeat it."""
    while not (yield from _sendto(fd, dest, data)):
        pass


def _make_bell() -> Gen[tuple[int, Addr]]:
    """A loopback socket with an ephemeral port, used as a counting semaphore."""
    fd = yield socket()
    yield bind(fd, LOOPBACK, None)
    bip, bport = yield getsockname(fd)
    return fd, (bip, bport)


def _wait_bell(bell_fd: int) -> Gen[None]:
    """Block until the bell has rung (consuming one ring)."""
    try:
        yield recvfrom(bell_fd, False)
    except UDPError as e:
        if e.errno not in LOSS_ERRNOS:
            raise


def _take(log: int, taken: int, bell_fd: int, block: bool) -> Gen[Some[Any] | None]:
    """Pop the next value of an I/O-thread-written log (the reader owns `taken`)."""
    while True:
        k = yield get(taken)
        base, items = yield get(log)
        if k < base + len(items):
            yield set_(taken, k + 1)
            return Some(items[k - base])
        if not block:
            return None
        yield from _wait_bell(bell_fd)


def _append(log: int, taken: int, values: tuple[Any, ...]) -> Gen[None]:
    """Append to a log this thread writes, trimming what the reader has taken."""
    k = yield get(taken)
    base, items = yield get(log)
    yield set_(log, (k, items[k - base:] + values))


# The B.2 API ---------------------------------------------------------------------------------


def make_client_skt(ser_out: Serializer[Any], ser_in: Serializer[Any], addr: Addr, *,
                    strict: bool = False, timing: Timing = DEFAULT_TIMING,
                    reuseaddr: bool = False) -> Gen[ClientSkt]:
    """Create a UDP socket bound to `addr` = (ip, port) and keep the codecs.

    `reuseaddr` sets SO_REUSEADDR before binding (an extension, used to show that a client
    restarted on the address of a live session never connects, B.9).
    """
    fd = yield socket()
    if reuseaddr:
        yield setsockopt(fd, SockOpt.SO_REUSEADDR, True)
    yield bind(fd, addr[0], addr[1])
    return ClientSkt(fd, (addr[0], addr[1]), codec_name(ser_out), codec_name(ser_in), strict,
                     timing)


def make_server_skt(ser_out: Serializer[Any], ser_in: Serializer[Any], addr: Addr, *,
                    strict: bool = False, timing: Timing = DEFAULT_TIMING,
                    cookie_seed: int = 0) -> Gen[ServerSkt]:
    """Create the server's socket bound to `addr`; it is not listening yet."""
    fd = yield socket()
    yield bind(fd, addr[0], addr[1])
    state = yield new(None)
    return ServerSkt(fd, (addr[0], addr[1]), codec_name(ser_out), codec_name(ser_in), state,
                     strict, timing, cookie_seed)


def server_listen(srv: ServerSkt) -> Gen[None]:
    """Create the connection table and the accept queue and start the I/O thread (once)."""
    if (yield get(srv.state)) is not None:
        raise SessionError("server_listen: the server is already listening")
    accept_log = yield new(_EMPTY_LOG)
    accept_taken = yield new(0)
    bell_fd, bell_addr = yield from _make_bell()
    lst = Listening(accept_log, accept_taken, bell_fd, bell_addr)
    yield set_(srv.state, lst)
    yield create(server_io, (srv, lst))


def accept(srv: ServerSkt) -> Gen[tuple[SessionChannel, Addr]]:
    """Block until a session has completed its handshake; return `(channel, client_addr)`.
    Each session is returned exactly once."""
    lst = yield get(srv.state)
    if lst is None:
        raise SessionError("accept: server_listen has not been called")
    got = yield from _take(lst.accept_log, lst.accept_taken, lst.bell_fd, True)
    assert got is not None
    chan, addr = got.value
    return chan, addr


def connect(cli: ClientSkt, server: Addr) -> Gen[SessionChannel]:
    """Run the handshake with `server` (retrying forever) and return the channel."""
    out_log = yield new(_EMPTY_LOG)
    out_taken = yield new(0)
    in_log = yield new(_EMPTY_LOG)
    in_taken = yield new(0)
    ready = yield new(False)
    bell_fd, bell_addr = yield from _make_bell()
    server = (server[0], server[1])
    ch = SessionChannel(cli.fd, cli.addr, 0, server, out_log, out_taken, in_log, in_taken,
                        bell_fd, bell_addr, cli.ser_out)
    yield create(client_io, (cli, ch, ready))
    while not (yield get(ready)):
        yield from _wait_bell(bell_fd)
    return ch


def send(ch: SessionChannel, value: Any) -> Gen[None]:
    """Append `value` to the out-buffer (non-blocking). A value of the wrong type or too big
    for one datagram raises `WireError` here, in the caller."""
    payload = codec(ch.ser_out).encode(value)
    encode_message(Data(10**18, payload))  # fits in a datagram whatever its number
    yield from _append(ch.out_log, ch.out_taken, (value,))
    yield from _ring(ch.fd, ch.addr, str(ch.session).encode())


def try_recv(ch: SessionChannel) -> Gen[Some[Any] | None]:
    """Pop the head of the in-buffer as `Some(v)`, or None if it is empty (non-blocking)."""
    return (yield from _take(ch.in_log, ch.in_taken, ch.bell_fd, False))


def recv(ch: SessionChannel) -> Gen[Any]:
    """Block until a value has arrived and return it."""
    got = yield from _take(ch.in_log, ch.in_taken, ch.bell_fd, True)
    assert got is not None
    return got.value


# The I/O threads -----------------------------------------------------------------------------


class _Loop:
    """The state of one I/O thread: its socket, logical clock and core timer. Lives only in
    that thread's generator frame."""

    def __init__(self, fd: int, addr: Addr) -> None:
        self.fd, self.addr = fd, addr
        self.now = 0
        self.deadline: int | None = None

    def wait(self) -> Gen[bool]:
        """Wait for data or the core's deadline: True if the socket is readable, False if the
        deadline has been reached (by the logical clock)."""
        while True:
            if self.deadline is not None and self.deadline <= self.now:
                return False
            timeout = None if self.deadline is None else -(-(self.deadline - self.now) // US)
            try:
                ready, _ = yield select([self.fd], [], timeout)
            except UDPError as e:
                if e.errno in LOSS_ERRNOS:
                    continue
                raise
            if ready:
                return True  # returned early: count no time (we cannot know how much passed)
            assert timeout is not None
            self.now += timeout * US

    def receive(self) -> Gen[tuple[Addr, bytes] | None]:
        """The next queued datagram `(source, data)`, or None when the queue is empty."""
        while True:
            try:
                sip, sport, data = yield recvfrom(self.fd, True)
            except UDPError as e:
                if e.errno == Errno.EAGAIN:
                    return None
                if e.errno in LOSS_ERRNOS:
                    continue
                raise
            return (sip, sport), data

    def sends(self, effects: list[Any]) -> Gen[list[Addr]]:
        """Perform Send and SetTimer effects; return the SessionReady addresses."""
        ready = []
        for eff in effects:
            if isinstance(eff, Send):
                yield from _sendto(self.fd, _as_addr(eff.addr), eff.data)
            elif isinstance(eff, SetTimer):
                self.deadline = eff.when
            elif isinstance(eff, SessionReady):
                ready.append(_as_addr(eff.addr))
        return ready


def client_io(cli: ClientSkt, ch: SessionChannel, ready: int) -> Gen[None]:
    """The client's I/O thread: owns the ClientCore; handshake, then data transfer."""
    core: ClientCore[Any, Any] = ClientCore(ch.peer, codec(cli.ser_out), codec(cli.ser_in),
                                            timing=cli.timing,
                                            strict=cli.strict)
    loop = _Loop(cli.fd, cli.addr)
    consumed = 0  # values taken from out_log (this thread owns out_taken)
    yield from loop.sends(core.start(loop.now))
    while True:
        if not (yield from loop.wait()):
            yield from loop.sends(core.on_timer(loop.now))
            continue
        while (got := (yield from loop.receive())) is not None:
            src, data = got
            if src == cli.addr:  # our own wake-up: new values in out_log
                base, items = yield get(ch.out_log)
                fresh = items[consumed - base:]
                if fresh:
                    consumed += len(fresh)
                    yield set_(ch.out_taken, consumed)
                    for v in fresh:
                        yield from loop.sends(core.send(v, loop.now))
                continue
            if (yield from loop.sends(core.on_datagram(src, data, loop.now))):
                yield set_(ready, True)
                yield from _ring(ch.bell_fd, ch.bell_addr)
            if core.connected:
                values = []
                while (r := core.try_recv()) is not None:
                    values.append(r.value)
                if values:
                    yield from _append(ch.in_log, ch.in_taken, tuple(values))
                    yield from _ring(ch.bell_fd, ch.bell_addr)


def server_io(srv: ServerSkt, lst: Listening) -> Gen[None]:
    """The server's I/O thread (the source's dispatcher and retransmitters): owns the
    ServerCore and the table; creates a channel for each completed handshake."""
    core: ServerCore[Any, Any] = ServerCore(codec(srv.ser_out), codec(srv.ser_in),
                                            random.Random(srv.cookie_seed),
                                            timing=srv.timing, strict=srv.strict)
    loop = _Loop(srv.fd, srv.addr)
    chans: list[SessionChannel] = []
    consumed: list[int] = []
    while True:
        if not (yield from loop.wait()):
            yield from loop.sends(core.on_timer(loop.now))
            continue
        while (got := (yield from loop.receive())) is not None:
            src, data = got
            if src == srv.addr:  # a wake-up from `send` on session int(data)
                sid = int(data)
                ch = chans[sid]
                base, items = yield get(ch.out_log)
                fresh = items[consumed[sid] - base:]
                if fresh:
                    consumed[sid] += len(fresh)
                    yield set_(ch.out_taken, consumed[sid])
                    for v in fresh:
                        yield from loop.sends(core.send(sid, v, loop.now))
                continue
            for _ in (yield from loop.sends(core.on_datagram(src, data, loop.now))):
                popped = core.pop_accept()
                assert popped is not None and popped[0] == len(chans)
                sid, peer = popped[0], _as_addr(popped[1])
                out_log = yield new(_EMPTY_LOG)
                out_taken = yield new(0)
                in_log = yield new(_EMPTY_LOG)
                in_taken = yield new(0)
                bell_fd, bell_addr = yield from _make_bell()
                ch = SessionChannel(srv.fd, srv.addr, sid, peer, out_log, out_taken, in_log,
                                    in_taken, bell_fd, bell_addr, srv.ser_out)
                chans.append(ch)
                consumed.append(0)
                yield from _append(lst.accept_log, lst.accept_taken, ((ch, peer),))
                yield from _ring(lst.bell_fd, lst.bell_addr)
            for sid, ch in enumerate(chans):
                if core.peer(sid) != src:
                    continue
                values = []
                while (r := core.try_recv(sid)) is not None:
                    values.append(r.value)
                if values:
                    yield from _append(ch.in_log, ch.in_taken, tuple(values))
                    yield from _ring(ch.bell_fd, ch.bell_addr)


# Observing the guarantees (B.8) --------------------------------------------------------------


@dataclass
class _End:
    """What a monitor knows of one channel end."""

    host: str
    chan: SessionChannel
    sent: list[Any]
    delivered: list[Any]
    connected: bool = True  # a client end: its connect has completed


class SessionMonitor:
    """Checks B.8.1 and B.8.2 on a run of any program that uses this driver, from its store
    operations alone (an observer's `on_step`).

    It learns client ends from the `create(client_io, ...)` calls and server ends from the
    accept logs, then follows every write of an `out_log` (values the user sent) and of an
    `in_log` (values the driver delivered, in the order `recv`/`try_recv` will take them).
    `violations()` lists every breach: a delivered sequence that is not a prefix of the
    sequence the peer sent, two server sessions for one client address, a client whose
    session the server never created while its values were delivered.
    """

    def __init__(self) -> None:
        self.ends: dict[tuple[str, int], _End] = {}  # (host, out_log or in_log loc) -> end
        self.clients: list[_End] = []
        self.servers: list[_End] = []
        self.accept_logs: set[tuple[str, int]] = set()
        self.ready: dict[tuple[str, int], _End] = {}  # (host, ready cell) -> client end
        self.breaches: list[str] = []

    def on_step(self, st: Any) -> None:
        """Feed one step (`drivers.Step`)."""
        lab = st.transition.label
        if lab.kind == "call" and getattr(lab.value, "name", None) == "create":
            prog = getattr(lab.value.program, "fn", lab.value.program)  # runtime.Spawn
            if prog is client_io:
                _, ch, ready = lab.value.arg
                self._add(lab.host, ch, self.clients)
                self.clients[-1].connected = False
                self.ready[(lab.host, ready)] = self.clients[-1]
            elif prog is server_io:
                _, lst = lab.value.arg
                self.accept_logs.add((lab.host, lst.accept_log))
        elif lab.kind == "store" and isinstance(lab.value, StoreSet):
            key = (lab.host, lab.value.loc)
            if key in self.ready:
                self.ready[key].connected = bool(lab.value.value)
                return
            if key in self.accept_logs:
                for item in lab.value.value[1]:
                    ch = item[0]
                    if (lab.host, ch.in_log) not in self.ends:
                        self._add(lab.host, ch, self.servers)
                return
            end = self.ends.get(key)
            if end is None:
                return
            base, items = lab.value.value
            seq = end.sent if key[1] == end.chan.out_log else end.delivered
            seq.extend(items[len(seq) - base:])

    def _add(self, host: str, ch: SessionChannel, where: list[_End]) -> None:
        end = _End(host, ch, [], [])
        self.ends[(host, ch.out_log)] = end
        self.ends[(host, ch.in_log)] = end
        where.append(end)

    def pairs(self) -> list[tuple[_End, _End | None]]:
        """Each client end with the server end of its session: None while its `connect` has
        not returned (a client restarted on a used address never gets one, B.9)."""
        by_peer: dict[Addr, _End] = {}
        for s in self.servers:
            by_peer.setdefault(s.chan.peer, s)
        return [(c, by_peer.get(c.chan.addr) if c.connected else None) for c in self.clients]

    def violations(self) -> list[str]:
        """Every breach of B.8.1/B.8.2 seen so far (empty if none)."""
        out = list(self.breaches)
        seen: dict[Addr, int] = {}
        for s in self.servers:
            seen[s.chan.peer] = seen.get(s.chan.peer, 0) + 1
        for peer, n in seen.items():
            if n > 1:
                out.append(f"{n} server sessions for client {_addr_str(peer)}")
        live: dict[Addr, int] = {}
        for c in self.clients:
            if c.connected:
                live[c.chan.addr] = live.get(c.chan.addr, 0) + 1
        for addr, n in live.items():
            if n > 1:
                out.append(f"{n} connected clients on one address {_addr_str(addr)}")
        for c, srv in self.pairs():
            who = f"{c.host} {_addr_str(c.chan.addr)}"
            if srv is None:
                if c.delivered:
                    out.append(f"{who}: received {len(c.delivered)} values without a session")
                continue
            s = srv
            if s.delivered != c.sent[:len(s.delivered)]:
                out.append(f"{who}: server received {_short(s.delivered)}, "
                           f"not a prefix of the sent {_short(c.sent)}")
            if c.delivered != s.sent[:len(c.delivered)]:
                out.append(f"{who}: client received {_short(c.delivered)}, "
                           f"not a prefix of the sent {_short(s.sent)}")
        return out


def _as_addr(a: Any) -> Addr:
    """The cores keep addresses opaque; this driver's are (ip, port) pairs."""
    return (a[0], a[1])


def _addr_str(a: Addr) -> str:
    from udpsem.hosts.values import ip_str

    return f"{ip_str(a[0])}:{a[1]}"


def _short(xs: list[Any]) -> str:
    text = repr(xs)
    return text if len(text) <= 120 else text[:117] + "..."


__all__ = [
    "LOSS_ERRNOS",
    "ClientSkt",
    "Listening",
    "ServerSkt",
    "SessionChannel",
    "SessionError",
    "SessionMonitor",
    "accept",
    "client_io",
    "codec",
    "codec_name",
    "connect",
    "make_client_skt",
    "make_server_skt",
    "recv",
    "send",
    "server_io",
    "server_listen",
    "try_recv",
]
