"""One thread serving several sockets with `select`.

SERVER binds two sockets, port 7001 (answers in upper case) and port 7002 (answers
reversed), and waits on both at once with `select`. Two clients on their own hosts each talk
to one port three times. The invariant checks that every answer a client recorded came
from the right service.

    udpsem run examples/select_many.py --seed 3
    udpsem explore examples/select_many.py --max-states 5000
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import udpsem
from udpsem import HostSpec, ModCall, WorldSpec

Gen = Generator[Any, Any, Any]

SERVER_IP = "10.0.0.1"
UPPER, REVERSE = 7001, 7002
WORDS = (b"ab", b"cd", b"ef")


def server() -> Gen:
    """Serve both ports from one thread: whichever socket is readable is answered."""
    upper = yield udpsem.socket()
    yield udpsem.bind(upper, None, UPPER)
    rev = yield udpsem.socket()
    yield udpsem.bind(rev, None, REVERSE)
    while True:
        readable, _ = yield udpsem.select([upper, rev], [], None)  # None: wait for ever
        for fd in readable:
            src_ip, src_port, data = yield udpsem.recvfrom(fd, False)
            answer = data.upper() if fd == upper else data[::-1]
            yield udpsem.sendto(fd, (src_ip, src_port), answer, False)


def client(port: int) -> Gen:
    """Send each word to `port` and record (word, answer); one at a time, no loss."""
    log = yield udpsem.new(())
    fd = yield udpsem.socket()
    yield udpsem.bind(fd, None, None)
    got: tuple[tuple[bytes, bytes], ...] = ()
    for w in WORDS:
        yield udpsem.sendto(fd, (udpsem.ip(SERVER_IP), port), w, False)
        _, _, data = yield udpsem.recvfrom(fd, False)
        got += ((w, data),)
        yield udpsem.set_(log, (port, got))
    return got


@udpsem.invariant("right_service")
def right_service(setup: Any, world: Any) -> str | None:
    """Each client's answers come from the service it asked."""
    for name in ("C1", "C2"):
        for _, entry in world.machine(name).store:
            if not entry:
                continue  # nothing recorded yet
            port, got = entry
            for w, a in got:
                want = w.upper() if port == UPPER else w[::-1]
                if a != want:
                    return f"{name} asked port {port} about {w!r} and got {a!r}"
    return None


def world() -> WorldSpec:
    return WorldSpec(
        hosts=[HostSpec("SERVER", [SERVER_IP], lambda: (yield ModCall("serve")),
                        module={"serve": server}),
               HostSpec("C1", ["10.0.0.2"], lambda: (yield ModCall("ask", (UPPER,))),
                        module={"ask": client}),
               HostSpec("C2", ["10.0.0.3"], lambda: (yield ModCall("ask", (REVERSE,))),
                        module={"ask": client})],
        horizon=200 * udpsem.MS,
        invariants=[right_service])
