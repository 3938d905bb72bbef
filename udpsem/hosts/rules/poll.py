"""poll(fds, timeout_ms) — added by experiment on Linux 6.18 (issue 12; numbered by this
project). Registered in Linux's order: 2, then 1."""

from __future__ import annotations

from typing import Any

from udpsem.base.registry import rule
from udpsem.base.time import MS, NEVER, deadline_after
from udpsem.hosts.auxiliary import any_sock, ret, revents, set_thread
from udpsem.hosts.calls import Poll
from udpsem.hosts.state import Host, HostStep, Poll2, RuleCtx
from udpsem.hosts.values import TID, Errno, Fail, Ok


def _answer(ctx: RuleCtx, h: Host, st: Poll2) -> tuple[int, ...]:
    """Each entry's revents, in argument order (duplicates answered each on its own)."""
    return tuple(revents(h, ctx.consts, fd, ev) for fd, ev in st.fds)


def _wakes(ctx: RuleCtx, h: Host, st: Poll2) -> bool:
    """Some entry has an event, not counting a socket closed while the poll waits (Linux
    sees that one only when it looks again, at a wake-up or the timeout); one already
    closed when poll was called counts (Linux found no file for it at once)."""
    for fd, ev in st.fds:
        if revents(h, ctx.consts, fd, ev) == 0:
            continue
        s = any_sock(h, fd)
        if s is not None and s.cl and fd not in st.closed0:
            continue
        return True
    return False


def _closed(h: Host, fds: tuple[tuple[int, int], ...]) -> tuple[int, ...]:
    """The polled fds that name a closed socket (an orphan) now, sorted, without repeats."""
    found = set()
    for fd, _ in fds:
        s = any_sock(h, fd)
        if s is not None and s.cl:
            found.add(fd)
    return tuple(sorted(found))


def _poll_2_guard(ctx: RuleCtx, h: Host, tid: TID, call: Poll) -> Any:
    """The guard of poll_2: the witness the outcome needs, or None."""
    if len(call.fds) <= ctx.consts.open_max:
        return None
    return True


@rule("poll_2", call="poll", category="fail", trigger="call", errors=("EINVAL",),
      summary="fail with EINVAL when poll is given more entries than OPEN_MAX [Linux 6.18, experiment]",
      guard=_poll_2_guard)
def poll_2(ctx: RuleCtx, h: Host, tid: TID, call: Poll, _: Any) -> Host:
    """Description: the number of entries exceeds the process's file limit (RLIMIT_NOFILE,
    the host constant OPEN_MAX), whatever the entries are.

    Errors: EINVAL.

    Common cases: a program that polls a huge, mostly unused table of fds.

    Model details: provenance: Linux 6.18, experiment — with RLIMIT_NOFILE 20000, 20000
    entries of fd -1 are accepted and 20001 fail with EINVAL. Bad fds are not an error of
    poll (they answer POLLNVAL), so this is poll's only failure besides EINTR and memory.

    Formal:
        premises: ts(tid) = RUN; len fds > OPEN_MAX
        transition: h --Lh_call(tid, poll(fds, t))--> h'
        after: h' = h with {ts(tid) := RET(FAIL EINVAL)_dsch}
        changes: ts(tid)
    """
    return ret(ctx, h, tid, Fail(Errno.EINVAL), "poll")


def _poll_1_guard(ctx: RuleCtx, h: Host, tid: TID, call: Poll) -> Any:
    """The guard of poll_1: the witness the outcome needs, or None."""
    if len(call.fds) > ctx.consts.open_max:
        return None
    return True


@rule("poll_1", call="poll", category="enter2", trigger="call",
      summary="block in poll until some entry has an event or the timeout expires [Linux 6.18, experiment]",
      guard=_poll_1_guard)
def poll_1(ctx: RuleCtx, h: Host, tid: TID, call: Poll, _: Any) -> Host:
    """Description: every poll with at most OPEN_MAX entries first enters POLL2(fds); the
    answer comes from poll_3 (an event) or poll_4 (the timeout).

    Errors: none; the failure is poll_2.

    Common cases: an event loop waiting on several sockets at once; `poll(fds, 0)` to look
    without waiting.

    Model details: provenance: Linux 6.18, experiment — the timeout is in milliseconds; 0
    looks once; any negative timeout (not only -1) waits for ever. As select_1, the call
    enters the blocked state even when something is ready (poll_3 is urgent). The timer is
    sharp, and finite however long (`deadline_after`: past the clock's last instant it is
    that instant; Linux's own int of ms reaches only 24.8 days). Entries of negative fds are skipped, and an fd that is not open is not an error:
    it answers POLLNVAL (poll_3 then answers at once). Poll has no autobind and reads
    nothing from the sockets.

    Formal:
        premises: ts(tid) = RUN; len fds ≤ OPEN_MAX; d' = ∞ if t < 0, else t ms
        transition: h --Lh_call(tid, poll(fds, t))--> h'
        after: h' = h with {ts(tid) := POLL2(fds, closed0) with sharp timer d'} (each events taken
          as a 16-bit mask; closed0 the fds naming closed orphans now)
        changes: ts(tid) (blocks)
    """
    deadline = NEVER if call.timeout_ms < 0 else deadline_after(ctx.now, call.timeout_ms * MS)
    # events is a C short: only its 16 bits reach the kernel, and unknown bits are ignored
    fds = tuple((fd, ev & 0xFFFF) for fd, ev in call.fds)
    return set_thread(h, tid, Poll2(fds, _closed(h, fds)), deadline)


