"""The exploration engine: every behaviour of a program within bounds.

`explore(cfg)` searches the state space of a scenario (`udpsem.programs.catalog`) breadth-first
(shortest counterexample first), depth-first, or by random walks (a swarm of seeds, spread
over worker processes). Successors come from `system.enabled` and `drivers.fire` resolved by an
enumerating chooser (`choosers.TreeChooser`), so exploration, simulation and replay share the
model interface. States are deduplicated on 64-bit fingerprints of canonical keys
(`fingerprint.Keyer`); the visited table maps a fingerprint to a state number, and three flat
arrays hold each state's parent, the index of the edge that reached it and the time at which
it was first (earliest) reached — enough to rebuild a path by re-expanding along it.

Bounds: `horizon` (virtual time; a state at the horizon has no successors), `max_depth`
(transitions from a root), `max_states` (unique states), and the discretisation of choices.
A state reached again *earlier* in time (or, with a depth bound, at a smaller depth) is
explored again, so deduplication on relative time never hides a behaviour within the bounds.

Determinism: the order of roots, of `enabled` and of the chooser's options is canonical; no
set or str-keyed dict is iterated to choose anything; fingerprints are BLAKE2 digests of
marshal-encoded keys. The same configuration gives the same counts and the same counterexample
in every process, whatever PYTHONHASHSEED, and whatever the number of workers.
"""

from __future__ import annotations

import gc
import itertools
import random
import sys
import time
from array import array
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from udpsem.base import frozen
from udpsem.base.labels import Transition
from udpsem.base.time import NEVER, fmt_ns
from udpsem.core.drivers import fire, step
from udpsem.core.system import enabled
from udpsem.explore.choosers import Discretisation, TreeChooser, WalkChooser
from udpsem.explore.fingerprint import DIGEST_SIZE, Keyer
from udpsem.explore.properties import (
    NO_TIME_STOP,
    SETTLE,
    Invariant,
    Monitor,
    NoEscape,
    Theorem2,
    model_invariants,
)
from udpsem.hosts.state import HostConsts, Timing
from udpsem.network.faults import Faults, Window
from udpsem.programs import files
from udpsem.programs.catalog import scenario
from udpsem.programs.runtime import Code, GeneratorRuntime
from udpsem.state.components import Raised, Return
from udpsem.state.world import Setup, World


class ExploreRuntime(GeneratorRuntime):
    """The generator runtime with a bounded cache of live generators.

    Exploration visits far more thread states than it can keep generators for; the oldest
    cached generator is dropped when the cache is full (a later need rebuilds it by replaying
    its answers, which gives the same generator state, so results never depend on the cap).
    """

    def __init__(self, max_live: int = 20_000) -> None:
        super().__init__()
        self.max_live = max_live
        self.requests: dict[Code, Any] = {}
        self.shared = 0

    def advance(self, code: Code, answer: Any) -> tuple[Code, Any]:
        """As `GeneratorRuntime.advance`, but a thread state reached before is not computed
        again: interleavings that differ elsewhere (a diamond: A then B, B then A) advance the
        same thread with the same answer, to an equal Code, whose generator is still live
        (or which has finished). Its request is a function of the Code (programs are
        deterministic), kept from the first time; without this the second path found the
        generator moved on and rebuilt it by replaying every answer."""
        new = Code(code.program, code.arg, code, answer)
        req = self.requests.get(new, _NO_REQUEST)
        if req is not _NO_REQUEST and (new in self.live or isinstance(req, (Return, Raised))):
            self.shared += 1
            return new, req
        gen = self.live.pop(code, None)
        if gen is None:
            gen = self._rebuild(code)
        req = self._deliver(gen, answer, False, new)
        self._keep(new, gen, req)
        reqs = self.requests
        reqs[new] = req
        while len(reqs) > self.max_live:
            del reqs[next(iter(reqs))]  # insertion order: deterministic
        return new, req

    def _keep(self, code: Any, gen: Any, req: Any) -> None:
        super()._keep(code, gen, req)
        live = self.live
        while len(live) > self.max_live:
            del live[next(iter(live))]  # insertion order: deterministic


_NO_REQUEST: Any = object()


