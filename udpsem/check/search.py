"""The trace checker: does the model admit a trace whose internal choices are unknown?

Like the Netsem checker, it searches the model's executions for one whose observable labels
match the trace, resolving every internal choice by search:

- **What must match.** The trace is cut into *streams*: one per thread (`host`, `tid`), with
  its `modcall`, `call`, `return`, `store`, `storeret`, `modret`, `thread_end` labels, and,
  when the trace observed them, one per host for datagrams sent (`send`) and received
  (`deliver`). A model transition with an observed kind must produce exactly the next label
  of its stream (same canonical JSON), at a model time within `tolerance` of the recorded
  time. Streams are ordered only within themselves: how threads of different hosts
  interleave is for the search to find. Other labels (τ, time, store-internal, network
  emission, ...) are internal and always allowed. Time may never pass beyond the latest
  moment the next label of some stream may still happen.
- **What is searched.** At each state, every enabled transition (`core.enabled`), and for
  every choice point a small, ordered set of options drawn from the trace: time steps to the
  next recorded moment or to the latest allowed one; propagation delays of dpropmin or
  reaching a recorded moment; ephemeral ports that appear in the trace; fates single, then
  drop, then copies; every ICMP/errno/socket option. Search is depth first, trying
  transitions that consume the next label first, with backtracking and memoisation of the
  (state, stream positions) pairs already explored.
- **Verdicts.** *accepted*, with the model run found (a list of steps with their choices,
  which `udpsem replay` re-runs); *rejected*, with the observable step at which the search
  got furthest and, for every candidate transition there, why it failed; *undecided* when
  the search budget ran out.

The option sets are a bound of the search (as the explorer's delay grid is): a rejection
says no model run *with these options* matches; the self-check (tests/test_check.py) shows
that model runs with their choices stripped are found again.
"""

from __future__ import annotations

import bisect
import functools
import itertools
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from udpsem.base.choice import Branch
from udpsem.base.labels import Label, Transition
from udpsem.base.registry import rules_by_trigger
from udpsem.base.time import fmt_ns
from udpsem.core.drivers import Step
from udpsem.core.system import enabled
from udpsem.hosts.values import ip_str
from udpsem.network.messages import UDP, IPMsg
from udpsem.programs.runtime import Code, GeneratorRuntime, identity
from udpsem.state.world import Machine, Setup, World
from udpsem.traces.encode import jsonable

THREAD_KINDS = ("modcall", "modret", "call", "return", "store", "storeret", "thread_end")
WIRE_KINDS = ("send", "deliver")
OQ_RULES = frozenset(r.name for r in rules_by_trigger("oq"))


def label_json(lab: Label) -> dict[str, Any]:
    """A label as a trace shows it (the same encoding as `traces.record.label_json`)."""
    out: dict[str, Any] = {"kind": lab.kind}
    if lab.host is not None:
        out["host"] = lab.host
    if lab.tid is not None:
        out["tid"] = lab.tid
    if lab.value is not None:
        out["value"] = jsonable(lab.value)
    return out


def stream_of(label: dict[str, Any]) -> tuple[str, Any]:
    """The stream a label belongs to: its thread, or its host's sent/received datagrams."""
    kind = label["kind"]
    if kind in WIRE_KINDS:
        return (label.get("host", "?"), kind)
    return (label.get("host", "?"), label.get("tid"))


@dataclass(frozen=True)
class Obs:
    """One observed label: trace record `i`, time `t` (ns)."""

    i: int
    t: int
    label: dict[str, Any]

    @property
    def stream(self) -> tuple[str, Any]:
        return stream_of(self.label)

    def describe(self) -> str:
        return f"record {self.i} at {fmt_ns(self.t)}: {describe_label(self.label)}"


def describe_label(label: dict[str, Any]) -> str:
    who = label.get("host", "")
    if label.get("tid") is not None:
        who += f"/{label['tid']}"
    v = label.get("value")
    text = "" if v is None else " " + _short(v)
    return f"{label['kind']} {who}{text}"


def _short(v: Any, limit: int = 120) -> str:
    import json

    s = json.dumps(v, separators=(",", ":"))
    return s if len(s) <= limit else s[: limit - 1] + "…"


