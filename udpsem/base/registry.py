"""The rule registry (docs/architecture.md#principles): every rule with its fixed metadata.

A rule is a pure function decorated with `@rule(name, category=..., trigger=..., ...)`. The
decorator records the metadata; `validate()` (run when `udpsem.rules` is imported) fails loudly
on duplicates, missing summaries, unknown categories or a category that contradicts a rule's
flags. Names follow the paper where it has one and are never renumbered.

Triggers say what makes the system try a rule:
  call    a thread's LIB call `Lh_call(tid, c)`   fn(ctx, h, tid, call) -> Host | Branch | None
  thread  a thread's state in `ts`                fn(ctx, h, tid) -> HostStep | Branch | None
  oq      the head of the out-queue               fn(ctx, h) -> HostStep | Branch | None
  recv    a datagram arriving from the network    fn(ctx, h, msg) -> Host | Branch | None
  net     network-level (messages, connection, crash, time)
  snippet thread, module and store rules
`None` means "does not apply"; a rule checks its whole guard before it returns a Branch, so
applicability never depends on a choice. Call and recv rules return the successor host (their
label is the input label); thread and oq rules return a HostStep carrying their output label.
The system applies `gc` after every host rule. Call rules registered with `call="*"` (the
generic rules) are tried for every call, before the call's own rules.

Guard and outcome. A rule may come in two parts, so that finding which rules apply builds no
successor (a simulation takes one candidate of many, and a machine's candidates are found
again each time it changes):

    def _sendto_7(ctx, h, tid, call) -> Sock | None:      # the GUARD: cheap, builds nothing
        s = sock(h, call.fd)
        return s if s is not None and ... else None

    @rule("sendto_7", ..., guard=_sendto_7)
    def sendto_7(ctx, h, tid, call, s: Sock) -> Host:      # the OUTCOME, given the witness
        # (its docstring: the four sections every rule has)
        return ret(ctx, h, tid, Fail(Errno.EAGAIN), "sendto")

The guard takes the trigger's arguments and returns None ("does not apply") or a witness,
any value but None (`True` when the outcome needs nothing from it), which the outcome gets as
its last argument. The guard decides applicability alone: given a witness, the outcome
always produces a result. The witness must not depend on `ctx.now` other than through
comparisons with the host's own timers (the driver keeps a machine's guards across time
steps that cross none of its timers, then asks the outcome at the new time), and it must be
immutable. A rule written in one part (no `guard=`) still works: the driver then calls it
whole to learn whether it applies. `RuleInfo.apply(ctx, *args)` is the whole rule either way.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final, TypeVar

from udpsem.base import source

CATEGORIES: Final = frozenset({
    "succeed", "fail", "badfail", "enter2", "slowsucceed", "slowfail", "slowintr", "misc",
    "accept", "emit", "internaldelivery", "crash", "console",
})
TRIGGERS: Final = frozenset({"call", "thread", "oq", "recv", "net", "snippet"})

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True, slots=True)
class RuleInfo:
    """Metadata of one rule."""

    name: str
    category: str
    trigger: str
    summary: str
    call: str | None = None
    urgent: bool = False
    errors: tuple[str, ...] = ()
    archs: tuple[str, ...] = ()
    states: tuple[type, ...] = ()
    fn: Callable[..., Any] | None = field(default=None, compare=False)
    """The decorated function: the whole rule, or (with `guard`) its outcome."""
    guard: Callable[..., Any] | None = field(default=None, compare=False)
    """The rule's guard (None: a rule in one part, `fn` is the whole rule)."""
    when: Callable[[type], bool] | None = field(default=None, compare=False)
    """A call rule's static premise: False for a call class the rule can never accept (its
    guard then always refuses), so the dispatcher leaves the rule out of that class's table."""

    @property
    def doc(self) -> str:
        return (source.doc(self.fn) or "").strip() if self.fn is not None else ""

    def apply(self, ctx: Any, *args: Any) -> Any:
        """The whole rule on the trigger's arguments: its result, or None if it does not
        apply (for a rule in two parts, the guard, then the outcome given its witness)."""
        fn = self.fn
        assert fn is not None
        guard = self.guard
        if guard is None:
            return fn(ctx, *args)
        w = guard(ctx, *args)
        if w is None:
            return None
        return fn(ctx, *args, w)


RULES: dict[str, RuleInfo] = {}
_CALL_RULES: dict[str, list[RuleInfo]] = {}
_THREAD_RULES: dict[type, list[RuleInfo]] = {}
# By the function itself (a compiled function takes no attributes such as `fn.rule_info`).
_BY_FN: dict[Callable[..., Any], RuleInfo] = {}


