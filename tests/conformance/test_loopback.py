"""Loopback conformance: each scenario runs on the real kernel, and the model must admit the
outcome (udpsem.real.conformance.check searches its choices)."""

from __future__ import annotations

import sys
from dataclasses import replace

import pytest

from tests.conformance.scenarios_host import SCENARIOS as HOST
from tests.conformance.scenarios_iface import SCENARIOS as IFACE
from tests.conformance.scenarios_linux import SCENARIOS as LINUX
from tests.conformance.scenarios_paper import SCENARIOS as PAPER
from udpsem.real.conformance import Scenario, check

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="runs the real Linux kernel")

ALL = [*PAPER, *LINUX, *IFACE, *HOST]


@pytest.mark.parametrize("scenario", ALL, ids=lambda s: s.name)
def test_model_admits_the_kernel(scenario: Scenario, eth_netns: str | None) -> None:
    v = check(replace(scenario, netns=eth_netns))
    assert v.admitted, str(v)
