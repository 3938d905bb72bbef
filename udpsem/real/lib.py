"""The LIB interface executed with real UDP sockets (Linux, loopback).

Only the calls a single-threaded program needs: socket, bind, connect, disconnect,
getsockname, getpeername, sendto, recvfrom, geterr, getsockopt, setsockopt, close, select,
port_of_int, ip_of_string, delay. fds are renamed to the model's numbering (3, 4, ... in order
of creation) so that results can be compared; the model keeps orphans' numbers, so numbers
are never reused here either.
"""

from __future__ import annotations

import ctypes
import errno as errno_mod
import fcntl
import select as select_mod
import socket as socket_mod
import struct
import termios
import time
from collections.abc import Callable, Generator
from typing import Any

from udpsem.hosts import calls as C
from udpsem.hosts.values import Errno, Shut, SockOpt, UDPError, ip_str, parse_ip

_ERRNO = {getattr(errno_mod, e.value): e for e in Errno if hasattr(errno_mod, e.value)}


def _errno_of(e: OSError) -> Errno:
    if e.errno in _ERRNO:
        return _ERRNO[e.errno]
    raise e


def _addr(pair: tuple[str, int] | None) -> tuple[int | None, int | None]:
    if pair is None:  # no source: a receive ended by shutdown returns no address
        return (None, None)
    host, port = pair
    a = parse_ip(host)
    return (None if a in (None, 0) else a, None if port == 0 else port)



def pure_answer(call: C.Call) -> tuple[bool, Any]:
    """The answer of a call the kernel has no part in, as the model gives it: `(True, v)` for
    port_of_int and ip_of_string (UDPError EINVAL for a bad argument), `(False, None)` for
    every other call. Shared by both real backends (this one and `real.host`)."""
    if isinstance(call, C.PortOfInt):
        if not 1 <= call.n <= 65535:
            raise UDPError(Errno.EINVAL)
        return True, call.n
    if isinstance(call, C.IpOfString):
        a = parse_ip(call.text)
        if a is None:
            raise UDPError(Errno.EINVAL)
        return True, a
    return False, None


# The longest the real backend waits in one sleep or select, in seconds (about 31.7
# years): the LIB's delays and timeouts go up to 2**62 us (about 146,000 years), past what
# the OS's timers take (time.sleep overflows time_t above about 2.9e11 s). A real run is
# bounded by its duration long before, so a longer wait cannot be told from this one.
LONGEST_WAIT = 1e9


def delay_seconds(call: C.Delay) -> float:
    """How long `delay` sleeps, in seconds (UDPError EINVAL for a negative time)."""
    if call.us < 0:
        raise UDPError(Errno.EINVAL)
    return call.us / 1e6