class SearchRuntime(GeneratorRuntime):
    """The generator runtime for search: `start` and `advance` are memoised on their
    resulting Code, so a branch explored twice, or evaluated and then backtracked over, does
    not replay the thread; a generator is rebuilt only when one code is advanced with two
    different answers."""

    def __init__(self) -> None:
        super().__init__()
        self.reqs: dict[Code, Any] = {}

    def start(self, program: Any, arg: Any,
              where: tuple[Any, ...] | None = None) -> tuple[Code, Any]:
        who, name, place = identity(program, where)
        code = Code(program, arg, None, None, who, name, place)
        if code in self.reqs:
            return code, self.reqs[code]
        code, req = super().start(program, arg, where)
        self.reqs[code] = req
        return code, req

    def advance(self, code: Code, answer: Any) -> tuple[Code, Any]:
        new = Code(code.program, code.arg, code, answer)
        if new in self.reqs:
            return new, self.reqs[new]
        new, req = super().advance(code, answer)
        self.reqs[new] = req
        return new, req

    def discard(self, code: Any) -> None:
        return None  # another branch of the search may still need it


@dataclass
class Reject:
    """A candidate transition the search tried at the furthest state, and why it failed."""

    rule: str
    label: str
    reason: str
    record: int | None = None  # the trace record the reason is about

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"rule": self.rule, "label": self.label, "reason": self.reason}
        if self.record is not None:
            out["record"] = self.record
        return out


@dataclass
class Verdict:
    """The checker's answer."""

    verdict: str  # accepted | rejected | undecided
    observations: int
    matched: int
    nodes: int
    seconds: float
    steps: list[Step] = field(default_factory=list)
    stuck: Obs | None = None
    stuck_time: int | None = None
    pending: list[Obs] = field(default_factory=list)
    rejects: list[Reject] = field(default_factory=list)
    reason: str = ""

    @property
    def steps_per_second(self) -> float:
        return self.nodes / self.seconds if self.seconds > 0 else 0.0

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"verdict": self.verdict, "observations": self.observations,
                               "matched": self.matched, "search_nodes": self.nodes,
                               "seconds": round(self.seconds, 3),
                               "nodes_per_second": round(self.steps_per_second)}
        if self.verdict == "accepted":
            out["model_steps"] = len(self.steps)
        if self.stuck is not None:
            out["stuck_at"] = {"record": self.stuck.i, "t": self.stuck.t,
                               "label": self.stuck.label, "model_time": self.stuck_time}
            out["pending"] = [{"record": o.i, "t": o.t, "label": o.label}
                              for o in self.pending]
            out["candidates"] = [r.as_json() for r in self.rejects]
        if self.reason:
            out["reason"] = self.reason
        return out


