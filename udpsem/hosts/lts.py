"""The host LTS `h --l--> h'` (docs/rules.md): which registered rules apply, and urgency.

This is where the conventions of all host rules (docs/rules.md) live: calls need a RUN thread
(ZOMBIE threads get only zombie_1), rules limited to some architectures, the Linux order of
error precedence (or every applicable fail rule, when `linux_error_order` is off), and `gc`
after every rule.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import udpsem.hosts.rules  # noqa: F401  (registers the rules)
from udpsem.base.choice import Branch
from udpsem.base.registry import RULES, RuleInfo, call_rules, rules_by_trigger, thread_rules
from udpsem.hosts.auxiliary import gc
from udpsem.hosts.calls import Call
from udpsem.hosts.state import Host, HostStep, LhCall, LhRecvMsg, RuleCtx, Run, ThreadEntry, Zombie
from udpsem.hosts.values import TID
from udpsem.network.messages import IPMsg

Outcome = Any  # HostStep | Branch[...] resolving to a HostStep

check_witnesses = False
"""When True (tests set it), an outcome asked for at another time than its guard first checks
that the guard gives the same witness then: the condition under which a driver may keep a
machine's guards across time steps (see `base.registry`)."""

_UNSET: Any = object()


class Enabled:
    """One applicable rule: the guard's witness, and the outcome built from it only when a
    driver asks (`outcome`, or `outcome_at` another time), wrapped so that it resolves to a
    HostStep with `gc` applied. For a rule in one part the witness is its whole result."""

    __slots__ = ("_outcome", "args", "ctx", "label", "rule", "tid", "witness")

    def __init__(self, rule: RuleInfo, ctx: RuleCtx, args: tuple[Any, ...], witness: Any,
                 label: Any | None, tid: TID | None = None) -> None:
        self.rule = rule
        self.ctx = ctx
        self.args = args
        self.witness = witness
        self.label = label
        self.tid = tid
        self._outcome = _UNSET

    @property
    def outcome(self) -> Outcome:
        """The outcome at the time the guard was asked (built once)."""
        o = self._outcome
        if o is _UNSET:
            o = self._outcome = self.outcome_at(self.ctx)
        return o

    def outcome_at(self, ctx: RuleCtx) -> Outcome:
        """The outcome under `ctx`, which differs from the guard's at most in the clock (rules
        read it only through `ctx.now`): for a driver that keeps a machine's guards across
        time steps that cross none of its timers."""
        info = self.rule
        fn = info.fn
        assert fn is not None
        if info.guard is None:
            if ctx.now == self.ctx.now:
                raw = self.witness
            else:
                raw = fn(ctx, *self.args)
                assert raw is not None, f"{info.name} no longer applies at {ctx.now}"
        else:
            if check_witnesses and ctx.now != self.ctx.now:
                again = info.guard(ctx, *self.args)
                assert again == self.witness, (
                    f"{info.name}: the guard's witness changed from {self.ctx.now} to "
                    f"{ctx.now} ns: {self.witness!r} != {again!r}")
            raw = fn(ctx, *self.args, self.witness)
            assert raw is not None, f"{info.name}: the outcome returned None after its guard"
        return _finish(raw, self.label)

    def __repr__(self) -> str:
        return f"Enabled({self.rule.name}, tid={self.tid})"


# The rules to try, per trigger key and architecture (the `Arch` member itself, a str), filtered
# once (the registry is fixed after import); keys are types or strings, never iterated to choose
# anything. Each rule comes
# with the function that tells whether it applies: its guard, or the whole rule.
_CACHE: dict[tuple[object, str], list[tuple[RuleInfo, Any]]] = {}


def _rules_for(key: object, arch: str) -> list[tuple[RuleInfo, Any]]:
    found = _CACHE.get((key, arch))
    if found is None:
        if isinstance(key, type):
            base = thread_rules(key)
        elif key in ("oq", "recv"):
            base = rules_by_trigger(str(key))
        else:
            base = call_rules(str(key))
        found = [(r, r.guard if r.guard is not None else r.fn) for r in base
                 if not r.archs or arch in r.archs]
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


