"""The whole network term (MODEL.md §A.2): machines, messages in flight, the environment's
schedule, and the transitions between them.

`enabled(setup, world)` lists every transition the world can take, in a canonical order, each
as a `Candidate` whose outcome may still contain choice points (`Branch`). A driver picks a
candidate and resolves its branches through a chooser (`drivers.py`). Binary synchronisation
(thread ↔ host, thread ↔ store, application ↔ module, host ↔ network) is made here: a candidate
exists only when both endpoints can take part. Time is multiway: it passes only when nothing
is urgent, by at most the least remaining timer of any component.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any

from udpsem.hosts.calls import Call, Create
from udpsem.hosts.lts import Enabled, call_enabled, internal_enabled, recv_enabled
from udpsem.hosts.state import (
    Host,
    HostConsts,
    HostStep,
    LhConsole,
    LhExit,
    LhReturn,
    LhSendMsg,
    Ret,
    RuleCtx,
    Timing,
)
from udpsem.hosts.values import Fail, Ok
from udpsem.network.faults import Faults
from udpsem.network.messages import IPMsg
from udpsem.semantics.choice import Branch
from udpsem.semantics.components import (
    EXTERN,
    INTERN,
    App,
    ModCall,
    Raised,
    Return,
    Sleep,
    Snippet,
    StoreGet,
    StoreNew,
    StoreRet,
    StoreSet,
    ThreadRuntime,
    store_alloc,
    store_put,
    store_read,
)
from udpsem.semantics.labels import Label, Transition
from udpsem.semantics.registry import rule
from udpsem.semantics.time import NEVER


@dataclass(frozen=True, slots=True)
class Machine:
    """Every component tagged with host name `name`. `host` is None once it crashed."""

    name: str
    conn: bool
    host: Host | None
    store: tuple[tuple[int, Any], ...] = ()
    snippets: tuple[Snippet, ...] = ()
    storerets: tuple[StoreRet, ...] = ()
    apps: tuple[App, ...] = ()

    def with_host(self, host: Host | None) -> Machine:
        """This machine with another host record (a fast `replace` for the hot path)."""
        return Machine(self.name, self.conn, host, self.store, self.snippets, self.storerets,
                       self.apps)

    def with_parts(self, *, store: tuple[tuple[int, Any], ...] | None = None,
                   snippets: tuple[Snippet, ...] | None = None,
                   storerets: tuple[StoreRet, ...] | None = None,
                   apps: tuple[App, ...] | None = None) -> Machine:
        """This machine with the given components replaced (a fast `replace`)."""
        return Machine(self.name, self.conn, self.host,
                       self.store if store is None else store,
                       self.snippets if snippets is None else snippets,
                       self.storerets if storerets is None else storerets,
                       self.apps if apps is None else apps)

    def snippet(self, tid: int) -> Snippet | None:
        for s in self.snippets:
            if s.tid == tid:
                return s
        return None


@dataclass(frozen=True, slots=True)
class InFlight:
    """`msg_d`: a datagram in transit, arriving at `deadline`; `src` is the sending machine
    (None for injected ones), `seq` a serial number that keeps the order canonical."""

    msg: IPMsg
    deadline: int
    src: str | None
    seq: int


@dataclass(frozen=True, slots=True)
class Event:
    """A scheduled environment event: `disconnect`, `reconnect` or `crash` of `host` at `at`."""

    at: int
    kind: str
    host: str


@dataclass(frozen=True, slots=True)
class World:
    """The network term at time `now`. `drops` counts, per host, the datagrams dropped in a
    row (needed for the bound on successive drops)."""

    now: int
    machines: tuple[Machine, ...]
    net: tuple[InFlight, ...] = ()
    schedule: tuple[Event, ...] = ()
    drops: tuple[tuple[str, int], ...] = ()
    seq: int = 0

    def machine(self, name: str) -> Machine:
        for m in self.machines:
            if m.name == name:
                return m
        raise KeyError(name)


@dataclass
class Setup:
    """What does not change during a run: timing, per-host constants and modules, faults, the
    thread runtime, the horizon, and which machine owns which (non-loopback) address."""

    timing: Timing
    consts: Mapping[str, HostConsts]
    modules: Mapping[str, Mapping[str, Any]]
    faults: Faults
    runtime: ThreadRuntime
    horizon: int = NEVER
    owners: dict[int, str] = field(default_factory=dict)
    memo: dict[Any, Any] = field(default_factory=dict, init=False, repr=False, compare=False)
    """Memoised derived data (an implementation detail; see `_machine_local`)."""

    def ctx(self, name: str, now: int) -> RuleCtx:
        """The rule context of machine `name` at `now`; the same object while `now`, the
        constants and the timing are (a RuleCtx is immutable, so sharing it is safe)."""
        key = ("ctx", name)
        c = self.memo.get(key)
        consts = self.consts[name]
        if c is None or c.now != now or c.consts is not consts or c.timing is not self.timing:
            c = RuleCtx(consts, self.timing, now)
            self.memo[key] = c
        return c


@dataclass(slots=True)
class Candidate:
    """An enabled transition: `rule` names it; `first` (a value or a Branch) resolves to a
    value `v`, and `then(v)` (a Transition or a Branch resolving to one) finishes it."""

    rule: str
    first: Any
    then: Callable[[Any], Any]
    urgent: bool = False


def _put_machine(w: World, m: Machine) -> tuple[Machine, ...]:
    return tuple(m if x.name == m.name else x for x in w.machines)


def _put_snippet(m: Machine, s: Snippet) -> tuple[Snippet, ...]:
    out = [x for x in m.snippets if x.tid != s.tid]
    out.append(s)
    out.sort(key=lambda x: x.tid)
    return tuple(out)


def _drop_snippet(m: Machine, tid: int) -> tuple[Snippet, ...]:
    return tuple(x for x in m.snippets if x.tid != tid)


def _advance(setup: Setup, now: int, s: Snippet, answer: Any) -> Snippet:
    """The snippet after receiving `answer`: computing again, timer dthread."""
    code, req = setup.runtime.advance(s.code, answer)
    return Snippet(s.tid, s.org, code, req, now + setup.timing.dthread)


def _waiting(s: Snippet) -> Snippet:
    return Snippet(s.tid, s.org, s.code, None, NEVER, s.creating)


# Snippet, module and store rules (§A.7) ------------------------------------------------------
# Each is a pure function on machine components; the system wires them to the other endpoint.

@rule("module_call_1", category="misc", trigger="snippet",
      summary="the application calls a module function, starting an EXTERN thread")
def module_call_1(setup: Setup, now: int, m: Machine, app: App) -> Machine | None:
    """Description: `MODULE(t)` takes `modcall(f, v)` from the application and starts the
    snippet `THREAD(tid, EXTERN, t_f(v))` with timer dthread.

    Errors: none.

    Common cases: `start_heartbeat_a()`, `get_status(r)`.

    Model details: the application is the environment: a scripted program whose calls are
    visible labels. A module function the module lacks is a bug in the program, reported.
    """
    if not isinstance(app.request, ModCall) or app.deadline > now or m.snippet(app.tid):
        return None
    fn = setup.modules[m.name].get(app.request.fn)
    if fn is None:
        raise KeyError(f"{m.name}: the module has no function {app.request.fn!r}")
    code, req = setup.runtime.start(fn, app.request.arg)
    snip = Snippet(app.tid, EXTERN, code, req, now + setup.timing.dthread)
    apps = tuple(App(a.tid, a.code, None, NEVER) if a.tid == app.tid else a for a in m.apps)
    return m.with_parts(snippets=_put_snippet(m, snip), apps=apps)


@rule("thread_return_1", category="misc", trigger="snippet",
      summary="an EXTERN thread returns its value (or exception) to the application")
def thread_return_1(setup: Setup, now: int, m: Machine, s: Snippet) -> Machine | None:
    """Description: an EXTERN snippet whose code finished outputs `modret(v)` and disappears;
    the application receives v (an escaping exception is raised in the application).

    Errors: none.

    Common cases: `start_heartbeat_a()` returning the store location.

    Model details: the application's thread entry in `ts` stays RUN.
    """
    if s.org != EXTERN or not isinstance(s.request, (Return, Raised)):
        return None
    app = next((a for a in m.apps if a.tid == s.tid and a.request is None), None)
    if app is None:
        return None
    answer = Ok(s.request.value) if isinstance(s.request, Return) else s.request
    code, req = setup.runtime.advance(app.code, answer)
    setup.runtime.discard(s.code)
    dl = now + req.ns if isinstance(req, Sleep) else (now if isinstance(req, ModCall) else NEVER)
    apps = tuple(App(a.tid, code, req, dl) if a.tid == s.tid else a for a in m.apps)
    return m.with_parts(snippets=_drop_snippet(m, s.tid), apps=apps)


@rule("thread_end_1", category="misc", trigger="snippet",
      summary="an INTERN thread whose code finished disappears")
def thread_end_1(setup: Setup, now: int, m: Machine, s: Snippet) -> Machine | None:
    """Description: a snippet started by `create` never returns; when its code ends (or an
    exception escapes it) the snippet becomes 0 with a τ.

    Errors: none.

    Common cases: none in the heartbeat, whose threads loop forever.

    Model details: the host entry stays RUN and is never used again. An escaping exception is
    recorded in the label so that "no exception escapes a thread" can be checked.
    """
    if s.org != INTERN or not isinstance(s.request, (Return, Raised)):
        return None
    setup.runtime.discard(s.code)
    return m.with_parts(snippets=_drop_snippet(m, s.tid))


@rule("create_call_1", category="misc", trigger="snippet",
      summary="a thread calling create(f, x) becomes THREADCREATE until the host answers")
def create_call_1(s: Snippet) -> Snippet | None:
    """Description: the snippet outputs `call(create)` and waits, remembering `t_f(x)`.

    Errors: none here; the host's create_1/create_2 answer.

    Common cases: the heartbeat's start functions.

    Model details: the host only allocates the tid; the thread starts at create_ret_1.
    """
    if not isinstance(s.request, Create):
        return None
    return Snippet(s.tid, s.org, s.code, None, NEVER, (s.request.program, s.request.arg))


@rule("create_ret_1", category="misc", trigger="snippet",
      summary="the create answer arrives: the caller resumes and the new INTERN thread starts")
def create_ret_1(setup: Setup, now: int, m: Machine, s: Snippet, value: Any) -> Machine | None:
    """Description: THREADCREATE receives `OK tid'`: the caller continues with tid' and
    `THREAD(tid', INTERN, t_f(x))` starts, both with timer dthread.

    Errors: on `FAIL e` no thread is created and the caller sees the exception.

    Common cases: every `create`.

    Model details: the new snippet's first request is computed at once (it is deterministic).
    """
    if s.creating is None:
        return None
    parent = _advance(setup, now, s, value)
    m2 = m.with_parts(snippets=_put_snippet(m, parent))
    if isinstance(value, Ok):
        program, arg = s.creating
        code, req = setup.runtime.start(program, arg)
        child = Snippet(value.value, INTERN, code, req, now + setup.timing.dthread)
        m2 = m2.with_parts(snippets=_put_snippet(m2, child))
    return m2


@rule("store_new_1", category="misc", trigger="snippet",
      summary="the store allocates a fresh location holding v and answers with it")
def store_new_1(setup: Setup, now: int, m: Machine, tid: int, op: StoreNew) -> Machine:
    """Description: `STORE(st)` takes `new v`, adds `l ↦ v` for a fresh l, and queues
    `STORERET(tid, loc, l)` with timer dstore.

    Errors: none.

    Common cases: `start_heartbeat_a` allocating the status cell.

    Model details: l is the least free location, so allocation is deterministic.
    """
    loc = store_alloc(m.store)
    return _store_answer(setup, now, m.with_parts(store=store_put(m.store, loc, op.value)), tid,
                         loc)


@rule("store_set_1", category="misc", trigger="snippet",
      summary="the store sets a location and answers ()")
def store_set_1(setup: Setup, now: int, m: Machine, tid: int, op: StoreSet) -> Machine:
    """Description: `STORE(st)` takes `set(l, v)`, updates l, and queues `STORERET(tid, unit)`.

    Errors: none.

    Common cases: the heartbeat receiver recording 0 or 1.

    Model details: setting a location not yet allocated creates it.
    """
    return _store_answer(setup, now, m.with_parts(store=store_put(m.store, op.loc, op.value)),
                         tid, None)


@rule("store_get_1", category="misc", trigger="snippet",
      summary="the store reads a location and answers its value")
def store_get_1(setup: Setup, now: int, m: Machine, tid: int, op: StoreGet) -> Machine | None:
    """Description: `STORE(st)` takes `get l` and queues `STORERET(tid, tlty, st(l))`.

    Errors: none; reading an unallocated location does not apply (the program is ill-typed).

    Common cases: `get_status`.

    Model details: the store is untyped here; the value is whatever was stored.
    """
    try:
        value = store_read(m.store, op.loc)
    except KeyError:
        return None
    return _store_answer(setup, now, m, tid, value)


def _store_answer(setup: Setup, now: int, m: Machine, tid: int, value: Any) -> Machine:
    s = m.snippet(tid)
    assert s is not None
    rets = tuple(sorted((*m.storerets, StoreRet(tid, value, now + setup.timing.dstore)),
                        key=lambda r: r.tid))
    return m.with_parts(storerets=rets, snippets=_put_snippet(m, _waiting(s)))


@rule("storeret_1", category="misc", trigger="snippet",
      summary="a pending store answer is delivered to its thread")
def storeret_1(setup: Setup, now: int, m: Machine, r: StoreRet) -> Machine | None:
    """Description: `STORERET(tid, tlty, v)` outputs `storeret(v)` to snippet tid, which
    resumes computing.

    Errors: none.

    Common cases: after every store operation.

    Model details: an upper-bound timer dstore: any time until it expires.
    """
    s = m.snippet(r.tid)
    if s is None or s.request is not None or s.creating is not None:
        return None
    rets = tuple(x for x in m.storerets if x.tid != r.tid)
    return m.with_parts(storerets=rets,
                        snippets=_put_snippet(m, _advance(setup, now, s, Ok(r.value))))


@rule("app_wake", category="misc", trigger="snippet",
      summary="the application wakes from a sleep and computes its next module call")
def app_wake(setup: Setup, now: int, m: Machine, app: App) -> Machine | None:
    """Description: the application (the environment) waited a fixed time; it continues.

    Errors: none.

    Common cases: the heartbeat's status poller calling `get_status` every period.

    Model details: added by this project [R] to drive applications in time; a sharp timer.
    """
    if not isinstance(app.request, Sleep) or app.deadline != now:
        return None
    code, req = setup.runtime.advance(app.code, Ok(None))
    dl = now + req.ns if isinstance(req, Sleep) else (now if isinstance(req, ModCall) else NEVER)
    apps = tuple(App(a.tid, code, req, dl) if a.tid == app.tid else a for a in m.apps)
    return m.with_parts(apps=apps)


# Enumerating transitions ---------------------------------------------------------------------
#
# A machine's candidates depend only on the machine, the clock and the setup; only their
# continuations need the rest of the world (to put the successor machine back into it). So
# they are built world-free, as `(rule, first, fn, urgent)` with `fn(w, v)`, and bound to the
# world by `enabled`. That lets `enabled` reuse a machine's list while the machine and the
# clock stay the same (`_machine_local`), which is most steps: a step usually changes one
# machine and leaves the clock alone.

Local = tuple[str, Any, Callable[[World, Any], Any], bool]


def _with_machine(w: World, m2: Machine) -> World:
    return World(w.now, _put_machine(w, m2), w.net, w.schedule, w.drops, w.seq)


def _then_host(setup: Setup, m: Machine, rule_name: str,
               label_of: Callable[[HostStep], Label],
               machine_of: Callable[[HostStep], Machine] | None = None,
               partner: str | None = None,
               drop_msg: InFlight | None = None) -> Callable[[World, HostStep], Any]:
    """The continuation shared by host rules: put the successor host back into the world."""

    def then(w: World, st: HostStep) -> Any:
        m2 = machine_of(st) if machine_of is not None else host_lift(m, st.host)
        net = w.net if drop_msg is None else tuple(x for x in w.net if x is not drop_msg)
        w2 = World(w.now, _put_machine(w, m2), net, w.schedule, w.drops, w.seq)
        return Transition(rule_name, partner, label_of(st), w2)

    return then


def _host_internal(setup: Setup, now: int, m: Machine, en: Enabled) -> Local | None:
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
                m2 = create_ret_1(setup, now, m.with_host(st.host), s, value)
                partner = "create_ret_1"
            else:
                snippets = _put_snippet(m, _advance(setup, now, s, value))
                m2 = Machine(m.name, m.conn, st.host, m.store, snippets, m.storerets, m.apps)
                partner = None
            assert m2 is not None
            return Transition(rname, partner, Label("return", name, st.label.tid, value),
                              _with_machine(w, m2))

        return (rname, en.outcome, then_ret, en.rule.urgent)

    def then_other(w: World, st: HostStep) -> Any:
        lab = st.label
        if isinstance(lab, LhSendMsg):
            return _send(setup, w, m.with_host(st.host), rname, lab.msg)
        if isinstance(lab, LhExit):
            return Transition(rname, "host_exit", Label("exit", name),
                              _with_machine(w, host_exit(m, st.host)))
        if isinstance(lab, LhConsole):
            label = Label("console", name, en.tid, lab.text)
        else:
            label = Label("tau", name, en.tid)
        return Transition(rname, None, label, _with_machine(w, m.with_host(st.host)))

    return (rname, en.outcome, then_other, en.rule.urgent)


def _send(setup: Setup, w: World, m: Machine, rname: str, msg: IPMsg) -> Any:
    """The host outputs `msg`: lost if unplugged (host_send_disc), else the network takes it
    (net_accept_drop / single / dup, with a propagation delay per copy)."""
    label = Label("send", m.name, None, msg)
    if not m.conn:
        w2 = World(w.now, _put_machine(w, m), w.net, w.schedule, w.drops, w.seq)
        return Transition(rname, "host_send_disc", label, w2)
    drops = dict(w.drops)
    options = setup.faults.fate_options(drops.get(m.name, 0))
    base = World(w.now, _put_machine(w, m), w.net, w.schedule, w.drops, w.seq)

    def fate(choice: str) -> Any:
        if choice == "drop":
            return Transition(rname, "net_accept_drop", label,
                              net_accept_drop(base, m.name))
        copies = 1 if choice == "single" else int(choice[3:])
        partner = "net_accept_single" if copies == 1 else "net_accept_dup"
        return _delays(setup, base, m.name, msg, copies, (), rname, partner, label)

    return Branch("fate", options, fate)


def _delays(setup: Setup, w: World, src: str, msg: IPMsg, copies: int, chosen: tuple[int, ...],
            rname: str, partner: str, label: Label) -> Any:
    if len(chosen) == copies:
        return Transition(rname, partner, label, net_accept(w, src, msg, chosen))
    t = setup.timing
    return Branch("delay", range(t.dpropmin, t.dpropmax + 1),
                  lambda d: _delays(setup, w, src, msg, copies, (*chosen, d), rname, partner,
                                    label))


def _snippet_candidates(setup: Setup, ctx: RuleCtx, m: Machine, s: Snippet) -> list[Local]:
    host = m.host
    assert host is not None
    req, now, name = s.request, ctx.now, m.name
    if req is None:
        return []
    if isinstance(req, Call):
        out: list[Local] = []
        create = isinstance(req, Create)

        def machine_after(st: HostStep) -> Machine:
            waiting = create_call_1(s) if create else _waiting(s)
            assert waiting is not None
            return Machine(m.name, m.conn, st.host, m.store, _put_snippet(m, waiting),
                           m.storerets, m.apps)

        def label_of(st: HostStep) -> Label:
            return Label("call", name, s.tid, req)

        partner = "create_call_1" if create else None
        for en in call_enabled(ctx, host, s.tid, req):
            then = _then_host(setup, m, en.rule.name, label_of, machine_after, partner)
            out.append((en.rule.name, en.outcome, then, en.rule.urgent))
        return out
    if isinstance(req, (StoreNew, StoreSet, StoreGet)):
        fn = {StoreNew: store_new_1, StoreSet: store_set_1, StoreGet: store_get_1}[type(req)]
        m2 = fn(setup, now, m, s.tid, req)  # type: ignore[operator]
        if m2 is None:
            return []
        label = Label("store", name, s.tid, req)
        sname = fn.rule_info.name  # type: ignore[attr-defined]
        return [(sname, None,
                 lambda w, _: Transition(sname, None, label, _with_machine(w, m2)), False)]
    if isinstance(req, (Return, Raised)):
        if s.org == EXTERN:
            rname = "thread_return_1"

            def then_ret(w: World, _: Any) -> Any:
                m2 = thread_return_1(setup, now, m, s)
                assert m2 is not None
                val = req.value if isinstance(req, Return) else req
                return Transition(rname, None, Label("modret", name, s.tid, val),
                                  _with_machine(w, m2))

            if not any(a.tid == s.tid and a.request is None for a in m.apps):
                return []
            return [(rname, None, then_ret, False)]

        def then_end(w: World, _: Any) -> Any:
            m2 = thread_end_1(setup, now, m, s)
            assert m2 is not None
            err = req.error if isinstance(req, Raised) else None
            return Transition("thread_end_1", None, Label("thread_end", name, s.tid, err),
                              _with_machine(w, m2))

        return [("thread_end_1", None, then_end, False)]
    raise TypeError(f"{name}: thread {s.tid} yielded {req!r}, which is not a LIB call, a store "
                    "operation or a return")


def _machine_local(setup: Setup, now: int, m: Machine) -> list[Local]:
    """The candidates of machine `m` at time `now`, world-free, memoised.

    Why the memo is sound: the list is a function of (setup, m, now) alone: `m` and every
    component in it are immutable, the rules are pure, and nothing here touches the thread
    runtime (component rules that advance a generator run only when fired, see `_lazy`). The
    entry holds `m` and the `RuleCtx` (which carries `now`, the host constants and the
    timing) and is used only when both are the very same objects, so an `id` is never
    reused. One entry per machine name keeps it bounded."""
    ctx = setup.ctx(m.name, now)
    memo = setup.memo
    key = ("cands", m.name)
    hit = memo.get(key)
    if hit is not None and hit[0] is m and hit[1] is ctx:
        return hit[2]  # type: ignore[no-any-return]
    out = _machine_candidates(setup, ctx, m)
    memo[key] = (m, ctx, out)
    return out


def _machine_candidates(setup: Setup, ctx: RuleCtx, m: Machine) -> list[Local]:
    host = m.host
    if host is None:
        return []
    now = ctx.now
    out: list[Local] = []
    for en in internal_enabled(ctx, host):
        c = _host_internal(setup, now, m, en)
        if c is not None:
            out.append(c)
    for s in m.snippets:
        out.extend(_snippet_candidates(setup, ctx, m, s))
    for r in m.storerets:
        waiter = m.snippet(r.tid)
        if waiter is None or waiter.request is not None or waiter.creating is not None:
            continue  # restriction: nobody waits for this answer
        out.append(("storeret_1", None,
                    _lazy(setup, now, m, storeret_1, r, "storeret_1",
                          Label("storeret", m.name, r.tid, r.value)), False))
    for a in m.apps:
        if isinstance(a.request, ModCall) and a.deadline <= now and m.snippet(a.tid) is None:
            label = Label("modcall", m.name, a.tid, (a.request.fn, a.request.arg))
            out.append(("module_call_1", None,
                        _lazy(setup, now, m, module_call_1, a, "module_call_1", label), False))
        elif isinstance(a.request, Sleep) and a.deadline == now:
            out.append(("app_wake", None, _lazy(setup, now, m, app_wake, a, "app_wake",
                                                Label("wake", m.name, a.tid)), False))
    return out


def _lazy(setup: Setup, now: int, m: Machine, fn: Callable[..., Machine | None], arg: Any,
          rname: str, label: Label) -> Callable[[World, Any], Transition]:
    """A continuation that applies a component rule only when its candidate is fired: the rule
    may advance a generator, which must not happen for candidates that are not taken."""

    def then(w: World, _: Any) -> Transition:
        m2 = fn(setup, now, m, arg)
        assert m2 is not None, f"{rname} was enabled but did not apply"
        return Transition(rname, None, label, _with_machine(w, m2))

    return then


def _emit_candidates(setup: Setup, w: World, f: InFlight) -> list[Candidate]:
    """A message whose timer is 0 leaves the network (net_emit / net_emit_outside)."""
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
        return [Candidate("net_emit_outside", None,
                          lambda _: Transition("net_emit_outside", None, Label("out", None,
                                                                               None, msg), w2))]
    label = Label("deliver", m.name, None, msg)
    if not m.conn:
        net = tuple(x for x in w.net if x is not f)
        w2 = World(now, w.machines, net, w.schedule, w.drops, w.seq)
        return [Candidate("host_recv_disc", None,
                          lambda _: Transition("host_recv_disc", "net_emit", label, w2))]
    assert m.host is not None
    out = []
    for en in recv_enabled(setup.ctx(m.name, now), m.host, msg):
        then = _then_host(setup, m, en.rule.name, lambda st: label, None, "net_emit", f)
        out.append(Candidate(en.rule.name, en.outcome, partial(then, w)))
    return out


def _event_candidate(setup: Setup, w: World, ev: Event) -> Candidate:
    sched = tuple(e for e in w.schedule if e is not ev)
    m = w.machine(ev.host)
    now = w.now
    if m.host is None:
        m2 = m
    elif ev.kind == "disconnect":
        m2 = host_disconnect(m) or m
    elif ev.kind == "reconnect":
        m2 = host_reconnect(m) or m
    else:
        m2 = host_crash(m)
    rname = f"host_{ev.kind}"
    w2 = World(now, _put_machine(w, m2), w.net, sched, w.drops, w.seq)
    if ev.kind == "crash":
        for s in m.snippets:
            setup.runtime.discard(s.code)
    return Candidate(rname, None, lambda _: Transition(rname, None, Label(ev.kind, ev.host), w2),
                     True)


def _identity(x: Any) -> Any:
    return x


def enabled(setup: Setup, w: World) -> list[Candidate]:
    """Every transition of `w`, in canonical order; time passage (if allowed) comes last."""
    now = w.now
    out: list[Candidate] = []
    for m in w.machines:
        for rname, first, fn, urg in _machine_local(setup, now, m):
            out.append(Candidate(rname, first, partial(fn, w), urg))
    for f in w.net:
        if f.deadline <= now:
            out.extend(_emit_candidates(setup, w, f))
    for ev in w.schedule:
        if ev.at <= now:
            out.append(_event_candidate(setup, w, ev))
    d = time_bound(setup, w, out)
    if d > 0:
        hint = "" if out else "idle"
        out.append(Candidate("time_pass", Branch("time", range(1, d + 1), _identity, hint),
                             partial(time_pass, w)))
    return out


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
    """§A.5: some timer has reached 0, or some urgent rule is enabled."""
    return earliest_deadline(w) <= w.now or any(c.urgent for c in cands)


def time_bound(setup: Setup, w: World, cands: list[Candidate]) -> int:
    """The largest d by which time may pass (0 if it may not): multiway `Time_Pass`, bounded
    by every component's timer (net_msg_time for messages) and by the horizon."""
    for c in cands:
        if c.urgent:
            return 0
    limit = min(earliest_deadline(w, setup), setup.horizon)
    return max(0, limit - w.now)


