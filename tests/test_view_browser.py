"""End-to-end tests of the explorer in a real headless Chromium (Debian's `chromium`, driven
by Playwright for Python with the system browser as its executable; `.ci/run` installs both).

They load a heartbeat trace with a disconnect, step forward and back (buttons and keys),
check the shown rule and state, branch off the trace and check the successor, reload the
shared URL, and take screenshots. They skip, saying why, only where no browser can be
started (no Playwright module, or no Chromium binary).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from udpsem.view.server import make_server
from udpsem.view.session import Session

CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu",
                  "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--no-first-run"]


def chromium_path() -> str | None:
    for name in (os.environ.get("UDPSEM_CHROMIUM"), "/usr/bin/chromium", "chromium",
                 "chromium-browser"):
        if name and shutil.which(name):
            return shutil.which(name)
    return None


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("Playwright for Python is not installed (pip install playwright); "
                    "the browser tests need it")
    exe = chromium_path()
    if exe is None and os.environ.get("CI") == "true":
        pytest.fail("CI: no Chromium binary although .ci/run installs it (apt-get install "
                    "chromium)")
    if exe is None:
        pytest.skip("no Chromium binary (apt-get install chromium); the browser tests need it")
    with tempfile.TemporaryDirectory(prefix="udpsem-chromium-") as profile, \
            sync_playwright() as pw:
        ctx = pw.chromium.launch_persistent_context(
            profile, executable_path=exe, headless=True, args=CHROMIUM_FLAGS,
            viewport={"width": 1400, "height": 1000})
        yield ctx
        ctx.close()


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    path = tmp_path_factory.mktemp("browser") / "t.jsonl"
    subprocess.run([sys.executable, "-m", "udpsem", "run", "heartbeat", "--seed", "7",
                    "--duration", "30s", "--loss", "0.1", "--preset", "paper",
                    "--disconnect", "KURT@10s-20s", "--trace", str(path)], check=True,
                   capture_output=True)
    recs = [json.loads(x) for x in path.read_text().splitlines()[1:]]
    srv = make_server(Session.load(path))
    th = threading.Thread(target=srv.serve_forever, daemon=True)
    th.start()
    yield f"http://127.0.0.1:{srv.server_address[1]}/", recs
    srv.shutdown()
    srv.server_close()


def _wait(page: Any, path: str) -> None:
    page.wait_for_function("p => document.body.dataset.loaded === p", arg=path,
                           timeout=15_000)


def test_step_forward_back_and_keys(browser: Any, served: tuple[str, list[dict[str, Any]]],
                                    tmp_path: Path) -> None:
    url, recs = served
    i = next(r["i"] for r in recs if r["rule"] == "host_disconnect")
    page = browser.new_page()
    page.goto(f"{url}#/{i}")
    _wait(page, str(i))
    assert "KURT: connected" in page.inner_text("#state")
    page.click("#forward")
    _wait(page, str(i + 1))
    assert page.inner_text("#step .rule") == "host_disconnect"
    assert "KURT: unplugged" in page.inner_text("#state")
    assert page.locator(".section.unplugged .title.changed").count() == 1
    assert page.inner_text("#position").startswith(f"step {i + 1} of {len(recs)}")
    page.keyboard.press("ArrowRight")
    _wait(page, str(i + 2))
    assert page.inner_text("#step .rule") == recs[i + 1]["rule"]
    page.keyboard.press("ArrowLeft")
    _wait(page, str(i + 1))
    page.click("#back")
    _wait(page, str(i))
    assert page.inner_text("#step .rule") == recs[i - 1]["rule"]
    assert "theorem2: holds" in page.inner_text("#verdicts")
    # the chart is there, with the current step's later elements faded
    assert page.locator("#chart svg g.msg").count() > 10
    assert page.locator("#chart svg g.future").count() > 0
    assert page.locator("#chart svg line.now").count() == 1
    page.screenshot(path=str(tmp_path / "step.png"), full_page=True)
    assert (tmp_path / "step.png").stat().st_size > 10_000
    page.close()


def test_branch_and_reload_shared_url(browser: Any,
                                      served: tuple[str, list[dict[str, Any]]]) -> None:
    url, recs = served
    k = next(r["i"] for r in recs if r["partner"] == "net_accept_single" and r["t"] > 1e9)
    page = browser.new_page()
    page.goto(f"{url}#/{k}")
    _wait(page, str(k))
    # the trace's next step is offered, and so are the network's other choices
    assert page.locator("#successors button.follows").count() == 1
    drop = page.locator("#successors button", has_text="fate drop")
    assert drop.count() >= 1
    target = drop.first.get_attribute("data-path")
    assert target is not None and "~" in target
    drop.first.click()
    _wait(page, target)
    assert page.inner_text("#step .rule") == "delivery_out_1"
    assert "net_accept_drop" in page.inner_text("#step")
    assert "off the trace" in page.inner_text("#position")
    assert page.url.endswith("#/" + target)
    # the shared URL names the same state after a reload and in a fresh page
    page.reload()
    _wait(page, target)
    assert "net_accept_drop" in page.inner_text("#step")
    other = browser.new_page()
    other.goto(page.url)
    _wait(other, target)
    assert other.inner_text("#state") == page.inner_text("#state")
    # and one step back is the branching state again
    other.click("#back")
    _wait(other, str(k))
    other.close()
    page.close()


def test_bad_path_shows_an_error(browser: Any,
                                 served: tuple[str, list[dict[str, Any]]]) -> None:
    url, _ = served
    page = browser.new_page()
    page.goto(f"{url}#/99999999")
    page.wait_for_selector("#error", state="visible", timeout=15_000)
    assert "outside the trace" in page.inner_text("#error")
    page.close()


EXAMPLE = str(Path(__file__).resolve().parent.parent / "examples" / "reqresp_buggy.py")


@pytest.fixture(scope="module")
def served_file(tmp_path_factory: pytest.TempPathFactory
                ) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """`udpsem ui examples/reqresp_buggy.py --seed 2`, as a user starts it; the records of
    the same run (`udpsem run` with the same seed gives the same trace)."""
    path = tmp_path_factory.mktemp("browser-file") / "r.jsonl"
    subprocess.run([sys.executable, "-m", "udpsem", "run", EXAMPLE, "--seed", "2", "--trace",
                    str(path)], check=False, capture_output=True)  # exit 1: answers_match
    recs = [json.loads(x) for x in path.read_text().splitlines()[1:]]
    p = subprocess.Popen([sys.executable, "-m", "udpsem", "ui", EXAMPLE, "--seed", "2"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert p.stdout is not None
    line = p.stdout.readline()
    assert line.startswith("udpsem explorer: http://127.0.0.1:"), line
    yield line.split()[2], recs
    p.terminate()
    p.wait(timeout=10)


def test_user_program_step_branch_and_verdicts(browser: Any,
                                               served_file: tuple[str, list[dict[str, Any]]],
                                               tmp_path: Path) -> None:
    url, recs = served_file
    page = browser.new_page()
    page.goto(f"{url}#/0")
    _wait(page, "0")
    assert "reqresp_buggy.py" in page.inner_text("#title")
    assert "CLIENT" in page.inner_text("#state") and "SERVER" in page.inner_text("#state")
    assert "answers_match: holds" in page.inner_text("#verdicts")
    page.click("#forward")
    _wait(page, "1")
    assert page.inner_text("#step .rule") == recs[0]["rule"]
    page.keyboard.press("ArrowRight")
    _wait(page, "2")
    assert page.inner_text("#step .rule") == recs[1]["rule"]
    page.keyboard.press("End")
    _wait(page, str(len(recs)))
    assert "answers_match: VIOLATED" in page.inner_text("#verdicts")
    assert "b're 1' as the answer to b'2'" in page.inner_text("#verdicts")
    assert page.locator("#chart svg g.violation").count() == 1
    page.screenshot(path=str(tmp_path / "file-end.png"), full_page=True)
    # branch off where the client's first question is sent: the slowest delay instead
    k = next(r["i"] for r in recs if r["partner"] == "net_accept_single")
    page.goto(f"{url}#/{k}")
    _wait(page, str(k))
    slow = page.locator("#successors button", has_text="delay 10000000")
    assert slow.count() == 1
    target = slow.get_attribute("data-path")
    assert target is not None and "~" in target
    slow.click()
    _wait(page, target)
    assert "off the trace" in page.inner_text("#position")
    assert "(in 10ms)" in page.inner_text("#state")
    assert page.inner_text("#step .rule") == recs[k]["rule"]
    # and one more step from the model, then back to the branching state
    page.locator("#successors button").first.click()
    page.wait_for_function("() => document.body.dataset.loaded.split('~').length === 3",
                           timeout=15_000)
    assert "+2 off the trace" in page.inner_text("#position")
    page.click("#back")
    _wait(page, target)
    page.click("#back")
    _wait(page, str(k))
    page.close()
