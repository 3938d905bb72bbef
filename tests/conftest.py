"""Test configuration: Hypothesis profiles and the rule-coverage gate.

Profiles (select with the environment variable HYPOTHESIS_PROFILE):

* `ci` (default): 300 examples per property (the Theorem-1 file doubles it), so the
  Theorem-1 and sanity files stay well under a minute.
* `thorough`: 20 000 examples per property: 100 000 across the five
  Theorem-1 properties.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

_COMMON = {"deadline": None, "suppress_health_check": [HealthCheck.too_slow,
                                                        HealthCheck.data_too_large,
                                                        HealthCheck.filter_too_much]}
settings.register_profile("ci", max_examples=300, **_COMMON)  # type: ignore[arg-type]
settings.register_profile("thorough", max_examples=20_000, **_COMMON)  # type: ignore[arg-type]
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


# Rule coverage --------------------------------------------------------------------------------
# When the whole suite runs (no -k/-m, no file or node subset, nothing deselected), every
# registered rule must have been exercised by some test (through `drivers.step` or
# `tests/hostkit.fire`); the per-rule counts go to .coverage-rules.txt either way.

import pytest

from udpsem.core import coverage

REPORT = ".coverage-rules.txt"
_state = {"deselected": 0}


def pytest_configure(config: pytest.Config) -> None:
    coverage.start()


def pytest_deselected(items: list[pytest.Item]) -> None:
    _state["deselected"] += len(items)


def _whole_suite(config: pytest.Config) -> bool:
    opt = config.option
    if getattr(opt, "collectonly", False) or getattr(opt, "maxfail", 0):
        return False  # nothing ran, or the run may stop early: counts would mislead
    if getattr(opt, "keyword", "") or getattr(opt, "markexpr", "") or _state["deselected"]:
        return False
    if getattr(opt, "lf", False):
        return False
    root = config.rootpath
    tests_dir = (root / "tests").resolve()
    for arg in config.args:
        p = (config.invocation_params.dir / arg.split("::")[0]).resolve()
        if "::" in arg or p not in (tests_dir, root.resolve()):
            return False
    return True


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if not _whole_suite(session.config):
        return
    counts = coverage.counts or {}
    rows = coverage.report(counts)  # type: ignore[arg-type]
    path = session.config.rootpath / REPORT
    width = max(len(n) for n, _ in rows)
    path.write_text("".join(f"{n:<{width}}  {k}\n" for n, k in rows), encoding="utf-8")
    missing = [n for n, k in rows if k == 0]
    if missing:
        tr = session.config.pluginmanager.get_plugin("terminalreporter")
        msg = (f"rule coverage: {len(missing)} registered rule(s) never exercised by the "
               f"suite: {', '.join(missing)} (counts in {REPORT})")
        if tr is not None:
            tr.write_line(msg, red=True, bold=True)
        if session.exitstatus == 0:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED
