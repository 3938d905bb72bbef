"""The echo example (docs/sessions.md#echo) over the sessions driver, and its scenario.

SERVER (10.0.0.1:7000) calls `server_listen`, then loops on `accept` and starts a thread per
session that loops `s = recv(ch); send(ch, len(s))`. Each client Ci (10.0.0.(10+i):5000, one
host each) connects, then sends its strings one at a time and checks that `recv` gives
`len(s)` after each. Serializers: string client→server, int server→client.

The clients are applications calling the module (`echo_connect`, `echo_send`,
`echo_expect`), so what they send and receive is visible in the trace as modcall/modret
labels; the server's threads are internal. String k of client i has a length unique among
all strings of the run (while the run is small enough for that, see `message`), so a reply
names the string it answers and a reordered, duplicated or misrouted reply shows.

`window=w` lets each client keep up to w strings outstanding (pipelined), which puts several
values in flight per direction; B.7 is `window=1`.

`restart=1` makes client C1 start a second incarnation on its own address after its last
reply (both sockets set SO_REUSEADDR, as a restarted process would find its port free): its
`connect` never returns (B.9: a Connected address cannot reconnect).
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from typing import Any

from udpsem.base.time import S
from udpsem.hosts.calls import create
from udpsem.hosts.state import HostConsts, Timing
from udpsem.hosts.values import ip, ip_str
from udpsem.network.faults import Faults
from udpsem.programs.sessions.driver import (
    SessionMonitor,
    accept,
    connect,
    make_client_skt,
    make_server_skt,
    recv,
    send,
    server_listen,
)
from udpsem.programs.sessions.wire import int_serializer, string_serializer
from udpsem.programs.world import HostSpec, build_world
from udpsem.state.components import ModCall, Raised
from udpsem.state.world import Setup, World

Gen = Generator[Any, Any, Any]

SERVER = "SERVER"
SERVER_IP = "10.0.0.1"
SERVER_PORT = 7000
CLIENT_PORT = 5000


def client_name(i: int) -> str:
    """The host name of client i (1-based)."""
    return f"C{i}"


def client_ip(i: int) -> str:
    """The address of client i (1-based)."""
    return f"10.0.0.{10 + i}"


def message(i: int, k: int, clients: int) -> str:
    """String k (0-based) of client i (1-based): `c<i>.<k>.` padded with `x` to a length that
    is unique over the run while `clients * messages <= 4000`."""
    return f"c{i}.{k}.".ljust(16 + (k * clients + i - 1) % 4000, "x")


# The module ----------------------------------------------------------------------------------

def echo_server(addr: tuple[int, int], strict: bool) -> Gen:
    """Start the echo server on `addr` and return: listen, and accept in a thread."""
    srv = yield from make_server_skt(int_serializer, string_serializer, addr, strict=strict)
    yield from server_listen(srv)
    yield create(accept_loop, (srv,))


def accept_loop(srv: Any) -> Gen:
    """Accept sessions forever; one echo thread each."""
    while True:
        ch, _ = yield from accept(srv)
        yield create(echo_session, (ch,))


def echo_session(ch: Any) -> Gen:
    """`s = recv(ch); send(ch, len(s))`, forever."""
    while True:
        s = yield from recv(ch)
        yield from send(ch, len(s))


def echo_connect(addr: tuple[int, int], server: tuple[int, int], strict: bool,
                 reuse: bool) -> Gen:
    """Make the client socket on `addr`, connect to `server`, return the channel."""
    skt = yield from make_client_skt(string_serializer, int_serializer, addr, strict=strict,
                                     reuseaddr=reuse)
    return (yield from connect(skt, server))


def echo_send(ch: Any, s: str) -> Gen:
    """send(ch, s)."""
    yield from send(ch, s)


def echo_expect(ch: Any, s: str) -> Gen:
    """n = recv(ch); check n == len(s) (B.7's assertion); return n."""
    n = yield from recv(ch)
    if n != len(s):
        raise AssertionError(f"echo of {s!r}: got {n}, expected {len(s)}")
    return n


def echo_done() -> Gen:
    """Marks the end of a client's strings in the trace (does nothing)."""
    return None
    yield  # a generator, like every module function


MODULE: dict[str, Callable[..., Any]] = {"echo_server": echo_server, "echo_connect": echo_connect, "echo_send": echo_send,
          "echo_expect": echo_expect, "echo_done": echo_done}


# The applications ----------------------------------------------------------------------------

def server_app(addr: tuple[int, int], strict: bool) -> Gen:
    """The server's application: start the server once."""
    yield ModCall("echo_server", (addr, strict))


def client_app(i: int, clients: int, messages: int, addr: tuple[int, int],
               server: tuple[int, int], strict: bool, restart: bool, window: int = 1) -> Gen:
    """Client i: connect, then send each string and expect its length back, one at a time
    (B.7), or with up to `window` strings outstanding."""
    ch = yield ModCall("echo_connect", (addr, server, strict, restart))
    sent = 0
    for k in range(messages):
        while sent < messages and sent - k < window:
            yield ModCall("echo_send", (ch, message(i, sent, clients)))
            sent += 1
        yield ModCall("echo_expect", (ch, message(i, k, clients)))
    yield ModCall("echo_done")
    if restart:
        yield ModCall("echo_connect", (addr, server, strict, True))


# The scenario --------------------------------------------------------------------------------

@dataclass(frozen=True)
class EchoOptions:
    """Parameters of an echo run."""

    duration: int = 120 * S
    clients: int = 2
    messages: int = 10
    strict: bool = False
    restart: bool = False
    window: int = 1  # strings a client keeps outstanding; 1 is B.7's one at a time
    start_gap: int = 0  # client i starts at (i - 1) * start_gap
    timing: Timing = field(default_factory=Timing)
    consts: HostConsts = field(default_factory=HostConsts)


def build(opts: EchoOptions, faults: Faults, runtime: Any) -> tuple[Setup, World]:
    """The server and client machines, quiescent, with their applications and faults."""
    if opts.clients < 1 or opts.clients > 64:
        raise ValueError(f"echo needs 1 to 64 clients, got {opts.clients}")
    if opts.messages < 0:
        raise ValueError(f"echo needs a non-negative number of messages, got {opts.messages}")
    if opts.window < 1:
        raise ValueError(f"echo needs a window of at least 1, got {opts.window}")
    server = (ip(SERVER_IP), SERVER_PORT)
    specs: list[tuple[str, str, Any, tuple[Any, ...], int]] = [
        (SERVER, SERVER_IP, server_app, (server, opts.strict), 0)]
    for i in range(1, opts.clients + 1):
        addr = (ip(client_ip(i)), CLIENT_PORT)
        specs.append((client_name(i), client_ip(i), client_app,
                      (i, opts.clients, opts.messages, addr, server, opts.strict,
                       opts.restart and i == 1, opts.window), (i - 1) * opts.start_gap))
    hosts = [HostSpec(name, (addr_text,), app, arg, start, MODULE)
             for name, addr_text, app, arg, start in specs]
    return build_world(hosts, faults, runtime, timing=opts.timing, consts=opts.consts,
                       horizon=opts.duration)


# The observer --------------------------------------------------------------------------------

@dataclass
class _Client:
    name: str
    address: str
    sent: list[str] = field(default_factory=list)
    received: list[Any] = field(default_factory=list)
    connect_ns: int | None = None
    finish_ns: int | None = None
    connects: int = 0
    reconnect_ns: int | None = None

    def row(self, messages: int | None) -> dict[str, Any]:
        lengths = [len(s) for s in self.sent]
        correct = sum(1 for k, n in enumerate(self.received)
                      if k < len(lengths) and n == lengths[k])
        dups = len(self.received) - len(set(map(repr, self.received)))
        out: dict[str, Any] = {
            "host": self.name, "address": self.address, "sent": len(self.sent),
            "received": len(self.received), "correct": correct,
            "in_order": self.received == lengths[:len(self.received)],
            "duplicates": dups, "connect_ns": self.connect_ns, "finish_ns": self.finish_ns}
        if self.connects > 1:
            out["reconnect_ns"] = self.reconnect_ns
        return out


class EchoObserver:
    """Watches an echo run: per client, what was sent and echoed back (from the module-call
    labels), and the B.8 guarantees on every session (from the store, via SessionMonitor).

    `violations` lists guarantee breaches: a reply that is not the length of the string it
    answers in order (B.7's assertion), a breach found by the monitor, an exception that
    escaped a thread (a strict-mode ProtocolViolation among them).
    """

    def __init__(self) -> None:
        self.clients: dict[str, _Client] = {}
        self.pending: dict[tuple[str, int], tuple[str, Any]] = {}
        self.monitor = SessionMonitor()
        self.escaped: list[tuple[int, str, str]] = []
        self.messages: int | None = None

    def on_step(self, st: Any) -> None:
        self.monitor.on_step(st)
        lab = st.transition.label
        kind = lab.kind
        if kind == "modcall":
            fn, arg = lab.value
            c = self._client(lab.host)
            if c is None:
                return
            self.pending[(lab.host, lab.tid)] = (fn, arg)
            if fn == "echo_send":
                c.sent.append(arg[1])
            elif fn == "echo_done":
                c.finish_ns = st.transition.world.now
            elif fn == "echo_connect":
                c.connects += 1
                if c.connects == 1:
                    c.address = f"{ip_str(arg[0][0])}:{arg[0][1]}"
        elif kind == "modret":
            fn, arg = self.pending.pop((lab.host, lab.tid), ("?", None))
            c = self._client(lab.host)
            t = st.transition.world.now
            if c is None:
                return
            if isinstance(lab.value, Raised):
                self.escaped.append((t, lab.host, f"{fn}: {lab.value.error}"))
                return
            if fn == "echo_connect":
                if c.connects == 1:
                    c.connect_ns = t
                else:
                    c.reconnect_ns = t
            elif fn == "echo_expect":
                c.received.append(lab.value)
        elif kind == "thread_end" and lab.value is not None:
            self.escaped.append((st.transition.world.now, lab.host, lab.value))

    def _client(self, host: str | None) -> _Client | None:
        if host is None or not host.startswith("C"):
            return None
        if host not in self.clients:
            i = int(host[1:])
            self.clients[host] = _Client(host, f"{client_ip(i)}:{CLIENT_PORT}")
        return self.clients[host]

    def rows(self) -> list[dict[str, Any]]:
        """One summary row per client, in host order."""
        return [self.clients[k].row(self.messages)
                for k in sorted(self.clients, key=lambda h: int(h[1:]))]

    def violations(self) -> list[str]:
        """Every guarantee breach seen."""
        out = []
        for c in self.clients.values():
            lengths = [len(s) for s in c.sent]
            for k, n in enumerate(c.received):
                if k >= len(lengths) or n != lengths[k]:
                    out.append(f"{c.name}: reply {k} is {n!r}, expected "
                               f"{lengths[k] if k < len(lengths) else 'nothing'}")
                    break
        out += self.monitor.violations()
        out += [f"{h} at {t} ns: exception escaped: {e}" for t, h, e in self.escaped]
        return out

    def summary(self) -> dict[str, Any]:
        """The echo's part of `udpsem run --json`."""
        return {"clients": self.rows(), "violations": self.violations()}

    def render(self, console: Any, res: Any) -> None:
        """The echo's part of the readable `udpsem run` output: a table of the clients."""
        from rich.table import Table

        from udpsem.base.time import fmt_ns

        messages = res.params.get("messages")
        table = Table(title=f"echo: {len(self.clients)} clients, {messages} strings each")
        for col in ("client", "address", "sent", "received", "correct", "in order",
                    "duplicates", "connected at", "finished at"):
            table.add_column(col, justify="right" if col in ("sent", "received", "correct",
                                                              "duplicates") else "left")
        for r in self.rows():
            ok = r["correct"] == messages and r["in_order"] and r["duplicates"] == 0
            table.add_row(r["host"], r["address"], str(r["sent"]), str(r["received"]),
                          f"[{'green' if ok else 'red'}]{r['correct']}[/]",
                          "yes" if r["in_order"] else "[red]no[/]", str(r["duplicates"]),
                          "never" if r["connect_ns"] is None else fmt_ns(r["connect_ns"]),
                          "—" if r["finish_ns"] is None else fmt_ns(r["finish_ns"]))
            if "reconnect_ns" in r:
                table.add_row(r["host"] + "'", r["address"], "", "", "", "", "",
                              "[red]never[/]" if r["reconnect_ns"] is None
                              else fmt_ns(r["reconnect_ns"]), "(restarted)")
        console.print(table)
        v = self.violations()
        colour = "green" if not v else "red"
        console.print(f"{res.transitions} transitions; [bold {colour}]{len(v)} guarantee "
                      f"violations[/]")
        for line in v[:10]:
            console.print(f"[red]{line}[/]")
