"""Running a scenario with a seeded chooser, recording its trace as it goes."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TextIO

from udpsem.base.choice import RandomChooser
from udpsem.base.labels import Label
from udpsem.base.time import fmt_ns, timer_too_long
from udpsem.base.version import __version__
from udpsem.core.drivers import Step, step
from udpsem.hosts.state import HostConsts, Timing
from udpsem.hosts.values import at_default, ip_str
from udpsem.network.faults import Faults
from udpsem.programs import files
from udpsem.programs.catalog import Scenario, UnknownProgram, file_scenario, scenario
from udpsem.programs.runtime import Escape, GeneratorRuntime
from udpsem.state.components import Raised
from udpsem.state.world import Setup, World
from udpsem.traces.encode import JsonText, StateDigest, digest, dumps, jsonable
from udpsem.traces.schema import FORMAT_VERSION


def label_json(lab: Label) -> dict[str, Any]:
    """A label as it appears in a trace record."""
    out: dict[str, Any] = {"kind": lab.kind}
    if lab.host is not None:
        out["host"] = lab.host
    if lab.tid is not None:
        out["tid"] = lab.tid
    if lab.value is not None:
        out["value"] = jsonable(lab.value)
    return out


def record_json(i: int, st: Step, digester: Callable[[Any], str] = digest) -> dict[str, Any]:
    """A step as a trace record (a plain dict that validates against schema.Record).
    Pass one `StateDigest` for a whole run: it reuses unchanged components' encodings."""
    t = st.transition
    return {"type": "step", "i": i, "t": t.world.now, "rule": t.rule, "partner": t.partner,
            "label": label_json(t.label), "choices": [[k, jsonable(v)] for k, v in st.choices],
            "digest": digester(t.world)}


_ascii = json.encoder.encode_basestring_ascii  # what json.dumps(ensure_ascii=True) uses


def record_text(i: int, st: Step, digester: StateDigest) -> str:
    """`dumps(record_json(i, st, digester))`, written directly: the label's value and the
    choices through the digester's `JsonText`, whose cache already holds the values a step
    shares with the world (a call's label is the request the thread made). The same bytes
    (tests/test_replay.py checks it along runs); replay compares a line with this text."""
    t = st.transition
    text: JsonText = digester.text
    lab = t.label
    partner = "null" if t.partner is None else _ascii(t.partner)
    host = "" if lab.host is None else ',"host":' + text(lab.host)
    tid = "" if lab.tid is None else ',"tid":' + text(lab.tid)
    value = "" if lab.value is None else ',"value":' + text(lab.value)
    choices = ",".join([f"[{_ascii(k)},{text(v)}]" for k, v in st.choices])
    return (f'{{"type":"step","i":{i},"t":{t.world.now},"rule":{_ascii(t.rule)},'
            f'"partner":{partner},"label":{{"kind":{_ascii(lab.kind)}{host}{tid}{value}}},'
            f'"choices":[{choices}],"digest":"{digester(t.world)}"}}')


def faults_json(f: Faults) -> dict[str, Any]:
    out: dict[str, Any] = {
        "loss": f.loss, "dup": f.dup, "max_copies": f.max_copies,
        "max_successive_drops": f.max_successive_drops,
        "disconnects": [{"host": w.host, "start": w.start, "end": w.end}
                        for w in f.disconnects],
        "crashes": [{"host": c.host, "at": c.at} for c in f.crashes],
        "allow_inject": f.allow_inject, "preset": f.preset,
        "never_disconnect": list(f.never_disconnect)}
    if f.ifdowns:  # written only when set, so that other headers keep their bytes
        out["ifdowns"] = [{"host": w.host, "start": w.start, "end": w.end} for w in f.ifdowns]
    return out


def hosts_json(world: World) -> list[dict[str, Any]]:
    """The header's `hosts`: each machine's name and non-loopback addresses, in world order."""
    hosts = []
    for m in world.machines:
        assert m.host is not None
        addrs = [ip_str(a) for i in m.host.ifds if not i.is_lo for a in i.ipset]
        hosts.append({"name": m.name, "addresses": addrs})
    return hosts


def _h(x: Any) -> str:
    return hashlib.blake2b(dumps(jsonable(x)).encode(), digest_size=16).hexdigest()


def claims(program: str, params: dict[str, int], consts: dict[str, HostConsts],
           timing: Timing, faults: Faults, world: World, horizon: int) -> dict[str, str]:
    """The header's `claims`: a digest of each world-shaping field, computed from the objects
    the world was built with (consts per host), and of the initial world and horizon. Replay
    computes them again from the world it rebuilt and names the field that differs."""
    return {"program": _h(program), "hosts": _h(hosts_json(world)),
            "params": _h(dict(sorted(params.items()))),
            "consts": _h(dict(sorted(consts.items()))), "timing": _h(timing),
            "faults": _h(faults), "world": _h([horizon, digest(world)])}


