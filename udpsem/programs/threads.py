"""The snippet, module and store rules (docs/model.md#machines): a thread's code, the application
calling module functions, and the store, each a pure function on machine components; the
core wires them to the other endpoint of their synchronisation.
"""

from __future__ import annotations

from typing import Any

from udpsem.base.registry import rule
from udpsem.base.time import NEVER, deadline_after
from udpsem.hosts.calls import Create
from udpsem.hosts.values import Ok
from udpsem.state.components import (
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
    store_alloc,
    store_put,
    store_read,
)
from udpsem.state.world import Machine, Setup


def put_snippet(m: Machine, s: Snippet) -> tuple[Snippet, ...]:
    out = [x for x in m.snippets if x.tid != s.tid]
    out.append(s)
    out.sort(key=lambda x: x.tid)
    return tuple(out)


def drop_snippet(m: Machine, tid: int) -> tuple[Snippet, ...]:
    return tuple(x for x in m.snippets if x.tid != tid)


def advance(setup: Setup, now: int, s: Snippet, answer: Any) -> Snippet:
    """The snippet after receiving `answer`: computing again, timer dthread."""
    code, req = setup.runtime.advance(s.code, answer)
    return Snippet(s.tid, s.org, code, req, now + setup.timing.dthread)


def waiting(s: Snippet) -> Snippet:
    return Snippet(s.tid, s.org, s.code, None, NEVER, s.creating)



# Snippet, module and store rules (docs/rules.md#module_call_1) ------------------------------
# Each is a pure function on machine components; the system wires them to the other endpoint.

def _missing_function(name: str, known: tuple[str, ...]) -> Any:
    """A program that fails with ProgramError: the module has no function `name`."""

    def missing(*_: Any) -> Any:
        from udpsem.programs.checks import ProgramError

        raise ProgramError(f"the module has no function {name!r} (it has: "
                           f"{', '.join(known) or 'none'})")
        yield  # a generator function

    return missing


@rule("module_call_1", category="misc", trigger="snippet",
      summary="the application calls a module function, starting an EXTERN thread")
def module_call_1(setup: Setup, now: int, m: Machine, app: App) -> Machine | None:
    """Description: `MODULE(t)` takes `modcall(f, v)` from the application and starts the
    snippet `THREAD(tid, EXTERN, t_f(v))` with timer dthread.

    Errors: none.

    Common cases: `start_heartbeat_a()`, `get_status(r)`.

    Model details: the application is the environment: a scripted program whose calls are
    visible labels. A module function the module lacks is a bug in the program, reported.

    Formal:
        premises: an application thread tid of machine n requests modcall(f, v) and its deadline
          has come; MODULE(t) has a function f; no snippet with tid exists
        transition: n·MODULE(t) --n·tid·modcall(f, v)?--> n·MODULE(t) | n·THREAD(tid, EXTERN,
          t_f(v))_dthread
        after: the application waits for modret; the new EXTERN snippet computes its first request,
          due within dthread
        changes: the machine's snippets (one added), the application's request
    """
    if not isinstance(app.request, ModCall) or app.deadline > now or m.snippet(app.tid):
        return None
    module = setup.modules[m.name]
    fn = module.get(app.request.fn)
    if fn is None:  # a bug in the program: the thread fails at once, naming the function
        fn = _missing_function(app.request.fn, tuple(sorted(module)))
    code, req = setup.runtime.start(fn, app.request.arg, (m.name, app.tid, app.request.fn))
    snip = Snippet(app.tid, EXTERN, code, req, now + setup.timing.dthread)
    apps = tuple(App(a.tid, a.code, None, NEVER) if a.tid == app.tid else a for a in m.apps)
    return m.with_parts(snippets=put_snippet(m, snip), apps=apps)


@rule("thread_return_1", category="misc", trigger="snippet",
      summary="an EXTERN thread returns its value (or exception) to the application")
