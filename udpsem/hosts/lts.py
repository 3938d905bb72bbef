"""The host LTS `h --l--> h'` (docs/rules.md): which registered rules apply, and urgency.

This is where the conventions of all host rules (docs/rules.md) live: calls need a RUN thread
(ZOMBIE threads get only zombie_1), rules limited to some architectures, the Linux order of
error precedence (or every applicable fail rule, when `linux_error_order` is off), and `gc`
after every rule.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import udpsem.hosts.rules  # noqa: F401  (registers the rules)
from udpsem.base.choice import Branch
from udpsem.base.frozen import fast_init
from udpsem.base.registry import RULES, RuleInfo, call_rules, rules_by_trigger, thread_rules
from udpsem.hosts.auxiliary import gc
from udpsem.hosts.calls import Call
from udpsem.hosts.state import Host, HostStep, LhCall, LhRecvMsg, RuleCtx, Run, ThreadEntry, Zombie
from udpsem.hosts.values import TID
from udpsem.network.messages import IPMsg

Outcome = Any  # HostStep | Branch[...] resolving to a HostStep


@dataclass(frozen=True, slots=True)
class Enabled:
    """One applicable rule with its (possibly branching) outcome, already wrapped so that it
    resolves to a HostStep with `gc` applied."""

    rule: RuleInfo
    outcome: Outcome
    tid: TID | None = None


def _arch_ok(info: RuleInfo, ctx: RuleCtx) -> bool:
    return not info.archs or str(ctx.consts.arch) in info.archs


# The rules to try, per trigger key and architecture, filtered once (the registry is fixed
# after import); keys are types or strings, never iterated to choose anything.
_CACHE: dict[tuple[object, str], list[RuleInfo]] = {}


def _rules_for(key: object, arch: str) -> list[RuleInfo]:
    found = _CACHE.get((key, arch))
    if found is None:
        if isinstance(key, type):
            base = thread_rules(key)
        elif key in ("oq", "recv"):
            base = rules_by_trigger(str(key))
        else:
            base = call_rules(str(key))
        found = [r for r in base if not r.archs or arch in r.archs]
        _CACHE[(key, arch)] = found
    return found


def _finish(value: Any, label: Any | None) -> Any:
    """Wrap a rule's result (Host / HostStep / Branch) so it resolves to a gc'd HostStep."""
    if isinstance(value, Branch):
        return Branch(value.kind, value.options, lambda v: _finish(value.cont(v), label),
                      value.hint)
    if isinstance(value, HostStep):
        return HostStep(gc(value.host), value.label)
    assert isinstance(value, Host), f"rule returned {type(value).__name__}, not a Host"
    assert label is not None, "call and recv rules return a Host; the others a HostStep"
    return HostStep(gc(value), label)


def outcome_at(info: RuleInfo, ctx: RuleCtx, args: tuple[Any, ...], label: Any | None) -> Any:
    """The outcome of the applicable rule `info` on `args` (the host first, then the tid and
    the call, or the message, as the *_enabled functions pass them) under `ctx`, wrapped as
    they wrap it. For a driver that re-derives, at a later time, the outcome of a rule it
    found applicable earlier (rules read the clock only through `ctx.now`)."""
    out = info.fn(ctx, *args)  # type: ignore[misc]
    assert out is not None, f"{info.name} no longer applies at {ctx.now}"
    return _finish(out, label)


def call_enabled(ctx: RuleCtx, h: Host, tid: TID, call: Call) -> list[Enabled]:
    """The rules that accept `Lh_call(tid, call)` in `h`."""
    e = h.thread(tid)
    if e is None:
        return []
    label = LhCall(tid, call)
    if isinstance(e.state, Zombie):
        z = RULES["zombie_1"]
        return [Enabled(z, _finish(z.fn(ctx, h, tid, call), label), tid)]  # type: ignore[misc]
    if not isinstance(e.state, Run):
        return []
    found: list[Enabled] = []
    have_fail = False
    for info in _rules_for(call.name, str(ctx.consts.arch)):
        if info.name == "zombie_1":
            continue
        if info.category == "fail" and have_fail and ctx.consts.linux_error_order:
            continue
        out = info.fn(ctx, h, tid, call)  # type: ignore[misc]
        if out is None:
            continue
        if info.category == "fail":
            have_fail = True
        found.append(Enabled(info, _finish(out, label), tid))
    return found


def thread_enabled(ctx: RuleCtx, h: Host, entry: ThreadEntry) -> list[Enabled]:
    """The thread-triggered rules (ret_1, the slow rules, print_2, exit_2, intr_1, badmem_3/4)
    that apply to this thread."""
    found = []
    for info in _rules_for(type(entry.state), str(ctx.consts.arch)):
        out = info.fn(ctx, h, entry.tid)  # type: ignore[misc]
        if out is not None:
            found.append(Enabled(info, _finish(out, None), entry.tid))
    return found


def oq_enabled(ctx: RuleCtx, h: Host) -> list[Enabled]:
    """The out-queue rules that apply to the head of `h.oq`."""
    if not h.oq:
        return []
    found = []
    for info in _rules_for("oq", str(ctx.consts.arch)):
        out = info.fn(ctx, h)  # type: ignore[misc]
        if out is not None:
            found.append(Enabled(info, _finish(out, None)))
    return found


def internal_enabled(ctx: RuleCtx, h: Host) -> list[Enabled]:
    """Every rule the host can take on its own (not on a call or a datagram)."""
    found: list[Enabled] = []
    arch = str(ctx.consts.arch)
    for entry in h.ts:
        rules = _rules_for(type(entry.state), arch)
        if not rules:
            continue
        for info in rules:
            out = info.fn(ctx, h, entry.tid)  # type: ignore[misc]
            if out is not None:
                found.append(Enabled(info, _finish(out, None), entry.tid))
    if h.oq:
        found.extend(oq_enabled(ctx, h))
    return found


def recv_enabled(ctx: RuleCtx, h: Host, msg: IPMsg) -> list[Enabled]:
    """The input rules that accept `Lh_recvmsg msg`."""
    label = LhRecvMsg(msg)
    found = []
    for info in _rules_for("recv", str(ctx.consts.arch)):
        out = info.fn(ctx, h, msg)  # type: ignore[misc]
        if out is not None:
            found.append(Enabled(info, _finish(out, label)))
    return found


def deadlines(h: Host) -> Iterator[int]:
    """Every timer of the host as an absolute deadline (NEVER included)."""
    for e in h.ts:
        yield e.deadline
    yield h.oq_deadline


def urgent(ctx: RuleCtx, h: Host, enabled: list[Enabled] | None = None) -> bool:
    """docs/model.md#time-and-urgency: some timer is 0, or some urgent rule is enabled."""
    now = ctx.now
    if any(d <= now for d in deadlines(h)):
        return True
    if enabled is None:
        enabled = internal_enabled(ctx, h)
    return any(e.rule.urgent for e in enabled)


def max_time_pass(ctx: RuleCtx, h: Host) -> int:
    """The largest `d` for which `Time_Pass_h(d, h)` is defined, ignoring urgency: the least
    remaining timer (NEVER-based if there is none)."""
    return min(deadlines(h)) - ctx.now


def time_pass(ctx: RuleCtx, h: Host, d: int) -> Host | None:
    """`Time_Pass_h(d, h)`: defined iff h is not urgent and every timer is ≥ d.

    With absolute deadlines the host record itself does not change; the caller's clock moves.
    """
    if d <= 0 or urgent(ctx, h) or max_time_pass(ctx, h) < d:
        return None
    return h

# Records built on every step: a faster __init__, same meaning (see base.frozen).
fast_init(Enabled)
