"""The README's pictures exist, the README shows them, and the heartbeat and sessions charts
are what `scripts/readme_pictures.py` draws today (same seed, same trace, same SVG bytes)."""

from __future__ import annotations

import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
PICTURES = ROOT / "docs" / "pictures"
README = (ROOT / "README.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("name", ["heartbeat.svg", "counterexample.svg", "explorer.png",
                                  "sessions.svg", "heartbeat-1h.svg"])
def test_picture_exists_and_is_shown(name: str) -> None:
    p = PICTURES / name
    assert p.is_file(), f"{p} is missing: run scripts/readme_pictures.py"
    assert f"](docs/pictures/{name})" in README
    if name.endswith(".svg"):
        assert ET.parse(p).getroot().tag == "{http://www.w3.org/2000/svg}svg"
    else:
        data = p.read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000


def _script() -> Any:
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        import readme_pictures as script
    finally:
        sys.path.pop(0)
    return script


def test_heartbeat_picture_is_current(tmp_path: Path) -> None:
    script = _script()
    trace, out = tmp_path / "t.jsonl", tmp_path / "hb.svg"
    run = [sys.executable, "-m", "udpsem"]
    subprocess.run([*run, *script.DEMO, "--trace", str(trace)], check=True,
                   capture_output=True)
    subprocess.run([*run, "chart", str(trace), "-o", str(out)], check=True, capture_output=True)
    assert out.read_bytes() == (PICTURES / "heartbeat.svg").read_bytes(), \
        "docs/pictures/heartbeat.svg is stale: run scripts/readme_pictures.py"


def test_sessions_picture_is_current(tmp_path: Path) -> None:
    script = _script()
    trace, out = tmp_path / "e.jsonl", tmp_path / "s.svg"
    run = [sys.executable, "-m", "udpsem"]
    subprocess.run([*run, *script.SESSIONS, "--trace", str(trace)], check=True,
                   capture_output=True)
    subprocess.run([*run, "chart", str(trace), "-o", str(out), *script.SESSIONS_CHART],
                   check=True, capture_output=True)
    assert out.read_bytes() == (PICTURES / "sessions.svg").read_bytes(), \
        "docs/pictures/sessions.svg is stale: run scripts/readme_pictures.py"


def test_long_picture_is_thinned() -> None:
    # the hour-long chart is not regenerated here (it takes a minute): it says it was thinned
    doc = ET.parse(PICTURES / "heartbeat-1h.svg").getroot()
    (note,) = [t for t in doc.iter("{http://www.w3.org/2000/svg}text")
               if t.get("class") == "thinned"]
    assert "every anomaly kept" in (note.text or "")