class RealLib:
    """Performs LIB calls on real sockets; raises UDPError like the model."""

    def __init__(self, recv_wait: float | None = 1.0, reuse_fds: bool = False) -> None:
        """`recv_wait`: how long a blocking recvfrom waits before RuntimeError (None: a
        true blocking call). `reuse_fds`: number sockets as the model does (the least fd
        not held by an open socket) instead of never reusing a number."""
        self.socks: dict[int, socket_mod.socket] = {}
        self.next_fd = 3
        self.recv_wait = recv_wait
        self.reuse_fds = reuse_fds

    def release(self) -> None:
        """Shut down and close every socket (waking threads blocked on them)."""
        for s in list(self.socks.values()):
            if s.fileno() >= 0:
                try:
                    s.shutdown(socket_mod.SHUT_RDWR)
                except OSError:
                    pass
        self.close_all()

    def close_all(self) -> None:
        for s in self.socks.values():
            s.close()
        self.socks.clear()

    def _sock(self, fd: int) -> socket_mod.socket:
        s = self.socks.get(fd)
        if s is None or s.fileno() < 0:
            raise UDPError(Errno.EBADF)
        return s

    def perform(self, call: C.Call) -> Any:
        try:
            return self._perform(call)
        except OSError as e:
            raise UDPError(_errno_of(e)) from None

    def _perform(self, call: C.Call) -> Any:
        if isinstance(call, C.Socket):
            s = socket_mod.socket(socket_mod.AF_INET, socket_mod.SOCK_DGRAM)
            fd = self.next_fd
            if self.reuse_fds:
                fd = 3
                while fd in self.socks and self.socks[fd].fileno() >= 0:
                    fd += 1
            else:
                self.next_fd += 1
            self.socks[fd] = s
            return fd
        known, value = pure_answer(call)
        if known:
            return value
        if isinstance(call, C.Delay):
            time.sleep(min(delay_seconds(call), LONGEST_WAIT))
            return None
        if isinstance(call, C.Select):
            return self._select(call)
        if isinstance(call, C.Poll):
            return self._poll(call)
        s = self._sock(call.fd)  # type: ignore[attr-defined]
        if isinstance(call, C.Bind):
            s.bind((ip_str(call.ip) if call.ip is not None else "0.0.0.0", call.port or 0))
            return None
        if isinstance(call, C.Connect):
            s.connect((ip_str(call.ip), call.port or 0))
            return None
        if isinstance(call, C.Disconnect):
            _connect_unspec(s.fileno())
            return None
        if isinstance(call, C.GetSockName):
            return _addr(s.getsockname())
        if isinstance(call, C.GetPeerName):
            return _addr(s.getpeername())
        if isinstance(call, C.SendTo) and call.via == "write":
            _libc_io("write", s.fileno(), call.data, len(call.data))
            return None
        if isinstance(call, C.ReadZero):
            _libc_io("read", s.fileno(), ctypes.create_string_buffer(1), 0)
            return b""
        if isinstance(call, C.RecvFrom) and call.via in ("recv", "read"):
            return self._recv(s, call)
        if isinstance(call, C.SendTo):
            flags = socket_mod.MSG_DONTWAIT if call.nonblock else 0
            if call.dest is None:
                s.send(call.data, flags)
            else:
                s.sendto(call.data, flags, (ip_str(call.dest[0]), call.dest[1]))
            return None
        if isinstance(call, C.RecvFrom) and call.errqueue:
            return _errqueue(s, call.maxlen)
        if isinstance(call, C.RecvFrom) and (call.maxlen is not None or call.peek
                                             or call.ovfl or call.trunc):
            return self._recvmsg(s, call)
        if isinstance(call, C.RecvFrom):
            if not call.nonblock and self.recv_wait is None:
                data, src = s.recvfrom(65536)
            elif not call.nonblock:
                s.settimeout(self.recv_wait)
                try:
                    data, src = s.recvfrom(65536)
                except TimeoutError:
                    raise RuntimeError("blocking recvfrom got nothing on the real kernel") from None
                finally:
                    s.settimeout(None)
            else:
                data, src = s.recvfrom(65536, socket_mod.MSG_DONTWAIT)
            a, p = _addr(src)
            return (a, p, data)
        if isinstance(call, C.GetErr):
            e = s.getsockopt(socket_mod.SOL_SOCKET, socket_mod.SO_ERROR)
            return None if e == 0 else _ERRNO[e]
        if isinstance(call, (C.Shutdown, C.FionRead)) or (
                isinstance(call, (C.GetSockOpt, C.SetSockOpt)) and call.opt in _LINUX_OPTS):
            return _linux_call(s, call)
        if isinstance(call, C.GetSockOpt):
            if call.opt == SockOpt.SO_BSDCOMPAT:
                return False  # obsolete on Linux: accepted, always off
            return bool(s.getsockopt(socket_mod.SOL_SOCKET, socket_mod.SO_REUSEADDR))
        if isinstance(call, C.SetSockOpt):
            if call.opt == SockOpt.SO_REUSEADDR:
                s.setsockopt(socket_mod.SOL_SOCKET, socket_mod.SO_REUSEADDR, int(call.value))
            return None
        if isinstance(call, C.Close):
            s.close()
            return None
        raise NotImplementedError(f"{call.name} is not supported on real sockets")

    def _recvmsg(self, s: socket_mod.socket, call: C.RecvFrom) -> Any:
        """recvfrom with a buffer length and/or MSG_PEEK; the truncation flag is MSG_TRUNC.
        With MSG_TRUNC in the flags, recvmsg returns the datagram's real length (so it reads
        into a buffer of its own: Python's recvmsg would size its answer by that length)."""
        flags = (socket_mod.MSG_PEEK if call.peek else 0) | (
            socket_mod.MSG_DONTWAIT if call.nonblock else 0) | (
            socket_mod.MSG_TRUNC if call.trunc else 0)
        size = 65536 if call.maxlen is None else max(0, call.maxlen)
        if not call.nonblock and self.recv_wait is not None:
            s.settimeout(self.recv_wait)
        try:
            if call.trunc:
                buf = bytearray(size)
                length, anc, mflags, src = s.recvmsg_into([buf], 64 if call.ovfl else 0, flags)
                data = bytes(buf[:min(length, size)])
            else:
                data, anc, mflags, src = s.recvmsg(size, 64 if call.ovfl else 0, flags)
                length = len(data)
        except TimeoutError:
            raise RuntimeError("blocking recvfrom got nothing on the real kernel") from None
        finally:
            if not call.nonblock and self.recv_wait is not None:
                s.settimeout(None)
        a, p = _addr(src if src else None)
        truncated = bool(mflags & socket_mod.MSG_TRUNC)
        if call.ovfl:
            drops = 0  # no control message: Linux sends one only for a non-zero count
            for level, kind, value in anc:
                if level == socket_mod.SOL_SOCKET and kind == _SO_RXQ_OVFL:
                    (drops,) = struct.unpack("I", value[:4])
            return (a, p, data, truncated, drops, length) if call.trunc else \
                (a, p, data, truncated, drops)
        if call.trunc:
            return (a, p, data, truncated, length)
        if call.maxlen is None:
            return (a, p, data)
        return (a, p, data, truncated)

    def _recv(self, s: socket_mod.socket, call: C.RecvFrom) -> Any:
        """recv(2) or read(2) itself, into a buffer of `maxlen` bytes: the data only (with
        MSG_TRUNC, the data and recv's answer, the datagram's real length)."""
        n = max(0, call.maxlen or 0)
        buf = ctypes.create_string_buffer(max(1, n))
        if call.via == "read":
            got = _libc_io("read", s.fileno(), buf, n)
        else:
            flags = (socket_mod.MSG_PEEK if call.peek else 0) | (
                socket_mod.MSG_DONTWAIT if call.nonblock else 0) | (
                socket_mod.MSG_TRUNC if call.trunc else 0)
            got = _libc_io("recv", s.fileno(), buf, n, flags)
        if call.trunc:
            return (buf.raw[:min(got, n)], got)
        return buf.raw[:got]

    def _select(self, call: C.Select) -> Any:
        if call.timeout_us is not None and call.timeout_us < 0:
            raise UDPError(Errno.EINVAL)
        rs = [self._sock(fd) for fd in call.reads]
        ws = [self._sock(fd) for fd in call.writes]
        xs = [self._sock(fd) for fd in call.excepts or ()]
        timeout = None if call.timeout_us is None else min(call.timeout_us / 1e6, LONGEST_WAIT)
        r, w, x = select_mod.select(rs, ws, xs, timeout)
        ready = (tuple(fd for fd in call.reads if self.socks[fd] in r),
                 tuple(fd for fd in call.writes if self.socks[fd] in w))
        if call.excepts is None:
            return ready
        return (*ready, tuple(fd for fd in call.excepts if self.socks[fd] in x))

    def _poll(self, call: C.Poll) -> Any:
        """poll(2) itself (through libc, so that duplicates, negative fds and bad fds reach
        the kernel as the program wrote them)."""
        n = len(call.fds)
        arr = (_PollFd * n)()
        for k, (fd, ev) in enumerate(call.fds):
            s = self.socks.get(fd)
            if fd < 0:
                real = -1
            elif s is not None and s.fileno() >= 0:
                real = s.fileno()
            elif fd < 3:
                real = fd  # a console fd
            else:
                real = _NO_FD
            arr[k].fd, arr[k].events, arr[k].revents = real, ctypes.c_short(ev).value, 0
        libc = ctypes.CDLL(None, use_errno=True)
        libc.poll.argtypes = [ctypes.POINTER(_PollFd), ctypes.c_ulong, ctypes.c_int]
        # poll(2) takes an int: a longer timeout is the longest it takes (24.8 days, more
        # than any real run), any negative one -1 (ctypes would keep only the low 32 bits).
        timeout = -1 if call.timeout_ms < 0 else min(call.timeout_ms, 2**31 - 1)
        if libc.poll(arr, n, timeout) < 0:
            err = ctypes.get_errno()
            raise OSError(err, "poll")
        return tuple(a.revents & 0xFFFF for a in arr)


