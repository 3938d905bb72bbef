"""Messages (docs/model.md#messages): IP datagrams carrying UDP or ICMP bodies."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from udpsem.base.frozen import fast_init
from udpsem.hosts.values import EXTENSION, IP, UDP_PAYLOAD_MAX, Port, ip_str, port_str

IP_DEFAULT_TTL = 64  # net.ipv4.ip_default_ttl on Linux 6.18 (experiment: getsockopt IP_TTL)
# The most of a datagram's payload an ICMP error quotes: Linux sends ICMP errors of at most
# 576 bytes, so after its own IP (20) and ICMP (8) headers and the quoted IP (20) and UDP (8)
# headers, 520 payload bytes remain (Linux 6.18, experiment: a 1000-byte datagram's error-queue
# entry holds 520 bytes, a 520-byte one's all of them).
ICMP_QUOTE_MAX = 520


class IcmpKind(StrEnum):
    PORT_UNREACH = "ICMP_PORT_UNREACH"
    HOST_UNREACH = "ICMP_HOST_UNREACH"
    NET_UNREACH = "ICMP_NET_UNREACH"  # from a router with no route (network.rules)
    TIME_EXCEEDED = "ICMP_TIME_EXCEEDED"  # from a router, for a TTL that ran out
    # from a router that may not fragment a datagram (DF) bigger than its next hop's MTU
    FRAG_NEEDED = "ICMP_FRAG_NEEDED"
    # from a router whose route for the destination is `prohibit` (or a firewall's reject)
    ADMIN_PROHIB = "ICMP_ADMIN_PROHIB"


# Each kind's (type, code) on the wire: destination unreachable (3), port (3) or host (1), as
# a program reads them in the error queue's sock_extended_err.
ICMP_TYPE_CODE = {IcmpKind.PORT_UNREACH: (3, 3), IcmpKind.HOST_UNREACH: (3, 1),
                  # a router's: destination unreachable, net (3, 0); time exceeded (11, 0)
                  IcmpKind.NET_UNREACH: (3, 0), IcmpKind.TIME_EXCEEDED: (11, 0),
                  # fragmentation needed (3, 4), communication administratively prohibited (3, 13)
                  IcmpKind.FRAG_NEEDED: (3, 4), IcmpKind.ADMIN_PROHIB: (3, 13)}

IP_UDP_HEADERS = 28  # an IPv4 header without options (20) and a UDP header (8)


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
    # A fragmentation-needed's next-hop MTU (the ICMP's "info"); None for the other kinds
    mtu: int | None = field(default=None, metadata=EXTENSION)

    @property
    def quad(self) -> tuple[IP, Port | None, IP, Port | None]:
        return (self.is3, self.ps3, self.is4, self.ps4)


Body = UDP | ICMP


@dataclass(frozen=True, slots=True)
class IPMsg:
    """`IP(i1, i2, body)`: source address, destination address, body; `ttl` the IP time to
    live (IP_TTL; a router drops a datagram whose TTL would reach 0); `df` the IP header's
    don't-fragment bit (IP_MTU_DISCOVER: a router must not fragment the datagram, and answers
    one bigger than its next hop's MTU with ICMP fragmentation-needed)."""

    src: IP
    dst: IP
    body: Body
    ttl: int = field(default=IP_DEFAULT_TTL, metadata=EXTENSION)
    df: bool = field(default=False, metadata=EXTENSION)

    @property
    def ip_len(self) -> int:
        """The datagram's length on the wire: IP and UDP headers and the payload (an ICMP
        error counts as its headers only: the model never sends one near an MTU)."""
        b = self.body
        return IP_UDP_HEADERS + (len(b.data) if isinstance(b, UDP) else 0)

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
    """`msg_ok`: 32-bit addresses, ports in 1..65535 or None, UDP payload ≤ 65507, a TTL in
    1..255."""
    if not (_ip_ok(m.src) and _ip_ok(m.dst)):
        return False
    if not (isinstance(m.ttl, int) and not isinstance(m.ttl, bool) and 1 <= m.ttl <= 255):
        return False
    b = m.body
    if isinstance(b, UDP):
        return _port_ok(b.sport) and _port_ok(b.dport) and len(b.data) <= UDP_PAYLOAD_MAX
    return _ip_ok(b.is3) and _ip_ok(b.is4) and _port_ok(b.ps3) and _port_ok(b.ps4)

# Records built on every step: a faster __init__, same meaning (see base.frozen).
fast_init(UDP, ICMP, IPMsg)