def thread_return_1(setup: Setup, now: int, m: Machine, s: Snippet) -> Machine | None:
    """Description: an EXTERN snippet whose code finished outputs `modret(v)` and disappears;
    the application receives v (an escaping exception is raised in the application).

    Errors: none.

    Common cases: `start_heartbeat_a()` returning the store location.

    Model details: the application's thread entry in `ts` stays RUN.

    Formal:
        premises: THREAD(tid, EXTERN, t) whose code has finished with value v (or raised an
          exception); the application thread tid waits for modret
        transition: n·THREAD(tid, EXTERN, "return v")_d --n·tid·modret(v)!--> 0
        after: the snippet is gone; the application resumes with OK v (or the exception) and
          computes its next request
        changes: the machine's snippets (one removed), the application's state
    """
    if s.org != EXTERN or not isinstance(s.request, (Return, Raised)):
        return None
    app = next((a for a in m.apps if a.tid == s.tid and a.request is None), None)
    if app is None:
        return None
    answer = Ok(s.request.value) if isinstance(s.request, Return) else s.request
    code, req = setup.runtime.advance(app.code, answer)
    setup.runtime.discard(s.code)
    dl = deadline_after(now, req.ns) if isinstance(req, Sleep) else (
        now if isinstance(req, ModCall) else NEVER)
    apps = tuple(App(a.tid, code, req, dl) if a.tid == s.tid else a for a in m.apps)
    return m.with_parts(snippets=drop_snippet(m, s.tid), apps=apps)


@rule("thread_end_1", category="misc", trigger="snippet",
      summary="an INTERN thread whose code finished disappears")
def thread_end_1(setup: Setup, now: int, m: Machine, s: Snippet) -> Machine | None:
    """Description: a snippet started by `create` never returns; when its code ends (or an
    exception escapes it) the snippet becomes 0 with a τ.

    Errors: none.

    Common cases: none in the heartbeat, whose threads loop forever.

    Model details: the host entry stays RUN and is never used again. An escaping exception is
    recorded in the label so that "no exception escapes a thread" can be checked.

    Formal:
        premises: THREAD(tid, INTERN, t) whose code has finished (or raised an exception)
        transition: n·THREAD(tid, INTERN, "finished")_d --τ--> 0
        after: the snippet is gone; ts(tid) stays RUN and is never used again; an escaping
          exception is recorded in the label
        changes: the machine's snippets (one removed)
    """
    if s.org != INTERN or not isinstance(s.request, (Return, Raised)):
        return None
    setup.runtime.discard(s.code)
    return m.with_parts(snippets=drop_snippet(m, s.tid))


@rule("create_call_1", category="misc", trigger="snippet",
      summary="a thread calling create(f, x) becomes THREADCREATE until the host answers")
def create_call_1(s: Snippet) -> Snippet | None:
    """Description: the snippet outputs `call(create)` and waits, remembering `t_f(x)`.

    Errors: none here; the host's create_1/create_2 answer.

    Common cases: the heartbeat's start functions.

    Model details: the host only allocates the tid; the thread starts at create_ret_1.

    Formal:
        premises: THREAD(tid, org, t) requests create(f, x)
        transition: n·THREAD(tid, org, t) --n·tid·call(create(f, x))!--> n·THREADCREATE(tid, org,
          t, t_f(x))_∞
        after: the snippet waits for the host's answer (create_1 or create_2) with timer ∞
        changes: the snippet (now THREADCREATE)
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

    Formal:
        premises: THREADCREATE(tid, org, t, t'); the host answers ret_1 with OK tid' (or FAIL e)
        transition: n·THREADCREATE(tid, org, t, t')_∞ --n·tid·ret(OK tid')?--> n·THREAD(tid, org,
          t⟨tid'⟩)_dthread | n·THREAD(tid', INTERN, t')_dthread
        after: the caller resumes with tid'; the new INTERN snippet starts; on FAIL e only the
          caller resumes, seeing the exception
        changes: the machine's snippets (caller updated, one added)
    """
    if s.creating is None:
        return None
    parent = advance(setup, now, s, value)
    m2 = m.with_parts(snippets=put_snippet(m, parent))
    if isinstance(value, Ok):
        program, arg = s.creating
        code, req = setup.runtime.start(program, arg, (m.name, value.value, "create"))
        child = Snippet(value.value, INTERN, code, req, now + setup.timing.dthread)
        m2 = m2.with_parts(snippets=put_snippet(m2, child))
    return m2


