"""Conformance scenarios: one LIB program run on the real Linux kernel and searched for in the
model.

A `Scenario` is a LIB program (a generator function; it may `create` threads) plus the shape
of the model host that stands for the machine it runs on. `check(scenario)` runs it on real
sockets (threads as OS threads, `delay` as a sleep), which gives one *log* per thread: the
sequence of `(call name, result)` the thread saw, results normalised (fds as the model numbers
them, ephemeral ports as "EPH", addresses as dotted quads, failures as "!ERRNO", a call still
blocked when the run settles as "BLOCKED"). It then searches the model's executions of the
same program for one whose logs are exactly these: every nondeterministic step (which enabled
rule fires first, an ICMP or not, a choice among tied sockets) is explored depth first, and a
branch is cut as soon as a thread is answered differently from the real one. The verdict says
whether the model admits the real outcome, and if not, the longest prefix it could match.

Every thread runs *leniently* in both worlds: a failed call is logged and the thread goes on
as if the call had returned None, so a scenario is just a sequence of calls whose every
result is compared.

Users can check their own scenarios the same way (`check(Scenario("mine", program))`).

The builders shared by every comparison of real and model runs (the loopback scenarios,
the multi-host tests): `scenarios(*programs)` makes one Scenario per program, named after
it; `model_world(hosts, ...)` builds the model world of one or several `ModelHost`s, each
running its program leniently in its main thread; `admitted(setup, world, real, key)`
searches it for the real logs and counts the admitted run's rules for coverage.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass, field
from typing import Any

from udpsem.base.time import MS, S
from udpsem.core import coverage
from udpsem.core.drivers import fire
from udpsem.core.system import enabled
from udpsem.hosts import calls as C
from udpsem.hosts.state import (
    LINUX_RMEM_DEFAULT,
    LINUX_WMEM_DEFAULT,
    HostConsts,
    Interface,
    Timing,
    initial_host,
)
from udpsem.hosts.values import Errno, Fail, Ok, UDPError, ip_str
from udpsem.network.faults import Faults
from udpsem.programs.runtime import GeneratorRuntime
from udpsem.real.lib import RealLib
from udpsem.state.components import App, ModCall
from udpsem.state.world import Event, Machine, Setup, World, initial_world, owners_of

Program = Callable[..., Generator[Any, Any, Any]]
Log = tuple[tuple[str, Any], ...]
EPH = (32768, 60999)
BLOCKED = "BLOCKED"


# Normalised results ---------------------------------------------------------------------------

def norm(v: Any) -> Any:
    """A result as logs show it: errors by name, ports of the ephemeral range as "EPH",
    addresses as dotted quads (any int above 65535 is an address), tuples recursively."""
    if isinstance(v, Fail):
        return "!" + v.errno.value
    if isinstance(v, Ok):
        return norm(v.value)
    if isinstance(v, Errno):
        return v.value
    if isinstance(v, tuple):
        return tuple(norm(x) for x in v)
    if isinstance(v, int) and not isinstance(v, bool) and EPH[0] <= v <= EPH[1]:
        return "EPH"
    if isinstance(v, int) and not isinstance(v, bool) and v > 65535:
        return ip_str(v)
    return v


# Lenient threads ------------------------------------------------------------------------------

_LENIENT: dict[Any, Program] = {}


def lenient(program: Program) -> Program:
    """The program, with every failed LIB call swallowed (the thread continues as if it had
    returned None) and every created thread lenient too. One wrapper per program, so that the
    model's thread states (keyed by program name) stay stable."""
    found = _LENIENT.get(program)
    if found is not None:
        return found

    def wrapper(*args: Any) -> Generator[Any, Any, Any]:
        gen = program(*args)
        answer: Any = None
        while True:
            try:
                req = gen.send(answer)
            except StopIteration as stop:
                return stop.value
            if isinstance(req, C.Create):
                req = C.Create(lenient(req.program), req.arg)
            try:
                answer = yield req
            except UDPError:
                answer = None

    wrapper.__qualname__ = f"lenient({getattr(program, '__qualname__', program)})"
    wrapper.__module__ = getattr(program, "__module__", "?")
    _LENIENT[program] = wrapper
    return wrapper


# Scenarios ------------------------------------------------------------------------------------

