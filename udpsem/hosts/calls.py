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
    # which system call the program made: "sendto", or "send" / "write" (no destination);
    # Linux treats all three alike [L: Linux 6.18, experiment]
    via: str = field(default="sendto", metadata=EXTENSION)
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
    # which system call the program made: "recvfrom", or "recv" / "read", which answer the
    # data only [L: Linux 6.18, experiment]
    via: str = field(default="recvfrom", metadata=EXTENSION)
    # read the SO_RXQ_OVFL control message: the answer ends with the drop count it carries
    ovfl: bool = field(default=False, metadata=EXTENSION)
    # MSG_TRUNC in the call's flags: the answer ends with the datagram's real length (what
    # Linux then returns instead of the bytes copied) [L: Linux 6.18, experiment]
    trunc: bool = field(default=False, metadata=EXTENSION)
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
    # the exception set; None: the paper's two-set select, whose answer is a pair
    excepts: tuple[FD, ...] | None = field(default=None, metadata=EXTENSION)
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


LIB_INT_MIN: int = -(1 << 62)
LIB_INT_MAX: int = (1 << 62) - 1
"""The LIB's int, as in the paper's OCaml LIB (63 bits): the range of every int argument
(durations, socket-option values, `port_of_int`'s n). So the longest `delay` or `select`
timeout is LIB_INT_MAX µs (about 146,000 years); every trace can record it (traces hold
signed 64-bit ints)."""


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
    """`fd = yield socket()`: a new UDP socket, unbound and unconnected.

    Result: the fd (an int). Errors: EMFILE, ENFILE, ENOBUFS, ENOMEM."""
    return Socket()


def bind(fd: FD, ip: IP | None, port: Port | None) -> Bind:
    """`yield bind(fd, ip, port)`: give the socket a local address.

    `ip`: an IP value from `ip("10.0.0.1")`, or None for any local address; `port`: an int
    in 1..65535, or None for an ephemeral port (a recorded choice). Result: None.
    Errors: EADDRINUSE, EADDRNOTAVAIL, EACCES (a port below 1024 unprivileged), EINVAL
    (already bound), EBADF, ENOTSOCK."""
    return Bind(fd, ip, port)


def connect(fd: FD, ip: IP, port: Port | None) -> Connect:
    """`yield connect(fd, ip, port)`: fix the peer (UDP: no handshake); autobinds if needed.

    Result: None. Errors: ENETUNREACH, EACCES, EAGAIN (no ephemeral port), EBADF, ENOTSOCK."""
    return Connect(fd, ip, port)


def disconnect(fd: FD) -> Disconnect:
    """`yield disconnect(fd)`: forget the peer. Result: None. Errors: EBADF, ENOTSOCK."""
    return Disconnect(fd)


def getsockname(fd: FD) -> GetSockName:
    """`ip, port = yield getsockname(fd)`: the local address; each part None while unset.

    Errors: EBADF, ENOTSOCK."""
    return GetSockName(fd)


def getpeername(fd: FD) -> GetPeerName:
    """`ip, port = yield getpeername(fd)`: the peer's address.

    Errors: ENOTCONN (not connected), EBADF, ENOTSOCK."""
    return GetPeerName(fd)


def sendto(fd: FD, dest: tuple[IP, Port] | None, data: bytes, nonblock: bool) -> SendTo:
    """`yield sendto(fd, dest, data, nonblock)`: queue one datagram.

    `dest`: `(ip, port)`, or None to send to the connected peer; `data`: bytes (at most
    65507); `nonblock`: fail with EAGAIN instead of blocking on a full out-queue. Result:
    None (UDP: no delivery promise). Errors: EDESTADDRREQ/ENOTCONN (no destination),
    EMSGSIZE, ENETUNREACH, EHOSTUNREACH, ECONNREFUSED (a pending ICMP error), EACCES,
    EAGAIN, EBADF, ENOTSOCK."""
    return SendTo(fd, dest, data, nonblock)


