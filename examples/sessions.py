"""A reliable-sessions client and server (the README's fragment made whole).

SERVER listens with the sessions library (MODEL.md Part B, `udpsem.programs.sessions`),
accepts sessions in a thread and answers each string with its length. CLIENT connects,
sends two strings and receives the two lengths, over a network that loses and duplicates
datagrams (the library retransmits). The invariant checks the answers the client recorded.

    udpsem run examples/sessions.py --seed 2 --loss 0.3 --dup 0.2
    udpsem explore examples/sessions.py --max-states 2000
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import udpsem
from udpsem import HostSpec, ModCall, WorldSpec
from udpsem.programs.sessions.driver import (
    accept,
    connect,
    make_client_skt,
    make_server_skt,
    recv,
    send,
    server_listen,
)
from udpsem.programs.sessions.wire import int_serializer, string_serializer

Gen = Generator[Any, Any, Any]

SERVER = (udpsem.ip("10.0.0.1"), 7000)
CLIENT = (udpsem.ip("10.0.0.2"), 5000)
STRINGS = ("hello", "sessions!")


def serve() -> Gen:
    """Listen, then accept sessions in a thread (the module call returns)."""
    srv = yield from make_server_skt(int_serializer, string_serializer, SERVER)
    yield from server_listen(srv)
    yield udpsem.create(accept_loop, (srv,))


def accept_loop(srv: Any) -> Gen:
    while True:
        ch, _ = yield from accept(srv)
        yield udpsem.create(lengths, (ch,))


def lengths(ch: Any) -> Gen:
    """Answer each string with its length, for ever."""
    while True:
        s = yield from recv(ch)
        yield from send(ch, len(s))


def client() -> Gen:
    """Connect, send each string, receive its length; record (string, length)."""
    log = yield udpsem.new(())
    skt = yield from make_client_skt(string_serializer, int_serializer, CLIENT)
    ch = yield from connect(skt, SERVER)
    got: tuple[tuple[str, int], ...] = ()
    for s in STRINGS:
        yield from send(ch, s)
        n = yield from recv(ch)
        got += ((s, n),)
        yield udpsem.set_(log, got)
    return got


@udpsem.invariant("lengths_right")
def lengths_right(setup: Any, world: Any) -> str | None:
    """Every length the client received is the length of the string it sent."""
    log = dict(world.machine("CLIENT").store).get(0, ())
    for s, n in log:
        if n != len(s):
            return f"the client got {n} for {s!r}"
    return None


def world() -> WorldSpec:
    return WorldSpec(
        hosts=[HostSpec("SERVER", ["10.0.0.1"], lambda: (yield ModCall("serve")),
                        module={"serve": serve}),
               HostSpec("CLIENT", ["10.0.0.2"], lambda: (yield ModCall("ask")),
                        module={"ask": client})],
        faults=udpsem.Faults(loss=0.2, dup=0.1, max_copies=2),
        horizon=5 * udpsem.S,
        invariants=[lengths_right])
