"""Baseline: the paper's 2-host heartbeat in SimPy, no socket semantics.

KURT sends "ping" every 1 s to ALAN; the network drops 10 % and delays U(0.1 ms, 10 ms);
ALAN waits for a ping with a 2.5 s timeout and sets status 1 on receipt, 0 on timeout.
The same workload as `heartbeat_24h.py` runs in udpsem (there with sockets, threads, a
store and the out-queue).
"""

from __future__ import annotations

import random
import time
from typing import Any


def run(sim_s: float, seed: int = 7) -> dict[str, Any]:
    """Simulate `sim_s` virtual seconds; events processed, pings sent, CPU and wall seconds."""
    import simpy

    rng = random.Random(seed)
    env = simpy.Environment()
    inbox = simpy.Store(env)
    status = [0]
    sent = [0]

    def deliver(d: float, msg: bytes) -> Any:
        yield env.timeout(d)
        yield inbox.put(msg)

    def kurt() -> Any:
        while True:
            sent[0] += 1
            if rng.random() >= 0.1:
                env.process(deliver(rng.uniform(0.0001, 0.010), b"ping"))
            yield env.timeout(1.0)

    def alan() -> Any:
        while True:
            get = inbox.get()
            res = yield get | env.timeout(2.5)
            if get in res:
                status[0] = 1
            else:
                get.cancel()
                status[0] = 0

    env.process(kurt())
    env.process(alan())
    steps = 0
    c0, t0 = time.process_time(), time.perf_counter()
    while env.peek() < sim_s:
        env.step()
        steps += 1
    return {"events": steps, "pings": sent[0], "cpu": time.process_time() - c0,
            "wall": time.perf_counter() - t0}