def header_json(program: str, params: dict[str, int], timing: Timing, consts: HostConsts,
                faults: Faults, seed: int | None, world: World,
                setup: Setup | None = None) -> dict[str, Any]:
    """The trace header of a run of `world`. Pass the `setup` it runs under when its hosts'
    constants may differ (the header's `consts` are the first host's)."""
    by_host = dict(setup.consts) if setup is not None else \
        {m.name: consts for m in world.machines}
    horizon = setup.horizon if setup is not None else params["duration_ns"]
    return {"type": "header", "format": FORMAT_VERSION, "udpsem": __version__,
            "program": program, "hosts": hosts_json(world), "params": dict(params),
            "consts": jsonable({f.name: getattr(consts, f.name)
                                for f in dataclasses.fields(consts)
                                if not at_default(f, getattr(consts, f.name))}),
            "timing": dataclasses.asdict(timing), "faults": faults_json(faults), "seed": seed,
            "claims": claims(program, dict(params), by_host, timing, faults, world, horizon),
            **({"source": files.load(program).source_json()} if files.is_file_ref(program)
               else {})}


@dataclass
class RunResult:
    """What a run produced."""

    program: str
    seed: int
    params: dict[str, int]
    transitions: int = 0
    rules_fired: Counter[str] = field(default_factory=Counter)
    observer: Any = None
    final: World | None = None


def run(program: str, params: dict[str, int], faults: Faults, seed: int,
        timing: Timing | None = None, consts: HostConsts | None = None,
        trace: TextIO | None = None, progress: Callable[[int, int], None] | None = None,
        observers: tuple[Callable[[Step], None], ...] = (),
        observer: Any = None, stop_on_escape: bool = True) -> RunResult:
    """Run the catalogued `program` under `faults` with a chooser seeded by `seed`.

    `observer`: the program's property observer, instead of the scenario's default one
    (e.g. `heartbeat.Theorem2(settle=...)`). An exception escaping a thread stops the run
    with `ProgramFailure` (unless `stop_on_escape` is False: then it is data in the model,
    as in exploration). With `trace`, writes the header and one record per transition as
    the run goes.
    `progress(now_ns, transitions)` is called every few thousand steps.
    """
    sc = scenario(program)
    full = {**sc.defaults, **params}
    timing = timing or Timing()
    consts = consts or HostConsts()
    # One path, never rebuilt: the threads keep no history (flat memory in long runs).
    try:
        setup, world = sc.build(full, timing, consts, faults,
                                GeneratorRuntime(history=False, stop_on_escape=stop_on_escape))
    except Escape as e:
        raise ProgramFailure(e, 0, 0, program) from None
    obs = observer if observer is not None else sc.observer()
    if hasattr(obs, "bind"):
        obs.bind(setup, world)
    header = header_json(program, full, timing, consts, faults, seed, world, setup)
    try:
        res = run_world(setup, world, seed, trace=trace, header=header, progress=progress,
                        observers=(obs.on_step, *observers), stop_on_escape=stop_on_escape)
    except ProgramFailure as failure:  # not `e`: compiled, one name has one type
        failure.program = program
        raise
    res.program, res.params, res.observer = program, full, obs
    return res


def run_world(setup: Setup, world: World, seed: int, *, trace: TextIO | None = None,
              header: dict[str, Any] | None = None,
              progress: Callable[[int, int], None] | None = None,
              observers: tuple[Callable[[Step], None], ...] = (),
              stop_on_escape: bool = True) -> RunResult:
    """Simulate any world (e.g. from `programs.world.build_world`) with a seeded chooser
    until its horizon, calling each observer on every step.

    With `trace`, the header (by default one naming the program `custom`, which
    `udpsem replay` cannot rebuild; use `traces.replay.replay(path, rebuild=...)`) and one
    record per transition are written as the run goes.
    """
    faults = setup.faults
    if hasattr(setup.runtime, "stop_on_escape"):
        setup.runtime.stop_on_escape = stop_on_escape
    if stop_on_escape:
        _check_apps(world, 0)
    res = RunResult("custom", seed, {"duration_ns": setup.horizon})
    chooser = RandomChooser(seed, faults.loss, faults.dup)
    if trace is not None:
        if header is None:
            first = next(iter(setup.consts.values()), HostConsts())
            header = header_json("custom", {"duration_ns": setup.horizon}, setup.timing,
                                 first, faults, seed, world, setup)
        trace.write(dumps(header) + "\n")
    fired = res.rules_fired
    digester = StateDigest()
    n = 0
    try:
        while True:
            try:
                st = step(setup, world, chooser)
            except Escape as e:
                raise ProgramFailure(e, n, world.now) from None
            if st is None:
                break
            t = st.transition
            fired[t.rule] += 1
            if t.partner is not None:
                fired[t.partner] += 1
            for o in observers:
                o(st)
            if trace is not None:
                trace.write(record_text(n, st, digester) + "\n")
            world = t.world
            n += 1
            if progress is not None and n % 4096 == 0:
                progress(world.now, n)
    finally:
        if trace is not None:
            trace.flush()
    res.transitions = n
    res.final = world
    return res