@rule("time_pass", category="misc", trigger="net",
      summary="global time passes by d in every component, if nothing is urgent")
def time_pass(w: World, d: int) -> Transition:
    """Description: the multiway label d: every component lets d pass (`Time_Pass`).

    Errors: none.

    Common cases: between pings, and while threads sleep or wait in select.

    Model details: timers are absolute deadlines, so passing time only moves the clock; the
    bound (no timer below 0, nothing urgent) is enforced by `time_bound`.
    """
    return Transition("time_pass", None, Label("time", None, None, d),
                      World(w.now + d, w.machines, w.net, w.schedule, w.drops, w.seq))


# Network rules (§A.7) -----------------------------------------------------------------------

def net_accept(w: World, src: str | None, msg: IPMsg, delays: tuple[int, ...]) -> World:
    """Put one copy of `msg` in flight per delay; reset the sender's run of drops."""
    fresh = [InFlight(msg, w.now + d, src, w.seq + k) for k, d in enumerate(delays)]
    net = tuple(sorted((*w.net, *fresh), key=lambda f: (f.deadline, f.seq)))
    drops = tuple((h, n) for h, n in w.drops if h != src)
    return World(w.now, w.machines, net, w.schedule, drops, w.seq + len(delays))


@rule("net_accept_single", category="misc", trigger="net",
      summary="the network takes a sent datagram and delivers one copy after a delay")
