"""Generic rules (docs/rules.md#ret_1) fired through hostkit, and the rarer bind failures."""

from __future__ import annotations

from tests.hostkit import ALAN, call, ctx, fire, host, internal, names_call, names_internal
from udpsem.base.time import MS, NEVER
from udpsem.hosts.calls import bind, connect, getsockname, recvfrom, select, socket
from udpsem.hosts.lts import call_enabled
from udpsem.hosts.state import DELAY2, ZOMBIE, RecvFrom2, Ret, Select2, SendTo2, Sock, ThreadEntry
from udpsem.hosts.values import Errno, Fail


def _ret(st: object, tid: int = 0) -> Ret:
    e = st.host.thread(tid)  # type: ignore[attr-defined]
    assert isinstance(e.state, Ret)
    return e.state


def test_notsockfd_1_console_fd() -> None:
    name, st = call(ctx(), host(), getsockname(1))
    assert name == "notsockfd_1"
    assert _ret(st) == Ret(Fail(Errno.ENOTSOCK), "getsockname")
    # select accepts console fds (no notsockfd rule for it)
    assert names_call(ctx(), host(), select((0,), (1,), 0)) == ["select_1"]


def test_intr_1_interrupts_each_slow_call_only_with_allow_intr() -> None:
    h = host(socks=[Sock(3, None, 5000)],
             threads=[ThreadEntry(1, RecvFrom2(3)), ThreadEntry(2, Select2((3,), ()), NEVER),
                      ThreadEntry(3, DELAY2, 5 * MS),
                      ThreadEntry(4, SendTo2(3, (ALAN, 9), b"x", (None, 5000, None, None)))])
    assert "intr_1" not in names_internal(ctx(), h)
    c = ctx(allow_intr=True)
    assert names_internal(c, h).count("intr_1") == 4
    for tid, callname in ((1, "recvfrom"), (2, "select"), (3, "delay"), (4, "sendto")):
        rest = h.__class__(h.ifds, tuple(e for e in h.ts if e.tid in (0, tid)), h.s)
        _, st = internal(c, rest, "intr_1")
        assert _ret(st, tid) == Ret(Fail(Errno.EINTR), callname)


def test_badmem_1_socket_chooses_the_error() -> None:
    c = ctx(allow_badmem=True)
    assert sorted(names_call(c, host(), socket())) == ["badmem_1", "socket_1"]
    name, st = fire(call_enabled(c, host(), 0, socket()), "badmem_1", errno=Errno.ENOMEM)
    assert name == "badmem_1" and _ret(st) == Ret(Fail(Errno.ENOMEM), "socket")


def test_badmem_2_needs_valid_fds() -> None:
    c = ctx(allow_badmem=True)
    h = host(socks=[Sock(3)])
    _, st = fire(call_enabled(c, h, 0, connect(3, ALAN, 9)), "badmem_2")
    assert _ret(st) == Ret(Fail(Errno.ENOBUFS), "connect")
    assert "badmem_2" not in names_call(c, h, connect(4, ALAN, 9))
    assert "badmem_2" not in names_call(c, h, getsockname(3))


def test_badmem_3_and_4_fail_blocked_calls() -> None:
    c = ctx(allow_badmem=True)
    h = host(socks=[Sock(3, None, 5000)], threads=[ThreadEntry(1, RecvFrom2(3))])
    _, st = internal(c, h, "badmem_3", errno=Errno.ENOMEM)
    assert _ret(st, 1) == Ret(Fail(Errno.ENOMEM), "recvfrom")
    h = host(socks=[Sock(3)], threads=[ThreadEntry(1, Select2((3,), ()), NEVER)])
    _, st = internal(c, h, "badmem_4")
    assert _ret(st, 1) == Ret(Fail(Errno.ENOMEM), "select")
    assert "badmem_4" not in names_internal(ctx(), h)


def test_zombie_1_absorbs_a_call() -> None:
    h = host(threads=[ThreadEntry(1, ZOMBIE)])
    name, st = call(ctx(), h, recvfrom(3, False), tid=1)
    assert name == "zombie_1" and st.host == h


def test_bind_3_privileged_port() -> None:
    name, st = call(ctx(), host(socks=[Sock(3)]), bind(3, None, 80))
    assert name == "bind_3" and _ret(st) == Ret(Fail(Errno.EACCES), "bind")
    assert names_call(ctx(priv=True), host(socks=[Sock(3)]), bind(3, None, 80)) == ["bind_1"]


def test_bind_6_no_free_ephemeral_port() -> None:
    h = host(socks=[Sock(3), Sock(4, None, 40000)])
    name, st = call(ctx(eph=(40000, 40000)), h, bind(3, None, None))
    assert name == "bind_6" and _ret(st) == Ret(Fail(Errno.EADDRINUSE), "bind")
