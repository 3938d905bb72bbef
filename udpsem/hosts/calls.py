"""The LIB interface (docs/model.md#the-lib): one frozen dataclass per call.

A program thread yields these (`fd = yield socket()`); the host answers `Ok v` or `Fail e`.
Lowercase constructors mirror the paper's names so that programs read like the paper.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from udpsem.hosts.values import EXTENSION, FD, IP, Port, Shut, SockOpt


@dataclass(frozen=True, slots=True)
class Call:
    """Base class of LIB calls; `name` is the call's name in docs/model.md#the-lib."""

    name: ClassVar[str] = "?"
    takes_fd: ClassVar[bool] = False
    slow: ClassVar[bool] = False


@dataclass(frozen=True, slots=True)
class Socket(Call):
    name: ClassVar[str] = "socket"


@dataclass(frozen=True, slots=True)
class Bind(Call):
    fd: FD
    ip: IP | None
    port: Port | None
    name: ClassVar[str] = "bind"
    takes_fd: ClassVar[bool] = True


@dataclass(frozen=True, slots=True)
class Connect(Call):
    fd: FD
    ip: IP
    port: Port | None
    name: ClassVar[str] = "connect"
    takes_fd: ClassVar[bool] = True


@dataclass(frozen=True, slots=True)
class Disconnect(Call):
    fd: FD
    name: ClassVar[str] = "disconnect"
    takes_fd: ClassVar[bool] = True


@dataclass(frozen=True, slots=True)
class GetSockName(Call):
    fd: FD
    name: ClassVar[str] = "getsockname"
    takes_fd: ClassVar[bool] = True


@dataclass(frozen=True, slots=True)
class GetPeerName(Call):
    fd: FD
    name: ClassVar[str] = "getpeername"
    takes_fd: ClassVar[bool] = True


@dataclass(frozen=True, slots=True)
class SendTo(Call):
    fd: FD
    dest: tuple[IP, Port] | None
    data: bytes
    nonblock: bool
    name: ClassVar[str] = "sendto"
    takes_fd: ClassVar[bool] = True
    slow: ClassVar[bool] = True


@dataclass(frozen=True, slots=True)
class RecvFrom(Call):
    fd: FD
    nonblock: bool
    # a buffer length: the answer gets a truncation flag
    maxlen: int | None = field(default=None, metadata=EXTENSION)
    peek: bool = field(default=False, metadata=EXTENSION)  # MSG_PEEK: the datagram stays
    errqueue: bool = field(default=False, metadata=EXTENSION)  # MSG_ERRQUEUE (IP_RECVERR)
    name: ClassVar[str] = "recvfrom"
    takes_fd: ClassVar[bool] = True
    slow: ClassVar[bool] = True


@dataclass(frozen=True, slots=True)
class GetErr(Call):
    fd: FD
    name: ClassVar[str] = "geterr"
    takes_fd: ClassVar[bool] = True


@dataclass(frozen=True, slots=True)
class GetSockOpt(Call):
    fd: FD
    opt: SockOpt
    name: ClassVar[str] = "getsockopt"
    takes_fd: ClassVar[bool] = True


@dataclass(frozen=True, slots=True)
class SetSockOpt(Call):
    fd: FD
    opt: SockOpt
    value: bool | int  # bool for the flags, int for SO_RCVTIMEO/SO_SNDTIMEO (µs), SO_RCVBUF
    name: ClassVar[str] = "setsockopt"
    takes_fd: ClassVar[bool] = True


@dataclass(frozen=True, slots=True)
class Close(Call):
    fd: FD
    name: ClassVar[str] = "close"
    takes_fd: ClassVar[bool] = True


@dataclass(frozen=True, slots=True)
class Select(Call):
    reads: tuple[FD, ...]
    writes: tuple[FD, ...]
    timeout_us: int | None
    name: ClassVar[str] = "select"
    slow: ClassVar[bool] = True


@dataclass(frozen=True, slots=True)
class PortOfInt(Call):
    n: int
    name: ClassVar[str] = "port_of_int"


@dataclass(frozen=True, slots=True)
class IpOfString(Call):
    text: str
    name: ClassVar[str] = "ip_of_string"


@dataclass(frozen=True, slots=True)
class GetIfAddrs(Call):
    name: ClassVar[str] = "getifaddrs"


@dataclass(frozen=True, slots=True)
class Create(Call):
    """`create(f, x)`: start a thread running program `f` on argument `x`."""

    program: Any
    arg: Any
    name: ClassVar[str] = "create"