_LINUX_OPTS = frozenset({SockOpt.SO_BROADCAST, SockOpt.SO_RCVTIMEO, SockOpt.SO_SNDTIMEO,
                         SockOpt.SO_RCVBUF, SockOpt.IP_RECVERR, SockOpt.SO_SELECT_ERR_QUEUE,
                         SockOpt.SO_SNDBUF, SockOpt.SO_REUSEPORT, SockOpt.IP_FREEBIND,
                         SockOpt.SO_RXQ_OVFL, SockOpt.IP_TTL, SockOpt.IP_MTU_DISCOVER,
                         SockOpt.IP_MTU})
_SO_SELECT_ERR_QUEUE = 45  # <asm-generic/socket.h>; not exported by Python's socket module
_SO_RXQ_OVFL = 40  # <asm-generic/socket.h>, likewise
_SO = {SockOpt.SO_BROADCAST: socket_mod.SO_BROADCAST, SockOpt.SO_RCVTIMEO: socket_mod.SO_RCVTIMEO,
       SockOpt.SO_SNDTIMEO: socket_mod.SO_SNDTIMEO, SockOpt.SO_RCVBUF: socket_mod.SO_RCVBUF,
       SockOpt.SO_SNDBUF: socket_mod.SO_SNDBUF,
       SockOpt.SO_SELECT_ERR_QUEUE: _SO_SELECT_ERR_QUEUE, SockOpt.SO_REUSEPORT: socket_mod.SO_REUSEPORT,
       SockOpt.SO_RXQ_OVFL: _SO_RXQ_OVFL}
