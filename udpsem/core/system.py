"""The small core: every transition the network term can take now, urgency, and time.

`enabled(setup, world)` lists every transition the world can take, in a canonical order, each
as a `Candidate` whose outcome may still contain choice points (`Branch`). A driver picks a
candidate and resolves its branches through a chooser (`drivers.py`). Binary synchronisation
(thread ↔ host, thread ↔ store, application ↔ module, host ↔ network) is made here: a candidate
exists only when both endpoints can take part. Time is multiway: it passes only when nothing
is urgent, by at most the least remaining timer of any component.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from functools import partial
from typing import Any

from udpsem.base.choice import Branch
from udpsem.base.labels import Label, Transition
from udpsem.base.registry import info_of
from udpsem.base.time import NEVER
from udpsem.core.passage import time_pass
from udpsem.hosts.calls import Call, Create
from udpsem.hosts.lts import Enabled, call_enabled, internal_enabled, recv_enabled
from udpsem.hosts.state import (
    HostStep,
    LhConsole,
    LhExit,
    LhReturn,
    LhSendMsg,
    RouterLeg,
    RuleCtx,
)
from udpsem.network import neighbours
from udpsem.network.lifecycle import (
    arrives_down,
    host_crash,
    host_disconnect,
    host_exit,
    host_ifdown,
    host_ifup,
    host_reconnect,
)
from udpsem.network.messages import UDP, IPMsg
from udpsem.network.rules import (
    host_lift,
    net_accept,
    net_accept_drop,
    net_router_frag_needed,
    net_router_prohibit,
    net_router_ttl,
    net_router_unreach,
    off_link,
    router_leg,
)
from udpsem.programs.threads import (
    advance,
    app_wake,
    create_call_1,
    create_ret_1,
    module_call_1,
    put_snippet,
    store_get_1,
    store_new_1,
    store_set_1,
    storeret_1,
    thread_end_1,
    thread_return_1,
    waiting,
)
from udpsem.state.components import (
    EXTERN,
    ModCall,
    Raised,
    Return,
    Sleep,
    Snippet,
    StoreGet,
    StoreNew,
    StoreSet,
    store_read,
)
from udpsem.state.world import Event, InFlight, Machine, Setup, World, put_machine, with_machine


class Candidate:
    """An enabled transition: `rule` names it; `first` (a value or a Branch) resolves to a
    value `v`, and `then(v)` (a Transition or a Branch resolving to one) finishes it. A host
    rule's `first` is its outcome, built from the guard's witness (`en`) only when a driver
    reads it."""

    __slots__ = ("_first", "en", "rule", "then", "urgent")

    def __init__(self, rule: str, first: Any, then: Callable[[Any], Any], urgent: bool = False,
                 en: Enabled | None = None) -> None:
        self.rule = rule
        self._first = first
        self.then = then
        self.urgent = urgent
        self.en = en

    @property
    def first(self) -> Any:
        en = self.en
        if en is not None:
            self._first = en.outcome
            self.en = None
        return self._first

    def __repr__(self) -> str:
        return f"Candidate({self.rule!r}, urgent={self.urgent})"


# Enumerating transitions ---------------------------------------------------------------------
#
# A machine's candidates depend only on the machine, the clock and the setup; only their
# continuations need the rest of the world (to put the successor machine back into it). So
# they are built world-free, as `Local`s, and bound to the world only when a driver looks at
# one (`Candidates`). The continuations read the clock from the world they are bound to, so
# a machine's list is reused for as long as the machine is unchanged and the clock has not
# crossed one of its timers (see `_Entry`): most steps change one machine, and a time step
# changes none but the ones whose timer it reaches.

Local = tuple[str, Any, Callable[[World, Any], Any], bool, Enabled | None]
"""`(rule, first, fn, urgent, en)`: `fn(w, v)` finishes the transition in world `w`; `first`
is the value to resolve when `en` is None, else the host rule's outcome is built from its
guard's witness `en` when a driver reads it (at the entry's time, or re-derived at another)."""


def _then_host(setup: Setup, m: Machine, rule_name: str,
               label_of: Callable[[HostStep], Label],
               machine_of: Callable[[HostStep], Machine] | None = None,
               partner: str | None = None,
               drop_msg: InFlight | None = None) -> Callable[[World, HostStep], Any]:
    """The continuation shared by host rules: put the successor host back into the world."""

    def then(w: World, st: HostStep) -> Any:
        m2 = machine_of(st) if machine_of is not None else host_lift(m, st.host)
        net = w.net if drop_msg is None else tuple(x for x in w.net if x is not drop_msg)
        w2 = World(w.now, put_machine(w, m2), net, w.schedule, w.drops, w.seq)
        return Transition(rule_name, partner, label_of(st), w2)

    return then


def _host_internal(setup: Setup, m: Machine, en: Enabled) -> Local | None:
    """Candidates for a host's own rules, synchronised with their partner if they output."""
    host = m.host
    assert host is not None
    name = m.name
    rname = en.rule.name

    if rname == "ret_1":
        s = m.snippet(en.tid) if en.tid is not None else None
        if s is None or s.request is not None:
            return None  # restriction: nobody to take the answer

        def then_ret(w: World, st: HostStep) -> Any:
            assert isinstance(st.label, LhReturn)
            value = st.label.value
            if s.creating is not None:
                m2 = create_ret_1(setup, w.now, m.with_host(st.host), s, value)
                partner = "create_ret_1"
            else:
                snippets = put_snippet(m, advance(setup, w.now, s, value))
                m2 = Machine(m.name, m.conn, st.host, m.store, snippets, m.storerets, m.apps)
                partner = None
            assert m2 is not None
            return Transition(rname, partner, Label("return", name, st.label.tid, value),
                              with_machine(w, m2))

        return (rname, None, then_ret, en.rule.urgent, en)

    def then_other(w: World, st: HostStep) -> Any:
        lab = st.label
        if isinstance(lab, LhSendMsg):
            return _send(setup, w, m.with_host(st.host), rname, lab.msg)
        if isinstance(lab, LhExit):
            return Transition(rname, "host_exit", Label("exit", name),
                              with_machine(w, host_exit(m, st.host)))
        if isinstance(lab, LhConsole):
            label = Label("console", name, en.tid, lab.text)
        else:
            label = Label("tau", name, en.tid)
        return Transition(rname, None, label, with_machine(w, m.with_host(st.host)))

    return (rname, None, then_other, en.rule.urgent, en)


