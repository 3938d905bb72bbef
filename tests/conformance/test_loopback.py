"""Loopback conformance: each scenario runs on the real kernel, and the model must admit the
outcome (udpsem.real.conformance.check searches its choices)."""

from __future__ import annotations

import sys

import pytest

from tests.conformance.scenarios_paper import SCENARIOS as PAPER
from udpsem.real.conformance import Scenario, check

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="runs the real Linux kernel")

ALL = [*PAPER]


@pytest.mark.parametrize("scenario", ALL, ids=lambda s: s.name)
def test_model_admits_the_kernel(scenario: Scenario) -> None:
    v = check(scenario)
    assert v.admitted, str(v)