def net_accept_single(w: World, src: str | None, msg: IPMsg, d: int) -> World:
    """Description: `0 --n·msg?--> msg_d` with d in [dpropmin, dpropmax] (choice `delay`).

    Errors: none.

    Common cases: most datagrams.

    Model details: reordering comes from independent delays.
    """
    return net_accept(w, src, msg, (d,))


@rule("net_accept_dup", category="misc", trigger="net",
      summary="the network takes a sent datagram and delivers k ≥ 2 copies, each delayed")
def net_accept_dup(w: World, src: str | None, msg: IPMsg, ds: tuple[int, ...]) -> World:
    """Description: `0 --n·msg?--> msg_d1 | ... | msg_dk`, k ≥ 2, delays chosen independently.

    Errors: none.

    Common cases: duplication by a faulty link or a retransmitting bridge.

    Model details: k is bounded by the fault setting's max_copies (choice `fate`).
    """
    assert len(ds) >= 2
    return net_accept(w, src, msg, ds)


@rule("net_accept_drop", category="misc", trigger="net",
      summary="the network takes a sent datagram and loses it")
def net_accept_drop(w: World, src: str | None) -> World:
    """Description: `0 --n·msg?--> 0`.

    Errors: none.

    Common cases: loss; bounded by max_successive_drops under the paper preset.

    Model details: the run of drops per sending host is counted in the world.
    """
    drops = dict(w.drops)
    if src is not None:
        drops[src] = drops.get(src, 0) + 1
    return World(w.now, w.machines, w.net, w.schedule, tuple(sorted(drops.items())), w.seq)