def _poll_3_guard(ctx: RuleCtx, h: Host, tid: TID) -> Any:
    """The guard of poll_3: the witness the outcome needs, or None."""
    e = h.thread(tid)
    if e is None or not isinstance(e.state, Poll2) or not _wakes(ctx, h, e.state):
        return None
    return e


@rule("poll_3", category="slowsucceed", trigger="thread", states=(Poll2,), urgent=True,
      summary="answer a blocked poll with every entry's revents as soon as one has an event [Linux 6.18, experiment]",
      guard=_poll_3_guard)
def poll_3(ctx: RuleCtx, h: Host, tid: TID, e: Any) -> HostStep:
    """Description: a thread in POLL2(fds) returns the tuple of revents, one per entry, as
    soon as some entry has one: the events it asked for that hold, plus POLLERR, POLLHUP
    and POLLNVAL, which are reported unasked.

    Errors: none.

    Common cases: a datagram arrives on one of the polled sockets; POLLOUT is asked for on
    a socket (it holds at once while the out-queue has room).

    Model details: provenance: Linux 6.18, experiment (udp_poll) — POLLIN|POLLRDNORM for a
    queued datagram (an empty one too) or a receive shut down, with POLLRDHUP for the
    latter; POLLHUP when both directions are shut down; POLLERR for a pending error or a
    non-empty error queue (POLLIN is not set by an error alone), POLLPRI too with
    SO_SELECT_ERR_QUEUE; POLLOUT|POLLWRNORM|POLLWRBAND while the out-queue has room;
    POLLNVAL for an fd with no open socket; 0 for a negative fd. Duplicated fds are
    answered each with its own events. A socket closed by another thread while the poll
    waits does not wake it (it answers POLLNVAL at the next look); one already closed when
    poll was called (an orphan another thread still waits on; POLL2 records it) answers
    POLLNVAL at once, as Linux does. Console fds are always writable, never readable.
    Urgent.

    Formal:
        premises: ts(tid) = POLL2(fds); R = [revents(h, fd, ev) | (fd, ev) ∈ fds], revents =
          poll_mask(h, fd) ∧ (ev ∨ POLLERR ∨ POLLHUP ∨ POLLNVAL); some entry with R ≠ 0 names a
          negative fd, a console fd, an open socket, an fd with no socket at all, or an orphan
          already closed at the call (closed0), not one closed since. Urgent.
        transition: h --Lh_tau--> h'
        after: h' = h with {ts(tid) := RET(OK R)_dsch}
        changes: ts(tid)
    """
    return HostStep(ret(ctx, h, tid, Ok(_answer(ctx, h, e.state)), "poll"))


def _poll_4_guard(ctx: RuleCtx, h: Host, tid: TID) -> Any:
    """The guard of poll_4: the witness the outcome needs, or None."""
    e = h.thread(tid)
    if e is None or not isinstance(e.state, Poll2) or e.deadline != ctx.now:
        return None
    if _wakes(ctx, h, e.state):
        return None
    return e


@rule("poll_4", category="slowsucceed", trigger="thread", states=(Poll2,),
      summary="answer a blocked poll when its timeout expires (all 0 unless an fd was closed meanwhile) [Linux 6.18, experiment]",
      guard=_poll_4_guard)
def poll_4(ctx: RuleCtx, h: Host, tid: TID, e: Any) -> HostStep:
    """Description: the poll timer has reached 0 with nothing to wake it; the call returns
    each entry's revents as they are now: all 0, except POLLNVAL for a socket another
    thread closed while the poll waited.

    Errors: none.

    Common cases: a periodic tick of an event loop; `poll(fds, 0)` with nothing ready.

    Model details: provenance: Linux 6.18, experiment — Linux looks at every entry once
    more when the timeout expires, so a socket closed meanwhile answers POLLNVAL then. The
    timer is sharp (never enabled for a negative timeout).

    Formal:
        premises: ts(tid) = POLL2(fds) with timer = 0 (sharp); no entry wakes the poll (poll_3
          does not apply); R as in poll_3
        transition: h --Lh_tau--> h'
        after: h' = h with {ts(tid) := RET(OK R)_dsch}
        changes: ts(tid)
    """
    return HostStep(ret(ctx, h, tid, Ok(_answer(ctx, h, e.state)), "poll"))