def _send(setup: Setup, w: World, m: Machine, rname: str, msg: IPMsg) -> Any:
    """The host outputs `msg`: lost if unplugged (host_send_disc), else the network takes it
    (net_accept_drop / single / dup, with a propagation delay per copy)."""
    label = Label("send", m.name, None, msg)
    if setup.consts[m.name].neigh and isinstance(msg.body, UDP):
        held = _neigh_send(setup, w, m, rname, msg, label)
        if held is not None:
            return held
    if not m.conn:
        w2 = World(w.now, put_machine(w, m), w.net, w.schedule, w.drops, w.seq)
        return Transition(rname, "host_send_disc", label, w2)
    return _on_wire(setup, w, m, rname, msg, label)


def _neigh_send(setup: Setup, w: World, m: Machine, rname: str, msg: IPMsg,
                label: Label) -> Any:
    """Dynamic neighbours (network.neighbours): held if unplugged; a choice between held and
    a cached entry if the on-link destination does not answer; None: straight on the wire."""
    base = World(w.now, put_machine(w, m), w.net, w.schedule, w.drops, w.seq)

    def held() -> Transition:
        over, w2 = neighbours.hold_at_host(base, m.name, msg)
        return Transition(rname, over or "net_neigh_hold", label, w2)

    if not m.conn:
        return held()
    if neighbours.held_entry(w, m.name, msg.dst) is not None:
        return held()
    if not neighbours.on_link(setup, base, m.name, msg.dst) or \
            neighbours.answers(setup, base, msg.dst):
        return None

    def entry(choice: str) -> Any:
        if choice == "hold":
            return held()
        return _on_wire(setup, w, m, rname, msg, label)

    return Branch("neigh", ("hold", "cached"), entry)


