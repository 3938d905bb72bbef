"""Request/response with a timeout and retry: the FIXED version of reqresp_buggy.py.

CLIENT asks SERVER two questions over UDP, waiting for each answer with `select` and a
timeout and sending the question again when it expires. An answer names its question
(`b"re 7"`), and the client drops any answer that is not to its current question: a stale
reply to an earlier retry is read and ignored. Exploration finds no violation:

    udpsem run examples/reqresp.py --seed 1 --trace t.jsonl
    udpsem replay t.jsonl --program examples/reqresp.py
    udpsem explore examples/reqresp.py              # exits 0
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
            data = yield from await_answer(fd, q)
            if data is not None:
                answers += ((q, data),)
                yield udpsem.set_(log, answers)
                break
    return answers


def await_answer(fd: int, q: bytes) -> Gen:
    """The answer to `q`, or None when the timeout expires first; a stale answer (to an
    earlier question) is read and dropped, and the wait starts again."""
    while True:
        readable, _ = yield udpsem.select([fd], [], TIMEOUT_US)
        if fd not in readable:
            return None
        _, _, data = yield udpsem.recvfrom(fd, False)
        if data == b"re " + q:  # THE FIX: only the answer to this question counts
            return data


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
