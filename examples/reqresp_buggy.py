"""Request/response with a timeout and retry: the BUGGY version.

CLIENT asks SERVER two questions over UDP. It waits for each answer with `select` and a
timeout, and sends the question again when the timeout expires. SERVER answers every
question it receives: `b"7"` gets `b"re 7"`.

The bug: the client takes the first datagram that arrives as the answer to its current
question. When a first answer is merely slow, the client retries, gets it, moves on to the
next question, and then receives the answer to the *retry* of the old one: a stale reply,
taken as the answer to the new question. The invariant `answers_match` catches it; try

    udpsem explore examples/reqresp_buggy.py       # exits 1 with a counterexample
    udpsem replay reqresp_buggy.counterexample.jsonl --program examples/reqresp_buggy.py

and see `reqresp.py` for the fix.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import udpsem
from udpsem import HostSpec, ModCall, WorldSpec

Gen = Generator[Any, Any, Any]

SERVER_IP, CLIENT_IP, PORT = "10.0.0.1", "10.0.0.2", 7000
QUESTIONS = (b"1", b"2")
TIMEOUT_US = 12_000  # shorter than the slowest round trip (2 × 10 ms): retries happen
RETRIES = 3


def server() -> Gen:
    """Answer every question: `q` gets `re q`."""
    fd = yield udpsem.socket()
    yield udpsem.bind(fd, None, PORT)
    while True:
        src_ip, src_port, data = yield udpsem.recvfrom(fd, False)
        yield udpsem.sendto(fd, (src_ip, src_port), b"re " + data, False)


def client() -> Gen:
    """Ask each question, retrying on timeout; record (question, answer) in the store."""
    log = yield udpsem.new(())
    fd = yield udpsem.socket()
    yield udpsem.bind(fd, None, None)
    dest = (udpsem.ip(SERVER_IP), PORT)
    answers: tuple[tuple[bytes, bytes], ...] = ()
    for q in QUESTIONS:
        for _ in range(RETRIES):
            yield udpsem.sendto(fd, dest, q, False)
            readable, _ = yield udpsem.select([fd], [], TIMEOUT_US)
            if fd in readable:
                _, _, data = yield udpsem.recvfrom(fd, False)
                answers += ((q, data),)  # BUG: whatever arrived is taken as the answer
                yield udpsem.set_(log, answers)
                break
    return answers


@udpsem.invariant("answers_match")
def answers_match(setup: Any, world: Any) -> str | None:
    """Every answer the client took is the answer to the question it took it for."""
    client_store = dict(world.machine("CLIENT").store)
    for q, a in client_store.get(0, ()):
        if a != b"re " + q:
            return f"the client took {a!r} as the answer to {q!r}"
    return None


def world() -> WorldSpec:
    return WorldSpec(
        hosts=[HostSpec("SERVER", [SERVER_IP], lambda: (yield ModCall("serve")),
                        module={"serve": server}),
               HostSpec("CLIENT", [CLIENT_IP], lambda: (yield ModCall("ask")),
                        module={"ask": client})],
        horizon=100 * udpsem.MS,
        invariants=[answers_match])