class Checker:
    """Searches `setup`/`world` for a run matching `observations` (see the module doc)."""

    def __init__(self, setup: Setup, world: World, observations: Sequence[Obs],
                 observed: Sequence[str], tolerance: int, end: int,
                 max_nodes: int = 200_000, anchor_timers: bool = False,
                 progress: Callable[[dict[str, Any]], None] | None = None,
                 blind: dict[str, list[tuple[int, int]]] | None = None) -> None:
        self.progress = progress
        # Per host, windows in which the trace could not see its datagrams on the wire (a
        # capture on a link that was down): a wire label of the host there is internal,
        # unless it is the one recorded next.
        self.blind = blind or {}
        self.setup = setup
        self.world = world
        self.obs = list(observations)
        self.observed = frozenset(observed)
        self.tol = tolerance
        self.end = end
        self.max_nodes = max_nodes
        keys: list[tuple[str, Any]] = []
        streams: dict[tuple[str, Any], list[Obs]] = {}
        for o in self.obs:
            k = o.stream
            if k not in streams:
                streams[k] = []
                keys.append(k)
            streams[k].append(o)
        self.keys = keys
        self.index = {k: n for n, k in enumerate(keys)}
        self.streams = [streams[k] for k in keys]
        # When each label is aimed at (the moment time passes to): its recorded time, except,
        # in a real trace, for a call that starts a sharp timer (select with a timeout,
        # delay). Its recorded time precedes the system call, where the kernel's timer
        # really starts; the return shows when it ran out. So such a call is aimed at the
        # return's time minus the timeout (if the timer expired) or as late as the
        # tolerance allows if something was ready just before the timer ran out.
        #
        # Likewise a non-blocking recvfrom that returned a datagram: the kernel read the
        # socket at the system call, somewhere between the recorded call and return, and the
        # datagram was there. A model call is processed at once (EAGAIN if nothing has
        # arrived), so the call is aimed just after the moment the trace shows the datagram
        # can have arrived (see _receipts), if that is later than its recorded time: a thread
        # stalled between recording its call and entering the kernel, while the sender ran.
        self.aim: dict[int, int] = {}
        #
        # And a sendto whose datagram the trace shows received: the kernel sent it at the
        # system call, so it is aimed at the moment the trace shows it can have arrived (less
        # the least propagation delay), if that is later than its recorded time. It matters
        # when two threads of a host send at about the same time: the host's queue sends in
        # the order the model's calls are made, and a real thread that stalled between
        # recording its call and entering the kernel sent after the other.
        self.receipts, sent_at = _receipts(self.streams, setup.owners, setup.timing.dpropmin)
        if anchor_timers:
            for seq in self.streams:
                for a, b in itertools.pairwise(seq):
                    self.aim[a.i] = _aim(a, b, tolerance)
                    at = _receipt_at(self.receipts, a, b)
                    if at is not None and at >= self.aim[a.i]:
                        self.aim[a.i] = min(at + 1, a.t + tolerance)
                    at = sent_at.get(a.i)
                    if at is not None:
                        at -= setup.timing.dpropmin
                        if at > self.aim[a.i]:
                            self.aim[a.i] = min(at, a.t + tolerance)
        self.ports = _trace_ports(self.obs)
        self.host_ports: dict[str, list[tuple[int, int]]] = {}
        for o in self.obs:
            h = o.label.get("host")
            if h is not None:
                self.host_ports.setdefault(h, []).extend(_trace_ports([o]))
        self._host: str | None = None
        self.deliveries: dict[str, list[int]] = {}
        for o in self.obs:
            if o.label["kind"] == "deliver":
                self.deliveries.setdefault(_key(o.label.get("value")), []).append(o.t)
        self.nodes = 0
        self.best: tuple[int, int] = (-1, -1)
        self.best_info: tuple[tuple[int, ...], int, list[Reject]] | None = None

    # the search ----------------------------------------------------------------------------

    def run(self) -> Verdict:
        import time as _time

        t0 = _time.perf_counter()
        start_pos = tuple(0 for _ in self.keys)
        seen: set[tuple[World, tuple[int, ...]]] = set()
        # Each frame: (world, pos, iterator of successors, the step that led here).
        path: list[Step] = []
        stack: list[tuple[World, tuple[int, ...], Iterator[tuple[Step, tuple[int, ...]]]]] = []
        verdict = "rejected"
        reason = ""
        w, pos = self.world, start_pos
        seen.add((w, pos))
        if self._accepting(w, pos):
            verdict = "accepted"
        else:
            stack.append((w, pos, iter(self._expand(w, pos))))
        while stack and verdict != "accepted":
            if self.nodes >= self.max_nodes:
                verdict, reason = "undecided", (f"the search budget of {self.max_nodes} states "
                                                "ran out")
                break
            if self.progress is not None and self.nodes % 256 == 0:
                self.progress({"states": self.nodes, "matched": max(self.best[0], 0),
                               "observations": len(self.obs),
                               "elapsed": _time.perf_counter() - t0})
            w, pos, succ = stack[-1]
            nxt = next(succ, None)
            if nxt is None:
                stack.pop()
                if path:
                    path.pop()
                continue
            st, pos2 = nxt
            w2 = st.transition.world
            key = (w2, pos2)
            if key in seen:
                continue
            seen.add(key)
            path.append(st)
            if self._accepting(w2, pos2):
                verdict = "accepted"
                break
            stack.append((w2, pos2, iter(self._expand(w2, pos2))))
        secs = _time.perf_counter() - t0
        matched = max(self.best[0], 0)
        v = Verdict(verdict, len(self.obs), len(self.obs) if verdict == "accepted" else matched,
                    self.nodes, secs, reason=reason)
        if verdict == "accepted":
            v.steps = list(path)
        elif self.best_info is not None:
            bpos, bnow, rejects = self.best_info
            pending = [self.streams[n][p] for n, p in enumerate(bpos)
                       if p < len(self.streams[n])]
            pending.sort(key=lambda o: (o.t, o.i))
            # The step no rule explains, among the labels pending where the search got furthest.
            # A candidate whose label was right but whose time was not names the culprit
            # best; else the earliest of the labels due then and those the reasons name.
            late = {r.record for r in rejects if r.record is not None and "tolerance" in r.reason}
            named = {r.record for r in rejects if r.record is not None}
            timed = [o for o in pending if o.i in late]
            either = [o for o in pending if o.t <= bnow + self.tol or o.i in named]
            v.pending = pending
            first = timed or either or pending
            v.stuck = first[0] if first else None
            v.stuck_time = bnow
            v.rejects = rejects
        return v

    def _accepting(self, w: World, pos: tuple[int, ...]) -> bool:
        done = all(p == len(s) for p, s in zip(pos, self.streams, strict=True))
        return done and w.now + self.tol >= self.end

    def _expand(self, w: World, pos: tuple[int, ...]) -> list[tuple[Step, tuple[int, ...]]]:
        """The successors of a state that pass the local checks, in the order to try them;
        records why the others failed when this is the furthest state so far."""
        self.nodes += 1
        nxt = [self.streams[n][p] for n, p in enumerate(pos) if p < len(self.streams[n])]
        limit = min((o.t + self.tol for o in nxt), default=self.end)
        rejects: list[Reject] = []
        matches: list[tuple[int, Step, tuple[int, ...]]] = []
        internal: list[tuple[Step, tuple[int, ...]]] = []
        times: list[tuple[Step, tuple[int, ...]]] = []
        cands: Sequence[Any] = enabled(self.setup, w) if w.now < self.setup.horizon else ()
        dead = False  # a thread's next label is fixed and is not the trace's
        for ci, cand in enumerate(cands):
            try:
                resolved = list(self._resolve(cand, ci, w, nxt, limit))
            except Exception as e:  # noqa: BLE001 — a program error in one branch
                rejects.append(Reject(cand.rule, "?", f"{type(e).__name__}: {e}"))
                continue
            for made, tr in resolved:
                st = Step(tr, tuple(made))
                lab = tr.label
                if tr.rule == "time_pass":
                    times.append((st, pos))
                elif lab.kind in self.observed:
                    ok, why, pos2, t_exp = self._match(tr, pos)
                    if ok:
                        matches.append((t_exp, st, pos2))
                    elif lab.kind in WIRE_KINDS and self._blind(lab.host, w.now):
                        internal.append((st, pos))
                    else:
                        rejects.append(Reject(tr.rule, describe_label(label_json(lab)), why,
                                              t_exp if t_exp >= 0 else None))
                        if why.startswith(WRONG_LABEL) and _forced(tr):
                            dead = True
                else:
                    internal.append((st, pos))
        if nxt and any(c.rule == "time_pass" for c in cands) and not times:
            first = min(nxt, key=lambda o: o.t)
            rejects.append(Reject("time_pass", "time",
                                  f"time may not pass: record {first.i} "
                                  f"({describe_label(first.label)[:60]}) is due by "
                                  f"{fmt_ns(first.t + self.tol)}", first.i))
        if not any(c.rule == "time_pass" for c in cands) and w.now < limit:
            rejects.append(Reject("time_pass", "time",
                                  "time may not pass: something is urgent or a timer is due"
                                  if w.now < self.setup.horizon else
                                  "the run's horizon is reached"))
        matched = sum(pos)
        if (matched, w.now) >= self.best:  # the last such state: the deepest
            self.best = (matched, w.now)
            self.best_info = (pos, w.now, rejects)
        # The search discipline (what makes a rejection decisive): labels that are due
        # (recorded at or before now, oldest first) and internal steps happen now, in any
        # order; only when there is none does time pass, to the next recorded moment; a
        # label recorded later than now (within the tolerance) is taken early only when
        # time cannot pass. Internal steps are thus eager: the model does what nobody
        # observes as soon as it may, which is what a kernel does.
        if dead:
            # No continuation explains this thread's next recorded label: the thread can only
            # produce the label it offers (its return value, store answer or module result is
            # already computed; its next request or module call is its program's), and a
            # crash would end its stream instead. Prune here rather than after exploring
            # every interleaving of the other threads within the tolerance.
            return []
        matches.sort(key=lambda m: m[0])
        due = [(st, p) for t, st, p in matches if t <= w.now]
        early = [(st, p) for t, st, p in matches if t > w.now]
        if due or internal:
            now_steps = _one_machine(due + internal)
            # An outqueue step (a datagram leaving the host, or delivered to itself) may wait
            # (up to doq): a real sender can stall between its recorded call and the system
            # call, so its datagram may arrive after the receiver saw nothing there. Waiting
            # is tried last.
            oq = [x for x in now_steps if x[0].transition.rule in OQ_RULES]
            if oq and times and any(self._later(w, st) for st, _ in oq):
                # A datagram to the host itself that the trace shows arriving later: wait
                # first (a loopback delivery has no delay to choose).
                return [x for x in now_steps if x not in oq] + times + oq
            return now_steps + (times if oq else [])
        return times or _one_machine(early)

    def _blind(self, host: str | None, now: int) -> bool:
        return any(a - self.tol <= now <= b + self.tol for a, b in self.blind.get(host or "", ()))

    def _match(self, tr: Transition, pos: tuple[int, ...]) -> tuple[bool, str, tuple[int, ...],
                                                                    int]:
        lab = label_json(tr.label)
        now = tr.world.now
        k = stream_of(lab)
        n = self.index.get(k)
        o = None if n is None or pos[n] >= len(self.streams[n]) else self.streams[n][pos[n]]
        if o is None:
            if now + self.tol >= self.end:
                return True, "", pos, now  # beyond the end of the recording
            return False, (f"the trace shows nothing more for {k[0]}/{k[1]} before its end at "
                           f"{fmt_ns(self.end)}"), pos, -1
        if lab != o.label:
            return False, f"{WRONG_LABEL} {describe_label(o.label)} (record {o.i})", pos, o.i
        if abs(now - o.t) > self.tol:
            return False, (f"record {o.i} is at {fmt_ns(o.t)}, the model is at {fmt_ns(now)} "
                           f"(tolerance {fmt_ns(self.tol)})"), pos, o.i
        assert n is not None
        return True, "", (*pos[:n], pos[n] + 1, *pos[n + 1:]), self.aim.get(o.i, o.t)

    # choices ---------------------------------------------------------------------------------

    def _resolve(self, cand: Any, ci: int, w: World, nxt: list[Obs],
                 limit: int) -> Iterator[tuple[list[tuple[str, Any]], Transition]]:
        made0: list[tuple[str, Any]] = [("pick", ci)]
        self._host = _machine_of(cand, w)
        for v, made1 in self._branches(cand.first, made0, w, nxt, limit):
            for tr, made2 in self._branches(cand.then(v), made1, w, nxt, limit):
                assert isinstance(tr, Transition)
                yield made2, tr

    def _branches(self, outcome: Any, made: list[tuple[str, Any]], w: World, nxt: list[Obs],
                  limit: int) -> Iterator[tuple[Any, list[tuple[str, Any]]]]:
        if not isinstance(outcome, Branch):
            yield outcome, made
            return
        for opt in self._options(outcome, w, nxt, limit):
            yield from self._branches(outcome.cont(opt), [*made, (outcome.kind, opt)], w, nxt,
                                      limit)

    def _options(self, b: Branch[Any], w: World, nxt: list[Obs], limit: int) -> list[Any]:
        opts = b.options
        now = w.now
        if b.kind == "time":
            # One option: up to the next recorded moment if it is ahead, else (the label is
            # due but the model cannot produce it yet) as far as the tolerance allows; both
            # capped by the model's own bound (its next deadline).
            dmax = min(opts[-1], limit - now)
            target = min((self.aim.get(o.i, o.t) for o in nxt), default=self.end) - now
            d = min(target, dmax) if target >= 1 else dmax
            return [d] if d >= 1 else []
        if b.kind == "delay":
            # Arrive when a recorded delivery of this very datagram says so (the first few
            # not yet used, for copies), else as soon as possible, else as late as possible.
            # Copies are interchangeable, so copy j+1 arrives no earlier than copy j and
            # takes a recorded delivery the earlier copies have not taken.
            lo, hi = opts[0], opts[-1]
            out: list[Any] = []
            free = _closure_vars(b.cont)
            msg, chosen = free.get("msg"), tuple(free.get("chosen") or ())
            floor = max(lo, chosen[-1]) if chosen else lo
            if isinstance(msg, IPMsg) and self.deliveries:
                times = list(self.deliveries.get(_key(jsonable(msg)), []))
                for c in chosen:
                    if now + c in times:
                        times.remove(now + c)
                k = bisect.bisect_left(times, now + floor)
                out = [t - now for t in times[k:k + 3] if t - now <= hi]
            elif isinstance(msg, IPMsg) and isinstance(msg.body, UDP):
                # When the wire was not observed: when the trace says it can have arrived
                # (see _receipts); else as soon as possible, then as late as possible.
                at = self._arrival(w, msg, len(chosen))
                if at is not None and floor <= at - now <= hi:
                    out = [at - now]
            return list(dict.fromkeys([*out, floor, hi]))
        if b.kind == "eph":
            # Ports the trace shows from about now on, soonest first: the port a bind picks
            # shows up in the next getsockname, or as a source port at the peer.
            lo, hi = opts[0], opts[-1]
            found: list[Any] = []
            mine = self.host_ports.get(self._host, []) if self._host is not None else []
            for ports in (mine, self.ports):
                k = bisect.bisect_left(ports, (now - self.tol, -1))
                for _, p in ports[k:k + 200]:
                    if len(found) < 4 and lo <= p <= hi and p not in found and p in opts:
                        found.append(p)
            found.append(lo)
            return list(dict.fromkeys(found))
        if b.kind == "fate":
            # If the trace observed deliveries, count those of this datagram still to come
            # within the propagation bound and not owed to copies already in flight: that
            # many copies first (0: a drop). Else one copy, then a drop, then more copies.
            want = 1
            msg = _closure_vars(b.cont).get("msg")
            if isinstance(msg, IPMsg) and self.deliveries:
                key = _key(jsonable(msg))
                times = self.deliveries.get(key, [])
                t = self.setup.timing
                ahead = sum(1 for x in times if now + t.dpropmin <= x <= now + t.dpropmax)
                flying = sum(1 for f in w.net if f.msg == msg)
                want = max(0, ahead - flying)
            def rank(o: Any) -> int:
                copies = 0 if o == "drop" else 1 if o == "single" else int(str(o)[3:])
                return abs(copies - want) * 2 + (copies > want)
            return sorted(opts, key=rank)
        if len(opts) > 16:
            return list(opts[:16])
        return list(opts)


    def _later(self, w: World, st: Step) -> bool:
        """Whether outqueue step `st` delivers to its own host a datagram that the trace
        shows arriving later than now (see _receipts)."""
        if not st.transition.rule.startswith("delivery_loopback_udp"):
            return False
        m = next((m for m in w.machines if m.name == st.transition.label.host), None)
        if m is None or m.host is None or not m.host.oq:
            return False
        msg = m.host.oq[0]
        if not isinstance(msg.body, UDP):
            return False
        at = self._arrival(w, msg, 0)
        return at is not None and at > w.now

    def _arrival(self, w: World, msg: IPMsg, copy: int) -> int | None:
        """When copy `copy` of UDP datagram `msg` can have arrived, by the trace (None if the
        program did not receive it): that of the first receipt from now on (a recvfrom
        return on the destination host with its source and data) that copies already in
        flight do not account for."""
        assert isinstance(msg.body, UDP)
        owner = self.setup.owners.get(msg.dst)
        seen = self.receipts.get((owner, msg.src, msg.body.sport, _key(jsonable(msg.body.data))))
        if not seen:
            return None
        flying = sum(1 for f in w.net if f.msg == msg)
        k = bisect.bisect_left(seen, (w.now, -1)) + flying + copy
        return seen[k][1] if k < len(seen) else None


