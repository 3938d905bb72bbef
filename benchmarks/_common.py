"""Helpers shared by the benchmarks: resident memory, CPU clocks, profiles, baselines."""

from __future__ import annotations

import cProfile
import io
import os
import pstats
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))


def rss_bytes() -> int:
    """The process's current resident set size in bytes (Linux /proc; 0 elsewhere)."""
    try:
        with open("/proc/self/statm", encoding="ascii") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError):
        return 0


def need_simpy() -> None:
    """Exit with a one-line message when SimPy (the baseline's engine) is missing."""
    try:
        import simpy  # noqa: F401
    except ImportError:
        sys.exit("the SimPy baseline needs simpy: pip install -e '.[bench]'")


def profiled(fn: Callable[[], Any], top: int = 25) -> Any:
    """Run `fn` under cProfile and print the top functions by own time, then by cumulative."""
    prof = cProfile.Profile()
    prof.enable()
    try:
        return fn()
    finally:
        prof.disable()
        for order in ("tottime", "cumulative"):
            s = io.StringIO()
            pstats.Stats(prof, stream=s).sort_stats(order).print_stats(top)
            print(s.getvalue())