LINUX_CONSTS = HostConsts(priv=True, rmem_default=LINUX_RMEM_DEFAULT, loopback_sync=True,
                          wmem_default=LINUX_WMEM_DEFAULT, icmp_quote=True)

@dataclass(frozen=True)
class Scenario:
    """A program and the model host it is checked against.

    `ifds`: the model host's interfaces besides LO (None: this machine's IPv4 interfaces).
    `consts`: the model host's constants (default LINUX_CONSTS: privileged, as the suite
    runs as root, with Linux's default receive and send buffers, and ICMP errors quoting the
    offending payload).
    `netns`: run the real side inside this network namespace (a name under /run/netns; the
    caller creates it), e.g. a loopback-only host.
    `settle`: seconds the real run waits, once every thread is finished or may be blocked in
    a call (not a delay, not waiting for a CPU), before it declares those BLOCKED. `horizon`: the model's time bound.
    """

    name: str
    program: Program
    args: tuple[Any, ...] = ()
    ifds: tuple[Interface, ...] | None = None
    consts: HostConsts = field(default_factory=lambda: LINUX_CONSTS)
    timing: Timing = field(default_factory=Timing)
    settle: float = 0.15
    horizon: int = 2 * S
    note: str = ""
    netns: str | None = None


@dataclass(frozen=True)
class Verdict:
    """The outcome of a check: the real logs, whether the model admits them, and if not the
    longest matched prefix per thread (what the model answered instead, where it did)."""

    scenario: str
    real: dict[Any, Log]  # by tid (one host) or (host, tid)
    admitted: bool
    states: int
    explain: str = ""

    def __str__(self) -> str:
        lines = [(f"{self.scenario}: {'admitted' if self.admitted else 'NOT ADMITTED'} "
                 f"({self.states} model states searched)")]
        for tid in sorted(self.real):
            lines.append(f"  thread {tid} (real): {list(self.real[tid])}")
        if self.explain:
            lines.append("  " + self.explain)
        return "\n".join(lines)


# The real side --------------------------------------------------------------------------------

class _RealRun:
    """Runs a lenient program and its created threads on real sockets, one OS thread each."""

    def __init__(self, settle: float, netns: str | None = None) -> None:
        self.lib = RealLib(recv_wait=None, reuse_fds=True)
        self.settle = settle
        self.netns = netns
        self.lock = threading.Lock()
        self.logs: dict[int, list[tuple[str, Any]]] = {}
        self.pending: dict[int, str] = {}
        self.native: dict[int, int] = {}  # the OS thread of each tid
        self.done: set[int] = set()
        self.threads: list[threading.Thread] = []
        self.progress = time.monotonic()
        self.frozen = False

    def start(self, program: Program, args: tuple[Any, ...]) -> int:
        with self.lock:
            tid = 0
            while tid in self.logs and tid not in self.done:
                tid += 1
            self.logs[tid] = []
            self.done.discard(tid)
        t = threading.Thread(target=self._thread, args=(tid, program, args), daemon=True,
                             name=f"udpsem-conformance-{tid}")
        self.threads.append(t)
        t.start()
        return tid

    def _record(self, tid: int, name: str, value: Any) -> bool:
        with self.lock:
            if self.frozen:
                return False
            self.logs[tid].append((name, value))
            self.pending.pop(tid, None)
            self.progress = time.monotonic()
            return True

    def _thread(self, tid: int, program: Program, args: tuple[Any, ...]) -> None:
        if self.netns is not None:
            enter_netns(self.netns)
        gen = program(*args)
        answer: Any = None
        exc: BaseException | None = None
        try:
            while True:
                try:
                    req = gen.throw(exc) if exc is not None else gen.send(answer)
                except StopIteration:
                    return
                exc, answer = None, None
                with self.lock:
                    self.pending[tid] = req.name
                    self.native[tid] = threading.get_native_id()
                    self.progress = time.monotonic()
                if isinstance(req, C.Create):
                    answer = self.start(req.program, req.arg if isinstance(req.arg, tuple)
                                        else (req.arg,))
                    value: Any = Ok(answer)
                else:
                    try:
                        answer = self.lib.perform(req)
                        value = Ok(answer)
                    except UDPError as e:
                        exc, value = e, Fail(e.errno)
                if not self._record(tid, req.name, norm(value)):
                    return
        finally:
            with self.lock:
                self.done.add(tid)
                self.pending.pop(tid, None)
                self.progress = time.monotonic()

    def may_be_blocked(self, tid: int) -> bool:
        """Whether thread `tid` (live; the caller holds the lock) may be blocked in its call:
        it is in one, the call is not a delay (a delay always ends), and its OS thread sleeps
        in the kernel rather than waiting for a CPU (on a loaded machine a runnable thread
        can wait longer than the settle time: it is late, not blocked)."""
        return tid in self.pending and self.pending[tid] != "delay" and \
            not _runnable(self.native[tid])

    def wait(self, limit: float = 20.0) -> dict[int, Log]:
        """Wait until every thread is finished, or every live one may be blocked in its call
        (`may_be_blocked`) with no progress anywhere for `settle` seconds; then the logs
        (BLOCKED for those)."""
        t0 = time.monotonic()
        while time.monotonic() - t0 < limit:
            time.sleep(0.002)
            with self.lock:
                live = [t for t in self.logs if t not in self.done]
                if not live:
                    break
                if time.monotonic() - self.progress >= self.settle and \
                        all(self.may_be_blocked(t) for t in live):
                    break
        with self.lock:
            self.frozen = True
            out = {}
            for t, log in self.logs.items():
                entries = list(log)
                if t in self.pending and t not in self.done:
                    entries.append((self.pending[t], BLOCKED))
                out[t] = tuple(entries)
        self.lib.release()
        return out


