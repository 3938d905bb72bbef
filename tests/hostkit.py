"""Small helpers for host-rule tests: build hosts, fire a call or an internal rule."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from udpsem.base.choice import resolve
from udpsem.core import coverage
from udpsem.hosts.calls import Call
from udpsem.hosts.lts import Enabled, call_enabled, internal_enabled, recv_enabled
from udpsem.hosts.state import (
    RUN,
    Host,
    HostConsts,
    HostStep,
    Interface,
    RuleCtx,
    Sock,
    ThreadEntry,
    Timing,
    eth,
    initial_host,
)
from udpsem.hosts.values import ip
from udpsem.network.messages import IPMsg

ALAN = ip("192.168.0.14")
KURT = ip("192.168.0.11")


class FirstChooser:
    """Always the first option (or a forced value per kind)."""

    def __init__(self, forced: dict[str, Any] | None = None) -> None:
        self.forced = forced or {}

    def pick(self, kind: str, options: Sequence[Any], hint: str = "") -> Any:
        if kind in self.forced:
            v = self.forced[kind]
            assert v in options, (kind, v)
            return v
        return options[0]


def host(addr: int = ALAN, *, socks: Sequence[Sock] = (), threads: Sequence[ThreadEntry] = (),
         ifds: Sequence[Interface] | None = None) -> Host:
    """A host with one ETH interface (unless `ifds`), thread 0 RUN plus `threads`, `socks`."""
    h = initial_host(tuple(ifds) if ifds is not None else (eth(0, addr),))
    ts = {e.tid: e for e in h.ts}
    for e in threads:
        ts[e.tid] = e
    return replace(h, ts=tuple(ts[t] for t in sorted(ts)), s=tuple(socks))


def ctx(now: int = 0, **consts: Any) -> RuleCtx:
    return RuleCtx(HostConsts(**consts), Timing(), now)


def fire(enabled: list[Enabled], name: str | None = None, **forced: Any) -> tuple[str, HostStep]:
    """Resolve the only (or the named) enabled rule with first/forced choices."""
    if name is not None:
        enabled = [e for e in enabled if e.rule.name == name]
    assert len(enabled) == 1, [e.rule.name for e in enabled]
    e = enabled[0]
    made: list[tuple[str, Any]] = []
    coverage.hit(e.rule.name)
    return e.rule.name, resolve(e.outcome, FirstChooser(forced), made)


def call(c: RuleCtx, h: Host, callv: Call, tid: int = 0, **forced: Any) -> tuple[str, HostStep]:
    """Fire the rule that accepts `callv` from thread `tid`; returns (rule name, step)."""
    return fire(call_enabled(c, h, tid, callv), **forced)


def names_call(c: RuleCtx, h: Host, callv: Call, tid: int = 0) -> list[str]:
    return [e.rule.name for e in call_enabled(c, h, tid, callv)]


def internal(c: RuleCtx, h: Host, name: str, **forced: Any) -> tuple[str, HostStep]:
    return fire(internal_enabled(c, h), name, **forced)


def names_internal(c: RuleCtx, h: Host) -> list[str]:
    return [e.rule.name for e in internal_enabled(c, h)]


def recv(c: RuleCtx, h: Host, m: IPMsg, **forced: Any) -> tuple[str, HostStep]:
    return fire(recv_enabled(c, h, m), **forced)


def names_recv(c: RuleCtx, h: Host, m: IPMsg) -> list[str]:
    return [e.rule.name for e in recv_enabled(c, h, m)]


def thread_state(h: Host, tid: int = 0) -> Any:
    e = h.thread(tid)
    assert e is not None
    return e.state


__all__ = [
    "ALAN",
    "KURT",
    "RUN",
    "FirstChooser",
    "call",
    "ctx",
    "fire",
    "host",
    "internal",
    "names_call",
    "names_internal",
    "names_recv",
    "recv",
    "thread_state",
]