class RegistryError(Exception):
    """The rule registry is inconsistent: a bug in udpsem, not in the user's input."""


def rule(name: str, *, category: str, trigger: str, summary: str, call: str | None = None,
         urgent: bool = False, errors: tuple[str, ...] = (), archs: tuple[str, ...] = (),
         states: tuple[type, ...] = (),
         guard: Callable[..., Any] | None = None,
         when: Callable[[type], bool] | None = None) -> Callable[[F], F]:
    """Register `fn` as the rule `name` with its metadata.

    With `guard`, `fn` is the rule's outcome and `guard` its guard (see the module's
    docstring); the decorated function is returned unchanged either way.

    `when` (call rules) is a static premise over the call's class (see `RuleInfo.when`).
    `archs` restricts the rule to some architectures (empty: all). `states` (thread rules)
    lists the thread-state classes the rule can apply to, so the system tries only those.
    Call rules are tried in registration order, which each module makes the Linux order of
    error precedence.
    """

    def deco(fn: F) -> F:
        if name in RULES:
            raise RegistryError(f"rule {name!r} registered twice")
        info = RuleInfo(name, category, trigger, summary, call, urgent, errors, archs, states,
                        fn, guard, when)
        _check(info)
        RULES[name] = info
        if trigger == "call":
            assert call is not None
            _CALL_RULES.setdefault(call, []).append(info)
        elif trigger == "thread":
            for st in states:
                _THREAD_RULES.setdefault(st, []).append(info)
        _BY_FN[fn] = info
        return fn

    return deco


def _check(info: RuleInfo) -> None:
    where = f"rule {info.name!r}"
    if info.category not in CATEGORIES:
        raise RegistryError(f"{where}: unknown category {info.category!r}")
    if info.trigger not in TRIGGERS:
        raise RegistryError(f"{where}: unknown trigger {info.trigger!r}")
    if not info.summary.strip():
        raise RegistryError(f"{where}: missing one-line summary")
    if "\n" in info.summary:
        raise RegistryError(f"{where}: summary must be one line")
    if info.trigger == "call" and not info.call:
        raise RegistryError(f"{where}: a call rule must name its call")
    if info.trigger == "thread" and not info.states:
        raise RegistryError(f"{where}: a thread rule must list the thread states it reads")
    if info.category == "fail" and not info.errors:
        raise RegistryError(f"{where}: a fail rule must list the errors it returns")
    if info.category in ("slowsucceed", "slowfail", "slowintr") and info.trigger != "thread":
        raise RegistryError(f"{where}: slow rules leave a blocked *2 state (trigger thread)")
    if info.category == "enter2" and info.trigger != "call":
        raise RegistryError(f"{where}: enter2 rules are taken on a call")
    if info.category == "accept" and info.trigger != "recv":
        raise RegistryError(f"{where}: accept rules take a datagram from the network")
    if info.urgent and info.category not in ("slowsucceed", "slowfail"):
        raise RegistryError(f"{where}: only slow rules are urgent (docs/model.md#time-and-urgency)")
    if info.guard is not None and info.trigger not in ("call", "thread", "oq", "recv"):
        raise RegistryError(f"{where}: only host rules (call, thread, oq, recv) take a guard")
    if info.guard is not None and not callable(info.guard):
        raise RegistryError(f"{where}: guard= must be a function")
    if info.when is not None and info.trigger != "call":
        raise RegistryError(f"{where}: only call rules take a static premise (when=)")


def call_rules(call: str) -> list[RuleInfo]:
    """The rules for a LIB call: generic ones first, then the call's own, in registration
    (Linux precedence) order."""
    return _CALL_RULES.get("*", []) + _CALL_RULES.get(call, [])


def thread_rules(state_type: type) -> list[RuleInfo]:
    """The thread-triggered rules that may apply to a thread in a state of this class."""
    return _THREAD_RULES.get(state_type, [])


def rules_by_trigger(trigger: str) -> list[RuleInfo]:
    """All rules with this trigger, in registration order."""
    return [r for r in RULES.values() if r.trigger == trigger]


def info_of(fn: Callable[..., Any]) -> RuleInfo:
    """The rule that the function `fn` is; KeyError if `fn` is not a registered rule."""
    return _BY_FN[fn]


def get(name: str) -> RuleInfo:
    """The rule called `name`; KeyError if there is none."""
    return RULES[name]