def _runnable(native_id: int) -> bool:
    """Whether the OS thread is running or waiting for a CPU (state R in /proc), rather than
    sleeping in the kernel. Unknown (no such thread, no /proc): False."""
    try:
        with open(f"/proc/self/task/{native_id}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return False
    # "pid (comm) S ...": the state is the first field after the command's closing paren.
    return stat[stat.rfind(b")") + 2:][:1] == b"R"


def enter_netns(name: str) -> None:
    """Move the calling OS thread into network namespace `name` (setns(2)); sockets it
    creates afterwards live there."""
    import ctypes
    import os

    libc = ctypes.CDLL(None, use_errno=True)
    fd = os.open(f"/run/netns/{name}", os.O_RDONLY)
    try:
        if libc.setns(fd, 0x40000000) != 0:  # CLONE_NEWNET
            err = ctypes.get_errno()
            raise OSError(err, f"setns into {name}: {os.strerror(err)}")
    finally:
        os.close(fd)


def run_real(scenario: Scenario) -> dict[int, Log]:
    """The per-thread logs of the scenario on the real kernel."""
    run = _RealRun(scenario.settle, scenario.netns)
    run.start(lenient(scenario.program), scenario.args)
    return run.wait()


def scenarios(*programs: Program, **settings: Any) -> list[Scenario]:
    """One Scenario per program, named after it (its function name), all with the same
    `settings` (Scenario's fields: ifds, consts, timing, settle, horizon, ...)."""
    return [Scenario(p.__name__, p, **settings) for p in programs]


# The model side -------------------------------------------------------------------------------

@dataclass(frozen=True)
class ModelHost:
    """One machine of a model world built to compare with the kernel: its name, its
    interfaces besides LO, the program its main thread runs leniently (None: no thread) with
    its arguments, and its constants."""

    name: str
    ifds: tuple[Interface, ...]
    program: Program | None = None
    args: tuple[Any, ...] = ()
    consts: HostConsts = field(default_factory=lambda: LINUX_CONSTS)


def model_world(hosts: Sequence[ModelHost], timing: Timing | None = None,
                horizon: int = 2 * S, schedule: tuple[Event, ...] = (),
                faults: Faults | None = None) -> tuple[Setup, World]:
    """The model world of `hosts` (each program lenient, in thread 0 of its machine), with
    the environment events `schedule` and which machine owns which address."""
    rt = GeneratorRuntime()
    machines = []
    modules: dict[str, dict[str, Any]] = {}
    for hm in hosts:
        apps: tuple[App, ...] = ()
        modules[hm.name] = {}
        if hm.program is not None:
            code, req = rt.start(_main, hm.args)
            apps = (App(0, code, req, 0),)
            modules[hm.name] = {"main": lenient(hm.program)}
        machines.append(Machine(hm.name, True, initial_host(hm.ifds), apps=apps))
    ms = tuple(machines)
    setup = Setup(timing if timing is not None else Timing(),
                  {hm.name: hm.consts for hm in hosts}, modules,
                  faults if faults is not None else Faults(), rt, horizon, owners_of(ms))
    return setup, initial_world(ms, schedule)


def _world(scenario: Scenario, ifds: tuple[Interface, ...]) -> tuple[Setup, World]:
    return model_world([ModelHost("LOCAL", ifds, scenario.program, scenario.args,
                                  scenario.consts)], scenario.timing, scenario.horizon)


def _main(*args: Any) -> Generator[Any, Any, Any]:
    yield ModCall("main", args)


class _Enumerate:
    """A chooser that enumerates the combinations of one candidate's choice points (an
    odometer, last choice first). Ephemeral ports: the first free one only (ports are
    normalised to "EPH", so one stands for all); time: to the next deadline only."""

    def __init__(self) -> None:
        self.trail: list[list[Any]] = []
        self.pos = 0

    def pick(self, kind: str, options: Sequence[Any], hint: str = "") -> Any:
        if self.pos < len(self.trail):
            opts, idx = self.trail[self.pos]
        else:
            if kind == "eph":
                opts = [options[0]]
            elif kind == "time":
                opts = [options[-1]]
            elif kind == "delay":
                lo, hi = options[0], options[-1]
                opts = sorted({lo, (lo + hi) // 2, hi})
            else:
                opts = list(options)
            idx = 0
            self.trail.append([opts, 0])
        self.pos += 1
        return opts[idx]

    def advance(self) -> bool:
        del self.trail[self.pos:]
        while self.trail and self.trail[-1][1] + 1 >= len(self.trail[-1][0]):
            self.trail.pop()
        if not self.trail:
            return False
        self.trail[-1][1] += 1
        self.pos = 0
        return True


def _successors(setup: Setup, w: World) -> list[Any]:
    if w.now >= setup.horizon:
        return []
    cands = enabled(setup, w)
    # Eager timing: time passes only when nothing else can happen.
    if len(cands) > 1 and cands[-1].rule == "time_pass":
        cands = cands[:-1]
    out = []
    for cand in cands:
        ch = _Enumerate()
        while True:
            ch.pos = 0
            made: list[tuple[str, Any]] = []
            out.append(fire(cand, ch, made))
            if not ch.advance():
                break
    return out


Progress = tuple[tuple[Any, int, str | None], ...]  # (thread key, entries matched, pending)
ThreadKey = Callable[[Any], Any]
"""Which real log a label's thread is: its tid (one host), or (host, tid) (several)."""


def _by_tid(label: Any) -> Any:
    return label.tid


def by_host_tid(label: Any) -> Any:
    """The real log of a label's thread in a world of several hosts: (host, tid)."""
    return (label.host, label.tid)


def _advance(progress: Progress, real: dict[Any, Log], label: Any,
             key: ThreadKey = _by_tid) -> Progress | None:
    """The progress after a transition's label, or None if it contradicts the real logs."""
    kind = label.kind
    if kind not in ("call", "return"):
        return progress
    tid = key(label)
    rows = {t: (n, p) for t, n, p in progress}
    n, _pend = rows.get(tid, (0, None))
    log = real.get(tid)
    if log is None:
        return None  # a thread the real run never had
    if kind == "call":
        if n >= len(log) or log[n][0] != label.value.name:
            return None
        rows[tid] = (n, label.value.name)
    else:
        if n >= len(log) or log[n][1] == BLOCKED or log[n][1] != norm(label.value):
            return None
        rows[tid] = (n + 1, None)
    return tuple((t, *rows[t]) for t in sorted(rows))


def _complete(progress: Progress, real: dict[Any, Log]) -> bool:
    rows = {t: (n, p) for t, n, p in progress}
    for tid, log in real.items():
        n, pend = rows.get(tid, (0, None))
        if log and log[-1][1] == BLOCKED:
            if n != len(log) - 1 or pend != log[-1][0]:
                return False
        elif n != len(log):
            return False
    return True


def model_admits(scenario: Scenario, real: dict[int, Log], ifds: tuple[Interface, ...],
                 max_states: int = 200_000) -> tuple[bool, int, str]:
    """Search the model for an execution with exactly the real logs.

    Returns (admitted, states visited, explanation of the best near miss). The rules of an
    admitted run count for rule coverage (when it is on), as a simulation's would."""
    found = search(scenario, real, ifds, max_states)
    if found.path is not None:
        for before, t in found.path:
            coverage.transition(before, t)
    return found.path is not None, found.states, found.explain


def admitted(setup: Setup, w0: World, real: dict[Any, Log], key: ThreadKey = by_host_tid,
             max_states: int = 200_000) -> Found:
    """Search world `w0` for a run whose threads' logs are exactly `real` (each thread named
    by `key` of its labels; the threads of the real logs' first entries run from the start:
    tid 0 of each host), counting an admitted run's rules for coverage."""
    start = tuple((k, 0, None) for k in sorted(real) if k == 0 or
                  (isinstance(k, tuple) and k[1] == 0))
    found = search_world(setup, w0, real, start, key, max_states)
    if found.path is not None:
        for before, t in found.path:
            coverage.transition(before, t)
    return found


@dataclass(frozen=True)
class Found:
    """A search's result: the admitted model run as (world before, transition) pairs, or
    None; the number of states visited; why nothing matched (the best near miss)."""

    path: list[tuple[World, Any]] | None
    states: int
    explain: str = ""


def search(scenario: Scenario, real: dict[int, Log], ifds: tuple[Interface, ...],
           max_states: int = 200_000) -> Found:
    """Depth-first search of the model's executions for one with exactly the real logs."""
    setup, w0 = _world(scenario, ifds)
    return search_world(setup, w0, real, ((0, 0, None),), _by_tid, max_states)


def search_world(setup: Setup, w0: World, real: dict[Any, Log], start: Progress,
                 key: ThreadKey = _by_tid, max_states: int = 200_000) -> Found:
    """Depth-first search of the executions of world `w0` for one whose threads' logs are
    exactly `real` (keyed by `key` of a label; `start`: the threads known at the start)."""
    root = (w0, start)
    stack: list[tuple[World, Progress]] = [root]
    parent: dict[tuple[World, Progress], Any] = {root: None}
    best: tuple[int, str] = (-1, "")
    while stack:
        if len(parent) > max_states:
            return Found(None, len(parent), f"search stopped after {max_states} states")
        node = stack.pop()
        w, prog = node
        succ = _successors(setup, w)
        if not succ:
            if _complete(prog, real):
                path = []
                cur: Any = node
                while parent[cur] is not None:
                    prev, t = parent[cur]
                    path.append((prev[0], t))
                    cur = prev
                path.reverse()
                return Found(path, len(parent))
            continue
        for t in reversed(succ):
            nxt = _advance(prog, real, t.label, key)
            if nxt is None:
                lab = t.label
                if lab.kind == "return":
                    matched = sum(n for _, n, _ in prog)
                    if matched > best[0]:
                        rows = {tid: n for tid, n, _ in prog}
                        k = rows.get(key(lab), 0)
                        exp = real.get(key(lab), ())
                        want = exp[k] if k < len(exp) else "nothing"
                        best = (matched, (f"best model run: thread {key(lab)} call #{k + 1} "
                                          f"answered {norm(lab.value)!r} where the kernel "
                                          f"gave {want!r} (rule {t.rule})"))
                continue
            key2 = (t.world, nxt)
            if key2 in parent:
                continue
            parent[key2] = (node, t)
            stack.append(key2)
    return Found(None, len(parent), best[1] or "no model run matches")


def check(scenario: Scenario) -> Verdict:
    """Run the scenario on the real kernel, then decide whether the model admits it."""
    from udpsem.real.compare import local_interfaces

    real = run_real(scenario)
    ifds = local_interfaces(scenario.netns) if scenario.ifds is None else scenario.ifds
    ok, n, why = model_admits(scenario, real, ifds)
    return Verdict(scenario.name, real, ok, n, why)


__all__ = [
    "BLOCKED",
    "LINUX_CONSTS",
    "MS",
    "Found",
    "ModelHost",
    "Scenario",
    "Verdict",
    "admitted",
    "by_host_tid",
    "check",
    "enter_netns",
    "lenient",
    "model_admits",
    "model_world",
    "norm",
    "run_real",
    "scenarios",
    "search",
    "search_world",
]
