"""Where this machine's kernel and the written specification disagree, the model follows Linux.

Each test states the model's answer and, on Linux, checks it against real loopback UDP
sockets.
"""

from __future__ import annotations

import socket as pysocket
import sys

import pytest

from tests.hostkit import ALAN, call, ctx, host, internal
from udpsem.hosts.calls import bind, getsockname
from udpsem.hosts.state import Sock
from udpsem.hosts.values import ANY_ADDR, Ok

linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="needs Linux")


def test_bind_to_inaddr_any_is_the_wildcard_in_the_model() -> None:
    """The spec's bind_2 would fail `bind(fd, Some 0.0.0.0, p)` with EADDRNOTAVAIL (0.0.0.0
    is not local); Linux binds the wildcard. Regression test for the fix in bind.py."""
    c = ctx()
    h = host(socks=[Sock(3)])
    name, st = call(c, h, bind(3, ANY_ADDR, 5000))
    assert name == "bind_1"
    s = st.host.s[0]
    assert (s.is1, s.ps1, s.lk) == (None, 5000, (False, True))
    _, back = internal(c, st.host, "ret_1")
    name, st2 = call(c, back.host, getsockname(3))
    assert st2.host.ts[0].state.value == Ok((None, 5000))
    # It conflicts like a wildcard: another socket on ALAN:5000 cannot bind.
    h2 = host(socks=[Sock(4), Sock(3, None, 5000, lk=(False, True))])
    name, _ = call(c, h2, bind(4, ALAN, 5000))
    assert name == "bind_5"


@linux_only
def test_linux_binds_inaddr_any_as_wildcard() -> None:
    s = pysocket.socket(pysocket.AF_INET, pysocket.SOCK_DGRAM)
    try:
        s.bind(("0.0.0.0", 0))
        addr, port = s.getsockname()
        assert addr == "0.0.0.0" and port > 0
    finally:
        s.close()


@linux_only
def test_linux_connect_without_port_gives_enotconn_on_getpeername() -> None:
    """The model's getpeername_2 for a peer without a port (connect with ps = None, port 0
    on the wire) agrees with Linux."""
    s = pysocket.socket(pysocket.AF_INET, pysocket.SOCK_DGRAM)
    try:
        s.connect(("127.0.0.1", 0))
        with pytest.raises(OSError):
            s.getpeername()
    finally:
        s.close()
