"""The programs `udpsem run` knows, as scenarios: how to build them from parameters, and what
observer checks their properties. Replay rebuilds a run from a trace header through here."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from udpsem.hosts.state import HostConsts, Timing
from udpsem.network.faults import Faults
from udpsem.programs import echo, heartbeat
from udpsem.state.world import Setup, World


@dataclass(frozen=True)
class Scenario:
    """A runnable program: default parameters (every key `udpsem run` may set; durations in
    ns), a builder, and an observer factory. The observer has `on_step(step)`, `summary()`
    (its keys of `run --json`) and `render(console, result)` (its part of the readable output).
    A builder raises ScenarioError for parameters it cannot honour."""

    name: str
    summary: str
    defaults: dict[str, int]
    build: Callable[[dict[str, int], Timing, HostConsts, Faults, Any], tuple[Setup, World]]
    observer: Callable[[], Any]


def _build_heartbeat(params: dict[str, int], timing: Timing, consts: HostConsts, faults: Faults,
                     runtime: Any) -> tuple[Setup, World]:
    opts = heartbeat.HeartbeatOptions(duration=params["duration_ns"],
                                      period=params["period_ns"], timing=timing, consts=consts)
    try:
        return heartbeat.build(opts, faults, runtime)
    except ValueError as e:
        raise ScenarioError(str(e)) from None


def _build_echo(params: dict[str, int], timing: Timing, consts: HostConsts, faults: Faults,
                runtime: Any) -> tuple[Setup, World]:
    opts = echo.EchoOptions(duration=params["duration_ns"], clients=params["clients"],
                            messages=params["messages"], strict=bool(params["strict"]),
                            restart=bool(params["restart"]), window=params["window"],
                            timing=timing, consts=consts)
    try:
        return echo.build(opts, faults, runtime)
    except ValueError as e:
        raise ScenarioError(str(e)) from None


SCENARIOS: dict[str, Scenario] = {
    "heartbeat": Scenario(
        "heartbeat", "the paper's rhbeat2 failure detector: ALAN watches KURT",
        {"duration_ns": heartbeat.HeartbeatOptions().duration,
         "period_ns": heartbeat.HeartbeatOptions().period},
        _build_heartbeat, heartbeat.Theorem2),
    "echo": Scenario(
        "echo", "reliable sessions (docs/sessions.md): clients send strings, the server echoes "
                "their lengths",
        {"duration_ns": echo.EchoOptions().duration, "clients": echo.EchoOptions().clients,
         "messages": echo.EchoOptions().messages, "strict": 0, "restart": 0, "window": 1},
        _build_echo, echo.EchoObserver),
}


class ScenarioError(ValueError):
    """A scenario cannot be built from the parameters given (a user error)."""


class UnknownProgram(ValueError):
    """A program name udpsem does not know."""


def scenario(name: str) -> Scenario:
    """The scenario called `name`, or UnknownProgram with the known names. A name
    `FILE.py[:NAME]` is a program file (`programs.files`): loaded here, because the user
    named it (UnknownProgram with the reason if it cannot be used)."""
    from udpsem.programs import files

    if files.is_file_ref(name):
        try:
            return file_scenario(files.load(name))
        except files.ProgramFileError as e:
            raise UnknownProgram(str(e)) from None
    try:
        return SCENARIOS[name]
    except KeyError:
        known = ", ".join(sorted(SCENARIOS))
        raise UnknownProgram(f"unknown program {name!r} (known programs: {known}; or a "
                             "program file FILE.py[:NAME])") from None


def file_scenario(pf: Any) -> Scenario:
    """A loaded program file (`files.ProgramFile`) as a scenario: one parameter, the
    horizon `duration_ns`; its observer checks the file's invariants and monitors."""
    from udpsem.programs.files import FileObserver

    spec = pf.spec

    def build(params: dict[str, int], timing: Timing, consts: HostConsts, faults: Faults,
              runtime: Any) -> tuple[Setup, World]:
        try:
            built: tuple[Setup, World] = spec.build(runtime, faults, timing=timing,
                                                    consts=consts,
                                                    horizon=params["duration_ns"])
            return built
        except ValueError as e:
            raise ScenarioError(f"{pf.path}: {e}") from None

    return Scenario(pf.ref, f"program file {pf.path}", {"duration_ns": spec.horizon}, build,
                    lambda: FileObserver(spec))