@dataclass(frozen=True)
class ExploreConfig:
    """Everything that determines an exploration (a worker is a function of this and seeds).

    `params` are the scenario's parameters; for the heartbeat, the status poller's period
    defaults to the horizon so that it never runs: the Theorem 2 monitor checks the status
    cell instead (see `properties.Theorem2`).
    """

    program: str = "heartbeat"
    horizon: int = 8_000_000_000
    params: tuple[tuple[str, int], ...] = ()
    timing: Timing = field(default_factory=Timing)
    consts: HostConsts = field(default_factory=HostConsts)
    faults: Faults = field(default_factory=Faults)
    discretisation: Discretisation = field(default_factory=Discretisation)
    strategy: str = "bfs"
    max_depth: int | None = None
    max_states: int | None = None
    seeds: int = 1
    first_seed: int = 0
    workers: int = 1
    walk_depth: int | None = None
    fault_grid: int = 1
    fault_jitter: int = 0
    check_model: bool = True
    stop_at_first: bool = True
    frames: bool = True
    graph: bool = False
    settle: int = SETTLE
    max_seconds: float | None = None
    max_memory: int | None = None

    def scenario_params(self) -> dict[str, int]:
        sc = scenario(self.program)
        p = {**sc.defaults, **dict(self.params)}
        p["duration_ns"] = self.horizon
        if self.program == "heartbeat" and "period_ns" not in dict(self.params):
            p["period_ns"] = self.horizon
        return p


@dataclass
class Root:
    """One initial world: the fault setting it was built from (window moments on the grid)."""

    faults: Faults
    world: World


@dataclass
class Violation:
    """A property that failed, where, and the path of step choices from a root to there."""

    prop: str
    message: str
    root: int
    steps: list[list[tuple[str, Any]]]
    time: int


@dataclass
class ExploreResult:
    """Figures and verdicts of one exploration."""

    states: int = 0
    transitions: int = 0
    max_depth: int = 0
    elapsed: float = 0.0
    revisits: int = 0
    bytes_per_state: float = 0.0
    complete: bool = True
    truncated: list[str] = field(default_factory=list)
    verdicts: dict[str, str] = field(default_factory=dict)
    violation: Violation | None = None
    roots: int = 0
    frame_hits: int = 0
    frame_misses: int = 0
    rebuilds: int = 0
    graph: Any = None
    frontier: int = 0

    @property
    def states_per_s(self) -> float:
        return self.states / self.elapsed if self.elapsed > 0 else 0.0


# Building ------------------------------------------------------------------------------------