def _sends(streams: Sequence[Sequence[Obs]],
           owners: dict[int, str]) -> dict[tuple[Any, ...], list[tuple[int, int, int]]]:
    """Per (sending host, destination host, data): every sendto call of a thread of that
    host, with the time of its call and of its return and its record, in call order."""
    out: dict[tuple[Any, ...], list[tuple[int, int, int]]] = {}
    for seq in streams:
        for a, b in itertools.pairwise(seq):
            v = a.label.get("value")
            if (a.label["kind"] != "call" or b.label["kind"] != "return"
                    or not isinstance(v, dict) or v.get("_") != "sendto"):
                continue
            dest = v.get("dest")
            if not (isinstance(dest, list) and len(dest) == 2):
                continue
            key = (a.label.get("host"), owners.get(dest[0]), _key(v.get("data")))
            out.setdefault(key, []).append((a.t, b.t, a.i))
    for v in out.values():
        v.sort()
    return out


def _receipts(streams: Sequence[Sequence[Obs]], owners: dict[int, str], dpropmin: int
              ) -> tuple[dict[tuple[Any, ...], list[tuple[int, int]]], dict[int, int]]:
    """Per (host, source address, source port, data): the moments a thread of that host
    received such a datagram (a recvfrom return), each with a moment it can have arrived
    at, consistent with what the trace shows. A kernel delivers on loopback and veth within
    the sender's sendto, so a datagram arrives between that sendto's call and return, and
    before the receiver saw it ready (a select that listed its socket, the call of a
    recvfrom that did not block, or else the recvfrom's return); after the receiving
    socket's bind returned; after the receiver last found the socket empty (a recvfrom
    that failed); and, as a socket's queue is in
    arrival order, after the datagram read from the same socket before it. The moment
    chosen is the earliest that satisfies all of that (and the model's least propagation
    delay, dpropmin, after the call). Also returned: per sendto call (its record), the moment
    chosen for the datagram it sent, when that is the latest sendto of such a datagram
    before the receipt."""
    sends = _sends(streams, owners)
    binds: dict[tuple[Any, Any], list[int]] = {}  # (host, fd) -> its bind returns
    for seq in streams:
        for a, b in itertools.pairwise(seq):
            v = a.label.get("value")
            if a.label["kind"] == "call" and isinstance(v, dict) and v.get("_") == "bind":
                binds.setdefault((a.label.get("host"), v.get("fd")), []).append(b.t)
    # (host, fd) -> [(receipt time, key, earliest, ready, sendto record)] in read order
    reads: dict[tuple[Any, Any], list[tuple[int, tuple[Any, ...], int, int, int]]] = {}
    for seq in streams:
        empty: dict[Any, int] = {}  # fd -> the call time of its latest failed recvfrom
        for j, o in enumerate(seq):
            v = o.label.get("value")
            call = seq[j - 1].label.get("value") if j > 0 else None
            if (o.label["kind"] != "return" or not isinstance(v, dict)
                    or not isinstance(call, dict) or call.get("_") != "recvfrom"):
                continue
            fd, host = call.get("fd"), o.label.get("host")
            ok = v.get("ok")
            if not (isinstance(ok, list) and len(ok) == 3 and isinstance(ok[2], dict)
                    and "bytes" in ok[2]):
                if "fail" in v:
                    empty[fd] = seq[j - 1].t
                continue
            ready = seq[j - 1].t if call.get("nonblock") else o.t
            if j >= 3:
                sel, sret = seq[j - 3].label.get("value"), seq[j - 2].label.get("value")
                if (isinstance(sel, dict) and sel.get("_") == "select"
                        and isinstance(sret, dict) and isinstance(sret.get("ok"), list)
                        and fd in (sret["ok"][0] or [])):
                    ready = seq[j - 2].t
            data = _key(ok[2])
            earliest = empty.get(fd, -1) + 1
            bound = [t for t in binds.get((host, fd), ()) if t <= o.t]
            if bound:
                earliest = max(earliest, bound[-1] + 1)
            sent = sends.get((owners.get(ok[0]), host, data), [])
            k = bisect.bisect_right(sent, (o.t, 1 << 62)) - 1
            by = -1
            if k >= 0:
                earliest = max(earliest, sent[k][0] + dpropmin)
                ready = min(ready, sent[k][1])
                by = sent[k][2]
            reads.setdefault((host, fd), []).append(
                (o.t, (host, ok[0], ok[1], data), earliest, ready, by))
    out: dict[tuple[Any, ...], list[tuple[int, int]]] = {}
    sent_at: dict[int, int] = {}
    for queue in reads.values():
        last = -1
        for t, key, earliest, ready, by in sorted(queue, key=lambda x: x[0]):
            at = max(earliest, last + 1)
            at = at if at <= ready else max(earliest, min(ready, t))
            last = at
            out.setdefault(key, []).append((t, at))
            if by >= 0:
                sent_at[by] = at
    for v in out.values():
        v.sort()
    return out, sent_at