def _on_wire(setup: Setup, w: World, m: Machine, rname: str, msg: IPMsg, label: Label) -> Any:
    """The network takes `msg` from plugged-in machine `m` (drop / single / dup)."""
    drops = dict(w.drops)
    options = setup.faults.fate_options(drops.get(m.name, 0))
    base = World(w.now, put_machine(w, m), w.net, w.schedule, w.drops, w.seq)
    # The continuations are partials with keywords, not closures: the trace checker
    # (check.search) reads `msg` and `chosen` off them, and a compiled closure hides its
    # variables.
    return Branch("fate", options, partial(_fate, setup=setup, w=base, src=m.name, msg=msg,
                                           rname=rname, label=label))


def _fate(choice: str, *, setup: Setup, w: World, src: str, msg: IPMsg, rname: str,
          label: Label) -> Any:
    if choice == "drop":
        return Transition(rname, "net_accept_drop", label, net_accept_drop(w, src))
    copies = 1 if choice == "single" else int(choice[3:])
    partner = "net_accept_single" if copies == 1 else "net_accept_dup"
    return _delays(setup, w, src, msg, copies, (), rname, partner, label)


def _delays(setup: Setup, w: World, src: str, msg: IPMsg, copies: int, chosen: tuple[int, ...],
            rname: str, partner: str, label: Label) -> Any:
    if len(chosen) == copies:
        return Transition(rname, partner, label, net_accept(w, src, msg, chosen))
    t = setup.timing
    return Branch("delay", range(t.dpropmin, t.dpropmax + 1),
                  partial(_delay, setup=setup, w=w, src=src, msg=msg, copies=copies,
                          chosen=chosen, rname=rname, partner=partner, label=label))


def _delay(d: int, *, setup: Setup, w: World, src: str, msg: IPMsg, copies: int,
           chosen: tuple[int, ...], rname: str, partner: str, label: Label) -> Any:
    return _delays(setup, w, src, msg, copies, (*chosen, d), rname, partner, label)


_STORE_RULES: dict[type, Callable[..., Machine | None]] = {
    StoreNew: store_new_1, StoreSet: store_set_1, StoreGet: store_get_1}


def _snippet_candidates(setup: Setup, ctx: RuleCtx, m: Machine, s: Snippet) -> list[Local]:
    host = m.host
    assert host is not None
    req, name = s.request, m.name
    if req is None:
        return []
    if isinstance(req, Call):
        out: list[Local] = []
        create = isinstance(req, Create)

        def machine_after(st: HostStep) -> Machine:
            parked = create_call_1(s) if create else waiting(s)
            assert parked is not None
            return Machine(m.name, m.conn, st.host, m.store, put_snippet(m, parked),
                           m.storerets, m.apps)

        def label_of(st: HostStep) -> Label:
            return Label("call", name, s.tid, req)

        partner = "create_call_1" if create else None
        for en in call_enabled(ctx, host, s.tid, req):
            then = _then_host(setup, m, en.rule.name, label_of, machine_after, partner)
            out.append((en.rule.name, None, then, en.rule.urgent, en))
        return out
    if isinstance(req, (StoreNew, StoreSet, StoreGet)):
        fn = _STORE_RULES[type(req)]
        if isinstance(req, StoreGet):
            try:
                store_read(m.store, req.loc)
            except KeyError:
                return []  # store_get_1 does not apply: reading an unallocated location
        label = Label("store", name, s.tid, req)
        sname = info_of(fn).name

        def then_store(w: World, _: Any) -> Transition:
            m2 = fn(setup, w.now, m, s.tid, req)
            assert m2 is not None, f"{sname} was enabled but did not apply"
            return Transition(sname, None, label, with_machine(w, m2))

        return [(sname, None, then_store, False, None)]
    if isinstance(req, (Return, Raised)):
        if s.org == EXTERN:
            rname = "thread_return_1"

            def then_ret(w: World, _: Any) -> Any:
                m2 = thread_return_1(setup, w.now, m, s)
                assert m2 is not None
                val = req.value if isinstance(req, Return) else req
                return Transition(rname, None, Label("modret", name, s.tid, val),
                                  with_machine(w, m2))

            if not any(a.tid == s.tid and a.request is None for a in m.apps):
                return []
            return [(rname, None, then_ret, False, None)]

        def then_end(w: World, _: Any) -> Any:
            m2 = thread_end_1(setup, w.now, m, s)
            assert m2 is not None
            err = req.error if isinstance(req, Raised) else None
            return Transition("thread_end_1", None, Label("thread_end", name, s.tid, err),
                              with_machine(w, m2))

        return [("thread_end_1", None, then_end, False, None)]
    raise TypeError(f"{name}: thread {s.tid} yielded {req!r}, which is not a LIB call, a store "
                    "operation or a return")


