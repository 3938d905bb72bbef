"""The paper's heartbeat failure detector `rhbeat2` (docs/model.md#theorem-2) and its scenario.

ALAN (192.168.0.14) watches KURT (192.168.0.11). Both carry the same module. An application
thread on each machine calls the start function once; on ALAN it then polls `get_status`
every `period`. `Theorem2` checks every answer against the theorem's conclusion.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from typing import Any

from udpsem.base.time import MS, S
from udpsem.core.drivers import Step
from udpsem.hosts.calls import (
    bind,
    connect,
    create,
    delay,
    ip_of_string,
    port_of_int,
    recvfrom,
    select,
    sendto,
    socket,
)
from udpsem.hosts.state import HostConsts, Timing
from udpsem.hosts.values import Errno, UDPError
from udpsem.network.faults import Faults
from udpsem.programs.world import HostSpec, build_world
from udpsem.state.components import ModCall, Sleep, get, new, set_
from udpsem.state.world import Setup, World

Gen = Generator[Any, Any, Any]

ALAN_IP = "192.168.0.14"
KURT_IP = "192.168.0.11"
HB_PORT = 7658


# The module (docs/model.md#theorem-2) -------------------------------------------------------------

def start_heartbeat_k() -> Gen:
    """Called once on KURT: start the sender thread."""
    yield create(sender_thread, ())


def sender_thread() -> Gen:
    """Ping ALAN every second over a connected socket; ignore ECONNREFUSED."""
    p = yield port_of_int(HB_PORT)
    ia = yield ip_of_string(ALAN_IP)
    fd = yield socket()
    yield bind(fd, None, None)
    yield connect(fd, ia, p)
    while True:
        try:
            yield sendto(fd, None, b"ping", False)
            yield delay(1_000_000)
        except UDPError as e:  # the try covers the delay too
            if e.errno != Errno.ECONNREFUSED:
                raise


def start_heartbeat_a() -> Gen:
    """Called once on ALAN: allocate the status cell, start the receiver, return the cell."""
    r = yield new(0)
    yield create(receiver_thread, r)
    return r


def receiver_thread(r: int) -> Gen:
    """Wait up to 2.5 s for a ping: none means KURT is down (0), one means up (1)."""
    p = yield port_of_int(HB_PORT)
    ik = yield ip_of_string(KURT_IP)
    fd = yield socket()
    yield bind(fd, None, p)
    yield connect(fd, ik, None)
    while True:
        ready, _ = yield select([fd], [], 2_500_000)
        if not ready:
            yield set_(r, 0)
        else:
            yield recvfrom(fd, False)
            yield set_(r, 1)


def get_status(r: int) -> Gen:
    """1 if KURT is believed up, 0 if believed down."""
    v = yield get(r)
    return v


MODULE: dict[str, Callable[..., Gen]] = {"start_heartbeat_k": start_heartbeat_k, "start_heartbeat_a": start_heartbeat_a,
          "get_status": get_status}


# The applications ----------------------------------------------------------------------------

def kurt_app() -> Gen:
    """KURT's application: start the heartbeat sender once."""
    yield ModCall("start_heartbeat_k")


def alan_app(period: int) -> Gen:
    """ALAN's application: start the detector, then ask for the status every `period` ns."""
    r = yield ModCall("start_heartbeat_a")
    while True:
        yield Sleep(period)
        yield ModCall("get_status", r)


# The scenario --------------------------------------------------------------------------------

@dataclass(frozen=True)
class HeartbeatOptions:
    """Parameters of a heartbeat run."""

    duration: int = 60 * S
    period: int = 100 * MS
    kurt_start: int = 0
    alan_start: int = 0
    timing: Timing = field(default_factory=Timing)
    consts: HostConsts = field(default_factory=HostConsts)


def build(opts: HeartbeatOptions, faults: Faults, runtime: Any) -> tuple[Setup, World]:
    """The two machines, quiescent, with their applications and the fault schedule."""
    hosts = [HostSpec("ALAN", (ALAN_IP,), alan_app, (opts.period,), opts.alan_start, MODULE),
             HostSpec("KURT", (KURT_IP,), kurt_app, (), opts.kurt_start, MODULE)]
    return build_world(hosts, faults, runtime, timing=opts.timing, consts=opts.consts,
                       horizon=opts.duration)


# Theorem 2 (docs/model.md#theorem-2) --------------------------------------------------------------

SETTLE = 2_600 * MS