def recvfrom(fd: FD, nonblock: bool, maxlen: int | None = None,
             peek: bool = False, errqueue: bool = False, ovfl: bool = False,
             trunc: bool = False) -> RecvFrom:
    """`src_ip, src_port, data = yield recvfrom(fd, nonblock)`: take the oldest datagram.

    Blocks until one arrives unless `nonblock` (then EAGAIN). With `maxlen`, at most that
    many bytes and a fourth component, whether the datagram was truncated (Linux's
    MSG_TRUNC flag); with `peek` (MSG_PEEK), the datagram stays queued. With `errqueue`
    (MSG_ERRQUEUE), the oldest entry of the error queue instead: `OK (ip, port, errno)`,
    the destination the failed datagram was sent to and the error (with `maxlen`, also its
    quoted payload, the truncation flag and the extended error). With `ovfl` (a recvmsg
    reading SO_RXQ_OVFL) the answer is `(ip, port, data, truncated, drops)`, `drops` the
    count the datagram was stamped with (0 when Linux sends no control message). With
    `trunc` (MSG_TRUNC in the flags) the answer is `(ip, port, data, truncated[, drops],
    length)`, `length` the datagram's real length, which Linux returns then however little
    was copied (no `maxlen`: the whole datagram; MSG_ERRQUEUE ignores it). Errors:
    ECONNREFUSED and EHOSTUNREACH (a pending ICMP error), EAGAIN, EBADF, ENOTSOCK."""
    return RecvFrom(fd, nonblock, maxlen, peek, errqueue, "recvfrom", ovfl, trunc)


def geterr(fd: FD) -> GetErr:
    """`e = yield geterr(fd)`: the pending error (an Errno) and clear it; None if none.

    Errors: EBADF, ENOTSOCK."""
    return GetErr(fd)


def getsockopt(fd: FD, opt: SockOpt) -> GetSockOpt:
    """`on = yield getsockopt(fd, opt)`: a boolean option (`SockOpt.SO_REUSEADDR`, ...).

    Errors: EBADF, ENOTSOCK."""
    return GetSockOpt(fd, opt)


def setsockopt(fd: FD, opt: SockOpt, value: bool | int) -> SetSockOpt:
    """`yield setsockopt(fd, opt, value)`: set an option (a bool, or an int for the
    integer options). Result: None. Errors: EBADF, ENOTSOCK."""
    return SetSockOpt(fd, opt, value)


def close(fd: FD) -> Close:
    """`yield close(fd)`: close the socket; queued datagrams are dropped. Result: None.

    Errors: EBADF."""
    return Close(fd)


def select(reads: list[FD] | tuple[FD, ...], writes: list[FD] | tuple[FD, ...],
           timeout_us: int | None,
           excepts: list[FD] | tuple[FD, ...] | None = None) -> Select:
    """`readable, writable = yield select(reads, writes, timeout_us)`: wait until some fd
    in `reads` has a datagram (or a pending error) or some fd in `writes` can send.

    `timeout_us`: MICROseconds to wait at most (an int), or None to wait for ever; 0
    polls. Result: the pair of tuples of the ready fds, `((), ())` on timeout. With
    `excepts` (the exception set) the result is a triple, the third the exceptional fds:
    for UDP on Linux only a socket with SO_SELECT_ERR_QUEUE and an error pending or queued.
    Errors: EINVAL for a negative timeout, EBADF for an fd that is not open."""
    return Select(tuple(reads), tuple(writes), timeout_us,
                  None if excepts is None else tuple(excepts))


def port_of_int(n: int) -> PortOfInt:
    """`p = yield port_of_int(n)`: the port n. Errors: EINVAL unless 1 <= n <= 65535."""
    return PortOfInt(n)


def ip_of_string(text: str) -> IpOfString:
    """`a = yield ip_of_string("10.0.0.1")`: the IP value of a dotted quad.

    Errors: EINVAL for anything else. (Outside threads, `udpsem.ip(text)` does the same.)"""
    return IpOfString(text)


def getifaddrs() -> GetIfAddrs:
    """`rows = yield getifaddrs()`: the interfaces, as `(ifid, primary ip, all ips, netmask)`
    tuples (loopback included). Errors: none."""
    return GetIfAddrs()


def create(program: Any, arg: Any = ()) -> Create:
    """`tid = yield create(f, args)`: start a thread running the generator function f on
    `args` (a tuple is spread into positional arguments; data only). Result: the new
    thread's tid. Errors: EAGAIN (no thread slot)."""
    return Create(program, arg)


def delay(us: int) -> Delay:
    """`yield delay(us)`: sleep `us` MICROseconds (an int, at most LIB_INT_MAX). Result:
    None. A delay however long is finite and ends (at the clock's last instant if it would
    end later).

    Errors: EINVAL for a negative duration."""
    return Delay(us)