def _machine_candidates(setup: Setup, ctx: RuleCtx, m: Machine) -> list[Local]:
    host = m.host
    if host is None:
        return []
    now = ctx.now
    out: list[Local] = []
    for en in internal_enabled(ctx, host):
        c = _host_internal(setup, m, en)
        if c is not None:
            out.append(c)
    for s in m.snippets:
        out.extend(_snippet_candidates(setup, ctx, m, s))
    for r in m.storerets:
        waiter = m.snippet(r.tid)
        if waiter is None or waiter.request is not None or waiter.creating is not None:
            continue  # restriction: nobody waits for this answer
        out.append(("storeret_1", None,
                    _lazy(setup, m, storeret_1, r, "storeret_1",
                          Label("storeret", m.name, r.tid, r.value)), False, None))
    for a in m.apps:
        if isinstance(a.request, ModCall) and a.deadline <= now and m.snippet(a.tid) is None:
            label = Label("modcall", m.name, a.tid, (a.request.fn, a.request.arg))
            out.append(("module_call_1", None,
                        _lazy(setup, m, module_call_1, a, "module_call_1", label), False, None))
        elif isinstance(a.request, Sleep) and a.deadline == now:
            out.append(("app_wake", None, _lazy(setup, m, app_wake, a, "app_wake",
                                                Label("wake", m.name, a.tid)), False, None))
    return out


def _lazy(setup: Setup, m: Machine, fn: Callable[..., Machine | None], arg: Any,
          rname: str, label: Label) -> Callable[[World, Any], Transition]:
    """A continuation that applies a component rule only when its candidate is fired: the rule
    may advance a generator, which must not happen for candidates that are not taken."""

    def then(w: World, _: Any) -> Transition:
        m2 = fn(setup, w.now, m, arg)
        assert m2 is not None, f"{rname} was enabled but did not apply"
        return Transition(rname, None, label, with_machine(w, m2))

    return then


def _timer_bounds(m: Machine, now: int) -> tuple[int, int, int]:
    """Over every finite timer of machine `m` (host threads and out-queue, snippets, store
    answers, applications; none for a crashed machine), in one pass: the latest before `now`
    (-1 if none), the earliest at or after it, and the least (NEVER if none)."""
    lo, hi, least = -1, NEVER, NEVER
    h = m.host
    if h is None:
        return lo, hi, least
    for d in (h.oq_deadline, *[e.deadline for e in h.ts], *[s.deadline for s in m.snippets],
              *[r.deadline for r in m.storerets], *[a.deadline for a in m.apps]):
        if d >= NEVER:
            continue
        if d < least:  # noqa: PLR1730  (a comparison is cheaper than a call of min)
            least = d
        if d < now:
            if d > lo:  # noqa: PLR1730
                lo = d
        elif d < hi:
            hi = d
    return lo, hi, least


class _Entry:
    """A machine's candidates, computed at time `t0`, and the times at which they still hold.

    Which rules apply to a machine depends on the clock only through comparisons of `now`
    with the machine's own timers (`deadline <= now` for upper-bound timers, `deadline ==
    now` for sharp ones): every rule reads the clock through `RuleCtx.now`, and the guards
    compare it with deadlines only. So the same candidates apply at every `now` that no timer
    separates from `t0`: `lo < now < hi`, with `lo` the latest timer before `t0` and `hi` the
    earliest one at or after it (and only at `t0` itself when a timer is exactly `t0`). At
    such a `now` ≠ `t0` the continuations read the clock from their world, and the outcomes
    of host rules (which may set timers from `now`) are re-derived (`redo`). `least` is the
    machine's least timer; `urgent` whether any candidate is urgent. The entry holds the
    machine it was computed for, so an identity is never reused while it is kept."""

    __slots__ = ("hi", "least", "lo", "locals", "m", "t0", "urgent")

    def __init__(self, setup: Setup, m: Machine, now: int) -> None:
        self.m = m
        self.t0 = now
        self.locals = _machine_candidates(setup, setup.ctx(m.name, now), m)
        self.urgent = any(c[3] for c in self.locals)
        self.lo, self.hi, self.least = _timer_bounds(m, now)

    def holds_at(self, now: int) -> bool:
        return now == self.t0 or (self.hi != self.t0 and self.lo < now < self.hi)