@rule("net_msg_time", category="misc", trigger="net",
      summary="a datagram in flight lets time pass, never beyond its arrival")
def net_msg_time(f: InFlight, now: int, d: int) -> bool:
    """Description: `msg_(d+d') --d'--> msg_d`: time passes for a message in transit.

    Errors: none.

    Common cases: every time step while datagrams are in flight.

    Model details: with absolute deadlines this is the check that d' does not pass the
    arrival; it is part of every `time_pass` (via `time_bound`).
    """
    return d > 0 and f.deadline - now >= d


@rule("net_emit", category="emit", trigger="net",
      summary="a datagram whose delay has run out is delivered to the machine owning its address")
def net_emit(setup: Setup, w: World, f: InFlight) -> str | None:
    """Description: `msg_0 --n·msg!--> 0` to the unique machine whose non-loopback addresses
    contain the destination; it synchronises with a delivery_in_* rule (or host_recv_disc).

    Errors: none.

    Common cases: every datagram that is not lost.

    Model details: sharp: only when the timer is exactly 0. Returns the owner's name.
    """
    if f.deadline != w.now:
        return None
    return setup.owners.get(f.msg.dst)


@rule("net_emit_outside", category="emit", trigger="net",
      summary="a datagram for an address no live machine owns leaves the modelled network")
