"""Benchmark: N hosts, all-to-all heartbeat every 1 s, 10 % loss, 5 % duplication,
propagation delay U(10 ms, 200 ms).

Each host runs a module with two threads: a sender that sends a datagram to every peer's
heartbeat port and then sleeps 1 s, and a receiver that waits in select for up to 3 s (a
timeout is a suspicion) and reads what arrived. Prints datagrams sent per CPU second and
µs per transition for each host count (the cost per transition should not grow with the
number of hosts); with --baseline, the same workload hand-written in SimPy
(benchmarks/baselines/simpy_allpairs.py) runs in the same invocation and the datagram-rate
ratio is printed.

    python benchmarks/allpairs.py [--hosts 2 4 8 10 16] [--seconds 20] [--baseline] [--profile]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Generator
from typing import Any

from _common import need_simpy, profiled

from udpsem.core.drivers import Step
from udpsem.hosts.calls import bind, delay, port_of_int, recvfrom, select, sendto, socket
from udpsem.hosts.state import Timing
from udpsem.hosts.values import ip
from udpsem.network.faults import Faults
from udpsem.programs.runtime import GeneratorRuntime
from udpsem.programs.world import HostSpec, build_world
from udpsem.state.components import ModCall
from udpsem.traces.record import run_world

Gen = Generator[Any, Any, Any]
PORT = 7000
MS = 10**6
S = 10**9


def address(i: int) -> str:
    return f"10.0.{i // 250}.{i % 250 + 1}"


def sender(peers: tuple[str, ...]) -> Gen:
    """Send "hb" to every peer, then sleep 1 s; forever."""
    p = yield port_of_int(PORT)
    dests = [(ip(a), p) for a in peers]
    fd = yield socket()
    while True:
        for d in dests:
            yield sendto(fd, d, b"hb", False)
        yield delay(1_000_000)


def receiver() -> Gen:
    """Wait up to 3 s for a heartbeat (none: a suspicion), read it; forever."""
    p = yield port_of_int(PORT)
    fd = yield socket()
    yield bind(fd, None, p)
    suspicions = 0
    while True:
        ready, _ = yield select([fd], [], 3_000_000)
        if ready:
            yield recvfrom(fd, False)
        else:
            suspicions += 1


def start(peers: tuple[str, ...]) -> Gen:
    """The module function: start the receiver and the sender."""
    from udpsem.hosts.calls import create

    yield create(receiver, ())
    yield create(sender, (peers,))


def app(peers: tuple[str, ...]) -> Gen:
    yield ModCall("start", (peers,))


def world(n: int, seconds: float) -> tuple[Any, Any]:
    names = [f"H{i:02d}" for i in range(n)]
    addrs = [address(i) for i in range(n)]
    hosts = [HostSpec(names[i], (addrs[i],), app,
                      (tuple(a for j, a in enumerate(addrs) if j != i),), 0, {"start": start},
                      netmask=16)
             for i in range(n)]
    timing = Timing(dpropmin=10 * MS, dpropmax=200 * MS)
    return build_world(hosts, Faults(loss=0.1, dup=0.05, max_copies=2),
                       GeneratorRuntime(history=False),
                       timing=timing, horizon=int(seconds * S))


def bench(n: int, seconds: float) -> dict[str, Any]:
    setup, w = world(n, seconds)
    sent = [0]

    def count(st: Step) -> None:
        if st.transition.label.kind == "send":
            sent[0] += 1

    c0, t0 = time.process_time(), time.perf_counter()
    res = run_world(setup, w, 1, observers=(count,))
    cpu, wall = time.process_time() - c0, time.perf_counter() - t0
    return {"cpu": cpu, "wall": wall, "transitions": res.transitions, "datagrams": sent[0]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hosts", type=int, nargs="+", default=[2, 4, 8, 10, 16])
    ap.add_argument("--seconds", type=float, default=20.0, help="virtual seconds per run")
    ap.add_argument("--baseline", action="store_true",
                    help="also run the SimPy version and print the datagrams/s ratio")
    ap.add_argument("--profile", action="store_true", help="profile the udpsem runs")
    args = ap.parse_args()
    if args.baseline:
        need_simpy()
        from baselines import simpy_allpairs
    per: dict[int, float] = {}
    for n in args.hosts:
        if args.profile:
            r = profiled(lambda n=n: bench(n, args.seconds))
        else:
            r = bench(n, args.seconds)
        us = r["cpu"] / r["transitions"] * 1e6
        per[n] = us
        rate = r["datagrams"] / r["cpu"]
        print(f"udpsem {n:2d} hosts, {args.seconds:g} virtual s: {r['transitions']} transitions, "
              f"{r['datagrams']} datagrams, CPU {r['cpu']:.2f} s, {us:.1f} µs/transition, "
              f"{rate:,.0f} datagrams/CPU-s")
        if args.baseline:
            b = simpy_allpairs.run(n, args.seconds)
            brate = b["datagrams"] / b["cpu"]
            print(f"SimPy  {n:2d} hosts, {args.seconds:g} virtual s: {b['events']} events, "
                  f"{b['datagrams']} datagrams, CPU {b['cpu']:.2f} s, "
                  f"{brate:,.0f} datagrams/CPU-s; udpsem/SimPy rate 1/{brate / rate:.1f} "
                  f"(target ≥ 1/6)")
    if 4 in per and 16 in per:
        print(f"cost per transition, 16 hosts / 4 hosts: {per[16] / per[4]:.2f}x "
              f"(target ≤ 1.2x)")


if __name__ == "__main__":
    main()