def _entry(setup: Setup, m: Machine, now: int) -> _Entry:
    """The candidates of machine `m` at `now`, from the setup's memo when still valid.

    Why the memo is sound: a machine's list is a function of (setup, m, now) alone: `m` and
    every component in it are immutable, the rules are pure, and nothing here touches the
    thread runtime (component rules that advance a generator run only when fired, see
    `_lazy`); `_Entry` says for which `now` a list computed at another time still holds, and
    holds the machine, compared by identity. One entry per machine name (its latest
    version) keeps the memo bounded. (Exploration gains from it too: the successors of a
    state, expanded one after another, share its unchanged machines. A larger memo by
    identity was tried and measured no faster, with 300 more bytes per explored state.)"""
    key = ("cands", m.name)
    e = setup.memo.get(key)
    if e is not None and e.m is m and e.holds_at(now):
        return e  # type: ignore[no-any-return]
    e = _Entry(setup, m, now)
    setup.memo[key] = e
    return e


def _held_candidates(setup: Setup, w: World, f: InFlight) -> list[Candidate]:
    """A held datagram at its entry's probe: released, probed again, or failed with an ICMP
    host-unreachable to its sender (network.neighbours)."""
    src = f.src
    assert src is not None
    if f.router:
        return _router_held_candidates(setup, w, f)
    if neighbours.is_last_probe(f):
        w2 = neighbours.net_neigh_fail(w, f)
        m = w.machine(src)
        if m.host is None:
            return [Candidate("net_neigh_fail", None, lambda _: Transition(
                "net_neigh_fail", None, Label("tau", src), w2))]
        icmp = neighbours.failure_icmp(f.msg)
        label = Label("deliver", src, None, icmp)
        out = []
        for en in recv_enabled(setup.ctx(src, w.now), m.host, icmp):
            then = _then_host(setup, m, "net_neigh_fail", lambda st: label, None, en.rule.name)
            out.append(Candidate("net_neigh_fail", en.outcome, partial(then, w2)))
        return out
    if w.machine(src).conn and neighbours.answers(setup, w, f.msg.dst):
        t = setup.timing

        def release(d: int) -> Transition:
            return Transition("net_neigh_release", None, Label("send", src, None, f.msg),
                              neighbours.net_neigh_release(w, f, d))

        return [Candidate("net_neigh_release", Branch("delay", range(t.dpropmin,
                                                                     t.dpropmax + 1),
                                                      _identity), release)]
    w3 = neighbours.net_neigh_probe(w, f)
    return [Candidate("net_neigh_probe", None, lambda _: Transition(
        "net_neigh_probe", None, Label("tau", src), w3))]


def _router_held_candidates(setup: Setup, w: World, f: InFlight) -> list[Candidate]:
    """A datagram the router holds, at its entry's probe: forwarded, probed again, or failed
    with an optional ICMP host-unreachable to its sender (network.neighbours)."""
    t = setup.timing
    label = Label("tau", f.src)
    delays = range(t.dpropmin, t.dpropmax + 1)
    if neighbours.is_last_probe(f):
        def then(answer: bool) -> Any:
            if not answer:
                return Transition("net_router_neigh_fail", None, label,
                                  neighbours.net_router_neigh_fail(w, f, None))
            return Branch("delay", delays, lambda d: Transition(
                "net_router_neigh_fail", None, label, neighbours.net_router_neigh_fail(w, f, d)))

        return [Candidate("net_router_neigh_fail", Branch("icmp", (True, False), _identity),
                          then)]
    if neighbours.answers(setup, w, f.msg.dst):
        return [Candidate("net_router_neigh_release", Branch("delay", delays, _identity),
                          lambda d: Transition("net_router_neigh_release", None, label,
                                               neighbours.net_router_neigh_release(w, f, d)))]
    w3 = neighbours.net_router_neigh_probe(w, f)
    return [Candidate("net_router_neigh_probe", None, lambda _: Transition(
        "net_router_neigh_probe", None, label, w3))]


