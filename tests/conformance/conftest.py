"""Where conformance scenarios run.

As root (CI), every scenario runs in a private network namespace made for this test process:
`ETH` has loopback plus one veth interface 10.77.0.1/24 (its peer, unaddressed, inside too) with the default route (a host with
one Ethernet interface on an empty network); `LO_ONLY` has loopback only. So concurrent test
runs never share ports, and the results do not depend on this machine's interfaces. Without
root the loopback scenarios run in the machine's own namespace (the model host then has this
machine's interfaces) and the loopback-only ones are skipped, saying why.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from udpsem.real import netns


@pytest.fixture(scope="session")
def eth_netns() -> Iterator[str | None]:
    if netns.unavailable() is not None:
        yield None
        return
    netns.remove_stale("udpsem-conf-eth-")  # left by runs that were killed
    netns.remove_stale("udpsem-conf-lo-")
    with netns.Namespace(f"udpsem-conf-eth-{os.getpid()}", "10.77.0.1/24") as ns:
        yield ns.name


@pytest.fixture(scope="session")
def lo_netns() -> Iterator[str]:
    why = netns.unavailable()
    if why is not None:
        pytest.skip(f"loopback-only host scenarios: {why}")
    netns.remove_stale("udpsem-conf-lo-")
    with netns.Namespace(f"udpsem-conf-lo-{os.getpid()}") as ns:
        yield ns.name