def _receipt_at(receipts: dict[tuple[Any, ...], list[tuple[int, int]]], call: Obs,
                ret: Obs) -> int | None:
    """When the datagram that non-blocking recvfrom `call` returned (`ret`) can have arrived,
    by `receipts` (None if `call` is not such a call)."""
    v, r = call.label.get("value"), ret.label.get("value")
    if (call.label["kind"] != "call" or ret.label["kind"] != "return" or not isinstance(v, dict)
            or v.get("_") != "recvfrom" or not v.get("nonblock") or not isinstance(r, dict)):
        return None
    ok = r.get("ok")
    if not (isinstance(ok, list) and len(ok) == 3 and isinstance(ok[2], dict)
            and "bytes" in ok[2]):
        return None
    seen = receipts.get((ret.label.get("host"), ok[0], ok[1], _key(ok[2])), [])
    return next((at for t, at in seen if t == ret.t), None)


def _one_machine(steps: list[tuple[Step, tuple[int, ...]]]) -> list[tuple[Step, tuple[int, ...]]]:
    """Partial-order reduction: of steps that all happen at this instant, only those of one
    machine (the first's). Steps of different machines at one instant are independent: each
    changes only its own machine, and a datagram one of them sends arrives at least dpropmin
    later; the trace orders labels only within a thread. As time cannot pass until each of
    them is taken (the search discipline), every run taking them in another order is the same
    run up to the order of independent steps. A step without a machine (an environment event)
    keeps them all."""
    if len(steps) < 2:
        return steps
    hosts = [st.transition.label.host for st, _ in steps]
    if any(h is None for h in hosts):
        return steps
    return [x for x, h in zip(steps, hosts, strict=True) if h == hosts[0]]