def _router_candidates(setup: Setup, w: World, f: InFlight, leg: RouterLeg) -> list[Candidate]:
    """An off-link datagram at a described router (HostConsts.router_legs) whose leg for the
    destination is `leg`: prohibited, too big for the leg with DF, or held for a neighbour
    that does not answer; [] when the router simply forwards it. A hold is one candidate:
    while the router has no entry for the destination, the system also offers the ordinary
    ones (a fresh entry cached from recent traffic: the datagram goes into the void)."""
    t = setup.timing
    label = Label("tau", f.src)
    delays = range(t.dpropmin, t.dpropmax + 1)
    msg = f.msg
    if leg.prohibit:
        def then(answer: bool) -> Any:
            if not answer:
                return Transition("net_router_prohibit", None, label,
                                  net_router_prohibit(w, f, None))
            return Branch("delay", delays, lambda d: Transition(
                "net_router_prohibit", None, label, net_router_prohibit(w, f, d)))

        return [Candidate("net_router_prohibit", Branch("icmp", (True, False), _identity),
                          then)]
    if msg.df and msg.ip_len > leg.mtu:
        return [Candidate("net_router_frag_needed", Branch("delay", delays, _identity),
                          lambda d: Transition("net_router_frag_needed", None, label,
                                               net_router_frag_needed(w, f, leg.mtu, d)))]
    if neighbours.answers(setup, w, msg.dst):
        return []

    def hold(_: Any) -> Transition:
        over, w2 = neighbours.net_router_neigh_hold(w, f)
        return Transition(over or "net_router_neigh_hold", None, label, w2)

    return [Candidate("net_router_neigh_hold", None, hold)]


def _ttl_candidate(setup: Setup, w: World, f: InFlight) -> Candidate:
    """A datagram whose TTL runs out at the router (net_router_ttl), ICMP or not."""
    t = setup.timing
    label = Label("tau", f.src)

    def then(answer: bool) -> Any:
        if not answer:
            return Transition("net_router_ttl", None, label, net_router_ttl(w, f, None))
        return Branch("delay", range(t.dpropmin, t.dpropmax + 1), lambda d: Transition(
            "net_router_ttl", None, label, net_router_ttl(w, f, d)))

    return Candidate("net_router_ttl", Branch("icmp", (True, False), _identity), then)


def _emit_candidates(setup: Setup, w: World, f: InFlight) -> list[Candidate]:
    """A message whose timer is 0 leaves the network (net_emit / net_emit_outside)."""
    if f.hold is not None:
        return _held_candidates(setup, w, f)
    msg = f.msg
    if msg.ttl <= 1 and f.src is not None and isinstance(msg.body, UDP) and \
            off_link(w, f.src, msg.dst):
        return [_ttl_candidate(setup, w, f)]
    routed: list[Candidate] = []
    leg = None
    if f.src is not None and isinstance(msg.body, UDP) and setup.consts[f.src].router_legs \
            and off_link(w, f.src, msg.dst):
        leg = router_leg(setup.consts[f.src].router_legs, msg.dst)
        if leg is not None:
            routed = _router_candidates(setup, w, f, leg)
            if routed and (routed[0].rule != "net_router_neigh_hold"
                           or neighbours.router_entry(w, msg.dst) is not None):
                return routed
    out = _delivery_candidates(setup, w, f, leg is not None)
    return routed + out if routed else out


def _delivery_candidates(setup: Setup, w: World, f: InFlight,
                         routed: bool = False) -> list[Candidate]:
    """A message on the wire whose timer is 0 reaches the machine owning its destination
    (net_emit), or leaves the modelled network (net_emit_outside, net_router_unreach, the
    latter not when the router has a route for it: `routed`)."""
    msg, now = f.msg, w.now
    owner = setup.owners.get(msg.dst)
    m = None
    if owner is not None:
        m = w.machine(owner)
        if m.host is None:
            m = None
    if m is None:
        net = tuple(x for x in w.net if x is not f)
        w2 = World(now, w.machines, net, w.schedule, w.drops, w.seq)
        out = [Candidate("net_emit_outside", None,
                         lambda _: Transition("net_emit_outside", None, Label("out", None,
                                                                              None, msg), w2))]
        if f.src is not None and setup.consts[f.src].router_icmp and not routed and \
                isinstance(msg.body, UDP) and off_link(w, f.src, msg.dst):
            t = setup.timing

            def answered(d: int) -> Transition:
                return Transition("net_router_unreach", None, Label("tau", f.src),
                                  net_router_unreach(w, f, d))

            out.append(Candidate("net_router_unreach",
                                 Branch("delay", range(t.dpropmin, t.dpropmax + 1),
                                        _identity), answered))
        return out
    label = Label("deliver", m.name, None, msg)
    if not m.conn or arrives_down(m, msg.dst):
        net = tuple(x for x in w.net if x is not f)
        w2 = World(now, w.machines, net, w.schedule, w.drops, w.seq)
        lost = "host_recv_disc" if not m.conn else "host_recv_ifdown"
        return [Candidate(lost, None, lambda _: Transition(lost, "net_emit", label, w2))]
    assert m.host is not None
    out = []
    for en in recv_enabled(setup.ctx(m.name, now), m.host, msg):
        then = _then_host(setup, m, en.rule.name, lambda st: label, None, "net_emit", f)
        out.append(Candidate(en.rule.name, None, partial(then, w), False, en))
    return out


