"""The README's Python examples run as written."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

README = Path(__file__).resolve().parent.parent / "README.md"


def _python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.DOTALL)


def test_readme_python_examples_run(capsys) -> None:  # type: ignore[no-untyped-def]
    blocks = _python_blocks()
    assert len(blocks) >= 2
    for block in blocks:
        if "yield from" in block and "def client" in block:
            compile(block, "README.md", "exec")  # module code for the sessions driver
            continue
        exec(compile(block, "README.md", "exec"), {"__name__": "readme"})  # noqa: S102  (the README is ours)
    out = capsys.readouterr().out
    assert out.strip()


def test_custom_world_trace_replays(tmp_path: Path) -> None:
    """The README's own world: its trace replays through `rebuild_with`."""
    from udpsem.programs.runtime import GeneratorRuntime
    from udpsem.traces.replay import replay

    ns: dict[str, Any] = {"__name__": "readme"}
    block = next(b for b in _python_blocks() if "WorldSpec(" in b)
    exec(compile(block, "README.md", "exec"), ns)  # noqa: S102  (the README is ours)
    path = tmp_path / "custom.jsonl"
    path.write_text(ns["trace"].getvalue())

    def rebuild(header: dict[str, Any]) -> Any:
        return ns["spec"].build(GeneratorRuntime())

    res = replay(path, rebuild_with=rebuild)
    assert res.ok, res.divergence
    assert res.steps == ns["res"].transitions > 50
