"""Messages (docs/model.md#messages): IP datagrams carrying UDP or ICMP bodies."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from udpsem.base.frozen import fast_init
from udpsem.hosts.values import EXTENSION, IP, UDP_PAYLOAD_MAX, Port, ip_str, port_str

# The most of a datagram's payload an ICMP error quotes: Linux sends ICMP errors of at most
# 576 bytes, so after its own IP (20) and ICMP (8) headers and the quoted IP (20) and UDP (8)
# headers, 520 payload bytes remain (Linux 6.18, experiment: a 1000-byte datagram's error-queue
# entry holds 520 bytes, a 520-byte one's all of them).
ICMP_QUOTE_MAX = 520


class IcmpKind(StrEnum):
    PORT_UNREACH = "ICMP_PORT_UNREACH"
    HOST_UNREACH = "ICMP_HOST_UNREACH"


# Each kind's (type, code) on the wire: destination unreachable (3), port (3) or host (1), as
# a program reads them in the error queue's sock_extended_err.
ICMP_TYPE_CODE = {IcmpKind.PORT_UNREACH: (3, 3), IcmpKind.HOST_UNREACH: (3, 1)}


@dataclass(frozen=True, slots=True)
class UDP:
    """`UDP(ps1, ps2, data)`: source port, destination port (None is port 0), payload."""

    sport: Port | None
    dport: Port | None
    data: bytes


@dataclass(frozen=True, slots=True)
class ICMP:
    """An ICMP error quoting the offending datagram `(is3, ps3) -> (is4, ps4)`; `data`, the
    start of its payload as quoted (HostConsts.icmp_quote; empty in the paper's model)."""

    kind: IcmpKind
    is3: IP
    ps3: Port | None
    is4: IP
    ps4: Port | None
    data: bytes = field(default=b"", metadata=EXTENSION)

    @property
    def quad(self) -> tuple[IP, Port | None, IP, Port | None]:
        return (self.is3, self.ps3, self.is4, self.ps4)


Body = UDP | ICMP


@dataclass(frozen=True, slots=True)
class IPMsg:
    """`IP(i1, i2, body)`: source address, destination address, body."""

    src: IP
    dst: IP
    body: Body

    def __str__(self) -> str:
        b = self.body
        if isinstance(b, UDP):
            return (f"UDP {ip_str(self.src)}:{port_str(b.sport)} -> "
                    f"{ip_str(self.dst)}:{port_str(b.dport)} {b.data!r}")
        return (f"{b.kind.value} {ip_str(self.src)} -> {ip_str(self.dst)} quoting "
                f"{ip_str(b.is3)}:{port_str(b.ps3)} -> {ip_str(b.is4)}:{port_str(b.ps4)}")


def _port_ok(p: Port | None) -> bool:
    return p is None or (isinstance(p, int) and 1 <= p <= 65535)


def _ip_ok(i: IP) -> bool:
    return isinstance(i, int) and 0 <= i < 2**32


def msg_ok(m: IPMsg) -> bool:
    """`msg_ok`: 32-bit addresses, ports in 1..65535 or None, UDP payload ≤ 65507."""
    if not (_ip_ok(m.src) and _ip_ok(m.dst)):
        return False
    b = m.body
    if isinstance(b, UDP):
        return _port_ok(b.sport) and _port_ok(b.dport) and len(b.data) <= UDP_PAYLOAD_MAX
    return _ip_ok(b.is3) and _ip_ok(b.is4) and _port_ok(b.ps3) and _port_ok(b.ps4)

# Records built on every step: a faster __init__, same meaning (see base.frozen).
fast_init(UDP, ICMP, IPMsg)
