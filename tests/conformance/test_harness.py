"""The conformance harness itself: it rejects what the model does not admit, and the older
one-shot comparison (`udpsem.real.compare`) still works.

The scenarios bind fixed ports, so as root they run in this test process's own namespace
(the `eth_netns` fixture, None without root: then in the machine's), where a second copy of
the suite running at the same time cannot meet them."""

from __future__ import annotations

import os
import socket as pysocket
import sys
import threading
import time
from collections.abc import Callable, Generator
from dataclasses import replace
from typing import Any, TypeVar

import pytest

from tests.conformance.scenarios_paper import (
    SCENARIOS,
    broadcast_and_size,
    icmp_refused_on_connected_socket,
    pending_error_before_data,
)
from udpsem.hosts.calls import delay, socket
from udpsem.real.compare import compare, local_interfaces, observed, run_model
from udpsem.real.conformance import (
    BLOCKED,
    Scenario,
    _runnable,
    enter_netns,
    model_admits,
    run_real,
)

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="runs the real Linux kernel")

BY_NAME = {s.name: s for s in SCENARIOS}
T = TypeVar("T")


def _inside(netns: str | None, fn: Callable[[], T]) -> T:
    """`fn()` run by an OS thread in network namespace `netns` (this one's if None)."""
    if netns is None:
        return fn()
    out: list[T] = []
    failed: list[BaseException] = []

    def body() -> None:
        try:
            enter_netns(netns)
            out.append(fn())
        except BaseException as e:  # noqa: BLE001 - raised again in the caller's thread
            failed.append(e)

    t = threading.Thread(target=body)
    t.start()
    t.join()
    if failed:
        raise failed[0]
    return out[0]


def _mutate(real: dict, tid: int, k: int, value: object) -> dict:
    log = list(real[tid])
    log[k] = (log[k][0], value)
    return {**real, tid: tuple(log)}


def test_a_changed_result_is_rejected_with_the_step(eth_netns: str | None) -> None:
    s = replace(BY_NAME["icmp_refused_on_connected_socket"], netns=eth_netns)
    real = run_real(s)
    ifds = local_interfaces(eth_netns)
    assert model_admits(s, real, ifds)[0]
    k = [name for name, _ in real[0]].index("geterr")
    ok, _, why = model_admits(s, _mutate(real, 0, k, None), ifds)
    assert not ok
    assert f"call #{k + 1}" in why and "'ECONNREFUSED'" in why


def test_blocked_and_answered_are_told_apart(eth_netns: str | None) -> None:
    s = replace(BY_NAME["one_datagram_two_blocked_receivers"], netns=eth_netns)
    real = run_real(s)
    blocked = [t for t in (1, 2) if real[t] == (("recvfrom", BLOCKED),)]
    assert len(blocked) == 1  # one of the two took the datagram (which one is the kernel's)
    got = 3 - blocked[0]
    ifds = local_interfaces(s.netns)
    assert model_admits(s, real, ifds)[0]
    # Both receivers answered: the model has only one datagram to give.
    assert not model_admits(s, {**real, blocked[0]: real[got]}, ifds)[0]
    # The answered one blocked too: then nobody took the datagram, which the model forbids.
    assert not model_admits(s, {**real, got: (("recvfrom", BLOCKED),)}, ifds)[0]


def test_a_thread_the_kernel_never_had_is_rejected(eth_netns: str | None) -> None:
    s = Scenario("plain", BY_NAME["bind_ephemeral"].program, netns=eth_netns)
    real = run_real(s)
    assert not model_admits(s, {**real, 5: (("socket", 3),)}, local_interfaces(eth_netns))[0]


def test_compare_still_reports_both_sides(eth_netns: str | None) -> None:
    model, real = _inside(eth_netns, lambda: compare(icmp_refused_on_connected_socket))
    assert model == real
    assert ("sendto", "ECONNREFUSED") in model and ("geterr", "ECONNREFUSED") in model
    model, _ = _inside(eth_netns, lambda: compare(pending_error_before_data))
    assert model[-2:] == [("recvfrom", "ECONNREFUSED"),
                          ("recvfrom", ("127.0.0.1", "EPH", b"data"))]  # 40062 is in EPH


def test_a_loopback_only_model_host_differs_from_this_machine(eth_netns: str | None) -> None:
    """Without a route, broadcast gives ENETUNREACH in the model (this machine, and the
    namespace of `eth_netns`, have one)."""
    from udpsem.real.lib import run_real as run_lib

    prog = observed(broadcast_and_size)
    assert run_model(prog, ifds=()) != _inside(eth_netns, lambda: run_lib(prog))
    s = Scenario("bcast", broadcast_and_size, ifds=(), netns=eth_netns)
    ok, _, why = model_admits(s, run_real(s), ())
    assert not ok and "ENETUNREACH" in why


