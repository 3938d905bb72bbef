"""One real host: the LIB over real sockets for all of its threads, with the model's numbering.

`RealHost.perform(call)` executes a LIB call on the kernel and returns the model's result
value or raises `UDPError` with the model's errno name. What the program sees is in model
terms: fds are numbered as the model numbers them (the least free fd ≥ 3), addresses are the
model's (the plan maps them to real ones and back), and a wildcard bind on loopback, where all
hosts share one kernel, binds the host's own address so that its datagrams carry it.

A crash (`kill`) ends the host: a flag every call checks, and a pipe that wakes every blocked
`select`, `recvfrom` and `delay`, after which the host's sockets are closed. The threads
notice at their next step and end without another label, as the model's crashed machine
simply disappears.
"""

from __future__ import annotations

import ctypes
import errno as errno_mod
import os
import select as select_mod
import socket as socket_mod
import threading
from dataclasses import dataclass
from typing import Any

from udpsem.hosts import calls as C
from udpsem.hosts.values import Errno, SockOpt, UDPError
from udpsem.real.lib import delay_seconds, pure_answer
from udpsem.real.net import Plan
from udpsem.state.components import StoreGet, StoreNew, StoreSet

_ERRNO = {getattr(errno_mod, e.value): e for e in Errno if hasattr(errno_mod, e.value)}


class Killed(Exception):
    """The host crashed (or the run ended): the calling thread stops without a label."""


@dataclass
class _Sock:
    sock: socket_mod.socket
    wildcard: bool = True  # bound (or to be autobound) to the wildcard in model terms
    bound: bool = False