def _event_candidate(setup: Setup, w: World, ev: Event) -> Candidate | None:
    """The scheduled event `ev`, due now, as an urgent candidate; None if it cannot apply
    (docs/model.md#faults: host_disconnect only for a connected living host,
    host_reconnect only for a disconnected living one, host_crash only for a living one).
    `programs.world.fault_events` schedules only events that apply (network_ok E1), so None
    means a broken world; the event then stops time, which no_time_stop reports."""
    m = w.machine(ev.host)
    net = w.net
    if ev.kind == "disconnect":
        m2 = host_disconnect(m)
        if m2 is not None and setup.consts[m.name].neigh:
            net = neighbours.purge(w, m.name)  # carrier loss flushes the neighbour table
    elif ev.kind == "reconnect":
        m2 = host_reconnect(m)
    elif ev.kind == "ifdown":
        m2 = host_ifdown(m)
        net = neighbours.purge(w, m.name)  # so does an interface going down
    elif ev.kind == "ifup":
        m2 = host_ifup(m)
    else:
        m2 = host_crash(m) if m.host is not None else None
        net = neighbours.purge(w, m.name)  # its link layer goes with it
    if m2 is None:
        return None
    sched = tuple(e for e in w.schedule if e is not ev)
    rname = f"host_{ev.kind}"
    w2 = World(w.now, put_machine(w, m2), net, sched, w.drops, w.seq)
    if ev.kind == "crash":
        for s in m.snippets:
            setup.runtime.discard(s.code)
    return Candidate(rname, None, lambda _: Transition(rname, None, Label(ev.kind, ev.host), w2),
                     True)


def _identity(x: Any) -> Any:
    return x


class Candidates(Sequence[Candidate]):
    """The candidates of a world in canonical order (every machine's, then the network's,
    the schedule's, and time passage last), each built only when a driver looks at it: a
    simulation step looks at one of them (and the last), exploration at all."""

    __slots__ = ("_built", "_entries", "_len", "_n", "_setup", "_tail", "_w")

    def __init__(self, setup: Setup, w: World, entries: list[_Entry], n: int,
                 tail: list[Candidate]) -> None:
        self._setup, self._w, self._entries, self._tail = setup, w, entries, tail
        self._n = n
        self._len = n + len(tail)
        self._built: dict[int, Candidate] = {}

    def __len__(self) -> int:
        return self._len

    def __getitem__(self, i: Any) -> Any:
        if isinstance(i, slice):
            return [self[k] for k in range(*i.indices(self._len))]
        n = self._len
        if i < 0:
            i += n
        if not 0 <= i < n:
            raise IndexError(i)
        if i >= self._n:
            return self._tail[i - self._n]
        c = self._built.get(i)
        if c is None:
            c = self._build(i)
            self._built[i] = c
        return c

    def _build(self, i: int) -> Candidate:
        for e in self._entries:
            k = len(e.locals)
            if i < k:
                break
            i -= k
        rname, first, fn, urg, en = e.locals[i]
        w = self._w
        if en is not None:
            if w.now == e.t0:
                first = en.outcome
            else:
                first = en.outcome_at(self._setup.ctx(e.m.name, w.now))
        return Candidate(rname, first, partial(fn, w), urg)

    def __iter__(self) -> Iterator[Candidate]:
        for k in range(len(self)):
            yield self[k]


