"""The trace checker's self-check, measured: acceptance rate and speed.

Model traces of every catalogued program (seeded runs with and without faults) have their
choices stripped and are checked; the figures are the share accepted and the search speed
(states expanded per second, observed labels explained per second). With `--real N`, also N
real runs of each program on loopback (a few seconds each), checked at 2 ms and 20 ms.

    python benchmarks/checker.py [--seeds 10] [--real 0]
"""

from __future__ import annotations

import argparse
import io
import time
from collections.abc import Iterator
from typing import Any

from udpsem.base.time import S
from udpsem.check import check, parse
from udpsem.network.faults import Faults, Window
from udpsem.real.run import run_program
from udpsem.traces.encode import dumps
from udpsem.traces.record import run

KINDS: list[tuple[str, dict[str, int], Faults]] = [
    ("heartbeat", {"duration_ns": 10 * S}, Faults()),
    ("heartbeat", {"duration_ns": 10 * S},
     Faults(loss=0.1, dup=0.1, disconnects=(Window("KURT", 3 * S, 6 * S),))),
    ("echo", {"duration_ns": 4 * S, "clients": 2, "messages": 5}, Faults()),
    ("echo", {"duration_ns": 4 * S, "clients": 1, "messages": 5}, Faults(loss=0.1, dup=0.1)),
]


def model_cases(seeds: int) -> Iterator[tuple[str, list[str]]]:
    for program, params, faults in KINDS:
        for seed in range(seeds):
            buf = io.StringIO()
            run(program, params, faults, seed, trace=buf)
            name = f"{program} {'faults' if faults.loss else 'clean'}"
            yield name, buf.getvalue().splitlines()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--real", type=int, default=0)
    args = ap.parse_args()
    rows: dict[str, list[Any]] = {}
    for name, lines in model_cases(args.seeds):
        t0 = time.perf_counter()
        v = check(parse(lines), max_nodes=200_000)
        dt = time.perf_counter() - t0
        rows.setdefault(name, []).append((v.verdict, v.nodes, v.observations, dt))
    print(f"{'model traces, choices stripped':34} {'accepted':>9} {'states/s':>9} "
          f"{'labels/s':>9} {'s/trace':>8}")
    for name, rs in rows.items():
        acc = sum(1 for r in rs if r[0] == "accepted")
        nodes, obs, secs = (sum(r[k] for r in rs) for k in (1, 2, 3))
        print(f"{name:34} {acc:>4}/{len(rs):<4} {nodes / secs:>9,.0f} {obs / secs:>9,.0f} "
              f"{secs / len(rs):>8.2f}")
    for program, params in (("heartbeat", {"duration_ns": 10 * S}),
                            ("echo", {"duration_ns": 3 * S, "clients": 2, "messages": 3})):
        if not args.real:
            break
        res = {2_000_000: 0, 20_000_000: 0}
        for _ in range(args.real):
            lines = [dumps(x) for x in run_program(program, params, Faults()).lines]
            for tol in res:
                if check(parse(lines), tol, max_nodes=50_000).verdict == "accepted":
                    res[tol] += 1
        print(f"real {program} on loopback: accepted {res[2_000_000]}/{args.real} at 2 ms, "
              f"{res[20_000_000]}/{args.real} at 20 ms")


if __name__ == "__main__":
    main()