_BOOL_SO = frozenset({SockOpt.SO_BROADCAST, SockOpt.SO_SELECT_ERR_QUEUE, SockOpt.SO_REUSEPORT,
                      SockOpt.SO_RXQ_OVFL})
_SHUT = {Shut.SHUT_RD: socket_mod.SHUT_RD, Shut.SHUT_WR: socket_mod.SHUT_WR,
         Shut.SHUT_RDWR: socket_mod.SHUT_RDWR}


_IP_RECVERR = 11  # <linux/in.h>; not exported by Python's socket module
_IP_FREEBIND = 15  # <linux/in.h>, likewise
_IP_OPTS = {SockOpt.IP_RECVERR: _IP_RECVERR, SockOpt.IP_FREEBIND: _IP_FREEBIND}
_IP_MTU_DISCOVER = 10  # <linux/in.h>; Python's socket module may not export it
_IP_MTU = 14  # <linux/in.h>, likewise
_IP_INT_OPTS = {SockOpt.IP_TTL: socket_mod.IP_TTL, SockOpt.IP_MTU_DISCOVER: _IP_MTU_DISCOVER,
                SockOpt.IP_MTU: _IP_MTU}


def _errqueue(s: socket_mod.socket, maxlen: int | None) -> Any:
    """recvmsg(MSG_ERRQUEUE): (the failed datagram's destination, its port, the error); with a
    buffer length, (destination, port, payload, MSG_TRUNC, the sock_extended_err with the
    offender's address)."""
    size = 65536 if maxlen is None else max(0, maxlen)
    payload, anc, mflags, addr = s.recvmsg(
        size, 512, socket_mod.MSG_ERRQUEUE | socket_mod.MSG_DONTWAIT)
    for level, kind, data in anc:
        if level == socket_mod.IPPROTO_IP and kind == _IP_RECVERR:
            # struct sock_extended_err: u32 errno; u8 origin, type, code, pad; u32 info, data;
            # then the offender's struct sockaddr_in (family, port, address)
            ee_errno, origin, icmp_type, code, _pad, info, ee_data = struct.unpack(
                "IBBBBII", data[:16])
            a, p = _addr(addr)
            if maxlen is None:
                return (a, p, _ERRNO[ee_errno])
            family = struct.unpack("=H", data[16:18])[0] if len(data) >= 24 else 0
            offender = parse_ip(socket_mod.inet_ntoa(data[20:24])) if family else None
            ee = (_ERRNO[ee_errno], origin, icmp_type, code, info, ee_data, offender)
            return (a, p, payload, bool(mflags & socket_mod.MSG_TRUNC), ee)
    raise RuntimeError("MSG_ERRQUEUE answered without an IP_RECVERR message")


