"""Every import in the package points down the layers of the README's architecture list.

A module's layer is that of the longest prefix below that names it. A module may import from
its own layer or any lower one, never from a higher one (function-level imports included: a
lazy import up is still a dependency up). The bottom package, `udpsem.base`, imports nothing
else from udpsem.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import udpsem

LAYERS: list[tuple[str, ...]] = [
    ("udpsem.base",),
    ("udpsem.hosts", "udpsem.network.messages", "udpsem.network.faults"),
    ("udpsem.state",),
    ("udpsem.network.rules", "udpsem.network.lifecycle", "udpsem.network.neighbours",
     "udpsem.programs.threads",
     "udpsem.programs.runtime", "udpsem.programs.data", "udpsem.programs.checks"),
    ("udpsem.core",),
    ("udpsem.programs",),
    ("udpsem.traces", "udpsem.explore", "udpsem.real", "udpsem.view", "udpsem.check",
     "udpsem.reference"),
    ("udpsem.cli", "udpsem.cli_input", "udpsem.explore.cli", "udpsem.view.cli",
     "udpsem.real.cli", "udpsem.check.cli", "udpsem.testing", "udpsem.__main__", "udpsem"),
]

ROOT = Path(udpsem.__file__).parent


def layer_of(module: str) -> int:
    best, best_len = -1, -1
    for k, prefixes in enumerate(LAYERS):
        for p in prefixes:
            if (module == p or module.startswith(p + ".")) and len(p) > best_len:
                best, best_len = k, len(p)
    if best < 0:
        raise AssertionError(f"{module} is in no layer: add it to LAYERS")
    return best


def modules() -> list[tuple[str, Path]]:
    out = []
    for path in sorted(ROOT.rglob("*.py")):
        rel = path.relative_to(ROOT.parent).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__init__":
            parts.pop()
        out.append((".".join(parts), path))
    return out


def imports_of(module: str, path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    out: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names if a.name.startswith("udpsem")]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                name = ".".join(base + ([node.module] if node.module else []))
            else:
                name = node.module or ""
            if not name.startswith("udpsem"):
                continue
            if name == "udpsem":  # `from udpsem import x`: x is a submodule or the API
                for a in node.names:
                    sub = f"udpsem.{a.name}"
                    out.append((node.lineno, sub if (ROOT / a.name).exists()
                                or (ROOT / f"{a.name}.py").exists() else "udpsem"))
            else:
                for a in node.names:
                    sub = f"{name}.{a.name}"
                    as_path = ROOT.parent / Path(*sub.split("."))
                    is_module = as_path.with_suffix(".py").exists() or as_path.is_dir()
                    out.append((node.lineno, sub if is_module else name))
    return out


MODULES = modules()


def test_every_module_has_a_layer() -> None:
    for module, _ in MODULES:
        layer_of(module)


@pytest.mark.parametrize("module,path", MODULES, ids=[m for m, _ in MODULES])
def test_imports_point_down(module: str, path: Path) -> None:
    mine = layer_of(module)
    up = [f"line {ln}: {target} (layer {layer_of(target)} > {mine})"
          for ln, target in imports_of(module, path)
          if target != "udpsem" or module.count(".") > 0
          if layer_of(target) > mine]
    assert not up, f"{module} (layer {mine}) imports upward:\n" + "\n".join(up)


def test_the_bottom_imports_nothing_above_it() -> None:
    for module, path in MODULES:
        if layer_of(module) == 0:
            targets = [t for _, t in imports_of(module, path)]
            assert all(t.startswith("udpsem.base") for t in targets), (module, targets)


def test_the_check_can_fail() -> None:
    """A control: an upward import is reported (the test above is not vacuous)."""
    assert layer_of("udpsem.cli") > layer_of("udpsem.hosts.state")
    assert layer_of("udpsem.core.system") > layer_of("udpsem.network.rules")
    assert layer_of("udpsem.network.faults") < layer_of("udpsem.network.rules")