@rule("store_new_1", category="misc", trigger="snippet",
      summary="the store allocates a fresh location holding v and answers with it")
def store_new_1(setup: Setup, now: int, m: Machine, tid: int, op: StoreNew) -> Machine:
    """Description: `STORE(st)` takes `new v`, adds `l ↦ v` for a fresh l, and queues
    `STORERET(tid, loc, l)` with timer dstore.

    Errors: none.

    Common cases: `start_heartbeat_a` allocating the status cell.

    Model details: l is the least free location, so allocation is deterministic.

    Formal:
        premises: a snippet tid requests new v; l = the least location ∉ dom(st)
        transition: n·STORE(st) --n·tid·store(new v)?--> n·STORE(st ⊕ {l ↦ v}) | n·STORERET(tid,
          loc, l)_dstore
        after: the snippet waits (timer ∞) for the store's answer
        changes: the store, the machine's pending store answers, the snippet (waiting)
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

    Formal:
        premises: a snippet tid requests set(l, v)
        transition: n·STORE(st) --n·tid·store(set(l, v))?--> n·STORE(st ⊕ {l ↦ v}) |
          n·STORERET(tid, unit, ())_dstore
        after: the snippet waits (timer ∞) for the store's answer
        changes: the store, the machine's pending store answers, the snippet (waiting)
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

    Formal:
        premises: a snippet tid requests get l; l ∈ dom(st)
        transition: n·STORE(st) --n·tid·store(get l)?--> n·STORE(st) | n·STORERET(tid, tlty,
          st(l))_dstore
        after: the snippet waits (timer ∞) for the store's answer
        changes: the machine's pending store answers, the snippet (waiting)
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
    return m.with_parts(storerets=rets, snippets=put_snippet(m, waiting(s)))


@rule("storeret_1", category="misc", trigger="snippet",
      summary="a pending store answer is delivered to its thread")
def storeret_1(setup: Setup, now: int, m: Machine, r: StoreRet) -> Machine | None:
    """Description: `STORERET(tid, tlty, v)` outputs `storeret(v)` to snippet tid, which
    resumes computing.

    Errors: none.

    Common cases: after every store operation.

    Model details: an upper-bound timer dstore: any time until it expires.

    Formal:
        premises: STORERET(tid, tlty, v) with timer d ≥ 0 (any moment before it expires); snippet
          tid waits for the store
        transition: n·STORERET(tid, tlty, v)_d --n·tid·storeret(v)!--> 0
        after: snippet tid resumes with v and computes its next request (timer dthread)
        changes: the machine's pending store answers (one removed), the snippet
    """
    s = m.snippet(r.tid)
    if s is None or s.request is not None or s.creating is not None:
        return None
    rets = tuple(x for x in m.storerets if x.tid != r.tid)
    return m.with_parts(storerets=rets,
                        snippets=put_snippet(m, advance(setup, now, s, Ok(r.value))))


@rule("app_wake", category="misc", trigger="snippet",
      summary="the application wakes from a sleep and computes its next module call")
def app_wake(setup: Setup, now: int, m: Machine, app: App) -> Machine | None:
    """Description: the application (the environment) waited a fixed time; it continues.

    Errors: none.

    Common cases: the heartbeat's status poller calling `get_status` every period.

    Model details: added by this project [R] to drive applications in time; a sharp timer.

    Formal:
        premises: an application thread sleeps (Sleep) and its sharp deadline is now
        transition: n·APP(tid, sleeping)_0 --τ--> n·APP(tid, t')
        after: the application computes its next request (a module call, due at once, or another
          sleep)
        changes: the application's state
    """
    if not isinstance(app.request, Sleep) or app.deadline != now:
        return None
    code, req = setup.runtime.advance(app.code, Ok(None))
    dl = deadline_after(now, req.ns) if isinstance(req, Sleep) else (
        now if isinstance(req, ModCall) else NEVER)
    apps = tuple(App(a.tid, code, req, dl) if a.tid == app.tid else a for a in m.apps)
    return m.with_parts(apps=apps)