def print_endline_flush(text: str) -> PrintEndlineFlush:
    """`yield print_endline_flush(text)`: write a line on the console (a visible label).

    Result: None. Errors: none."""
    return PrintEndlineFlush(text)


def exit_() -> Exit:
    """`yield exit_()`: end the program: every thread of the machine ends. No result."""
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


@dataclass(frozen=True, slots=True)
class Poll(Call):
    """`poll(fds, timeout_ms)`: `fds` is a tuple of `(fd, events)`; the answer is the tuple
    of each entry's revents (0 for none)."""

    fds: tuple[tuple[FD, int], ...]
    timeout_ms: int
    name: ClassVar[str] = "poll"
    slow: ClassVar[bool] = True


@dataclass(frozen=True, slots=True)
class ReadZero(Call):
    """`read(fd, buf, 0)`: Linux answers 0 before it looks at the socket at all."""

    fd: FD
    name: ClassVar[str] = "read"
    takes_fd: ClassVar[bool] = True


ALL_CALLS = (*ALL_CALLS, Shutdown, FionRead, Poll, ReadZero)
CALL_NAMES = frozenset(c.name for c in ALL_CALLS)


def shutdown(fd: FD, how: Shut) -> Shutdown:
    return Shutdown(fd, Shut(how))


def fionread(fd: FD) -> FionRead:
    return FionRead(fd)


def poll(fds: list[tuple[FD, int]] | tuple[tuple[FD, int], ...], timeout_ms: int) -> Poll:
    """`revents = yield poll([(fd, POLLIN), ...], timeout_ms)`: wait until some entry has
    an event (the events asked for, or POLLERR, POLLHUP, POLLNVAL, always reported).

    `events` and the answer are masks of the POLL* bits of `udpsem.hosts.values` (Linux's
    values); a negative fd is skipped (revents 0); an fd that is not open answers POLLNVAL.
    `timeout_ms`: milliseconds, 0 to look without waiting, negative (-1) to wait for ever.
    Result: the tuple of the entries' revents, in order (all 0 on timeout). Errors: EINVAL
    when there are more entries than OPEN_MAX (RLIMIT_NOFILE)."""
    return Poll(tuple((int(fd), int(ev)) for fd, ev in fds), int(timeout_ms))


# send, write, recv, read: the same system calls as sendto and recvfrom on Linux (experiment)

def send(fd: FD, data: bytes, nonblock: bool = False) -> SendTo:
    """`yield send(fd, data)`: `sendto` to the connected peer (Linux: the same call with no
    address). Unconnected: EDESTADDRREQ, after an autobind, as sendto without a destination.
    `nonblock` is MSG_DONTWAIT. Result: None."""
    return SendTo(fd, None, data, nonblock, "send")


def write(fd: FD, data: bytes) -> SendTo:
    """`yield write(fd, data)`: `send(fd, data)` with no flags (a blocking fd); an empty
    `data` sends an empty datagram. Result: None."""
    return SendTo(fd, None, data, False, "write")


def recv(fd: FD, n: int, nonblock: bool = False, peek: bool = False,
         trunc: bool = False) -> RecvFrom:
    """`data = yield recv(fd, n)`: `recvfrom` with a buffer of `n` bytes, answering only the
    data (at most n bytes; the rest of the datagram is lost). `nonblock` is MSG_DONTWAIT,
    `peek` MSG_PEEK. recv of 0 bytes still takes a datagram (and reports a pending error).
    With `trunc` (MSG_TRUNC) the answer is `(data, length)`, `length` the datagram's real
    length, which is what recv returns then: `recv(fd, 0, peek=True, trunc=True)` asks the
    size of the next datagram without taking it."""
    return RecvFrom(fd, nonblock, n, peek, False, "recv", trunc=trunc)


def read(fd: FD, n: int) -> RecvFrom | ReadZero:
    """`data = yield read(fd, n)`: `recv(fd, n)` with no flags. Reading 0 bytes answers
    `b""` at once without touching the socket (no datagram taken, no error reported, no
    waiting): Linux's read returns before it asks the protocol."""
    if n < 0:
        raise ValueError(f"read: the byte count must be at least 0, not {n}")
    if n == 0:
        return ReadZero(fd)
    return RecvFrom(fd, False, n, False, False, "read")