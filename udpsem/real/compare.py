"""Run one LIB program in the model and on the real kernel, and compare what it saw.

`observed(program)` wraps a program so that it returns the list of (call, result) pairs it
got, with fds and ephemeral ports normalised. The model side runs it as the only thread of a
one-host world with loopback only (`priv` set, as the tests run as root); the real side runs
it with `udpsem.real.lib`.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Generator
from typing import Any

from udpsem.base.choice import RandomChooser
from udpsem.base.time import S
from udpsem.core.drivers import simulate
from udpsem.hosts.state import HostConsts, Interface, Timing, eth, initial_host
from udpsem.hosts.values import Errno, UDPError, ip_str, parse_ip
from udpsem.network.faults import Faults
from udpsem.programs.runtime import GeneratorRuntime
from udpsem.real.lib import run_real
from udpsem.state.components import App, ModCall
from udpsem.state.world import Machine, Setup, initial_world

Program = Callable[..., Generator[Any, Any, Any]]
EPH = (32768, 60999)


def _norm(v: Any) -> Any:
    if isinstance(v, Errno):
        return v.value
    if isinstance(v, tuple):
        return tuple(_norm(x) for x in v)
    if isinstance(v, int) and not isinstance(v, bool) and EPH[0] <= v <= EPH[1]:
        return "EPH"
    if isinstance(v, int) and not isinstance(v, bool) and v > 65535:
        return ip_str(v)
    return v


def observed(program: Program) -> Program:
    """The program, returning the log of (call name, normalised result or errno).

    A failed call is logged and the program continues as if it had returned None, so that a
    scenario is simply a sequence of calls whose every result is compared.
    """

    def wrapper(*args: Any) -> Generator[Any, Any, Any]:
        log: list[tuple[str, Any]] = []
        gen = program(*args)
        answer: Any = None
        while True:
            try:
                req = gen.send(answer)
            except StopIteration:
                return log
            answer = None
            try:
                answer = yield req
                log.append((req.name, _norm(answer)))
            except UDPError as e:
                log.append((req.name, e.errno.value))

    wrapper.__qualname__ = f"observed({getattr(program, '__qualname__', program)})"
    return wrapper


def local_interfaces(netns: str | None = None) -> tuple[Interface, ...]:
    """This machine's (or network namespace `netns`'s) non-loopback IPv4 interfaces (from
    `ip -4 -o addr`), as model ETHs."""
    where = [] if netns is None else ["-n", netns]
    try:
        out = subprocess.run(["ip", *where, "-4", "-o", "addr", "show"], capture_output=True,
                             text=True, timeout=10, check=False).stdout
    except (OSError, subprocess.SubprocessError):
        return ()
    ifaces: list[Interface] = []
    for line in out.splitlines():
        parts = line.split()
        if len(parts) < 4 or parts[1] == "lo" or parts[2] != "inet":
            continue
        addr, _, bits = parts[3].partition("/")
        a = parse_ip(addr)
        if a is not None:
            ifaces.append(eth(len(ifaces), a, int(bits or 32)))
    return tuple(ifaces)


def run_model(program: Program, seed: int = 0, horizon: int = 10 * S,
              ifds: tuple[Interface, ...] | None = None) -> Any:
    """Run a single-threaded program alone on a host shaped like this machine (its IPv4
    interfaces, unless `ifds` is given); its return value."""
    rt = GeneratorRuntime()
    code, req = rt.start(_main, ())
    host = initial_host(local_interfaces() if ifds is None else ifds)
    m = Machine("LOCAL", True, host, apps=(App(0, code, req, 0),))
    setup = Setup(Timing(), {"LOCAL": HostConsts(priv=True)}, {"LOCAL": {"main": program}},
                  Faults(), rt, horizon)
    for st in simulate(setup, initial_world((m,)), RandomChooser(seed)):
        lab = st.transition.label
        if lab.kind == "modret":
            return lab.value
        if lab.kind == "thread_end" and lab.value is not None:
            raise RuntimeError(f"the program failed in the model: {lab.value}")
    raise RuntimeError("the program did not finish in the model within the horizon")


def _main() -> Generator[Any, Any, Any]:
    yield ModCall("main")


def compare(program: Program) -> tuple[Any, Any]:
    """(what the program saw in the model, what it saw on the real kernel)."""
    obs = observed(program)
    return run_model(obs), run_real(obs)
