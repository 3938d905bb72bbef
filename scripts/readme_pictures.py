"""Regenerate the README's pictures (run it after changing the charts or the explorer page):

    .venv/bin/python scripts/readme_pictures.py

* docs/pictures/heartbeat.svg: the sequence chart of the README's main demo, the paper's
  heartbeat with KURT unplugged from 20 s to 40 s and 10 % loss under Theorem 2's assumptions;
* docs/pictures/counterexample.svg (and .jsonl, its trace): the shrunk counterexample that
  `udpsem explore` finds when two successive pings may be lost;
* docs/pictures/sessions.svg: the echo program's first 3.5 s, two clients over a lossy,
  duplicating network, with a sessions lane per session end;
* docs/pictures/heartbeat-1h.svg: an hour of the heartbeat, thinned (about 17,000 elements
  become counts per 4 px bin, every anomaly kept);
* docs/pictures/explorer.png: a screenshot of `udpsem ui` on the demo's trace, at the step
  that unplugs KURT (needs Chromium and Playwright, as the browser tests do).

`tests/test_readme_pictures.py` checks that they exist, that the README shows them, and that
the heartbeat and sessions charts are what this script draws today.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "pictures"
DEMO = ["run", "heartbeat", "--seed", "7", "--duration", "60s", "--loss", "0.1",
        "--preset", "paper", "--disconnect", "KURT@20s-40s"]
SESSIONS = ["run", "echo", "--clients", "2", "--messages", "3", "--loss", "0.3", "--dup", "0.2",
            "--seed", "1"]
SESSIONS_CHART = ["--to", "3.5s"]
LONG = ["run", "heartbeat", "--seed", "7", "--duration", "1h", "--loss", "0.1", "--preset",
        "paper", "--disconnect", "KURT@20m-22m"]
COUNTEREXAMPLE = ["explore", "heartbeat", "--horizon", "4s", "--preset", "paper",
                  "--max-successive-drops", "2"]
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run"]


def udpsem(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "udpsem", *args], check=True, cwd=ROOT,
                   stdout=subprocess.DEVNULL)


def heartbeat_chart(trace: Path) -> Path:
    udpsem(*DEMO, "--trace", str(trace))
    out = OUT / "heartbeat.svg"
    udpsem("chart", str(trace), "-o", str(out))
    return out


def sessions_chart(trace: Path) -> Path:
    udpsem(*SESSIONS, "--trace", str(trace))
    out = OUT / "sessions.svg"
    udpsem("chart", str(trace), "-o", str(out), *SESSIONS_CHART)
    return out


def long_chart(trace: Path) -> Path:
    subprocess.run([sys.executable, "-m", "udpsem", *LONG, "--trace", str(trace)], cwd=ROOT,
                   stdout=subprocess.DEVNULL, check=True)
    out = OUT / "heartbeat-1h.svg"
    udpsem("chart", str(trace), "-o", str(out))
    return out


def counterexample_chart() -> Path:
    out = OUT / "counterexample.svg"
    subprocess.run([sys.executable, "-m", "udpsem", *COUNTEREXAMPLE, "--counterexample",
                    str(OUT / "counterexample.jsonl"), "--chart", str(out)], cwd=ROOT,
                   stdout=subprocess.DEVNULL, check=False)  # exit status 1: a property is violated
    return out


def explorer_screenshot(trace: Path) -> Path:
    from playwright.sync_api import sync_playwright

    from udpsem.view.server import make_server
    from udpsem.view.session import Session

    sess = Session.load(trace)
    step = next(r["i"] for r in sess.records if r["rule"] == "host_disconnect") + 1
    srv = make_server(sess)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    out = OUT / "explorer.png"
    try:
        with tempfile.TemporaryDirectory() as profile, sync_playwright() as pw:
            ctx = pw.chromium.launch_persistent_context(
                profile, executable_path="/usr/bin/chromium", headless=True, args=FLAGS,
                viewport={"width": 1400, "height": 1050})
            page = ctx.new_page()
            page.goto(f"http://127.0.0.1:{srv.server_address[1]}/#/{step}")
            page.wait_for_function("p => document.body.dataset.loaded === p", arg=str(step))
            page.screenshot(path=str(out), full_page=False)
            ctx.close()
    finally:
        srv.shutdown()
        srv.server_close()
    return out


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        trace = Path(tmp) / "heartbeat.jsonl"
        for p in (heartbeat_chart(trace), sessions_chart(Path(tmp) / "echo.jsonl"),
                  long_chart(Path(tmp) / "hb-1h.jsonl.gz"), counterexample_chart(),
                  explorer_screenshot(trace)):
            print(f"wrote {p.relative_to(ROOT)}", flush=True)


if __name__ == "__main__":
    main()
