"""Base values (docs/model.md): errors, addresses, ports, results, options, architectures."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final

from udpsem.base.frozen import fast_init


class Errno(StrEnum):
    """The error names of the 2002 model (docs/glossary.md)."""

    EACCES = "EACCES"
    EADDRINUSE = "EADDRINUSE"
    EADDRNOTAVAIL = "EADDRNOTAVAIL"
    EAGAIN = "EAGAIN"
    EBADF = "EBADF"
    ECONNREFUSED = "ECONNREFUSED"
    EDESTADDRREQ = "EDESTADDRREQ"
    EHOSTUNREACH = "EHOSTUNREACH"
    EINTR = "EINTR"
    EINVAL = "EINVAL"
    EMFILE = "EMFILE"
    EMSGSIZE = "EMSGSIZE"
    ENETUNREACH = "ENETUNREACH"
    ENFILE = "ENFILE"
    ENOBUFS = "ENOBUFS"
    ENOMEM = "ENOMEM"
    ENOPROTOOPT = "ENOPROTOOPT"
    ENOTCONN = "ENOTCONN"
    ENOTSOCK = "ENOTSOCK"
    EPIPE = "EPIPE"


class Arch(StrEnum):
    """The architecture a host behaves like (docs/model.md#architectures)."""

    LINUX = "linux"
    WINDOWS = "windows"
    FREEBSD = "freebsd"


class SockOpt(StrEnum):
    """The socket options of the model: the paper's two boolean ones, then the Linux ones
    added by experiment (SO_BROADCAST, IP_RECVERR, SO_SELECT_ERR_QUEUE, SO_REUSEPORT,
    IP_FREEBIND and SO_RXQ_OVFL are boolean; the timeouts are integers in µs, 0 for none; SO_RCVBUF and
    SO_SNDBUF are integers in bytes)."""

    SO_BSDCOMPAT = "SO_BSDCOMPAT"
    SO_REUSEADDR = "SO_REUSEADDR"
    SO_BROADCAST = "SO_BROADCAST"
    SO_RCVTIMEO = "SO_RCVTIMEO"
    SO_SNDTIMEO = "SO_SNDTIMEO"
    SO_RCVBUF = "SO_RCVBUF"
    IP_RECVERR = "IP_RECVERR"
    SO_SELECT_ERR_QUEUE = "SO_SELECT_ERR_QUEUE"
    SO_SNDBUF = "SO_SNDBUF"
    SO_REUSEPORT = "SO_REUSEPORT"
    IP_FREEBIND = "IP_FREEBIND"
    SO_RXQ_OVFL = "SO_RXQ_OVFL"
    IP_TTL = "IP_TTL"  # the TTL of the socket's datagrams, 1..255 (-1: the default, 64)
    # path-MTU discovery: PMTUDISC_DONT .. PMTUDISC_OMIT (0..5); Linux's default is WANT (1)
    IP_MTU_DISCOVER = "IP_MTU_DISCOVER"
    IP_MTU = "IP_MTU"  # read only: the path MTU of a connected socket's destination


BOOL_OPTS: Final = frozenset({SockOpt.SO_BSDCOMPAT, SockOpt.SO_REUSEADDR, SockOpt.SO_BROADCAST,
                              SockOpt.IP_RECVERR, SockOpt.SO_SELECT_ERR_QUEUE,
                              SockOpt.SO_REUSEPORT, SockOpt.IP_FREEBIND, SockOpt.SO_RXQ_OVFL})
TIMEOUT_OPTS: Final = frozenset({SockOpt.SO_RCVTIMEO, SockOpt.SO_SNDTIMEO})


class Shut(StrEnum):
    """`shutdown`'s `how` (SHUT_RD, SHUT_WR, SHUT_RDWR)."""

    SHUT_RD = "SHUT_RD"
    SHUT_WR = "SHUT_WR"
    SHUT_RDWR = "SHUT_RDWR"


# poll(2) event bits, with Linux's values (<asm-generic/poll.h>): a program passes a mask of
# these for each fd and gets one back (Linux 6.18, experiment).
POLLIN: Final = 0x001
POLLPRI: Final = 0x002
POLLOUT: Final = 0x004
POLLERR: Final = 0x008
POLLHUP: Final = 0x010
POLLNVAL: Final = 0x020
POLLRDNORM: Final = 0x040
POLLRDBAND: Final = 0x080
POLLWRNORM: Final = 0x100
POLLWRBAND: Final = 0x200
POLLRDHUP: Final = 0x2000
POLL_ALL: Final = (POLLIN | POLLPRI | POLLOUT | POLLERR | POLLHUP | POLLNVAL | POLLRDNORM
                   | POLLRDBAND | POLLWRNORM | POLLWRBAND | POLLRDHUP)


class IcmpGen(StrEnum):
    """How a host decides whether to answer an unmatched datagram with ICMP (docs/glossary.md)."""

    ALWAYS = "always"
    NEVER = "never"
    NONDET = "nondet"


# Field metadata of the state and calls added by experiment (issue 12): such a field is left out
# of every encoding (traces, state digests, pictures) while it has its default value, so the
# paper's programs keep their byte-identical traces.
EXTENSION: Final = {"extension": True}


def is_extension(f: Any) -> bool:
    """Whether a dataclass field is an EXTENSION field."""
    return bool(f.metadata.get("extension"))


def at_default(f: Any, value: Any) -> bool:
    """Whether an EXTENSION field holds its default (so encodings leave it out)."""
    return is_extension(f) and value == f.default


class UDPError(Exception):
    """Raised inside a program thread when a LIB call returns `FAIL e` (the paper's `UDP e`)."""

    def __init__(self, errno: Errno) -> None:
        super().__init__(errno.value)
        self.errno = errno

    def __eq__(self, other: object) -> bool:
        return isinstance(other, UDPError) and other.errno == self.errno

    def __hash__(self) -> int:
        return hash(("UDPError", self.errno))


@dataclass(frozen=True, slots=True)
class Ok:
    """A successful LIB result `OK v`."""

    value: Any = None


@dataclass(frozen=True, slots=True)
class Fail:
    """A failed LIB result `FAIL e`."""

    errno: Errno


Result = Ok | Fail

IP = int
Port = int
FD = int
TID = int

UDP_PAYLOAD_MAX: Final = 65507

# IP_MTU_DISCOVER's values (<linux/in.h>), read back by getsockopt [L: Linux 6.18, experiment:
# 0..5 are accepted, -1 and 6 give EINVAL; a new socket reads PMTUDISC_WANT]. DONT: no DF, a
# router fragments; WANT: DF while the datagram fits the path MTU, else fragmented here; DO:
# DF, and a datagram bigger than the path MTU fails with EMSGSIZE; PROBE: DF, the path MTU
# ignored (EMSGSIZE only above the interface's); INTERFACE: no DF, EMSGSIZE above the
# interface's MTU; OMIT: no DF, the path MTU ignored.
PMTUDISC_DONT: Final = 0
PMTUDISC_WANT: Final = 1
PMTUDISC_DO: Final = 2
PMTUDISC_PROBE: Final = 3
PMTUDISC_INTERFACE: Final = 4
PMTUDISC_OMIT: Final = 5
FREEBSD_PAYLOAD_MAX: Final = 9216


def ip(text: str) -> IP:
    """The 32-bit address of a dotted quad, or ValueError."""
    parsed = parse_ip(text)
    if parsed is None:
        raise ValueError(f"not a dotted-quad IPv4 address: {text!r}")
    return parsed


def parse_ip(text: str | bytes) -> IP | None:
    """The address of four decimal fields in 0..255 joined by dots, or None (ip_of_string)."""
    if isinstance(text, bytes):
        try:
            text = text.decode("ascii")
        except UnicodeDecodeError:
            return None
    parts = text.split(".")
    if len(parts) != 4:
        return None
    value = 0
    for part in parts:
        if not part or not part.isascii() or not part.isdigit() or len(part) > 3:
            return None
        n = int(part)
        if n > 255:
            return None
        value = (value << 8) | n
    return value


def ip_str(addr: IP | None) -> str:
    """Dotted-quad text of an address; `*` for the wildcard None."""
    if addr is None:
        return "*"
    return ".".join(str((addr >> shift) & 0xFF) for shift in (24, 16, 8, 0))


def port_str(port: Port | None) -> str:
    """Text of a port option; `*` for None."""
    return "*" if port is None else str(port)


def in_prefix(addr: IP, net: IP, bits: int) -> bool:
    """Whether `addr` is in `net/bits`."""
    if bits == 0:
        return True
    mask = ((1 << bits) - 1) << (32 - bits)
    return (addr & mask) == (net & mask)


LOCALHOST: Final = ip("127.0.0.1")
ANY_ADDR: Final = 0
BROADCAST: Final = ip("255.255.255.255")
LO_BROADCAST: Final = ip("127.255.255.255")


def is_loopback(addr: IP) -> bool:
    """`addr ∈ 127.0.0.0/8`."""
    return (addr >> 24) == 127


def is_multicast(addr: IP) -> bool:
    """`addr ∈ 224.0.0.0/4` (class D)."""
    return (addr >> 28) == 0xE


def is_martian(addr: IP) -> bool:
    """`addr ∈ 0.0.0.0/8 ∪ 224.0.0.0/4 ∪ 240.0.0.0/4` (docs/model.md#messages)."""
    top = addr >> 24
    return top == 0 or top >= 224

# Records built on every step: a faster __init__, same meaning (see base.frozen).
fast_init(Ok, Fail)
