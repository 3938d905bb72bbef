"""A function's docstring, source file and first line, the same in both builds.

In the compiled build (setup.py) a function mypyc compiled has no `__doc__` and no
`__code__`. The package keeps every module's `.py` source next to its extension module, and
these functions read the answer from that source instead: the docstring Python would have put
in `__doc__` (the string literal as written) and, as `co_firstlineno` gives, the line of the
first decorator (of the `def` if there is none). In the pure build they read the function.
"""

from __future__ import annotations

import ast
import importlib.util
import inspect
from functools import cache
from pathlib import Path
from typing import Any


def compiled(fn: Any) -> bool:
    """Whether `fn` is a function that mypyc compiled (it has no Python code object)."""
    return callable(fn) and not hasattr(fn, "__code__") and \
        isinstance(getattr(fn, "__module__", None), str)


def _py_file(module: str) -> Path | None:
    spec = importlib.util.find_spec(module)
    origin = getattr(spec, "origin", None)
    if not origin:
        return None
    path = Path(origin)
    if path.suffix != ".py":  # system.cpython-311-x86_64-linux-gnu.so -> system.py
        path = path.with_name(path.name.split(".", 1)[0] + ".py")
    return path if path.is_file() else None


@cache
def _tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def _node(fn: Any) -> tuple[Path, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef] | None:
    path = _py_file(fn.__module__)
    qualname = getattr(fn, "__qualname__", fn.__name__)
    if path is None or "<locals>" in qualname:
        return None
    body: list[ast.stmt] = _tree(path).body
    found = None
    for part in qualname.split("."):
        found = None
        for st in body:  # the last definition of the name is the one the module binds
            if isinstance(st, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) \
                    and st.name == part:
                found = st
        if found is None:
            return None
        body = found.body
    return (path, found) if found is not None else None


def doc(fn: Any) -> str | None:
    """`fn.__doc__`, read from the source if mypyc compiled `fn`."""
    own: str | None = getattr(fn, "__doc__", None)
    if own is not None or not compiled(fn):
        return own
    found = _node(fn)
    return ast.get_docstring(found[1], clean=False) if found else None


def source_file(fn: Any) -> str | None:
    """The `.py` file that defines `fn` (as `inspect.getsourcefile`)."""
    if not compiled(fn):
        return inspect.getsourcefile(fn)
    path = _py_file(fn.__module__)
    return str(path) if path is not None else None


def first_line(fn: Any) -> int:
    """`fn.__code__.co_firstlineno`: the line of its first decorator, or of its `def`
    (0 if the source cannot be found)."""
    if not compiled(fn):
        return int(fn.__code__.co_firstlineno)
    found = _node(fn)
    if found is None:
        return 0
    node = found[1]
    return node.decorator_list[0].lineno if node.decorator_list else node.lineno
