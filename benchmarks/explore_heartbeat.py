"""Benchmark: exhaustive exploration of the heartbeat (Theorem 2 over a disconnect cycle).

Fixed workload: paper preset (≤ 3 copies, no two successive drops), KURT unplugged 3 s–6 s,
horizon 9 s, 3 propagation delays, eager timing, host_ok/network_ok checked in every state
unless --no-model-invariants. Prints unique states/s, the real memory per state (growth of
the resident set over the search, divided by the states) beside the visited table's own
bytes/state, and where the time goes (--profile). With --baseline, a plain-Python BFS of a
much simpler heartbeat (benchmarks/baselines/py_bfs.py) runs in the same invocation and the
states/s ratio is printed. Figures, not a timed test.

    python benchmarks/explore_heartbeat.py [--horizon 9s] [--baseline] [--profile]
"""

from __future__ import annotations

import argparse
import gc
import time
from dataclasses import replace

from _common import profiled, rss_bytes

from udpsem.base.time import parse_duration
from udpsem.explore import ExploreConfig
from udpsem.explore.engine import Search
from udpsem.explore.fingerprint import collision_probability
from udpsem.network.faults import Faults, apply_preset, parse_window


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--horizon", default="9s")
    ap.add_argument("--disconnect", default="KURT@3s-6s")
    ap.add_argument("--delays", type=int, default=3)
    ap.add_argument("--baseline", action="store_true",
                    help="also run the plain-Python BFS and print the states/s ratio")
    ap.add_argument("--bfs-bound", type=int, default=2,
                    help="the baseline's bound on datagrams in flight (3 hosts, 2 rounds)")
    ap.add_argument("--profile", action="store_true")
    ap.add_argument("--no-model-invariants", action="store_true")
    args = ap.parse_args()
    faults = apply_preset(Faults(loss=0.5, dup=0.5,
                                 disconnects=(parse_window(args.disconnect),)), "paper")
    cfg = ExploreConfig(horizon=parse_duration(args.horizon), faults=faults,
                        check_model=not args.no_model_invariants)
    cfg = replace(cfg, discretisation=replace(cfg.discretisation, delays=args.delays))
    search = Search(cfg)
    gc.collect()
    rss0 = rss_bytes()
    c0, t0 = time.process_time(), time.perf_counter()
    res = profiled(search.run) if args.profile else search.run()
    cpu, wall = time.process_time() - c0, time.perf_counter() - t0
    rss1 = rss_bytes()
    print(f"udpsem heartbeat explore: horizon {args.horizon}, disconnect {args.disconnect}, "
          f"delays {args.delays}, model invariants "
          f"{'off' if args.no_model_invariants else 'on'}")
    print(f"  states            {res.states}")
    print(f"  transitions       {res.transitions}")
    print(f"  max depth         {res.max_depth}")
    print(f"  CPU / wall        {cpu:.2f} s / {wall:.2f} s{' (profiled)' if args.profile else ''}")
    print(f"  unique states/s   {res.states / cpu:,.0f} per CPU-s (target ≥ 40,000)")
    print(f"  transitions/s     {res.transitions / cpu:,.0f} per CPU-s")
    print(f"  real bytes/state  {(rss1 - rss0) / max(res.states, 1):,.0f}  (resident-set growth "
          f"{(rss1 - rss0) / 2**20:.1f} MiB over the search; target ≤ 1 KB)")
    print(f"  visited bytes/st  {res.bytes_per_state:.0f}  (the visited table alone)")
    print(f"  fingerprints      64-bit; P(any collision) ≤ {collision_probability(res.states):.1e}")
    print(f"  frame keys        {res.frame_hits} thread states keyed by frame, "
          f"{res.frame_misses} by history; {res.rebuilds} generator rebuilds")
    print(f"  verdicts          {res.verdicts}")
    if args.baseline:
        from baselines import py_bfs

        ours = res.states / cpu
        for key in py_bfs.KEYS:
            b = py_bfs.run(key, 3, 2, args.bfs_bound)
            rate = b["unique"] / b["cpu"]
            print(f"plain BFS ({key:18s}): {b['unique']:,} unique, {b['generated']:,} generated, "
                  f"CPU {b['cpu']:.2f} s, {rate:,.0f} unique/CPU-s; udpsem/BFS 1/{rate / ours:.1f}")


if __name__ == "__main__":
    main()
