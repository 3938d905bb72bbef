"""Baseline: N hosts, all-to-all heartbeat over lossy UDP, in SimPy (no socket semantics).

Each host sends a heartbeat datagram to every peer every 1.0 s; the network delays each by
U(0.01, 0.2) s, drops it with p = 0.1 and duplicates it with p = 0.05. Each host suspects a
peer it has not heard from for 3.0 s. The same workload as `allpairs.py` runs in udpsem.
"""

from __future__ import annotations

import random
import time
from typing import Any


def run(n: int, sim_t: float, seed: int = 42) -> dict[str, Any]:
    """Simulate `sim_t` virtual seconds of `n` hosts; events, datagrams, CPU and wall s."""
    import simpy

    rng = random.Random(seed)
    env = simpy.Environment()
    sent = [0]
    inboxes: list[Any] = []

    def deliver(dst: int, src: int, msg: Any, d: float) -> Any:
        yield env.timeout(d)
        inboxes[dst].put((src, msg))

    def send(src: int, dst: int, msg: Any) -> None:
        sent[0] += 1
        if rng.random() < 0.1:
            return
        copies = 2 if rng.random() < 0.05 else 1
        for _ in range(copies):
            env.process(deliver(dst, src, msg, rng.uniform(0.01, 0.2)))

    def sender(hid: int) -> Any:
        while True:
            for p in range(n):
                if p != hid:
                    send(hid, p, ("hb", env.now))
            yield env.timeout(1.0)

    def receiver(hid: int, last_heard: dict[int, float], suspects: set[int]) -> Any:
        while True:
            src, _msg = yield inboxes[hid].get()
            last_heard[src] = env.now
            suspects.discard(src)

    def detector(hid: int, last_heard: dict[int, float], suspects: set[int]) -> Any:
        while True:
            yield env.timeout(0.5)
            now = env.now
            for p in range(n):
                if p != hid and now - last_heard.get(p, 0.0) > 3.0:
                    suspects.add(p)

    for hid in range(n):
        inboxes.append(simpy.Store(env))
        heard: dict[int, float] = {}
        sus: set[int] = set()
        env.process(sender(hid))
        env.process(receiver(hid, heard, sus))
        env.process(detector(hid, heard, sus))
    steps = 0
    c0, t0 = time.process_time(), time.perf_counter()
    while env.peek() < sim_t:
        env.step()
        steps += 1
    return {"events": steps, "datagrams": sent[0], "cpu": time.process_time() - c0,
            "wall": time.perf_counter() - t0}
