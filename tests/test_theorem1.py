"""Theorem 1 (host_ok preservation, docs/model.md#invariants) as properties over generated hosts.

For a generated host h with host_ok, every successor under every applicable rule satisfies
host_ok: call rules (a generated call from a RUN or ZOMBIE thread), internal rules (thread
and out-queue rules), input rules (a generated msg_ok datagram) and time passage. Every
option of every Branch is followed, except that a Branch with many options (ephemeral
ports) is sampled: first, last and a few drawn ones. A last property takes random walks
of several steps, to reach states further from the generator's.
"""

from __future__ import annotations

import random
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from udpsem.hosts.invariants import host_violations
from udpsem.hosts.lts import call_enabled, internal_enabled, max_time_pass, recv_enabled, time_pass
from udpsem.hosts.state import HostStep, RuleCtx, Run, Zombie
from udpsem.testing import HostCase, calls, host_cases, messages, outcomes

CASES = st.one_of(host_cases(min_run=1), host_cases())
# Twice the profile's examples under `ci` (about 3000 in all); the `thorough` profile's
# 20 000 per property as they are (100 000 in all).
_N = settings().max_examples
THEOREM = settings(max_examples=_N * 2 if _N < 1000 else _N)


def _rnd(data: st.DataObject) -> random.Random:
    return random.Random(data.draw(st.integers(0, 2**32 - 1), label="branch sample seed"))


def _assert_ok(ctx: RuleCtx, before: Any, rule: str, label: Any, step: HostStep) -> None:
    assert isinstance(step, HostStep), f"{rule} resolved to {step!r}"
    v = host_violations(step.host, ctx.consts, ctx.timing, ctx.now)
    assert not v, (f"{rule} on {label!r} broke host_ok:\n  "
                   + "\n  ".join(map(str, v)) + f"\nbefore: {before}\nafter: {step.host}")


def _callers(case: HostCase) -> list[int]:
    return [e.tid for e in case.host.ts if isinstance(e.state, (Run, Zombie))]


@THEOREM
@given(CASES, st.data())
def test_call_rules_preserve_host_ok(case: HostCase, data: st.DataObject) -> None:
    tids = _callers(case)
    if not tids:
        return
    tid = data.draw(st.sampled_from(tids), label="tid")
    call = data.draw(calls(case), label="call")
    ctx, rnd = case.ctx, _rnd(data)
    for en in call_enabled(ctx, case.host, tid, call):
        for step in outcomes(en.outcome, rnd):
            _assert_ok(ctx, case.host, en.rule.name, (tid, call), step)


@THEOREM
@given(host_cases())
def test_internal_rules_preserve_host_ok(case: HostCase) -> None:
    ctx, rnd = case.ctx, random.Random(0)
    for en in internal_enabled(ctx, case.host):
        for step in outcomes(en.outcome, rnd):
            _assert_ok(ctx, case.host, en.rule.name, en.tid, step)


@THEOREM
@given(host_cases(), st.data())
def test_input_rules_preserve_host_ok(case: HostCase, data: st.DataObject) -> None:
    deliverable = any(not i.is_lo for i in case.host.ifds) and data.draw(st.booleans())
    msg = data.draw(messages(case, deliverable=deliverable), label="msg")
    ctx, rnd = case.ctx, _rnd(data)
    for en in recv_enabled(ctx, case.host, msg):
        for step in outcomes(en.outcome, rnd):
            _assert_ok(ctx, case.host, en.rule.name, msg, step)


@THEOREM
@given(host_cases(), st.data())
def test_time_passage_preserves_host_ok(case: HostCase, data: st.DataObject) -> None:
    ctx, h = case.ctx, case.host
    limit = max_time_pass(ctx, h)
    d = data.draw(st.one_of(st.integers(1, 10**16), st.just(max(1, limit)),
                            st.just(limit + 1)), label="d")
    h2 = time_pass(ctx, h, d)
    if h2 is None:
        return
    assert d <= limit
    later = RuleCtx(ctx.consts, ctx.timing, ctx.now + d)
    _assert_ok(later, h, "time_pass", d, HostStep(h2))


@THEOREM
@given(CASES, st.data())
def test_random_walks_preserve_host_ok(case: HostCase, data: st.DataObject) -> None:
    """Several steps of any kind from a generated host, checking host_ok after each."""
    ctx, h = case.ctx, case.host
    rnd = _rnd(data)
    for _ in range(data.draw(st.integers(1, 8), label="steps")):
        cur = HostCase(ctx.consts, ctx.timing, ctx.now, h)
        kind = data.draw(st.sampled_from(["call", "internal", "recv", "time"]), label="kind")
        if kind == "time":
            limit = max_time_pass(ctx, h)
            d = rnd.randint(1, max(1, min(limit, 3 * 10**9)))
            if time_pass(ctx, h, d) is None:
                continue
            ctx = RuleCtx(ctx.consts, ctx.timing, ctx.now + d)
            _assert_ok(ctx, cur.host, "time_pass", d, HostStep(h))
            continue
        if kind == "call":
            tids = _callers(cur)
            if not tids:
                continue
            tid = rnd.choice(tids)
            label: Any = (tid, data.draw(calls(cur), label="call"))
            en = call_enabled(ctx, h, tid, label[1])
        elif kind == "recv":
            if not any(not i.is_lo for i in h.ifds):
                continue
            label = data.draw(messages(cur, deliverable=rnd.random() < 0.8), label="msg")
            en = recv_enabled(ctx, h, label)
        else:
            en = internal_enabled(ctx, h)
            label = None
        if not en:
            continue
        chosen = rnd.choice(en)
        steps = list(outcomes(chosen.outcome, rnd, limit=4, sample=1))
        for step in steps:
            _assert_ok(ctx, cur.host, chosen.rule.name, label, step)
        h = rnd.choice(steps).host