def _grid(t: int, cfg: ExploreConfig) -> list[int]:
    if cfg.fault_grid <= 1 or cfg.fault_jitter <= 0:
        return [t]
    n = cfg.fault_grid
    return sorted({t + cfg.fault_jitter * k // (n - 1) for k in range(n)})


def fault_variants(cfg: ExploreConfig) -> list[Faults]:
    """The fault settings of the roots: every window's start and end on the moment grid
    [t, t + fault_jitter] (fault_grid points each); windows that would end before they start
    are left out."""
    per_window: list[list[Window]] = []
    for w in cfg.faults.disconnects:
        opts = []
        for s in _grid(w.start, cfg):
            ends: list[int | None] = [None] if w.end is None else list(_grid(w.end, cfg))
            for e in ends:
                if e is None or e > s:
                    opts.append(Window(w.host, s, e))
        per_window.append(opts)
    return [replace(cfg.faults, disconnects=tuple(combo))
            for combo in itertools.product(*per_window)]


def build(cfg: ExploreConfig, runtime: Any | None = None) -> tuple[Setup, list[Root]]:
    """The setup (shared) and the roots of an exploration."""
    sc = scenario(cfg.program)
    runtime = runtime if runtime is not None else ExploreRuntime()
    params = cfg.scenario_params()
    setup: Setup | None = None
    roots = []
    for f in fault_variants(cfg):
        s, w = sc.build(params, cfg.timing, cfg.consts, f, runtime)
        if setup is None:
            setup = s
        roots.append(Root(f, w))
    assert setup is not None
    setup.horizon = cfg.horizon
    return setup, roots


def monitors_for(program: str, settle: int = SETTLE) -> list[Monitor]:
    """The trace properties checked for a program (`settle`: Theorem 2's settle time); for
    a program file, its own monitors and no_escape."""
    if program == "heartbeat":
        return [Theorem2(settle=settle), NoEscape()]
    if files.is_file_ref(program):
        return [*files.load(program).spec.monitors, NoEscape()]
    return [NoEscape()]


def invariants_for(cfg: ExploreConfig) -> list[Invariant]:
    """The state properties checked: the model's (host_ok, network_ok, unless
    `check_model` is off) and, for a program file, its own — added, never instead."""
    out = model_invariants() if cfg.check_model else []
    if files.is_file_ref(cfg.program):
        out.extend(files.load(cfg.program).spec.invariants)
    return out


def expand(setup: Setup, world: World, policy: Discretisation) -> list[tuple[list[Any],
                                                                              Transition]]:
    """Every explored successor of `world`: (the step's choices, the transition), in canonical
    order (candidates in `enabled` order, then the odometer over their choice points)."""
    if world.now >= setup.horizon:
        return []
    out = []
    cands = list(enabled(setup, world))  # each candidate built once
    for i in policy.picks([c.rule for c in cands]):
        cand = cands[i]
        tc = TreeChooser(policy)
        while True:
            made: list[Any] = [("pick", i)]
            tc.start(made)
            out.append((made, fire(cand, tc, made)))
            if not tc.advance():
                break
    return out


def summary(world: World) -> str:
    """A one-line description of a state (for graph nodes): `udpsem.view.state.summary`."""
    from udpsem.view.state import summary as rendered

    return rendered(world)


# The search ----------------------------------------------------------------------------------

def rss_bytes() -> int:
    """This process's resident memory now (Linux /proc), else its peak (getrusage)."""
    try:
        with open("/proc/self/statm", "rb") as fh:
            import os

            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        import resource

        return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024


BOUND_NAMES = {"states": "max-states", "seconds": "max-seconds", "memory": "max-memory",
               "interrupted": "interrupted (SIGINT)", "depth": "max-depth",
               "random": "random walks"}
"""How each reason in `ExploreResult.truncated` is named to users."""


def over_budget(cfg: ExploreConfig, t0: float) -> str | None:
    """"seconds" or "memory" when that bound of `cfg` is exceeded now, else None."""
    if cfg.max_seconds is not None and time.perf_counter() - t0 > cfg.max_seconds:
        return "seconds"
    if cfg.max_memory is not None and rss_bytes() > cfg.max_memory:
        return "memory"
    return None


Progress = Callable[[dict[str, Any]], None]


class Search:
    """One BFS or DFS exploration (see the module docstring)."""

    def __init__(self, cfg: ExploreConfig, invariants: Sequence[Invariant] | None = None,
                 monitors: Sequence[Monitor] | None = None,
                 world: tuple[Setup, Sequence[World]] | None = None) -> None:
        """`world`: explore these roots under this setup instead of `cfg.program`'s scenario
        (small hand-built worlds); the setup's runtime should be an `ExploreRuntime`."""
        self.cfg = cfg
        self.runtime: Any
        if world is None:
            self.runtime = ExploreRuntime()
            self.setup, self.roots = build(cfg, self.runtime)
        else:
            self.setup = world[0]
            self.setup.horizon = cfg.horizon
            self.runtime = self.setup.runtime
            self.roots = [Root(self.setup.faults, w) for w in world[1]]
        self.policy = cfg.discretisation
        # Given invariants and monitors are checked in addition to the program's own and
        # the model's (never instead of them).
        self.invariants = [*invariants_for(cfg), *(invariants or ())]
        self.monitors = [*monitors_for(cfg.program, cfg.settle), *(monitors or ())]
        self.keyer = Keyer(self.runtime, cfg.horizon, cfg.frames)
        self.visited: dict[bytes, int] = {}
        self.parent = array("q")
        self.edge = array("l")
        self.at = array("q")
        self.depth = array("l")
        self.props = [i.name for i in self.invariants] + [m.name for m in self.monitors] + \
            [NO_TIME_STOP]
        self._stopped = False
        self.nodes: list[tuple[str, str]] = []
        self.edges: list[tuple[int, int, Transition, Any]] = []  # (from, to, step, choices)

    # bookkeeping ------------------------------------------------------------------------------

    def _mkeys(self, ms: tuple[Any, ...], now: int) -> tuple[Any, ...]:
        return tuple([m.key(s, now) for m, s in zip(self.monitors, ms)])

    def _new(self, fp: bytes, parent: int, edge: int, now: int, depth: int,
             world: World) -> int:
        # A SIGINT can land anywhere here. The state is counted (`parent`) and findable
        # (`visited`) only after its summary and its other entries exist, so an interrupted
        # search never reports a state its graph lacks; graph() reads the first
        # len(self.parent) nodes.
        text = summary(world) if self.cfg.graph else None
        sid = len(self.parent)
        if text is not None:
            self.nodes.append((fp.hex(), text))
        self.edge.append(edge)
        self.at.append(now)
        self.depth.append(depth)
        self.parent.append(parent)
        self.visited[fp] = sid
        return sid

    def _check(self, world: World, ms: tuple[Any, ...]) -> tuple[str, str] | None:
        for inv in self.invariants:
            msg = inv.violation(self.setup, world)
            if msg is not None:
                return inv.name, msg
        for mon, s in zip(self.monitors, ms):
            msg = mon.violation(s, world)
            if msg is not None:
                return mon.name, msg
        return None

    def path(self, sid: int) -> tuple[int, list[int]]:
        """The root index and edge indices leading to state `sid`."""
        edges = []
        while self.parent[sid] >= 0:
            edges.append(self.edge[sid])
            sid = self.parent[sid]
        edges.reverse()
        return -1 - self.parent[sid], edges

    def choices(self, root: int, edges: list[int]) -> list[list[tuple[str, Any]]]:
        """The step choices along a path, by re-expanding each state on it."""
        w = self.roots[root].world
        out = []
        for k in edges:
            made, t = expand(self.setup, w, self.policy)[k]
            out.append(made)
            w = t.world
        return out

    def bytes_per_state(self) -> float:
        n = len(self.parent)
        if n == 0:
            return 0.0
        total = sys.getsizeof(self.visited)
        total += sum(sys.getsizeof(k) for k in self.visited)
        total += sum(sys.getsizeof(v) for v in self.visited.values() if v > 256)
        for a in (self.parent, self.edge, self.at, self.depth):
            total += a.itemsize * len(a)
        return total / n

    # the loop ---------------------------------------------------------------------------------

    def run(self, progress: Progress | None = None) -> ExploreResult:
        """Search (see the class notes). Python's cyclic garbage collector is paused while it
        runs: the search holds a large frontier of acyclic immutable worlds, which the
        collector would traverse again and again (about a fifth of the time), and finds no
        cycles to free; a thread program that makes reference cycles keeps them until the
        search ends. A SIGINT (KeyboardInterrupt) ends the search like a bound, with the
        counts so far."""
        was = gc.isenabled()
        gc.disable()
        try:
            return self._run(progress)
        finally:
            if was:
                gc.enable()

    def _run(self, progress: Progress | None) -> ExploreResult:
        cfg, setup, keyer = self.cfg, self.setup, self.keyer
        res = ExploreResult(roots=len(self.roots))
        found: dict[str, tuple[str, int]] = {}
        t0 = time.perf_counter()
        frontier: deque[tuple[World, tuple[Any, ...], int, int]] = deque()
        stop = False
        for r, root in enumerate(self.roots):
            w0 = root.world
            ms0 = tuple(m.initial(setup, w0) for m in self.monitors)
            fp = keyer.fingerprint(w0, self._mkeys(ms0, w0.now))
            if fp in self.visited:
                continue
            sid = self._new(fp, -1 - r, 0, w0.now, 0, w0)
            bad = self._check(w0, ms0)
            if bad is not None:
                found.setdefault(bad[0], (bad[1], sid))
                if cfg.stop_at_first:
                    stop = True
                continue
            frontier.append((w0, ms0, sid, 0))
        last = t0
        try:
            self._loop(frontier, res, found, t0, last, progress, stop)
        except KeyboardInterrupt:
            res.truncated.append("interrupted")
        return self._finish(res, found, frontier, t0)

    def _loop(self, frontier: deque[tuple[World, tuple[Any, ...], int, int]],
              res: ExploreResult, found: dict[str, tuple[str, int]], t0: float, last: float,
              progress: Progress | None, stop: bool) -> None:
        cfg, setup, policy, keyer = self.cfg, self.setup, self.policy, self.keyer
        monitors = self.monitors
        bfs = cfg.strategy == "bfs"
        depth_bounded = cfg.max_depth is not None
        tick = 0
        self._stopped = stop
        while frontier and not stop:
            tick += 1
            if tick % 512 == 0:
                why = over_budget(cfg, t0)
                if why is not None:
                    res.truncated.append(why)
                    stop = True
                    break
            w, ms, sid, depth = frontier.popleft() if bfs else frontier.pop()
            if self.at[sid] < w.now or (depth_bounded and self.depth[sid] < depth):
                continue  # superseded by an earlier (or shallower) visit of the same state
            res.max_depth = max(res.max_depth, depth)
            if depth_bounded and depth >= cfg.max_depth:  # type: ignore[operator]
                if "depth" not in res.truncated:
                    res.truncated.append("depth")
                continue
            succ = expand(setup, w, policy)
            if not succ and w.now < setup.horizon:
                why = f"time-stop at {fmt_ns(w.now)}: nothing enabled and time cannot pass"
                found.setdefault(NO_TIME_STOP, (why, sid))
                if cfg.stop_at_first:
                    break
            for k, (_made, t) in enumerate(succ):
                res.transitions += 1
                w2 = t.world
                ms2 = tuple([m.step(s, t) for m, s in zip(monitors, ms)])
                fp = keyer.fingerprint(w2, self._mkeys(ms2, w2.now))
                j = self.visited.get(fp)
                if j is not None:
                    if cfg.graph:
                        self.edges.append((sid, j, t, _made))
                    if w2.now >= self.at[j] and not (depth_bounded
                                                     and depth + 1 < self.depth[j]):
                        continue
                    res.revisits += 1
                    self.parent[j], self.edge[j] = sid, k
                    self.at[j] = min(self.at[j], w2.now)
                    self.depth[j] = min(self.depth[j], depth + 1)
                else:
                    j = self._new(fp, sid, k, w2.now, depth + 1, w2)
                    if cfg.graph:
                        self.edges.append((sid, j, t, _made))
                    bad = self._check(w2, ms2)
                    if bad is not None:
                        found.setdefault(bad[0], (bad[1], j))
                        if cfg.stop_at_first:
                            stop = True
                            break
                        continue
                    if cfg.max_states is not None and len(self.parent) >= cfg.max_states:
                        if "states" not in res.truncated:
                            res.truncated.append("states")
                        stop = True
                        break
                frontier.append((w2, ms2, j, depth + 1))
            if progress is not None:
                now = time.perf_counter()
                if now - last > 0.25:
                    last = now
                    progress({"states": len(self.parent), "transitions": res.transitions,
                              "depth": res.max_depth, "queue": len(frontier),
                              "elapsed": now - t0})
        self._stopped = stop

    def _finish(self, res: ExploreResult, found: dict[str, tuple[str, int]],
                frontier: deque[Any], t0: float) -> ExploreResult:
        cfg, keyer = self.cfg, self.keyer
        stop = self._stopped or bool(set(res.truncated) & {"interrupted", "seconds", "memory"})
        res.frontier = len(frontier)
        res.elapsed = time.perf_counter() - t0
        res.states = len(self.parent)
        res.bytes_per_state = self.bytes_per_state()
        res.frame_hits, res.frame_misses = keyer.frame_hits, keyer.frame_misses
        res.rebuilds = getattr(self.runtime, "rebuilds", 0)
        cut = bool(set(res.truncated) & {"states", "seconds", "memory", "interrupted"}) or \
            (stop and bool(frontier))
        res.complete = not res.truncated and not cut
        for p in self.props:
            if p in found:
                res.verdicts[p] = "violated"
            else:
                res.verdicts[p] = "unknown" if cut else "holds"
        first = min(found.items(), key=lambda kv: kv[1][1]) if found else None
        if first is not None:
            prop, (msg, sid) = first
            root_no, edges = self.path(sid)
            steps = self.choices(root_no, edges)
            res.violation = Violation(prop, msg, root_no, steps, self.at[sid])
        if cfg.graph:
            res.graph = self.graph({sid: prop for prop, (_, sid) in found.items()})
        return res

    def graph(self, violating: dict[int, str] | None = None) -> Any:
        """The explored state graph (networkx MultiDiGraph). Nodes are state numbers with
        the fingerprint, the rendered state summary, the time, `initial` and `violated` (the
        property a state violates, or ""); edges carry the rule, its partner, the label
        (readable and as JSON) and the step's choices (JSON), so parallel edges differ."""
        import json

        import networkx as nx  # type: ignore[import-untyped]

        from udpsem.traces.encode import jsonable
        from udpsem.traces.record import label_json
        from udpsem.view.events import label_text

        violating = violating or {}
        g = nx.MultiDiGraph()
        for sid, (fp, text) in enumerate(self.nodes[:len(self.parent)]):
            g.add_node(sid, fingerprint=fp, summary=text, time=int(self.at[sid]),
                       initial=self.parent[sid] < 0, violated=violating.get(sid, ""))
        for a, b, t, made in self.edges:
            lab = label_json(t.label)
            g.add_edge(a, b, rule=t.rule, partner=t.partner or "", label=label_text(lab),
                       label_json=json.dumps(lab, separators=(",", ":")),
                       choices=json.dumps([[k, jsonable(v)] for k, v in made],
                                          separators=(",", ":")))
        return g


# Random walks ---------------------------------------------------------------------------------

@dataclass
class WalkOutcome:
    """What one random walk saw."""

    seed: int
    fingerprints: list[bytes]
    transitions: int
    violation: Violation | None


def walk(cfg: ExploreConfig, seed: int, setup: Setup, roots: list[Root], keyer: Keyer,
         invariants: Sequence[Invariant], monitors: Sequence[Monitor]) -> WalkOutcome:
    """One random walk from a root chosen by `seed`, through `drivers.step` with a
    `WalkChooser`; it stops at the horizon, at `walk_depth`, or at a violation."""
    rng = random.Random(seed)
    r = rng.randrange(len(roots))
    w = roots[r].world
    ms = tuple(m.initial(setup, w) for m in monitors)
    fps = [keyer.fingerprint(w, tuple(m.key(s, w.now) for m, s in zip(monitors, ms)))]
    steps: list[list[tuple[str, Any]]] = []
    chooser = WalkChooser(cfg.discretisation, rng)
    limit = cfg.walk_depth if cfg.walk_depth is not None else cfg.max_depth
    viol = None
    while limit is None or len(steps) < limit:
        st = step(setup, w, chooser)
        if st is None:
            if w.now < setup.horizon:
                viol = Violation(NO_TIME_STOP, f"time-stop at {fmt_ns(w.now)}", r, steps, w.now)
            break
        steps.append(list(st.choices))
        t = st.transition
        w = t.world
        ms = tuple(m.step(s, t) for m, s in zip(monitors, ms))
        fps.append(keyer.fingerprint(w, tuple(m.key(s, w.now) for m, s in zip(monitors, ms))))
        bad = None
        for inv in invariants:
            msg = inv.violation(setup, w)
            if msg is not None:
                bad = (inv.name, msg)
                break
        if bad is None:
            for m, s in zip(monitors, ms):
                msg = m.violation(s, w)
                if msg is not None:
                    bad = (m.name, msg)
                    break
        if bad is not None:
            viol = Violation(bad[0], bad[1], r, steps, w.now)
            break
    return WalkOutcome(seed, fps, len(steps), viol)


def run_walks(cfg: ExploreConfig, seeds: Sequence[int]) -> list[WalkOutcome]:
    """Random walks for `seeds` in one process: a pure function of (cfg, seeds)."""
    runtime = ExploreRuntime()
    setup, roots = build(cfg, runtime)
    keyer = Keyer(runtime, cfg.horizon, cfg.frames)
    invs = invariants_for(cfg)
    mons = monitors_for(cfg.program, cfg.settle)
    return [walk(cfg, s, setup, roots, keyer, invs, mons) for s in seeds]


def _run_walks_args(args: tuple[ExploreConfig, list[int]]) -> list[WalkOutcome]:
    out = run_walks(*args)
    frozen.enable_pickling()  # the compiled build's records, before the pool pickles `out`
    return out


def _chunks(seeds: list[int], n: int) -> list[list[int]]:
    size = max(1, -(-len(seeds) // n))
    return [seeds[i:i + size] for i in range(0, len(seeds), size)]


def explore_walks(cfg: ExploreConfig, progress: Progress | None = None) -> ExploreResult:
    """A swarm of random walks, over `cfg.workers` processes. The result depends only on the
    configuration: walks are merged by seed, and the counterexample is the violating walk
    with the least seed."""
    t0 = time.perf_counter()
    seeds = list(range(cfg.first_seed, cfg.first_seed + cfg.seeds))
    outcomes: list[WalkOutcome] = []
    stopped: list[str] = []

    def report() -> None:
        if progress is not None and outcomes:
            progress({"states": sum(len(o.fingerprints) for o in outcomes),
                      "transitions": sum(o.transitions for o in outcomes),
                      "depth": max(o.transitions for o in outcomes), "queue": 0,
                      "elapsed": time.perf_counter() - t0})

    try:
        if cfg.workers <= 1 or len(seeds) <= 1:
            for chunk in _chunks(seeds, max(1, len(seeds) // 20 or 1)):
                outcomes.extend(run_walks(cfg, chunk))
                report()
                why = over_budget(cfg, t0)
                if why is not None:
                    stopped.append(why)
                    break
        else:
            import multiprocessing as mp

            ctx = mp.get_context("spawn")
            frozen.enable_pickling()  # the compiled build's records, before `cfg` is pickled
            with ctx.Pool(cfg.workers) as pool:
                try:
                    for part in pool.imap(_run_walks_args, [(cfg, c) for c in
                                                            _chunks(seeds, cfg.workers * 4)]):
                        outcomes.extend(part)
                        report()
                        why = over_budget(cfg, t0)
                        if why is not None:
                            stopped.append(why)
                            break
                finally:
                    pool.terminate()
    except KeyboardInterrupt:
        stopped.append("interrupted")
    outcomes.sort(key=lambda o: o.seed)
    seen: set[bytes] = set()
    res = ExploreResult(roots=len(fault_variants(cfg)))
    for o in outcomes:
        seen.update(o.fingerprints)
        res.transitions += o.transitions
        res.max_depth = max(res.max_depth, o.transitions)
    res.states = len(seen)
    res.elapsed = time.perf_counter() - t0
    res.bytes_per_state = (sys.getsizeof(seen) + len(seen) * sys.getsizeof(b"x" * DIGEST_SIZE)) \
        / max(1, len(seen))
    res.complete = False
    res.truncated = ["random", *stopped]
    viols = [o.violation for o in outcomes if o.violation is not None]
    props = [i.name for i in invariants_for(cfg)] + \
        [m.name for m in monitors_for(cfg.program, cfg.settle)] + [NO_TIME_STOP]
    for p in props:
        res.verdicts[p] = "violated" if any(v.prop == p for v in viols) else "unknown"
    if viols:
        res.violation = viols[0]
    return res


def explore(cfg: ExploreConfig, progress: Progress | None = None,
            invariants: Sequence[Invariant] | None = None,
            monitors: Sequence[Monitor] | None = None) -> tuple[ExploreResult, Search | None]:
    """Run the exploration `cfg.strategy` says; the Search is returned for BFS/DFS (to rebuild
    paths and export the graph)."""
    if cfg.strategy == "random":
        return explore_walks(cfg, progress), None
    if cfg.strategy not in ("bfs", "dfs"):
        raise ValueError(f"unknown strategy {cfg.strategy!r} (bfs, dfs or random)")
    s = Search(cfg, invariants, monitors)
    return s.run(progress), s


__all__ = [
    "NEVER",
    "ExploreConfig",
    "ExploreResult",
    "Root",
    "Search",
    "Violation",
    "build",
    "expand",
    "explore",
    "fault_variants",
    "monitors_for",
    "run_walks",
]