class RealHost:
    """The kernel side of one model host."""

    def __init__(self, name: str, plan: Plan) -> None:
        self.name = name
        self.plan = plan
        self.lock = threading.RLock()
        self.socks: dict[int, _Sock] = {}
        self.store: dict[int, Any] = {}
        self.tids = {0}
        self.dead = threading.Event()
        self._kill_r, self._kill_w = os.pipe()

    # lifecycle -----------------------------------------------------------------------------

    def kill(self) -> None:
        """Crash: every thread stops at its next step; blocked calls wake up."""
        with self.lock:
            if self.dead.is_set():
                return
            self.dead.set()
            os.write(self._kill_w, b"x")

    def close(self) -> None:
        """Close every socket and the wake-up pipe (after the threads are gone)."""
        with self.lock:
            for s in self.socks.values():
                s.sock.close()
            self.socks.clear()
            for fd in (self._kill_r, self._kill_w):
                try:
                    os.close(fd)
                except OSError:
                    pass

    def check_alive(self) -> None:
        if self.dead.is_set():
            raise Killed(self.name)

    # threads and store ---------------------------------------------------------------------

    def new_tid(self) -> int:
        """The model's create_1: the least tid not used on this host (ended ones stay used)."""
        with self.lock:
            t = 0
            while t in self.tids:
                t += 1
            self.tids.add(t)
            return t

    def store_op(self, op: Any) -> Any:
        """new / set / get on the host's memory, with the model's location numbering."""
        with self.lock:
            if isinstance(op, StoreNew):
                loc = 0
                while loc in self.store:
                    loc += 1
                self.store[loc] = op.value
                return loc
            if isinstance(op, StoreSet):
                self.store[op.loc] = op.value
                return None
            if isinstance(op, StoreGet):
                return self.store[op.loc]
        raise TypeError(f"not a store operation: {op!r}")

    # the LIB ---------------------------------------------------------------------------------

    def perform(self, call: C.Call) -> Any:
        try:
            return self._perform(call)
        except OSError as e:
            if self.dead.is_set():
                raise Killed(self.name) from None
            if e.errno in _ERRNO:
                raise UDPError(_ERRNO[e.errno]) from None
            raise

    def _sock(self, fd: int) -> _Sock:
        s = self.socks.get(fd)
        if s is None or s.sock.fileno() < 0:
            raise UDPError(Errno.EBADF)
        return s

    def _model_addr(self, s: _Sock, pair: tuple[str, int], local: bool) -> tuple[Any, Any]:
        host, port = pair
        if host == "0.0.0.0" or (local and s.wildcard):
            a = None
        else:
            a = self.plan.model_of(host)
        return (a, None if port == 0 else port)

    def _autobind(self, s: _Sock) -> None:
        """On loopback a socket must carry its host's address before it sends or connects
        (the kernel would pick 127.0.0.1). In a namespace the kernel's choice is right."""
        if not s.bound and self.plan.kind == "loopback":
            s.sock.bind((self.plan.own_real(self.name), 0))
            s.bound = True

    def _perform(self, call: C.Call) -> Any:
        self.check_alive()
        if isinstance(call, C.Socket):
            sock = socket_mod.socket(socket_mod.AF_INET, socket_mod.SOCK_DGRAM)
            with self.lock:
                fd = 3
                while fd in self.socks:
                    fd += 1
                self.socks[fd] = _Sock(sock)
            return fd
        known, value = pure_answer(call)
        if known:
            return value
        if isinstance(call, C.Delay):
            select_mod.select([self._kill_r], [], [], delay_seconds(call))
            self.check_alive()
            return None
        if isinstance(call, C.Select):
            return self._select(call)
        if isinstance(call, C.PrintEndlineFlush):
            print(f"{self.name}: {call.text}", flush=True)
            return None
        if isinstance(call, C.Exit):
            self.kill()
            raise Killed(self.name)
        if not call.takes_fd:
            raise NotImplementedError(f"{call.name} is not supported on real sockets")
        s = self._sock(call.fd)  # type: ignore[attr-defined]
        sock = s.sock
        if isinstance(call, C.Bind):
            if call.ip is None:
                real = self.plan.own_real(self.name) if self.plan.kind == "loopback" \
                    else "0.0.0.0"
            else:
                real = self.plan.real_of(call.ip)
            sock.bind((real, call.port or 0))
            s.wildcard, s.bound = call.ip is None, True
            return None
        if isinstance(call, C.Connect):
            self._autobind(s)
            sock.connect((self.plan.real_of(call.ip), call.port or 0))
            s.bound = True
            return None
        if isinstance(call, C.Disconnect):
            _connect_unspec(sock.fileno())
            return None
        if isinstance(call, C.GetSockName):
            return self._model_addr(s, sock.getsockname(), True)
        if isinstance(call, C.GetPeerName):
            return self._model_addr(s, sock.getpeername(), False)
        if isinstance(call, C.SendTo):
            self._autobind(s)
            flags = socket_mod.MSG_DONTWAIT if call.nonblock else 0
            if call.dest is None:
                sock.send(call.data, flags)
            else:
                sock.sendto(call.data, flags, (self.plan.real_of(call.dest[0]), call.dest[1]))
            s.bound = True
            return None
        if isinstance(call, C.RecvFrom):
            if not call.nonblock:
                while True:
                    waits: list[Any] = [sock, self._kill_r]
                    r, _, _ = select_mod.select(waits, [], [])
                    self.check_alive()
                    if sock in r:
                        try:
                            data, src = sock.recvfrom(65536, socket_mod.MSG_DONTWAIT)
                            break
                        except BlockingIOError:
                            continue  # another thread took it
            else:
                data, src = sock.recvfrom(65536, socket_mod.MSG_DONTWAIT)
            a, p = self._model_addr(s, src, False)
            return (a, p, data)
        if isinstance(call, C.GetErr):
            e = sock.getsockopt(socket_mod.SOL_SOCKET, socket_mod.SO_ERROR)
            return None if e == 0 else _ERRNO[e]
        if isinstance(call, C.GetSockOpt):
            if call.opt == SockOpt.SO_BSDCOMPAT:
                return False  # obsolete on Linux: accepted, always off
            return bool(sock.getsockopt(socket_mod.SOL_SOCKET, socket_mod.SO_REUSEADDR))
        if isinstance(call, C.SetSockOpt):
            if call.opt == SockOpt.SO_REUSEADDR:
                sock.setsockopt(socket_mod.SOL_SOCKET, socket_mod.SO_REUSEADDR,
                                int(call.value))
            return None
        if isinstance(call, C.Close):
            with self.lock:
                sock.close()
                del self.socks[call.fd]
            return None
        raise NotImplementedError(f"{call.name} is not supported on real sockets")

    def _select(self, call: C.Select) -> Any:
        if call.timeout_us is not None and call.timeout_us < 0:
            raise UDPError(Errno.EINVAL)
        rs = [self._sock(fd).sock for fd in call.reads]
        ws = [self._sock(fd).sock for fd in call.writes]
        timeout = None if call.timeout_us is None else call.timeout_us / 1e6
        waits: list[Any] = [*rs, self._kill_r]
        r, w, _ = select_mod.select(waits, ws, [], timeout)
        self.check_alive()
        return (tuple(fd for fd, s in zip(call.reads, rs, strict=True) if s in r),
                tuple(fd for fd, s in zip(call.writes, ws, strict=True) if s in w))


class _SockaddrUnspec(ctypes.Structure):
    _fields_ = [("family", ctypes.c_ushort), ("data", ctypes.c_char * 14)]


def _connect_unspec(fd: int) -> None:
    """`connect(fd, {AF_UNSPEC})`: the C way to dissolve a UDP association."""
    libc = ctypes.CDLL(None, use_errno=True)
    addr = _SockaddrUnspec(socket_mod.AF_UNSPEC, b"")
    if libc.connect(fd, ctypes.byref(addr), ctypes.sizeof(addr)) != 0:
        err = ctypes.get_errno()
        raise OSError(err, "connect(AF_UNSPEC)")
