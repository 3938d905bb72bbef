"""A leader lease among three hosts, kept alive by heartbeats.

Each of A, B and C sends a heartbeat to the other two every period and counts periods (a
program cannot read the clock: a period is a `select` that timed out). A host holds the
lease — it is the leader — when no host with a smaller name has been heard from within
the last LEASE periods. The invariant: once the first lease has run out, at most one host
is the leader. It holds on a network that only delays datagrams; with loss, a host that
misses LEASE heartbeats in a row from the leader takes the lease while the leader still
holds it (split brain):

    udpsem run examples/lease.py --seed 1
    udpsem run examples/lease.py --seed 1 --loss 0.6      # exits 1: two leaders
    udpsem explore examples/lease.py --max-states 3000
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import udpsem
from udpsem import HostSpec, ModCall, WorldSpec

Gen = Generator[Any, Any, Any]

HOSTS = {"A": "10.0.0.1", "B": "10.0.0.2", "C": "10.0.0.3"}
PORT = 6000
PERIOD_US = 50_000  # 50 ms
LEASE = 3  # periods
SETTLE_NS = (LEASE + 2) * PERIOD_US * 1_000  # when the first leases have run out


def node(me: str) -> Gen:
    """Heartbeat and lease bookkeeping for host `me`; the store cell 0 says whether `me`
    holds the lease now."""
    leader_cell = yield udpsem.new(False)
    fd = yield udpsem.socket()
    yield udpsem.bind(fd, None, PORT)
    peers = [(udpsem.ip(a), PORT) for h, a in sorted(HOSTS.items()) if h != me]
    names = {udpsem.ip(a): h for h, a in HOSTS.items()}
    heard: dict[str, int] = {}  # host -> period it was last heard in
    period = 0
    leader = False
    while True:
        readable, _ = yield udpsem.select([fd], [], PERIOD_US)
        if fd in readable:
            src, _, _ = yield udpsem.recvfrom(fd, False)
            heard[names[src]] = period
            continue
        period += 1
        for p in peers:
            yield udpsem.sendto(fd, p, me.encode(), False)
        alive = [h for h, t in heard.items() if period - t <= LEASE]
        now_leader = all(me < h for h in alive)
        if now_leader != leader:
            leader = now_leader
            yield udpsem.set_(leader_cell, leader)


@udpsem.invariant("one_leader")
def one_leader(setup: Any, world: Any) -> str | None:
    """After the first lease has run out, at most one host holds the lease."""
    if world.now < SETTLE_NS:
        return None
    leaders = [m.name for m in world.machines if dict(m.store).get(0)]
    if len(leaders) > 1:
        return f"{' and '.join(leaders)} both hold the lease"
    return None


def world() -> WorldSpec:
    return WorldSpec(
        hosts=[HostSpec(h, [a], lambda: (yield ModCall("run", ())), module={"run": _bound(h)})
               for h, a in HOSTS.items()],
        horizon=1 * udpsem.S,
        invariants=[one_leader])


def _bound(me: str) -> Any:
    """`node` for host `me` (each host's module has its own closure: no aliasing)."""

    def run() -> Gen:
        return (yield from node(me))

    return run