class Theorem2:
    """Observes a run and checks every get_status answer against Theorem 2's conclusion.

    KURT is *up* when start_heartbeat_k has been called and KURT is connected (and alive). An
    answer to a call made at t is checked when t ≥ `settle` (the paper's 2.6 s by default)
    after the later of KURT's last status change and ALAN's call of start_heartbeat_a; it
    must be 1 iff KURT is up at t.
    """

    def __init__(self, settle: int = SETTLE) -> None:
        self.settle = settle
        self.kurt_started = False
        self.kurt_conn = True
        self.kurt_alive = True
        self.last_change = 0
        self.alan_start: int | None = None
        self.pending: dict[int, tuple[int, bool]] = {}  # tid -> (call time, up at call)
        self.calls = 0
        self.checked = 0
        self.violations = 0
        self.answers: list[tuple[int, int]] = []
        self.first_violation: tuple[int, int, bool] | None = None
        self.escaped: list[tuple[int, str, str]] = []
        self.truth: list[tuple[int, bool]] = [(0, False)]

    @property
    def kurt_up(self) -> bool:
        return self.kurt_started and self.kurt_conn and self.kurt_alive

    def on_step(self, st: Step) -> None:
        lab = st.transition.label
        t = st.transition.world.now
        kind = lab.kind
        if kind in ("modcall", "disconnect", "reconnect", "crash", "modret", "thread_end"):
            self._observe(t, lab)

    def _observe(self, t: int, lab: Any) -> None:
        before = self.kurt_up
        kind = lab.kind
        if kind == "modcall":
            fn = lab.value[0]
            if lab.host == "KURT" and fn == "start_heartbeat_k":
                self.kurt_started = True
            elif lab.host == "ALAN" and fn == "start_heartbeat_a":
                self.alan_start = t
            elif lab.host == "ALAN" and fn == "get_status":
                self.pending[lab.tid] = (t, self.kurt_up)
        elif kind == "modret" and lab.host == "ALAN" and lab.tid in self.pending:
            called, up = self.pending.pop(lab.tid)
            v = lab.value
            self.calls += 1
            self.answers.append((called, v))
            if self.alan_start is not None and called >= max(self.last_change,
                                                             self.alan_start) + self.settle:
                self.checked += 1
                if v != (1 if up else 0):
                    self.violations += 1
                    if self.first_violation is None:
                        self.first_violation = (called, v, up)
        elif kind == "thread_end" and lab.value is not None:
            self.escaped.append((t, lab.host, lab.value))
        elif lab.host == "KURT":
            if kind == "disconnect":
                self.kurt_conn = False
            elif kind == "reconnect":
                self.kurt_conn = True
            elif kind == "crash":
                self.kurt_alive = False
        if self.kurt_up != before:
            self.last_change = t
            self.truth.append((t, self.kurt_up))

    def summary(self) -> dict[str, Any]:
        """The heartbeat's part of `udpsem run --json`."""
        out: dict[str, Any] = {
            "status_changes": self.status_changes(),
            "get_status": {"calls": self.calls, "checked": self.checked,
                           "violations": self.violations, "settle_ns": self.settle}}
        if self.escaped:
            out["escaped_exceptions"] = [[t, h, e] for t, h, e in self.escaped]
        return out

    def render(self, console: Any, res: Any) -> None:
        """The heartbeat's part of the readable `udpsem run` output."""
        from udpsem.base.time import fmt_ns

        for line in status_strips(self.answers, self.truth, res.params["duration_ns"]):
            console.print(line)
        colour = "green" if self.violations == 0 else "red"
        console.print(f"{res.transitions} transitions; get_status: {self.calls} calls, "
                      f"{self.checked} checked against Theorem 2 "
                      f"(settle {fmt_ns(self.settle)}), "
                      f"[bold {colour}]{self.violations} violations[/]")
        if self.first_violation is not None:
            t, v, up = self.first_violation
            console.print(f"[red]first violation: get_status called at {fmt_ns(t)} returned "
                          f"{v} but KURT was {'up' if up else 'down'}[/]")
        for t, host, err in self.escaped:
            console.print(f"[red]{fmt_ns(t)} {host}: exception escaped a thread: {err}[/]")

    def status_changes(self) -> list[list[int]]:
        """`[t_ns, value]` at the first answer and whenever the answer changes."""
        out: list[list[int]] = []
        for t, v in self.answers:
            if not out or out[-1][1] != v:
                out.append([t, v])
        return out


def status_strips(answers: list[tuple[int, int]], truth: list[tuple[int, bool]], duration: int,
                  width: int = 60) -> list[str]:
    """Two rich-markup strips over the run, one column per `duration / width`: whether KURT
    is really up, and what ALAN's get_status answered (the last answer in each column).

    `answers` are (call time, value); `truth` are (time, up) at each change of the truth.
    """
    col = max(1, duration // width)
    real_row, believed_row = [], []
    for k in range(width):
        t_end = (k + 1) * col
        up = False
        for t, u in truth:
            if t < t_end:
                up = u
        real_row.append("[green]█[/]" if up else "[red]▁[/]")
        v = None
        for t, val in answers:
            if k * col <= t < t_end:
                v = val
        believed_row.append(" " if v is None else ("[green]█[/]" if v == 1 else "[red]▁[/]"))
    return ["KURT up       " + "".join(real_row), "ALAN believes " + "".join(believed_row)]
