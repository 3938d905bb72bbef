"""Conformance on a loopback-only host: the scenarios run inside a private network namespace
with only `lo` (as root; skipped otherwise, saying why), and the model host has no ETH."""

from __future__ import annotations

from dataclasses import replace

import pytest

from tests.conformance.common import *  # the scenarios' vocabulary
from udpsem.real.conformance import Scenario, check, scenarios

FAR = ip("10.1.1.1")


def bound_broadcast_has_a_route() -> G:
    """The issue's contradiction: from 127.0.0.1 Linux has a route to 255.255.255.255."""
    w = yield socket()
    b = yield socket()
    yield bind(w, None, 43000)
    yield bind(b, LO, 43001)
    yield sendto(b, (BCAST, 43000), b"x", False)  # EACCES, not ENETUNREACH
    yield setsockopt(b, SockOpt.SO_BROADCAST, True)
    yield sendto(b, (BCAST, 43000), b"y", False)  # sent, and looped back
    yield delay(20_000)
    yield recvfrom(w, True)


def unbound_broadcast_has_no_route() -> G:
    u = yield socket()
    yield sendto(u, (BCAST, 43010), b"x", False)  # ENETUNREACH (no route beats EACCES)
    yield setsockopt(u, SockOpt.SO_BROADCAST, True)
    yield sendto(u, (BCAST, 43010), b"x", False)  # ENETUNREACH still
    yield getsockname(u)  # autobound all the same


def off_host_has_no_route() -> G:
    a = yield socket()
    yield sendto(a, (FAR, 43020), b"x", False)  # ENETUNREACH
    yield connect(a, FAR, 43020)  # ENETUNREACH
    b = yield socket()
    yield bind(b, LO, 43021)
    yield sendto(b, (FAR, 43020), b"x", False)  # ENETUNREACH


def loopback_still_works() -> G:
    a = yield socket()
    yield bind(a, LO, 43030)
    yield sendto(a, (LO, 43030), b"self", False)
    yield delay(20_000)
    yield recvfrom(a, True)


def connect_broadcast_from_bound_socket() -> G:
    b = yield socket()
    yield bind(b, LO, 43040)
    yield connect(b, BCAST, 43041)  # EACCES: the route exists
    yield setsockopt(b, SockOpt.SO_BROADCAST, True)
    yield connect(b, BCAST, 43041)
    yield sendto(b, None, b"x", False)


SCENARIOS = scenarios(
    bound_broadcast_has_a_route, unbound_broadcast_has_no_route, off_host_has_no_route,
    loopback_still_works, connect_broadcast_from_bound_socket, ifds=(),
)


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.name)
def test_loopback_only_host(scenario: Scenario, lo_netns: str) -> None:
    v = check(replace(scenario, netns=lo_netns))
    assert v.admitted, str(v)
