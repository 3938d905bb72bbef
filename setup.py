"""Build script: pure Python by default; `UDPSEM_COMPILE=1` compiles the hot modules with mypyc.

    pip install ".[dev]"                      # pure Python (the default, also with -e)
    UDPSEM_COMPILE=1 pip install ".[dev]"     # the hot modules compiled (needs a C compiler
                                              # and the Python headers; not with -e)

The compiled build runs the same source: mypyc turns each listed module into C, and the
package keeps its `.py` files next to the extension modules (rule docstrings and source
lines are read from them). Which modules are compiled is `COMPILE` below, a list of globs, so
a new module in a hot package is compiled without editing this file. If mypyc rejects a
module (a type error, or a construct it does not support), the build says which module and
why, leaves that module pure Python and compiles the rest; it fails only when a C compiler or
the Python headers are missing, or when mypyc can compile nothing. Set
`UDPSEM_COMPILE_STRICT=1` to fail instead of falling back (CI does, so a fallback is noticed).
"""

from __future__ import annotations

import atexit
import contextlib
import io
import os
import re
import shutil
import sys
import sysconfig
import tempfile
from pathlib import Path

from setuptools import setup

ROOT = Path(__file__).resolve().parent

# The hot modules: those a simulation step, an exploration step or a traced step runs
# (benchmarks/README.md, "Compiled build", has the profiles that chose them).
COMPILE = [
    "udpsem/base/time.py", "udpsem/base/labels.py",
    "udpsem/base/registry.py",
    "udpsem/hosts/*.py", "udpsem/hosts/rules/*.py",
    "udpsem/network/*.py",
    "udpsem/state/*.py",
    "udpsem/core/*.py",
    "udpsem/programs/threads.py", "udpsem/programs/runtime.py", "udpsem/programs/data.py",
    "udpsem/explore/engine.py", "udpsem/explore/fingerprint.py", "udpsem/explore/choosers.py",
    "udpsem/explore/properties.py",
    "udpsem/traces/encode.py", "udpsem/traces/record.py",
    # the trace checker: its SearchRuntime subclasses programs.runtime.GeneratorRuntime, and
    # an interpreted class cannot inherit from a compiled one
    "udpsem/check/search.py",
]
# Never compiled: package `__init__`s (their import order is the registry's), `base.frozen`
# (it generates the records' `__init__` with exec at import: nothing to gain), and
# `programs.checks` (its ProgramError subclasses TypeError, which mypyc cannot compile) and
# `base.choice` (mypyc compiles its generic dataclass `Branch`, but the class then fails to
# be created at import: "attribute '__dict__' of 'type' objects is not writable").
# The programs themselves (heartbeat, echo, sessions) stay Python: their generators' frames
# and code objects are part of a thread's identity (programs.runtime.program_key).
# `hosts.calls` too: its dataclasses' ClassVar defaults (`name`, `takes_fd`) become fields with
# defaults in a compiled class, and the subclasses then fail at import ("non-default
# argument 'fd' follows default argument").
EXCLUDE = {"udpsem/base/frozen.py", "udpsem/hosts/calls.py"}


def _wanted() -> list[str]:
    out: list[str] = []
    for pattern in COMPILE:
        for p in sorted(ROOT.glob(pattern)):
            rel = p.relative_to(ROOT).as_posix()
            if p.name != "__init__.py" and rel not in EXCLUDE and rel not in out:
                out.append(rel)
    return out


def _say(msg: str) -> None:
    print(f"udpsem build: {msg}", file=sys.stderr, flush=True)


def _check_toolchain() -> None:
    include = Path(sysconfig.get_paths()["include"])
    cc = (sysconfig.get_config_var("CC") or "cc").split()[0]
    missing = []
    if not (include / "Python.h").is_file():
        missing.append(f"the Python headers ({include}/Python.h)")
    if shutil.which(cc) is None:
        missing.append(f"a C compiler ({cc})")
    if missing:
        sys.exit("udpsem build: UDPSEM_COMPILE=1 needs " + " and ".join(missing) +
                 "; on Debian/Ubuntu: apt-get install build-essential python3-dev "
                 "(or install without UDPSEM_COMPILE for the pure-Python build)")


# "path:line: error: why" (a type error, an unsupported construct), or "path:line: Name: why"
# (mypyc failed internally on that line).
_ERROR = re.compile(r"^(udpsem/[\w/]+\.py):(\d+)(?::\d+)?: (?!note:)(?:error: )?(.*)$",
                    re.MULTILINE)


def _compiled_extensions() -> list:
    _check_toolchain()
    from mypyc.build import mypycify  # a build requirement when UDPSEM_COMPILE=1

    strict = os.environ.get("UDPSEM_COMPILE_STRICT") == "1"
    opt = os.environ.get("UDPSEM_COMPILE_OPT", "3")  # the C compiler's -O (0: a quick build)
    modules = _wanted()
    # Imports of modules not compiled are followed for their types only: their own type
    # errors (mypy --strict is checked separately) do not stop the build.
    options = ["--follow-imports=silent", "--python-version",
               f"{sys.version_info[0]}.{sys.version_info[1]}"]
    while modules:
        out = io.StringIO()
        try:
            with contextlib.redirect_stdout(out):
                exts = mypycify(options + modules, opt_level=opt, debug_level="0",
                                target_dir=str(BUILD / "c"))
        except SystemExit:
            text = out.getvalue()
            failed: dict[str, str] = {}
            for m in _ERROR.finditer(text):
                failed.setdefault(m.group(1), f"line {m.group(2)}: {m.group(3)}")
            failed = {k: v for k, v in failed.items() if k in modules}
            if not failed:
                sys.stderr.write(text)
                sys.exit("udpsem build: mypyc failed (its messages are above)")
            for path, why in failed.items():
                _say(f"mypyc cannot compile {path} ({why}); it stays pure Python")
            if strict:
                sys.exit("udpsem build: UDPSEM_COMPILE_STRICT=1 and a module did not compile")
            modules = [m for m in modules if m not in failed]
            continue
        sys.stdout.write(out.getvalue())
        _say(f"compiling {len(modules)} modules with mypyc")
        return exts
    sys.exit("udpsem build: mypyc could compile none of the listed modules")


# setuptools runs this file for metadata too; only a build compiles.
_BUILDS = {"bdist_wheel", "build", "build_ext", "install"}
if os.environ.get("UDPSEM_COMPILE") == "1" and "editable_wheel" in sys.argv:
    sys.exit("udpsem build: UDPSEM_COMPILE=1 builds a wheel, not an editable install: "
             "leave out -e (pip install \".[dev]\")")
# Every build in a fresh directory: a wheel packs whatever its build directory holds, and a
# ./build left by an earlier build (compiled or not) would put stale extension modules into it.
BUILD = Path(tempfile.mkdtemp(prefix="udpsem-build-"))
atexit.register(shutil.rmtree, BUILD, ignore_errors=True)
setup(ext_modules=_compiled_extensions()
      if os.environ.get("UDPSEM_COMPILE") == "1" and _BUILDS & set(sys.argv) else [],
      options={"build": {"build_base": str(BUILD)}})
