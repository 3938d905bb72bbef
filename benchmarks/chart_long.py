"""Benchmark: `udpsem chart` on long heartbeat traces (issue 11: thinned charts).

For each duration it records one trace (paper preset, 10 % loss, KURT unplugged for the
second twentieth of the run, `.jsonl.gz`), then draws it in a fresh process, with and
without the replay that checks the properties (`--no-check`), and prints the chart's size
in bytes and drawn elements, whether it was thinned, and the chart's CPU time and peak
resident memory. The charts should stay of bounded size however long the trace is; CPU time
grows with the trace (every record is read, and replayed when checking); memory grows with
the datagrams and calls the chart data holds, not with the states (the replay keeps none).

    python benchmarks/chart_long.py [--durations 60s 1h 24h] [--period 100ms] [--keep DIR]

`--period` is how often ALAN's application calls get_status (the heartbeat's default is
100 ms, which makes most of a trace's steps; `--period 1h` is the hourly poll of
benchmarks/heartbeat_24h.py).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from udpsem.base.time import fmt_ns, parse_duration

CHART = """
import json, resource, sys, time
from pathlib import Path
from udpsem.view.cli import write_chart
c0 = time.process_time()
msg = write_chart(sys.argv[1], Path(sys.argv[2]), check=sys.argv[3] == "1")
cpu = time.process_time() - c0
text = Path(sys.argv[2]).read_text()
print(json.dumps({"cpu": cpu, "rss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                  "bytes": len(text.encode()), "elements": text.count("<g "),
                  "thinned": 'class="thinned"' in text}))
"""


def record(duration: str, period: str, path: Path) -> tuple[int, float]:
    """Record the trace; (transitions, CPU seconds of the recording process)."""
    ns = parse_duration(duration)
    down = f"KURT@{ns // 20}ns-{ns // 10}ns"
    c0 = time.perf_counter()
    p = subprocess.run([sys.executable, "-m", "udpsem", "run", "heartbeat", "--seed", "7",
                        "--duration", duration, "--period", period, "--loss", "0.1",
                        "--preset", "paper", "--disconnect", down, "--trace", str(path),
                        "--json"], capture_output=True, text=True, check=False)
    if p.returncode not in (0, 1):
        sys.exit(f"recording failed: {p.stderr.strip()}")
    return json.loads(p.stdout)["transitions"], time.perf_counter() - c0


def chart(trace: Path, out: Path, check: bool) -> dict[str, float]:
    p = subprocess.run([sys.executable, "-c", CHART, str(trace), str(out), "1" if check
                        else "0"], capture_output=True, text=True, check=False)
    if p.returncode != 0:
        sys.exit(f"chart failed: {p.stderr.strip()}")
    result: dict[str, float] = json.loads(p.stdout)
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--durations", nargs="+", default=["60s", "1h", "24h"])
    ap.add_argument("--period", default="100ms", help="get_status period (default 100ms)")
    ap.add_argument("--keep", type=Path, default=None, help="keep traces and charts here")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="udpsem-chart-bench-") as tmp:
        where = args.keep or Path(tmp)
        where.mkdir(parents=True, exist_ok=True)
        for d in args.durations:
            trace = where / f"hb-{d}.jsonl.gz"
            n, wall = record(d, args.period, trace)
            print(f"{fmt_ns(parse_duration(d))} heartbeat (get_status every {args.period}): "
                  f"{n:,} transitions, trace {trace.stat().st_size:,} bytes gzipped "
                  f"(recorded in {wall:.1f} s wall)")
            for check in (False, True):
                r = chart(trace, where / f"hb-{d}{'-checked' if check else ''}.svg", check)
                print(f"  chart{' (replayed, checked)' if check else ' --no-check       '}: "
                      f"{r['bytes']:,} bytes, {r['elements']:,} elements, "
                      f"{'thinned' if r['thinned'] else 'full detail'}, CPU {r['cpu']:.2f} s "
                      f"({r['cpu'] / n * 1e6:.1f} µs/step), peak RSS "
                      f"{r['rss_kib'] / 1024:.0f} MiB", flush=True)


if __name__ == "__main__":
    main()
