"""Benchmark: 24 virtual hours of the two-host heartbeat with 10 % loss.

Prints CPU and wall time, transitions/s and µs per transition, the virtual/real ratio, and
the resident memory after 1 and after 8 virtual hours (a long untraced run should stay
flat). Two workloads: the heartbeat alone (ALAN's application polls get_status once an
hour) and with the default 100 ms poller. With --baseline, the same heartbeat hand-written
in SimPy (benchmarks/baselines/simpy_heartbeat.py) runs in the same invocation, and the CPU
ratio udpsem/SimPy is printed (the figure to quote: absolute times on a shared machine vary,
a same-run ratio holds).

    python benchmarks/heartbeat_24h.py [--hours 24] [--baseline] [--poller] [--profile]
"""

from __future__ import annotations

import argparse
import time
from typing import Any

from _common import need_simpy, profiled, rss_bytes

from udpsem.base.time import MS
from udpsem.network.faults import Faults
from udpsem.traces.record import run

HOUR = 3600 * 10**9


def bench(hours: float, period: int, label: str) -> dict[str, Any]:
    duration = int(hours * HOUR)
    marks: dict[int, int] = {}

    def progress(now: int, n: int) -> None:
        h = now // HOUR
        if h >= 1 and 1 not in marks:
            marks[1] = rss_bytes()

    c0, t0 = time.process_time(), time.perf_counter()
    res = run("heartbeat", {"duration_ns": duration, "period_ns": period}, Faults(loss=0.1), 1,
              progress=progress)
    cpu, wall = time.process_time() - c0, time.perf_counter() - t0
    end = rss_bytes()
    n = res.transitions
    print(f"udpsem {label}: {hours:g} virtual h, {n} transitions, CPU {cpu:.2f} s, "
          f"wall {wall:.2f} s, {n / cpu:,.0f} transitions/CPU-s ({cpu / n * 1e6:.1f} µs each), "
          f"virtual/real {duration / 1e9 / wall:,.0f}x, get_status calls {res.observer.calls}, "
          f"violations {res.observer.violations}")
    if 1 in marks:
        print(f"  RSS after 1 virtual h {marks[1] / 2**20:.1f} MiB, at the end ({hours:g} h) "
              f"{end / 2**20:.1f} MiB: ratio {end / marks[1]:.2f} (target ≤ 1.25 at 8 h)")
    return {"cpu": cpu, "wall": wall, "transitions": n}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hours", type=float, default=24.0, help="virtual hours (default 24)")
    ap.add_argument("--baseline", action="store_true",
                    help="also run the SimPy heartbeat and print the CPU ratio")
    ap.add_argument("--poller", action="store_true",
                    help="also run the workload with the 100 ms get_status poller")
    ap.add_argument("--profile", action="store_true",
                    help="profile the udpsem run (of --hours; try --hours 1)")
    args = ap.parse_args()
    if args.baseline:
        need_simpy()
    if args.profile:
        profiled(lambda: run("heartbeat", {"duration_ns": int(args.hours * HOUR),
                                           "period_ns": HOUR}, Faults(loss=0.1), 1))
        return
    ours = bench(args.hours, HOUR, "heartbeat only (poll hourly)")
    if args.baseline:
        from baselines import simpy_heartbeat

        b = simpy_heartbeat.run(args.hours * 3600)
        print(f"SimPy  heartbeat (baseline): {args.hours:g} virtual h, {b['events']} events, "
              f"CPU {b['cpu']:.2f} s, wall {b['wall']:.2f} s")
        print(f"ratio  udpsem/SimPy CPU: {ours['cpu'] / b['cpu']:.1f}x (target ≤ 6x)")
    if args.poller:
        bench(args.hours, 100 * MS, "heartbeat + 100 ms poller    ")


if __name__ == "__main__":
    main()
