"""Benchmark: exhaustive exploration of the heartbeat (Theorem 2 over a disconnect cycle).

Fixed workload: paper preset (≤ 3 copies, no two successive drops), KURT unplugged 3 s–6 s,
horizon 9 s, 3 propagation delays, eager timing, host_ok/network_ok checked in every state
unless --no-model-invariants. Prints unique states/s, visited bytes/state and where the time
goes (--profile: the top functions by own time). Figures, not a timed test.

    python benchmarks/explore_heartbeat.py [--horizon 9s] [--profile] [--no-model-invariants]
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import time
from dataclasses import replace

from udpsem.base.time import parse_duration
from udpsem.explore import ExploreConfig
from udpsem.explore.engine import Search
from udpsem.network.faults import Faults, apply_preset, parse_window


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--horizon", default="9s")
    ap.add_argument("--disconnect", default="KURT@3s-6s")
    ap.add_argument("--delays", type=int, default=3)
    ap.add_argument("--profile", action="store_true")
    ap.add_argument("--no-model-invariants", action="store_true")
    args = ap.parse_args()
    faults = apply_preset(Faults(loss=0.5, dup=0.5,
                                 disconnects=(parse_window(args.disconnect),)), "paper")
    cfg = ExploreConfig(horizon=parse_duration(args.horizon), faults=faults,
                        check_model=not args.no_model_invariants)
    cfg = replace(cfg, discretisation=replace(cfg.discretisation, delays=args.delays))
    search = Search(cfg)
    prof = cProfile.Profile() if args.profile else None
    t0 = time.perf_counter()
    if prof is not None:
        prof.enable()
    res = search.run()
    if prof is not None:
        prof.disable()
    wall = time.perf_counter() - t0
    print(f"heartbeat explore: horizon {args.horizon}, disconnect {args.disconnect}, "
          f"delays {args.delays}, model invariants {'off' if args.no_model_invariants else 'on'}")
    print(f"  states            {res.states}")
    print(f"  transitions       {res.transitions}")
    print(f"  max depth         {res.max_depth}")
    print(f"  wall time         {wall:.2f} s{' (profiled)' if prof else ''}")
    print(f"  unique states/s   {res.states / wall:,.0f}")
    print(f"  transitions/s     {res.transitions / wall:,.0f}")
    print(f"  visited bytes/st  {res.bytes_per_state:.0f}  (dict of 12-byte digests + 4 "
          f"arrays: parent, edge, time, depth)")
    print(f"  frame keys        {res.frame_hits} thread states keyed by frame, "
          f"{res.frame_misses} by history; {res.rebuilds} generator rebuilds")
    print(f"  verdicts          {res.verdicts}")
    if prof is not None:
        s = io.StringIO()
        pstats.Stats(prof, stream=s).sort_stats("tottime").print_stats(15)
        print(s.getvalue())


if __name__ == "__main__":
    main()