def net_emit_outside(w: World, f: InFlight) -> World:
    """Description: `msg_0 --out(msg)--> 0` when no machine in N owns the destination (for
    example it crashed).

    Errors: none.

    Common cases: a ping to a crashed host.

    Model details: visible label `out(msg)`.
    """
    return World(w.now, w.machines, tuple(x for x in w.net if x is not f), w.schedule, w.drops,
                 w.seq)


@rule("net_inject", category="misc", trigger="net",
      summary="a datagram from outside the modelled network enters it")
def net_inject(w: World, msg: IPMsg, d: int) -> World:
    """Description: `0 --in(msg)--> msg_d`, d in [dpropmin, dpropmax].

    Errors: none.

    Common cases: an ICMP host-unreachable from a router; foreign traffic.

    Model details: off unless the fault setting allows it (Theorem 2 assumes none); drivers
    offer it through `inject`.
    """
    return net_accept(w, None, msg, (d,))


@rule("host_lift", category="misc", trigger="net",
      summary="a host transition h --l--> h' is a transition of HOST(c, h), its label tagged")
def host_lift(m: Machine, host: Host) -> Machine:
    """Description: every host rule lifts to the network: `HOST(c, h) --n·l--> HOST(c, h')`,
    the label tagged with the machine's name, except for the two rows host_send_disc and
    host_recv_disc, which handle a machine that is unplugged.

    Errors: none.

    Common cases: every call, return, out-queue and delivery step of every machine.

    Model details: implicit in every host transition of a run (the trace names the host rule
    itself); coverage counts it once per lifted host transition.
    """
    return m.with_host(host)


