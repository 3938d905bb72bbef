"""Benchmark: 24 virtual hours of the two-host heartbeat with 10 % loss.

Prints wall time, transitions/s and the virtual/real ratio. Two workloads: the heartbeat
alone (ALAN's application polls get_status once an hour) and with the default 100 ms poller.

    python benchmarks/heartbeat_24h.py [--hours 24] [--profile]
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import time

from udpsem.base.time import MS, S
from udpsem.network.faults import Faults
from udpsem.traces.record import run


def bench(hours: float, period: int, label: str) -> None:
    duration = int(hours * 3600 * S)
    t0 = time.perf_counter()
    res = run("heartbeat", {"duration_ns": duration, "period_ns": period}, Faults(loss=0.1), 1)
    wall = time.perf_counter() - t0
    print(f"{label}: {hours:g} virtual h, {res.transitions} transitions, wall {wall:.2f} s, "
          f"{res.transitions / wall:,.0f} transitions/s, virtual/real {duration / S / wall:,.0f}x"
          f", get_status calls {res.observer.calls}, violations {res.observer.violations}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--hours", type=float, default=24.0)
    ap.add_argument("--profile", action="store_true", help="profile a 1-hour run instead")
    args = ap.parse_args()
    if args.profile:
        prof = cProfile.Profile()
        prof.enable()
        run("heartbeat", {"duration_ns": 3600 * S, "period_ns": 3600 * S}, Faults(loss=0.1), 1)
        prof.disable()
        pstats.Stats(prof).sort_stats("tottime").print_stats(25)
        return
    bench(args.hours, 3600 * S, "heartbeat only (poll hourly)")
    bench(args.hours, 100 * MS, "heartbeat + 100 ms poller    ")


if __name__ == "__main__":
    main()