class ProgramFailure(Exception):
    """An exception escaped a thread of the user's program during a run (the run stops
    there): which thread, at which step (the index of the transition that was being taken)
    and virtual time, and the traceback of the user's frames. `program` names the program
    (a catalogue name or a file) once the caller knows it."""

    def __init__(self, escape: Escape, step: int, now: int, program: str = "") -> None:
        self.escape, self.step, self.now, self.program = escape, step, now, program
        super().__init__(escape.error)

    def __str__(self) -> str:
        prog = f" of program {self.program}" if self.program else ""
        return (f"exception escaped thread {self.escape.thread}{prog} ({self.escape.where}) "
                f"at step {self.step}, t = {fmt_ns(self.now)}: {self.escape.error}")

    def report(self) -> str:
        """The one-line summary and the user's traceback."""
        return f"{self}\n{self.escape.user_traceback.rstrip()}"


def _check_apps(world: World, n: int) -> None:
    """An application whose very first step escaped (found while the world was built by a
    runtime that did not stop on escapes)."""
    for m in world.machines:
        for a in m.apps:
            if isinstance(a.request, Raised):
                raise ProgramFailure(Escape(a.code, a.request.error, a.request.error, None),
                                     n, world.now)


class SourceMismatch(ValueError):
    """The program file given for a trace is not the one it was recorded from."""


def program_scenario(header: dict[str, Any], program: str | None = None) -> Scenario:
    """The scenario a trace header describes. For a trace of a program file, `program` is
    the file the user names (`FILE.py[:NAME]`); it must have the recorded digest. Nothing
    the header names is ever imported."""
    src = header.get("source")
    if src is None:
        if program is not None:
            raise UnknownProgram(f"the trace was recorded from the built-in program "
                                 f"{header['program']!r}, not from a program file; replay "
                                 "it without --program")
        return scenario(header["program"])
    named = src["file"] + ("" if src["function"] == "world" else f":{src['function']}")
    if program is None:
        raise UnknownProgram(f"the trace was recorded from the program file {src['file']}; "
                             f"replay it with --program {named}")
    try:
        pf = files.load(program)
    except files.ProgramFileError as e:
        raise UnknownProgram(str(e)) from None
    if pf.sha256 != src["sha256"]:
        raise SourceMismatch(f"{pf.path} is not the file the trace was recorded from: the "
                             f"trace names {src['file']} with SHA-256 {src['sha256'][:16]}…, "
                             f"{pf.path} has {pf.sha256[:16]}… (edited since?)")
    if pf.function != src["function"]:
        raise SourceMismatch(f"the trace was recorded from {src['function']}() in "
                             f"{src['file']}, not {pf.function}()")
    return file_scenario(pf)


def rebuild(header: dict[str, Any], program: str | None = None,
            history: bool = True) -> tuple[Setup, World]:
    """The setup and initial world a trace header describes (`program`: the program file,
    for a trace of one; see `program_scenario`). `history=False` for a driver that follows
    one path (replay): threads then keep no history (see GeneratorRuntime)."""
    from udpsem.network.faults import Crash, Window

    sc = program_scenario(header, program)
    f = header["faults"]
    faults = Faults(loss=f["loss"], dup=f["dup"], max_copies=f["max_copies"],
                    max_successive_drops=f["max_successive_drops"],
                    disconnects=tuple(Window(w["host"], w["start"], w["end"])
                                      for w in f["disconnects"]),
                    crashes=tuple(Crash(c["host"], c["at"]) for c in f["crashes"]),
                    allow_inject=f["allow_inject"], preset=f["preset"],
                    never_disconnect=tuple(f["never_disconnect"]),
                    ifdowns=tuple(Window(w["host"], w["start"], w["end"])
                                  for w in f.get("ifdowns", [])))
    timing = Timing(**header["timing"])
    consts = _consts(header["consts"])
    setup, world = sc.build({**sc.defaults, **header["params"]}, timing, consts, faults,
                            GeneratorRuntime(history=history))
    for name, ns in header["timing"].items():
        too_long = timer_too_long(f"timing.{name}", ns, setup.horizon)
        if too_long is not None:
            raise ValueError(too_long)
    return setup, world


def _consts(d: dict[str, Any]) -> HostConsts:
    from udpsem.hosts.values import Arch, IcmpGen

    kw = dict(d)
    kw["arch"] = Arch(kw["arch"])
    kw["icmp_gen"] = IcmpGen(kw["icmp_gen"])
    for k in ("eph", "console"):
        if kw.get(k) is not None:
            kw[k] = tuple(kw[k])
    return HostConsts(**kw)