@rule("host_disconnect", category="misc", trigger="net",
      summary="a machine is unplugged: its sends are lost and arrivals discarded")
def host_disconnect(m: Machine) -> Machine | None:
    """Description: `HOST(T, h) --n·disconnect--> HOST(F, h)`.

    Errors: none.

    Common cases: KURT unplugged in the heartbeat scenario.

    Model details: at scheduled times (fault settings); loopback traffic is unaffected.
    """
    return replace(m, conn=False) if m.conn and m.host is not None else None


@rule("host_reconnect", category="misc", trigger="net",
      summary="an unplugged machine is plugged back in")
def host_reconnect(m: Machine) -> Machine | None:
    """Description: `HOST(F, h) --n·reconnect--> HOST(T, h)`.

    Errors: none.

    Common cases: the end of a disconnect window.

    Model details: at scheduled times (fault settings).
    """
    return replace(m, conn=True) if not m.conn and m.host is not None else None


@rule("host_send_disc", category="misc", trigger="net",
      summary="a datagram sent while the machine is unplugged is lost")
def host_send_disc(m: Machine) -> Machine:
    """Description: `HOST(F, h)` outputs a datagram as τ: nothing leaves the machine.

    Errors: none (UDP does not notice).

    Common cases: KURT's pings during its disconnect window.

    Model details: the out-queue rule still fires; only the network side differs.
    """
    return m


