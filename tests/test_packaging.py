"""Packaging (issue 9, item 7): py.typed shipped, a LICENSE that matches pyproject, hypothesis
only in the `testing` extra, and the model and the CLI usable without hypothesis installed.

Building a wheel needs the build backend from an index, so the wheel itself is checked by
hand (see the report of the change); these tests check what the wheel is made from.
"""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def test_py_typed_is_shipped_as_package_data() -> None:
    assert (ROOT / "udpsem" / "py.typed").is_file()
    package_data = PYPROJECT["tool"]["setuptools"]["package-data"]
    assert "py.typed" in package_data["udpsem"]


def test_license_file_matches_pyproject() -> None:
    text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert text.startswith("MIT License")
    assert PYPROJECT["project"]["license"] == {"text": "MIT"}
    assert "License :: OSI Approved :: MIT License" in PYPROJECT["project"]["classifiers"]


def test_hypothesis_is_an_extra_and_dev_includes_it() -> None:
    project = PYPROJECT["project"]
    assert not any(d.startswith("hypothesis") for d in project["dependencies"])
    extras = project["optional-dependencies"]
    assert any(d.startswith("hypothesis>=") for d in extras["testing"])
    assert "udpsem[testing]" in extras["dev"]


# Run in a fresh interpreter in which `import hypothesis` fails, as on a machine where only
# the core dependencies are installed.
_WITHOUT_HYPOTHESIS = """
import sys
sys.modules["hypothesis"] = None  # makes every `import hypothesis...` raise ImportError
import udpsem
from udpsem.cli import main
for argv in (["rules", "sendto_1"], ["programs"],
             ["run", "heartbeat", "--duration", "2s", "--json"]):
    try:
        main(argv)
    except SystemExit as e:
        assert not e.code, (argv, e.code)
try:
    import udpsem.testing
except ImportError as e:
    print("testing:", e)
"""


def test_model_and_cli_work_without_hypothesis() -> None:
    out = subprocess.run([sys.executable, "-c", _WITHOUT_HYPOTHESIS], check=False,
                         capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert out.returncode == 0, out.stderr
    assert '"transitions"' in out.stdout  # the run printed its JSON summary
    assert "testing: udpsem.testing needs Hypothesis: pip install 'udpsem[testing]'" in out.stdout
