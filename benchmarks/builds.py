"""The compiled build against the pure one, in the same run: one benchmark, both builds.

    python benchmarks/builds.py --compiled .venv-compiled/bin/python heartbeat_24h.py --hours 2

runs `benchmarks/<script> <args>` with the pure interpreter (`--pure`, default this one) and
the compiled build's interpreter alternately, `--rounds` times each, and prints each run's own
figures, then each build's median whole-process CPU time (the child's user + system time,
imports included) and the ratio pure/compiled. Alternating keeps both builds under the same
machine load, so the ratio holds where an absolute time does not. Each interpreter must import
the build it stands for; the line `build:` says which one each imported.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
_WHICH = ("import importlib.machinery as m, udpsem.core.system as s; "
          "print('compiled' if s.__file__.endswith(tuple(m.EXTENSION_SUFFIXES)) else 'pure')")


def _which(python: str) -> str:
    # From a neutral directory: the repository root on sys.path would shadow an install.
    return subprocess.run([python, "-c", _WHICH], capture_output=True, text=True, check=True,
                          cwd="/").stdout.strip()


def _cpu_of(cmd: list[str]) -> tuple[float, str]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    p = subprocess.run(cmd, capture_output=True, text=True, check=False)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if p.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed ({p.returncode}): {p.stderr.strip()[-300:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return cpu, p.stdout


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--pure", default=sys.executable, help="the pure build's python")
    ap.add_argument("--compiled", required=True, help="the compiled build's python")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("script", help="a benchmark in benchmarks/, e.g. heartbeat_24h.py")
    ap.add_argument("args", nargs=argparse.REMAINDER, help="the benchmark's own options")
    a = ap.parse_args()
    script = HERE / a.script
    if not script.is_file():
        sys.exit(f"no benchmark {a.script!r} in {HERE}")
    # absolute, not resolved: a venv's python is a symlink that must stay one
    builds = {"pure": os.path.abspath(a.pure), "compiled": os.path.abspath(a.compiled)}
    for name, python in builds.items():
        got = _which(python)
        print(f"build: {name} = {python} imports the {got} build")
        if got != name:
            sys.exit(f"{python} does not import the {name} build")
    cpu: dict[str, list[float]] = {n: [] for n in builds}
    for r in range(a.rounds):
        for name, python in builds.items():
            t, out = _cpu_of([python, str(script), *a.args])
            cpu[name].append(t)
            print(f"--- round {r + 1}, {name}: {t:.2f} s CPU")
            print(out.rstrip())
    med = {n: statistics.median(v) for n, v in cpu.items()}
    print(f"median CPU: pure {med['pure']:.2f} s, compiled {med['compiled']:.2f} s; "
          f"pure/compiled = {med['pure'] / med['compiled']:.2f}x "
          f"({a.rounds} alternating rounds, load {os.getloadavg()[0]:.1f})")


if __name__ == "__main__":
    main()