@rule("host_recv_disc", category="misc", trigger="net",
      summary="a datagram arriving at an unplugged machine is discarded")
def host_recv_disc(m: Machine) -> Machine:
    """Description: `HOST(F, h) --n·msg?--> HOST(F, h)`: keeps the network receptive.

    Errors: none.

    Common cases: a ping in flight when the receiver is unplugged.

    Model details: synchronises with net_emit.
    """
    return m


@rule("host_crash", category="crash", trigger="net",
      summary="a machine crashes: every component tagged with its name becomes 0")
def host_crash(m: Machine) -> Machine:
    """Description: multiway `n·crash`: HOST, threads, store, module and pending answers go.

    Errors: none.

    Common cases: `--crash KURT@50s`.

    Model details: crashed hosts never return; datagrams they sent stay in flight.
    """
    return Machine(m.name, False, None)


@rule("host_exit", category="misc", trigger="net",
      summary="a program's exit ends every thread of its machine; HOST, MODULE and STORE stay")
def host_exit(m: Machine, host: Host) -> Machine:
    """Description: multiway `n·exit`, driven by exit_2: every THREAD, THREADCREATE and
    STORERET of n becomes 0.

    Errors: none.

    Common cases: a program calling exit().

    Model details: the host has already cleared `ts` and `s` (exit_2) and keeps `oq`. The
    application threads are the program's too, so they end as well: an application left
    behind could call the module again and start a snippet whose tid is no longer in
    `dom(ts)`, whose LIB calls no rule accepts (a deadlock; network_ok N4).
    """
    return replace(m, host=host, snippets=(), storerets=(), apps=())