# The dispatch table of LIB calls: per call class and architecture, the rules a RUN thread's
# call of that class can take, in precedence order, without zombie_1 (a RUN thread never takes
# it) and without the generic rules whose static premise (`RuleInfo.when`) excludes the class;
# each with its applicability test and whether it is a fail rule. Keyed by the class itself,
# never iterated to choose anything.
_CALLS: dict[tuple[type, str], tuple[tuple[RuleInfo, Any, bool], ...]] = {}


def _call_table(call_type: type, name: str, arch: str) -> tuple[tuple[RuleInfo, Any, bool], ...]:
    found = _CALLS.get((call_type, arch))
    if found is None:
        found = tuple((info, applies, info.category == "fail")
                      for info, applies in _rules_for(name, arch)
                      if info.name != "zombie_1" and (info.when is None or info.when(call_type)))
        _CALLS[(call_type, arch)] = found
    return found


def call_enabled(ctx: RuleCtx, h: Host, tid: TID, call: Call) -> list[Enabled]:
    """The rules that accept `Lh_call(tid, call)` in `h`."""
    e = h.thread(tid)
    if e is None:
        return []
    label = LhCall(tid, call)
    args = (h, tid, call)
    if isinstance(e.state, Zombie):
        z = RULES["zombie_1"]
        w = z.guard(ctx, *args) if z.guard is not None else z.fn(ctx, *args)  # type: ignore[misc]
        assert w is not None, "zombie_1 applies to every call of a ZOMBIE thread"
        return [Enabled(z, ctx, args, w, label, tid)]
    if not isinstance(e.state, Run):
        return []
    found: list[Enabled] = []
    have_fail = False
    linux_order = ctx.consts.linux_error_order
    for info, applies, fail in _call_table(type(call), call.name, ctx.consts.arch):
        if fail and have_fail and linux_order:
            continue
        w = applies(ctx, h, tid, call)
        if w is None:
            continue
        if fail:
            have_fail = True
        found.append(Enabled(info, ctx, args, w, label, tid))
    return found


def thread_enabled(ctx: RuleCtx, h: Host, entry: ThreadEntry) -> list[Enabled]:
    """The thread-triggered rules (ret_1, the slow rules, print_2, exit_2, intr_1, badmem_3/4)
    that apply to this thread."""
    found = []
    tid = entry.tid
    args = (h, tid)
    for info, applies in _rules_for(type(entry.state), ctx.consts.arch):
        w = applies(ctx, h, tid)
        if w is not None:
            found.append(Enabled(info, ctx, args, w, None, tid))
    return found


def oq_enabled(ctx: RuleCtx, h: Host) -> list[Enabled]:
    """The out-queue rules that apply to the head of `h.oq`."""
    if not h.oq:
        return []
    found = []
    args = (h,)
    for info, applies in _rules_for("oq", ctx.consts.arch):
        w = applies(ctx, h)
        if w is not None:
            found.append(Enabled(info, ctx, args, w, None))
    return found


def internal_enabled(ctx: RuleCtx, h: Host) -> list[Enabled]:
    """Every rule the host can take on its own (not on a call or a datagram)."""
    found: list[Enabled] = []
    arch = ctx.consts.arch
    for entry in h.ts:
        rules = _rules_for(type(entry.state), arch)
        if not rules:
            continue
        tid = entry.tid
        args = (h, tid)
        for info, applies in rules:
            w = applies(ctx, h, tid)
            if w is not None:
                found.append(Enabled(info, ctx, args, w, None, tid))
    if h.oq:
        found.extend(oq_enabled(ctx, h))
    return found


def recv_enabled(ctx: RuleCtx, h: Host, msg: IPMsg) -> list[Enabled]:
    """The input rules that accept `Lh_recvmsg msg`."""
    label = LhRecvMsg(msg)
    found = []
    args = (h, msg)
    for info, applies in _rules_for("recv", ctx.consts.arch):
        w = applies(ctx, h, msg)
        if w is not None:
            found.append(Enabled(info, ctx, args, w, label))
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