def _linux_call(s: socket_mod.socket, call: C.Call) -> Any:
    """The calls and options added by experiment on Linux (shutdown, FIONREAD, SO_BROADCAST,
    SO_RCVTIMEO, SO_SNDTIMEO, SO_RCVBUF)."""
    if isinstance(call, C.Shutdown):
        s.shutdown(_SHUT[call.how])
        return None
    if isinstance(call, C.FionRead):
        return struct.unpack("i", fcntl.ioctl(s, termios.FIONREAD, b"\0" * 4))[0]
    if isinstance(call, C.SetSockOpt) and call.opt in _IP_OPTS:
        s.setsockopt(socket_mod.IPPROTO_IP, _IP_OPTS[call.opt], int(call.value))
        return None
    if isinstance(call, C.SetSockOpt) and call.opt in _IP_INT_OPTS:
        s.setsockopt(socket_mod.IPPROTO_IP, _IP_INT_OPTS[call.opt], int(call.value))
        return None
    if isinstance(call, C.GetSockOpt) and call.opt in _IP_INT_OPTS:
        return s.getsockopt(socket_mod.IPPROTO_IP, _IP_INT_OPTS[call.opt])
    if isinstance(call, C.GetSockOpt) and call.opt in _IP_OPTS:
        return bool(s.getsockopt(socket_mod.IPPROTO_IP, _IP_OPTS[call.opt]))
    if isinstance(call, C.SetSockOpt):
        name = _SO[call.opt]
        if call.opt in (SockOpt.SO_RCVTIMEO, SockOpt.SO_SNDTIMEO):
            sec, usec = divmod(int(call.value), 1_000_000)
            s.setsockopt(socket_mod.SOL_SOCKET, name, struct.pack("ll", sec, usec))
        else:
            s.setsockopt(socket_mod.SOL_SOCKET, name, int(call.value))
        return None
    assert isinstance(call, C.GetSockOpt)
    name = _SO[call.opt]
    if call.opt in (SockOpt.SO_RCVTIMEO, SockOpt.SO_SNDTIMEO):
        sec, usec = struct.unpack("ll", s.getsockopt(socket_mod.SOL_SOCKET, name, 16))
        return sec * 1_000_000 + usec
    v = s.getsockopt(socket_mod.SOL_SOCKET, name)
    return bool(v) if call.opt in _BOOL_SO else v


def _libc_io(name: str, *args: Any) -> int:
    """read(2), write(2) or recv(2) through libc (Python's own wrappers skip the system call
    for a zero length); OSError on failure."""
    libc = ctypes.CDLL(None, use_errno=True)
    fn = getattr(libc, name)
    fn.restype = ctypes.c_ssize_t
    n = fn(*[ctypes.c_size_t(a) if isinstance(a, int) and k == 2 else a
             for k, a in enumerate(args)])
    if n < 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{name}: {errno_mod.errorcode.get(err, err)}")
    return int(n)


class _PollFd(ctypes.Structure):
    _fields_ = [("fd", ctypes.c_int), ("events", ctypes.c_short), ("revents", ctypes.c_short)]


_NO_FD = 1 << 24  # an fd number no process here holds: poll answers POLLNVAL for it


class _SockaddrUnspec(ctypes.Structure):
    _fields_ = [("family", ctypes.c_ushort), ("data", ctypes.c_char * 14)]


def _connect_unspec(fd: int) -> None:
    """`connect(fd, {AF_UNSPEC})`: the C way to dissolve a UDP association."""
    libc = ctypes.CDLL(None, use_errno=True)
    addr = _SockaddrUnspec(socket_mod.AF_UNSPEC, b"")
    if libc.connect(fd, ctypes.byref(addr), ctypes.sizeof(addr)) != 0:
        err = ctypes.get_errno()
        raise OSError(err, "connect(AF_UNSPEC)")


def run_real(program: Callable[..., Generator[Any, Any, Any]], *args: Any) -> Any:
    """Run a single-threaded LIB program on real sockets; its return value."""
    lib = RealLib()
    gen = program(*args)
    answer: Any = None
    exc: BaseException | None = None
    try:
        while True:
            try:
                req = gen.throw(exc) if exc is not None else gen.send(answer)
            except StopIteration as stop:
                return stop.value
            exc, answer = None, None
            try:
                answer = lib.perform(req)
            except UDPError as e:
                exc = e
    finally:
        lib.close_all()
