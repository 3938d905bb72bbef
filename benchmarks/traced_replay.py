"""Benchmark: the same heartbeat run untraced, traced (to a file), and replayed from it.

Workload: the two-host heartbeat with 10 % loss and the default 100 ms get_status poller
for --minutes virtual minutes. Prints CPU seconds and steps per CPU-second for each, the
traced/untraced ratio (target ≤ 1.5x) and replay's rate (target ≥ 50,000 steps/s). Replay
re-runs every step from its recorded choices and compares rule, label, time and the state
digest, so it also checks that the trace is byte-for-byte reproducible.

    python benchmarks/traced_replay.py [--minutes 10] [--profile traced|replay|untraced]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Callable
from typing import Any

from _common import profiled

from udpsem.network.faults import Faults
from udpsem.traces.record import run
from udpsem.traces.replay import replay

MIN = 60 * 10**9


def timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    c0 = time.process_time()
    out = fn()
    return out, time.process_time() - c0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--profile", choices=("untraced", "traced", "replay"))
    args = ap.parse_args()
    params = {"duration_ns": int(args.minutes * MIN)}
    fd, path = tempfile.mkstemp(suffix=".jsonl")
    os.close(fd)
    try:
        def untraced() -> Any:
            return run("heartbeat", params, Faults(loss=0.1), 1)

        def traced() -> Any:
            with open(path, "w", encoding="utf-8") as fh:
                return run("heartbeat", params, Faults(loss=0.1), 1, trace=fh)

        def replayed() -> Any:
            return replay(path)

        work = {"untraced": untraced, "traced": traced, "replay": replayed}
        if args.profile:
            if args.profile == "replay":
                traced()
            profiled(work[args.profile])
            return
        r0, c_plain = timed(untraced)
        r1, c_traced = timed(traced)
        size = os.path.getsize(path)
        r2, c_replay = timed(replayed)
        n = r0.transitions
        assert r1.transitions == n and r2.ok and r2.steps == n, (r1.transitions, r2)
        print(f"heartbeat {args.minutes:g} virtual min, 100 ms poller, 10 % loss: {n} steps")
        print(f"  untraced  CPU {c_plain:.2f} s, {n / c_plain:,.0f} steps/CPU-s")
        print(f"  traced    CPU {c_traced:.2f} s, {n / c_traced:,.0f} steps/CPU-s, "
              f"{size / n:.0f} bytes/record; traced/untraced {c_traced / c_plain:.2f}x "
              f"(target ≤ 1.5x)")
        print(f"  replay    CPU {c_replay:.2f} s, {n / c_replay:,.0f} steps/CPU-s "
              f"(target ≥ 50,000); replay/untraced {c_replay / c_plain:.2f}x")
    finally:
        os.unlink(path)


if __name__ == "__main__":
    main()