def test_loopback_sync_is_as_tight_as_linux(eth_netns: str | None) -> None:
    """Linux reports the ICMP of a loopback send on the very next call. With the paper's
    timing the model also admits the next send succeeding (the ICMP still queued); with
    LOOPBACK_SYNC (the conformance default) it does not."""
    from dataclasses import replace

    from udpsem.hosts.calls import connect, sendto, socket
    from udpsem.hosts.state import HostConsts
    from udpsem.hosts.values import ip
    from udpsem.real.conformance import LINUX_CONSTS

    def again() -> Generator[Any, Any, Any]:
        fd = yield socket()
        yield connect(fd, ip("127.0.0.1"), 41901)
        yield sendto(fd, None, b"1", False)
        yield sendto(fd, None, b"2", False)

    tight = Scenario("again", again, ifds=(), netns=eth_netns)
    real = run_real(tight)
    assert real[0][-1] == ("sendto", "!ECONNREFUSED")
    assert model_admits(tight, real, ())[0]
    raced = _mutate(real, 0, len(real[0]) - 1, None)  # the race Linux never shows
    assert not model_admits(tight, raced, ())[0]
    loose = replace(tight, consts=replace(LINUX_CONSTS, loopback_sync=False))
    assert model_admits(loose, raced, ())[0] and model_admits(loose, real, ())[0]
    assert HostConsts().loopback_sync is False  # the paper's timing stays the default


def test_namespaces_are_cleaned_up() -> None:
    """A namespace made for a run is deleted when it ends, and one left by a killed run is
    removed by the next (pids that are gone)."""
    from udpsem.real import netns

    if netns.unavailable() is not None:
        pytest.skip(netns.unavailable() or "")
    # Names of this test process's own (so that a concurrent copy of the suite is not met),
    # ending in pids no process has (above Linux's largest, 2**22).
    prefix = f"udpsem-conf-test{os.getpid()}-"
    with netns.Namespace(f"{prefix}999999999") as ns:
        assert netns.exists(ns.name)
    assert not netns.exists(f"{prefix}999999999")
    netns.Namespace(f"{prefix}999999998").__enter__()  # as if its run were killed
    assert netns.remove_stale(prefix) == [f"{prefix}999999998"]
    assert not netns.exists(f"{prefix}999999998")


def _long_delay_then_socket() -> Generator[Any, Any, None]:
    yield delay(400_000)  # 0.4 s: longer than the settle time of 0.15 s
    yield socket()


def test_a_delay_longer_than_the_settle_time_is_not_blocked(eth_netns: str | None) -> None:
    # A delay always ends: the harness waits for it, however long, instead of declaring a
    # thread in it BLOCKED once nothing has happened for `settle` seconds.
    s = Scenario("long_delay", _long_delay_then_socket, netns=eth_netns)
    real = run_real(s)
    assert real[0][0] == ("delay", None) and real[0][1][0] == "socket", real
    assert model_admits(s, real, local_interfaces(eth_netns))[0]


def test_a_thread_waiting_for_a_cpu_is_runnable_and_one_in_recv_is_not() -> None:
    # What keeps a CPU-starved thread (a loaded machine) from being declared blocked: its
    # kernel state is R, where a thread blocked in a receive sleeps (S).
    ids: dict[str, int] = {}
    stop = threading.Event()
    sock = pysocket.socket(pysocket.AF_INET, pysocket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))

    def spin() -> None:
        ids["spin"] = threading.get_native_id()
        while not stop.is_set():
            pass

    def receive() -> None:
        ids["recv"] = threading.get_native_id()
        sock.recvfrom(10)

    threads = [threading.Thread(target=spin), threading.Thread(target=receive)]
    for t in threads:
        t.start()
    try:
        time.sleep(0.2)
        assert _runnable(ids["spin"])
        assert not _runnable(ids["recv"])
        assert not _runnable(1 << 30)  # no such thread: unknown counts as not runnable
    finally:
        stop.set()
        sock.sendto(b"x", sock.getsockname())
        for t in threads:
            t.join()
        sock.close()


@pytest.mark.parametrize("call", ["delay", "select", "poll"])
def test_the_real_backend_waits_for_the_longest_lib_timeouts(call: str) -> None:
    # The LIB's delays and timeouts go up to 2**62 us or ms; the OS's timers take less
    # (time.sleep overflows time_t, poll(2) takes an int, which ctypes would silently cut
    # to its low 32 bits: 2**40 ms became 0, an immediate answer). The real backend waits
    # the longest it can instead: still waiting after 0.3 s, without an error.
    from udpsem.hosts.calls import LIB_INT_MAX, poll, select
    from udpsem.hosts.values import POLLIN
    from udpsem.real.lib import RealLib

    lib = RealLib(recv_wait=None)
    fd = lib.perform(socket())
    req = {"delay": delay(LIB_INT_MAX), "select": select([fd], [], LIB_INT_MAX),
           "poll": poll([(fd, POLLIN)], 1 << 40)}[call]
    outcome: list[object] = []

    def wait() -> None:
        try:
            outcome.append(lib.perform(req))
        except BaseException as e:  # noqa: BLE001 - the test reports whatever escaped
            outcome.append(e)

    t = threading.Thread(target=wait, daemon=True)  # left waiting: it ends with the process
    t.start()
    t.join(0.3)
    assert t.is_alive() and outcome == [], outcome