WRONG_LABEL = "the trace has"
"""How the reason for a label that differs from its stream's next recorded one begins."""

# Label kinds whose value a thread's state already fixes when the transition is enabled: a
# request (call, store, module call) is the program's next one, a store answer or a module
# result is computed, a thread's end is its program's.
_FIXED_KINDS = frozenset({"call", "store", "storeret", "modcall", "modret", "thread_end"})


def _forced(tr: Transition) -> bool:
    """Whether `tr`'s label is the only next label its thread can ever produce: a fixed kind,
    or a return from `RET v` (ret_1; blocked calls reach RET through internal steps)."""
    kind = tr.label.kind
    return kind in _FIXED_KINDS or (kind == "return" and tr.rule == "ret_1")


def _aim(call: Obs, ret: Obs, tol: int) -> int:
    """Where to put `call` (see Checker.aim); its recorded time if it starts no timer."""
    lab, v = call.label, call.label.get("value")
    if lab["kind"] != "call" or not isinstance(v, dict) or ret.label["kind"] != "return":
        return call.t
    if v.get("_") == "select" and v.get("timeout_us") is not None:
        timeout = int(v["timeout_us"]) * 1000
        expired = ret.label.get("value") == {"ok": [[], []]}
    elif v.get("_") == "delay":
        timeout, expired = int(v.get("us", 0)) * 1000, True
    elif v.get("_") == "bind":
        # A bind takes effect at the system call, somewhere before its return: a datagram
        # that arrived between the recorded call and the system call found no socket. The
        # model binds at the call, so it is put just before the return (within tolerance),
        # which is also when _receipts lets a datagram bound for it arrive.
        return max(call.t, min(ret.t - 1, call.t + tol - tol // 8))
    else:
        return call.t
    if expired:
        return max(call.t, min(call.t + tol // 2, ret.t - timeout - tol // 4))
    if ret.t - call.t >= timeout - tol:
        # Ready just before the timeout (or after it: the thread entered the system call
        # late): start it late enough for the timer to outlast the return, within tolerance.
        return max(call.t, min(call.t + tol - tol // 8, ret.t - timeout + tol // 4))
    return call.t


def _key(v: Any) -> str:
    import json

    return json.dumps(v, sort_keys=True, separators=(",", ":"))


def _closure_vars(fn: Any) -> dict[str, Any]:
    """The free variables of function `fn` by name (empty if it has none); of a partial,
    its keywords (core.system's network continuations are such partials)."""
    if isinstance(fn, functools.partial):
        return dict(fn.keywords)
    names = getattr(getattr(fn, "__code__", None), "co_freevars", ())
    out: dict[str, Any] = {}
    for name, cell in zip(names, getattr(fn, "__closure__", None) or (), strict=False):
        try:
            out[name] = cell.cell_contents
        except ValueError:
            pass
    return out


def _closure_value(fn: Any, cls: type) -> Any:
    """The first value of type `cls` that function `fn` closes over (None if none)."""
    for cell in getattr(fn, "__closure__", None) or ():
        try:
            v = cell.cell_contents
        except ValueError:
            continue
        if isinstance(v, cls):
            return v
    return None


def _machine_of(cand: Any, w: World) -> str | None:
    """The machine a candidate belongs to (None if unknown): used only to order the
    ephemeral-port options. A host rule's candidate names its host (`en.args[0]`), found
    among `w`'s machines by identity; else it is read from the continuation's closure (a
    compiled closure shows none)."""
    en = getattr(cand, "en", None)
    host = en.args[0] if en is not None and en.args else None
    if host is not None:
        for m in w.machines:
            if m.host is host:
                return m.name
    fn = getattr(cand.then, "func", cand.then)
    for cell in getattr(fn, "__closure__", None) or ():
        try:
            v = cell.cell_contents
        except ValueError:
            continue
        if isinstance(v, Machine):
            return v.name
    return None


def _trace_ports(obs: Sequence[Obs]) -> list[tuple[int, int]]:
    """(time, integer) for every integer in the trace that could be a port, in time order."""
    out: list[tuple[int, int]] = []
    t = 0

    def walk(v: Any) -> None:
        if isinstance(v, bool):
            return
        if isinstance(v, int):
            if 1024 <= v <= 65535:
                out.append((t, v))
        elif isinstance(v, list):
            for x in v:
                walk(x)
        elif isinstance(v, dict):
            for x in v.values():
                walk(x)

    for o in obs:
        t = o.t
        walk(o.label.get("value"))
    out.sort(key=lambda x: x[0])
    return out


def fmt_addr(a: int | None) -> str:
    return ip_str(a)