# World construction --------------------------------------------------------------------------

def initial_world(machines: tuple[Machine, ...], schedule: tuple[Event, ...] = ()) -> World:
    """A world at time 0 with machines sorted by name and the schedule sorted by time."""
    ms = tuple(sorted(machines, key=lambda m: m.name))
    names = [m.name for m in ms]
    if len(set(names)) != len(names):
        raise ValueError(f"duplicate host names in {names}")
    sched = tuple(sorted(schedule, key=lambda e: (e.at, e.host, e.kind)))
    return World(0, ms, (), sched)


def owners_of(machines: tuple[Machine, ...]) -> dict[int, str]:
    """Which machine owns each non-loopback address; ValueError if two share one."""
    owners: dict[int, str] = {}
    for m in machines:
        assert m.host is not None
        for iface in m.host.ifds:
            if iface.is_lo:
                continue
            for a in iface.ipset:
                if a in owners and owners[a] != m.name:
                    raise ValueError(f"address shared by {owners[a]} and {m.name}")
                owners[a] = m.name
    return owners


def ret_value_of(h: Host, tid: int) -> Any:
    """The pending return value of thread tid (testing aid)."""
    e = h.thread(tid)
    return e.state.value if e is not None and isinstance(e.state, Ret) else None


__all__ = [
    "Candidate",
    "Event",
    "Fail",
    "InFlight",
    "Machine",
    "Setup",
    "World",
    "deadlines",
    "enabled",
    "initial_world",
    "owners_of",
    "time_bound",
    "urgent",
]
