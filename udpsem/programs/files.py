"""Program files: `udpsem run FILE.py[:NAME]` and friends.

A program file is a Python file with a function `NAME` (default `world`) of no arguments
that returns a `udpsem.WorldSpec` (hosts, fault defaults, horizon, properties). It is loaded
only because the user named it on the command line; a trace records the file's name and
the SHA-256 of its source, and replay checks the file it is given against that digest (it
never imports anything a trace names).

As a scenario (`programs.catalog.scenario("path.py:NAME")`) a program file has one
parameter, `duration_ns` (the horizon), and an observer that checks the file's invariants
and monitors at every step of a run.
"""

from __future__ import annotations

import hashlib
import importlib.util
import sys
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from udpsem.programs.world import WorldSpec


class ProgramFileError(ValueError):
    """A program file cannot be used (missing, does not load, no such function, wrong
    result): a user error, with the reason in one line (plus the user's traceback when
    loading raised)."""


def is_file_ref(text: str) -> bool:
    """Whether `text` names a program file (`x.py` or `x.py:NAME`) rather than a built-in
    program."""
    path, _, _ = text.partition(":") if ".py:" in text else (text, "", "")
    return path.endswith(".py")


def split_ref(text: str) -> tuple[str, str]:
    """(path, function name) of `FILE.py[:NAME]`."""
    if ".py:" in text:
        path, _, name = text.rpartition(":")
        if not name.isidentifier():
            raise ProgramFileError(f"{text}: {name!r} is not a function name")
        return path, name
    return text, "world"


@dataclass(frozen=True)
class ProgramFile:
    """A loaded program file: where it is, the function called, the digest of its source
    and the world the function returned."""

    ref: str
    path: str
    function: str
    sha256: str
    spec: WorldSpec

    def source_json(self) -> dict[str, str]:
        """What a trace header records about the file."""
        return {"file": self.path, "function": self.function, "sha256": self.sha256}


_LOADED: dict[tuple[str, str, str], ProgramFile] = {}


def _user_frames(e: BaseException, path: str) -> str:
    frames = [f for f in traceback.extract_tb(e.__traceback__)
              if Path(f.filename).resolve() == Path(path).resolve()
              or "/udpsem/" not in f.filename]
    tb = "".join(traceback.format_list(frames))
    return tb + "".join(traceback.format_exception_only(type(e), e))


def load(ref: str) -> ProgramFile:
    """Load `FILE.py[:NAME]` and call NAME(); ProgramFileError if anything is wrong."""
    path, name = split_ref(ref)
    p = Path(path)
    try:
        source = p.read_bytes()
    except OSError as e:
        raise ProgramFileError(f"{path}: cannot read: {e.strerror or e}") from None
    sha = hashlib.sha256(source).hexdigest()
    key = (str(p.resolve()), name, sha)
    hit = _LOADED.get(key)
    if hit is not None:
        return ProgramFile(ref, path, name, sha, hit.spec)
    modname = f"udpsem_program_{sha[:16]}"
    spec = importlib.util.spec_from_file_location(modname, p)
    if spec is None or spec.loader is None:
        raise ProgramFileError(f"{path}: not a loadable Python file")
    module = sys.modules.get(modname)
    if module is None:
        module = importlib.util.module_from_spec(spec)
        sys.modules[modname] = module  # dataclasses and pickling look the module up
        try:
            spec.loader.exec_module(module)
        except Exception as e:  # noqa: BLE001 — the user's file raised while loading
            del sys.modules[modname]
            raise ProgramFileError(f"{path}: loading it raised {type(e).__name__}: {e}\n"
                                   f"{_user_frames(e, path)}".rstrip()) from None
    fn = getattr(module, name, None)
    if fn is None or not callable(fn):
        known = sorted(k for k, v in vars(module).items()
                       if callable(v) and not k.startswith("_") and
                       getattr(v, "__module__", None) == modname)
        raise ProgramFileError(f"{path}: no function {name!r} (functions in the file: "
                               f"{', '.join(known) or 'none'})")
    try:
        world: Any = fn()
    except Exception as e:  # noqa: BLE001 — the user's function raised
        raise ProgramFileError(f"{path}: {name}() raised {type(e).__name__}: {e}\n"
                               f"{_user_frames(e, path)}".rstrip()) from None
    if not isinstance(world, WorldSpec):
        raise ProgramFileError(f"{path}: {name}() returned {type(world).__name__}, not a "
                               "udpsem.WorldSpec (return udpsem.WorldSpec(hosts=[...]))")
    out = ProgramFile(ref, path, name, sha, world)
    _LOADED[key] = out
    return out


class FileObserver:
    """The observer of a program file's run: checks its invariants and monitors at every
    step; the first violation of each is kept (a run reports them and exits 1).

    The properties read the model's world, which a run on the real kernel does not have: the
    real backend calls `real_run()` instead of feeding it steps, and the properties are
    then checked by `udpsem check` on the model run it finds for the real trace."""

    reads_model_state = True

    def __init__(self, spec: WorldSpec) -> None:
        self.spec = spec
        self.setup: Any = None
        self.states: list[Any] = []
        self.found: dict[str, tuple[int, str]] = {}
        self.steps = 0
        self.real = False

    def real_run(self) -> None:
        """This observer reports a real run: its properties are left unchecked here."""
        self.real = True

    def bind(self, setup: Any, world: Any) -> None:
        """Called once with the run's setup and initial world."""
        self.setup = setup
        self.states = [m.initial(setup, world) for m in self.spec.monitors]

    def on_step(self, st: Any) -> None:
        t = st.transition
        w = t.world
        self.steps += 1
        for inv in self.spec.invariants:
            if inv.name not in self.found:
                bad = inv.violation(self.setup, w)
                if bad is not None:
                    self.found[inv.name] = (w.now, bad)
        for k, mon in enumerate(self.spec.monitors):
            self.states[k] = mon.step(self.states[k], t)
            if mon.name not in self.found:
                bad = mon.violation(self.states[k], w)
                if bad is not None:
                    self.found[mon.name] = (w.now, bad)

    @property
    def violations(self) -> list[str]:
        """`property at t: message`, one per violated property."""
        from udpsem.base.time import fmt_ns

        return [f"{name} at {fmt_ns(t)}: {msg}" for name, (t, msg) in self.found.items()]

    def summary(self) -> dict[str, Any]:
        out = {"properties": [i.name for i in self.spec.invariants] +
               [m.name for m in self.spec.monitors],
               "violations": self.violations}
        if self.real:
            out["unchecked"] = out["properties"]
        return out

    def render(self, console: Any, result: Any) -> None:
        names = [i.name for i in self.spec.invariants] + [m.name for m in self.spec.monitors]
        if not names:
            return
        if self.real:
            console.print(f"{', '.join(names)}: not checked on a real run (they read the "
                          "model's state); `udpsem check TRACE --program FILE.py` checks "
                          "them on the model run it finds")
            return
        for n in names:
            if n in self.found:
                console.print(f"[red]{n} violated[/]: {self.violations[list(self.found).index(n)]}")
            else:
                console.print(f"[green]{n} holds[/] on this run")