def enabled(setup: Setup, w: World) -> Candidates:
    """Every transition of `w`, in canonical order; time passage (if allowed) comes last."""
    now = w.now
    entries: list[_Entry] = []
    urgent = False
    least = NEVER
    n = 0
    memo = setup.memo
    for m in w.machines:
        e = memo.get(("cands", m.name))
        if e is None or e.m is not m or not (now == e.t0 or (e.hi != e.t0 and e.lo < now < e.hi)):
            e = _entry(setup, m, now)  # (the same test as _Entry.holds_at, inlined)
        if e.locals:
            entries.append(e)
            n += len(e.locals)
            if e.urgent:
                urgent = True
        least = min(least, e.least)
    tail: list[Candidate] = []
    for f in w.net:  # sorted by deadline
        if f.deadline > now:
            break
        tail.extend(_emit_candidates(setup, w, f))
    for ev in w.schedule:  # sorted by time
        if ev.at > now:
            break
        c = _event_candidate(setup, w, ev)
        if c is not None:
            tail.append(c)
    if not urgent and not any(c.urgent for c in tail):
        if w.net and w.net[0].deadline < least:
            least = w.net[0].deadline
        if w.schedule and w.schedule[0].at < least:
            least = w.schedule[0].at
        d = max(0, min(least, setup.horizon) - now)
        if d > 0:
            hint = "" if entries or tail else "idle"
            tail.append(Candidate("time_pass", Branch("time", range(1, d + 1), _identity, hint),
                                  partial(time_pass, w)))
    return Candidates(setup, w, entries, n, tail)


def deadlines(w: World) -> list[int]:
    """Every finite timer of every component, as absolute deadlines."""
    out: list[int] = []
    for m in w.machines:
        h = m.host
        if h is None:
            continue
        out.extend(e.deadline for e in h.ts if e.deadline < NEVER)
        if h.oq_deadline < NEVER:
            out.append(h.oq_deadline)
        out.extend(s.deadline for s in m.snippets if s.deadline < NEVER)
        out.extend(r.deadline for r in m.storerets)
        out.extend(a.deadline for a in m.apps if a.deadline < NEVER)
    out.extend(f.deadline for f in w.net)
    out.extend(e.at for e in w.schedule)
    return out


def _machine_least(m: Machine) -> int:
    """The least timer of any component of machine `m` (NEVER if none; a crashed machine has
    none)."""
    h = m.host
    if h is None:
        return NEVER
    least = h.oq_deadline
    for e in h.ts:
        least = min(least, e.deadline)
    for s in m.snippets:
        least = min(least, s.deadline)
    for r in m.storerets:
        least = min(least, r.deadline)
    for a in m.apps:
        least = min(least, a.deadline)
    return least


def earliest_deadline(w: World, setup: Setup | None = None) -> int:
    """The least timer of any component (NEVER if none), in one pass.

    With `setup`, each machine's least timer is memoised: it is a function of the immutable
    machine alone, so the entry (holding the machine, compared by identity) stays valid for
    as long as the machine is unchanged, across time steps too."""
    least = NEVER
    for m in w.machines:
        if setup is None:
            ml = _machine_least(m)
        else:
            key = ("least", m.name)
            hit = setup.memo.get(key)
            if hit is None or hit[0] is not m:
                hit = (m, _machine_least(m))
                setup.memo[key] = hit
            ml = hit[1]
        least = min(least, ml)
    if w.net and w.net[0].deadline < least:
        least = w.net[0].deadline  # the network is kept sorted by deadline
    if w.schedule and w.schedule[0].at < least:
        least = w.schedule[0].at
    return least


def urgent(w: World, cands: list[Candidate]) -> bool:
    """docs/model.md#time-and-urgency: some timer has reached 0, or some urgent rule is enabled."""
    return earliest_deadline(w) <= w.now or any(c.urgent for c in cands)


def time_bound(setup: Setup, w: World, cands: list[Candidate]) -> int:
    """The largest d by which time may pass (0 if it may not): multiway `Time_Pass`, bounded
    by every component's timer (net_msg_time for messages) and by the horizon."""
    for c in cands:
        if c.urgent:
            return 0
    limit = min(earliest_deadline(w, setup), setup.horizon)
    return max(0, limit - w.now)