@dataclass(frozen=True, slots=True)
class Delay(Call):
    us: int
    name: ClassVar[str] = "delay"
    slow: ClassVar[bool] = True


@dataclass(frozen=True, slots=True)
class PrintEndlineFlush(Call):
    text: str
    name: ClassVar[str] = "print_endline_flush"


@dataclass(frozen=True, slots=True)
class Exit(Call):
    name: ClassVar[str] = "exit"


ALL_CALLS: tuple[type[Call], ...] = (
    Socket, Bind, Connect, Disconnect, GetSockName, GetPeerName, SendTo, RecvFrom, GetErr,
    GetSockOpt, SetSockOpt, Close, Select, PortOfInt, IpOfString, GetIfAddrs, Create, Delay,
    PrintEndlineFlush, Exit,
)
CALL_NAMES: frozenset[str] = frozenset(c.name for c in ALL_CALLS)


# Constructors named as in the paper, so that programs read `fd = yield socket()`.

def socket() -> Socket:
    return Socket()


def bind(fd: FD, ip: IP | None, port: Port | None) -> Bind:
    return Bind(fd, ip, port)


def connect(fd: FD, ip: IP, port: Port | None) -> Connect:
    return Connect(fd, ip, port)


def disconnect(fd: FD) -> Disconnect:
    return Disconnect(fd)


def getsockname(fd: FD) -> GetSockName:
    return GetSockName(fd)


def getpeername(fd: FD) -> GetPeerName:
    return GetPeerName(fd)


def sendto(fd: FD, dest: tuple[IP, Port] | None, data: bytes, nonblock: bool) -> SendTo:
    return SendTo(fd, dest, data, nonblock)


def recvfrom(fd: FD, nonblock: bool, maxlen: int | None = None,
             peek: bool = False, errqueue: bool = False) -> RecvFrom:
    """`recvfrom(fd, nb)`: `OK (ip, port, data)`. With `maxlen`, at most that many bytes
    and a fourth component, whether the datagram was truncated (Linux's MSG_TRUNC flag);
    with `peek` (MSG_PEEK), the datagram stays queued. With `errqueue` (MSG_ERRQUEUE), the
    oldest entry of the error queue instead: `OK (ip, port, errno)`, the destination the
    failed datagram was sent to and the error."""
    return RecvFrom(fd, nonblock, maxlen, peek, errqueue)


def geterr(fd: FD) -> GetErr:
    return GetErr(fd)


def getsockopt(fd: FD, opt: SockOpt) -> GetSockOpt:
    return GetSockOpt(fd, opt)


def setsockopt(fd: FD, opt: SockOpt, value: bool | int) -> SetSockOpt:
    return SetSockOpt(fd, opt, value)


def close(fd: FD) -> Close:
    return Close(fd)


def select(reads: list[FD] | tuple[FD, ...], writes: list[FD] | tuple[FD, ...],
           timeout_us: int | None) -> Select:
    return Select(tuple(reads), tuple(writes), timeout_us)


def port_of_int(n: int) -> PortOfInt:
    return PortOfInt(n)


def ip_of_string(text: str) -> IpOfString:
    return IpOfString(text)


def getifaddrs() -> GetIfAddrs:
    return GetIfAddrs()


def create(program: Any, arg: Any = ()) -> Create:
    return Create(program, arg)


def delay(us: int) -> Delay:
    return Delay(us)


def print_endline_flush(text: str) -> PrintEndlineFlush:
    return PrintEndlineFlush(text)


def exit_() -> Exit:
    return Exit()


# Calls added by experiment on Linux 6.18 (issue 12) --------------------------------------------

@dataclass(frozen=True, slots=True)
class Shutdown(Call):
    """`shutdown(fd, how)`: stop receiving (SHUT_RD), sending (SHUT_WR) or both."""

    fd: FD
    how: Shut
    name: ClassVar[str] = "shutdown"
    takes_fd: ClassVar[bool] = True


@dataclass(frozen=True, slots=True)
class FionRead(Call):
    """`ioctl(fd, FIONREAD)`: the size of the next datagram's payload (0 if none)."""

    fd: FD
    name: ClassVar[str] = "fionread"
    takes_fd: ClassVar[bool] = True


ALL_CALLS = (*ALL_CALLS, Shutdown, FionRead)
CALL_NAMES = frozenset(c.name for c in ALL_CALLS)


def shutdown(fd: FD, how: Shut) -> Shutdown:
    return Shutdown(fd, Shut(how))


def fionread(fd: FD) -> FionRead:
    return FionRead(fd)
