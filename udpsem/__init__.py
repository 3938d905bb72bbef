"""udpsem: an executable, timed operational semantics of UDP/ICMP sockets with threads and failures.

The front door for your own programs (`import udpsem` is all a program file needs):

* LIB calls, yielded by module functions: `socket`, `bind`, `connect`, `disconnect`,
  `getsockname`, `getpeername`, `sendto`, `recvfrom`, `geterr`, `getsockopt`,
  `setsockopt`, `close`, `select`, `port_of_int`, `ip_of_string`, `getifaddrs`,
  `create`, `delay`, `print_endline_flush`, `exit_`; a failed call raises `UDPError`
  (its `errno` an `Errno`) at the `yield`.
* Store operations: `new`, `set_`, `get`. Application requests: `ModCall`, `Sleep`.
* Values: `ip` (dotted quad to an IP value), `ip_str`, `Errno`, `SockOpt`; time units
  `NS`, `US`, `MS`, `S` (model time is int nanoseconds; LIB durations are microseconds).
* Worlds: `HostSpec`, `WorldSpec`, `build_world`; faults: `Faults`, `Window`, `Crash`.
* Properties: `invariant` (a decorator), `Invariant`, `Monitor`.
* Drivers: `run`, `explore`, `replay`.

Everything else (`udpsem.hosts`, `udpsem.core`, ...) stays importable but is not the front
door: its names may change.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from udpsem.base.time import MS, NS, US, S
from udpsem.base.version import __version__
from udpsem.explore.properties import Invariant, Monitor, invariant
from udpsem.hosts.calls import (
    bind,
    close,
    connect,
    create,
    delay,
    disconnect,
    exit_,
    geterr,
    getifaddrs,
    getpeername,
    getsockname,
    getsockopt,
    ip_of_string,
    port_of_int,
    print_endline_flush,
    recvfrom,
    select,
    sendto,
    setsockopt,
    socket,
)
from udpsem.hosts.values import Errno, SockOpt, UDPError, ip, ip_str
from udpsem.network.faults import Crash, Faults, Window
from udpsem.programs.checks import ProgramError
from udpsem.programs.world import HostSpec, WorldSpec, build_world
from udpsem.state.components import ModCall, Sleep, get, new, set_

if TYPE_CHECKING:
    from udpsem.explore.engine import ExploreResult
    from udpsem.traces.record import RunResult
    from udpsem.traces.replay import ReplayResult


def run(world: WorldSpec, seed: int = 0, *, faults: Faults | None = None,
        horizon: int | None = None, trace: TextIO | None = None,
        stop_on_escape: bool = True) -> RunResult:
    """Simulate `world` once with a random chooser seeded by `seed`.

    `faults` replaces the world's fault defaults; `horizon` (ns) its horizon. With `trace`
    (an open text file), the trace is written as JSON Lines. The result (`RunResult`) has
    `transitions`, `rules_fired` (rule name -> count) and `final` (the last world).

    Errors: an exception escaping a thread raises `udpsem.traces.record.ProgramFailure`
    (thread, host, tid, step, virtual time and the program's traceback via `.report()`),
    unless `stop_on_escape` is False. The world's invariants and monitors are not checked
    here (`explore` and `udpsem run FILE.py` check them)."""
    from udpsem.programs.runtime import GeneratorRuntime
    from udpsem.traces.record import run_world

    setup, w = world.build(GeneratorRuntime(stop_on_escape=stop_on_escape), faults,
                           horizon=horizon)
    return run_world(setup, w, seed, trace=trace, stop_on_escape=stop_on_escape)


def explore(program: str, *, horizon: int | None = None, max_states: int | None = None,
            strategy: str = "bfs", faults: Faults | None = None,
            max_copies: int | None = None,
            max_successive_drops: int | None = None) -> ExploreResult:
    """Explore every behaviour of a program file (`"FILE.py[:NAME]"`) within bounds.

    `horizon` (ns) and `faults` default to the world's (`WorldSpec.horizon`,
    `WorldSpec.explore_faults()`); `max_copies` (≥ 2) and `max_successive_drops` (≥ 1)
    override the world's bounds, and a bound enables its fault (duplication, loss) in the
    search whatever the probabilities say; `max_states` caps the search.
    Checked: host_ok, network_ok, no_escape, no_time_stop and the world's own invariants
    and monitors. The result (`ExploreResult`) has `states`, `transitions`, `complete`,
    `verdicts` (property -> "holds" / "violated" / "unknown") and `violation` (None, or the
    first violation found with its path).

    Errors: `udpsem.programs.catalog.UnknownProgram` if the file cannot be loaded."""
    from udpsem.explore.engine import ExploreConfig
    from udpsem.explore.engine import explore as do_explore
    from udpsem.programs.catalog import UnknownProgram
    from udpsem.programs.files import ProgramFileError, load

    try:
        spec = load(program).spec
    except ProgramFileError as e:
        raise UnknownProgram(str(e)) from None
    if max_copies is not None or max_successive_drops is not None:
        spec = dataclasses.replace(
            spec, max_copies=spec.max_copies if max_copies is None else max_copies,
            max_successive_drops=spec.max_successive_drops if max_successive_drops is None
            else max_successive_drops)
    cfg = ExploreConfig(program=program, horizon=horizon or spec.horizon,
                        faults=faults if faults is not None else spec.explore_faults(),
                        strategy=strategy, max_states=max_states)
    return do_explore(cfg)[0]


def replay(trace: str | Path, program: str | None = None) -> ReplayResult:
    """Replay the trace file `trace` from its recorded choices, checking every step.

    `program`: the program file (`"FILE.py[:NAME]"`) for a trace of one; its source must
    have the digest the trace records. The result (`ReplayResult`) has `ok`, `steps`,
    `divergence` (None, or which step differs and how) and `final_time` (ns).

    Errors: `udpsem.traces.replay.TraceError` for an unreadable or invalid trace, or a
    missing or different program file."""
    from udpsem.traces.replay import replay as do_replay

    return do_replay(trace, program=program)


def __getattr__(name: str) -> Any:  # pragma: no cover - a helpful error only
    raise AttributeError(f"module 'udpsem' has no attribute {name!r} (see help(udpsem) for "
                         "the public API)")


__all__ = [
    "MS",
    "NS",
    "US",
    "Crash",
    "Errno",
    "Faults",
    "HostSpec",
    "Invariant",
    "ModCall",
    "Monitor",
    "ProgramError",
    "S",
    "Sleep",
    "SockOpt",
    "UDPError",
    "Window",
    "WorldSpec",
    "__version__",
    "bind",
    "build_world",
    "close",
    "connect",
    "create",
    "delay",
    "disconnect",
    "exit_",
    "explore",
    "get",
    "geterr",
    "getifaddrs",
    "getpeername",
    "getsockname",
    "getsockopt",
    "invariant",
    "ip",
    "ip_of_string",
    "ip_str",
    "new",
    "port_of_int",
    "print_endline_flush",
    "recvfrom",
    "replay",
    "run",
    "select",
    "sendto",
    "set_",
    "setsockopt",
    "socket",
]
