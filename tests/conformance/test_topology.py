"""Multi-host conformance (issue 12): two hosts on a link and three hosts on two links with a
router, with interfaces taken down, cables pulled and neighbours that do not answer, path MTU,
a router's ICMP errors and neighbour wait, and a full neighbour queue, each run
on the real kernel in namespaces made for it (as root; skipped otherwise, saying why) and
searched for in the model, which must admit what the kernel did."""

from __future__ import annotations

import os
import subprocess

import pytest

from tests.conformance.scenarios_pmtu import PMTU
from tests.conformance.scenarios_topology import TOPOLOGIES as BASIC
from udpsem.real import netns
from udpsem.real.topology import Topology, check_topology

PREFIX = "udpsem-topo-"
TOPOLOGIES = BASIC + PMTU


def _remove_stale() -> None:
    """Delete namespaces `udpsem-topo-<pid>-...` left by runs that were killed."""
    r = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, timeout=20,
                       check=False)
    for line in r.stdout.splitlines():
        name = line.split()[0] if line.split() else ""
        pid = name[len(PREFIX):].split("-")[0]
        if not name.startswith(PREFIX) or not pid.isdigit():
            continue
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            subprocess.run(["ip", "netns", "del", name], capture_output=True, timeout=20,
                           check=False)
        except PermissionError:
            pass


@pytest.fixture(scope="module")
def lab_tag() -> str:
    why = netns.unavailable()
    if why is not None:
        pytest.skip(f"multi-host namespace scenarios: {why}")
    _remove_stale()
    return f"{PREFIX}{os.getpid()}-"


@pytest.mark.parametrize("topo", TOPOLOGIES, ids=lambda t: t.name)
def test_topology(topo: Topology, lab_tag: str) -> None:
    k = TOPOLOGIES.index(topo)
    v = check_topology(topo, f"{lab_tag}{k}-")
    assert v.admitted, str(v)


def test_the_namespaces_are_gone(lab_tag: str) -> None:
    check_topology(TOPOLOGIES[0], f"{lab_tag}gone-")
    r = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, timeout=20,
                       check=True)
    assert f"{lab_tag}gone-" not in r.stdout
