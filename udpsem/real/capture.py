"""What the wire shows in a `--netns` run: the IPv4 datagrams each host sent and received.

One `AF_PACKET` socket per host, made in the host's own namespace and bound to its `eth0`
(the host's end of its veth link), sees every IPv4 frame the host transmits (packet type
`PACKET_OUTGOING`) and every one it receives (`PACKET_HOST`, or a broadcast). Each is
turned into the model's label for it, with the model's addresses: a `send` of the host for
what it transmitted, a `deliver` for what reached it, the value the model's `IPMsg` (UDP, or
the ICMP error the kernel sent, with its quoted datagram). The time of a label is the
kernel's timestamp of the frame (`SO_TIMESTAMPNS`), so a capture thread that runs late does
not move it; the recorder merges the capture's labels with the threads' in time order.

Only the standard library is used (no libpcap). Frames other than IPv4 UDP and ICMP errors
the model knows (IGMP, other ICMP types) are not datagrams of the model and are skipped;
fragments are reassembled. A host whose link is down (a disconnect, or a crash) transmits
nothing onto the wire, so the capture cannot see the sends the model makes meanwhile: those
windows are recorded in the trace as blind (`real.capture_blind`) and the checker leaves the
host's wire labels unobserved inside them.
"""

from __future__ import annotations

import select
import socket
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from udpsem.network.messages import ICMP, ICMP_QUOTE_MAX, ICMP_TYPE_CODE, UDP, IPMsg

ETH_P_IP = 0x0800  # <linux/if_ether.h>: IPv4
ETH_P_ALL = 0x0003  # every protocol: only such a socket also sees the frames a host transmits
SO_TIMESTAMPNS = 35  # <asm-generic/socket.h> (SO_TIMESTAMPNS_OLD); SCM_TIMESTAMPNS is the same
PACKET_HOST, PACKET_BROADCAST, PACKET_OUTGOING = 0, 1, 4  # <linux/if_packet.h>
ETH_HEADER = 14  # destination MAC, source MAC, ethertype
IP_DF = 0x4000  # the "don't fragment" flag of the IPv4 fragment field
IP_MF = 0x2000  # the "more fragments" flag of the IPv4 fragment field; the low 13 bits are
IP_OFFSET = 0x1FFF  # the fragment's offset in units of 8 bytes
PROTO_ICMP, PROTO_UDP = 1, 17
KIND_OF_TYPE_CODE = {tc: kind for kind, tc in ICMP_TYPE_CODE.items()}


@dataclass(frozen=True)
class Frame:
    """One datagram on the wire: the host, `send` or `deliver`, the kernel's time of it
    (CLOCK_MONOTONIC ns) and the model's message."""

    host: str
    kind: str
    t: int
    msg: IPMsg


def parse_ipv4(packet: bytes) -> tuple[int, int, int, int, int, int, bytes] | None:
    """(src, dst, protocol, ttl, id, fragment field, payload) of an IPv4 packet, or None if
    it is not one (or is truncated)."""
    if len(packet) < 20 or packet[0] >> 4 != 4:
        return None
    ihl = (packet[0] & 0x0F) * 4
    total = struct.unpack_from("!H", packet, 2)[0]
    if ihl < 20 or total < ihl or len(packet) < total:
        return None
    ident, frag = struct.unpack_from("!HH", packet, 4)
    ttl, proto = packet[8], packet[9]
    src, dst = struct.unpack_from("!II", packet, 12)
    return src, dst, proto, ttl, ident, frag, packet[ihl:total]


def message(src: int, dst: int, proto: int, ttl: int, payload: bytes,
            to_model: Callable[[int], int], quote: bool, df: bool = False) -> IPMsg | None:
    """The model's message for a whole (reassembled) IPv4 datagram, addresses mapped by
    `to_model`; None if the model has no such message. An ICMP error's quoted payload is kept
    if the model's hosts quote (`quote`, HostConsts.icmp_quote), as the model would; `df` is
    the header's don't-fragment bit, which the model's messages carry only where a router
    reads it (HostConsts.router_legs; the capture passes False otherwise)."""
    if proto == PROTO_UDP:
        if len(payload) < 8:
            return None
        sport, dport, length = struct.unpack_from("!HHH", payload, 0)
        if length < 8 or length > len(payload):
            return None
        body: UDP | ICMP = UDP(sport or None, dport or None, bytes(payload[8:length]))
    elif proto == PROTO_ICMP:
        if len(payload) < 8:
            return None
        kind = KIND_OF_TYPE_CODE.get((payload[0], payload[1]))
        inner = parse_ipv4_quoted(payload[8:])
        if kind is None or inner is None:
            return None
        is3, is4, ps3, ps4, data = inner
        body = ICMP(kind, to_model(is3), ps3 or None, to_model(is4), ps4 or None,
                    data[:ICMP_QUOTE_MAX] if quote else b"")
    else:
        return None
    return IPMsg(to_model(src), to_model(dst), body, ttl, df)


def parse_ipv4_quoted(q: bytes) -> tuple[int, int, int, int, bytes] | None:
    """(source, destination, source port, destination port, payload start) of the UDP
    datagram an ICMP error quotes (its IPv4 header and at least the UDP header)."""
    if len(q) < 28 or q[0] >> 4 != 4 or q[9] != PROTO_UDP:
        return None
    ihl = (q[0] & 0x0F) * 4
    if len(q) < ihl + 8:
        return None
    src, dst = struct.unpack_from("!II", q, 12)
    sport, dport = struct.unpack_from("!HH", q, ihl)
    return src, dst, sport, dport, bytes(q[ihl + 8:])


class Reassembly:
    """IPv4 fragments put back together, per (src, dst, protocol, id)."""

    def __init__(self) -> None:
        self.parts: dict[tuple[int, int, int, int], dict[int, tuple[bytes, bool]]] = {}

    def add(self, src: int, dst: int, proto: int, ident: int, frag: int,
            payload: bytes) -> bytes | None:
        """The whole payload once every fragment is in (at once for an unfragmented
        packet), else None."""
        if not frag & (IP_MF | IP_OFFSET):
            return payload
        key = (src, dst, proto, ident)
        got = self.parts.setdefault(key, {})
        got[(frag & IP_OFFSET) * 8] = (payload, bool(frag & IP_MF))
        out, at = b"", 0
        while at in got:
            part, more = got[at]
            out += part
            at += len(part)
            if not more:
                del self.parts[key]
                return out
        return None


def _monotonic_offset() -> int:
    """CLOCK_REALTIME minus CLOCK_MONOTONIC now (the kernel stamps frames in real time)."""
    before = time.monotonic_ns()
    real = time.time_ns()
    after = time.monotonic_ns()
    return real - (before + after) // 2


class Capture:
    """Captures the IPv4 datagrams of `hosts`' `eth0`s until `stop`; `enter(host)` moves the
    calling thread into a host's namespace (`Netns.enter`)."""

    def __init__(self, hosts: list[str], enter: Callable[[str], None],
                 to_model: Callable[[str], int], quote: bool, df: bool = False) -> None:
        self.hosts = hosts
        self.enter = enter
        self.to_model = to_model
        self.quote = quote
        self.df = df  # whether the model's messages carry the DF bit (see `message`)
        self.frames: list[Frame] = []
        self.errors: list[str] = []
        self.socks: dict[int, tuple[socket.socket, str, Reassembly]] = {}
        self.ready = threading.Event()
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._run, name="udpsem-capture", daemon=True)

    def start(self) -> None:
        """Open the sockets (in a thread of their own, which enters each namespace in turn)
        and start capturing; raises OSError if a socket cannot be made."""
        self.thread.start()
        self.ready.wait(30)
        if self.errors:
            raise OSError(self.errors[0])

    def stop(self) -> None:
        """Read what the sockets still hold, then close them."""
        self.done.set()
        self.thread.join(30)

    def _open(self) -> None:
        for h in self.hosts:
            self.enter(h)  # a socket lives in the namespace of the thread that made it
            s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
            s.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)  # bursts of frames
            s.bind(("eth0", ETH_P_ALL))
            s.setblocking(False)
            self.socks[s.fileno()] = (s, h, Reassembly())

    def _run(self) -> None:
        try:
            self._open()
        except OSError as e:
            self.errors.append(f"capture on the veth: {e.strerror or e}")
            self._close()
            self.ready.set()
            return
        offset = _monotonic_offset()
        self.ready.set()
        try:
            while True:
                last = self.done.is_set()
                ready, _, _ = select.select(list(self.socks), [], [], 0 if last else 0.05)
                for fd in ready:
                    self._drain(fd, offset)
                if last and not ready:
                    return
        finally:
            self._close()

    def _drain(self, fd: int, offset: int) -> None:
        s, host, frags = self.socks[fd]
        while True:
            try:
                frame, anc, _, addr = s.recvmsg(1 << 16, socket.CMSG_SPACE(16))
            except BlockingIOError:
                return
            stamp = None
            for level, typ, data in anc:
                if level == socket.SOL_SOCKET and typ == SO_TIMESTAMPNS and len(data) >= 16:
                    sec, nsec = struct.unpack_from("qq", data)
                    stamp = sec * 1_000_000_000 + nsec - offset
            pkttype = addr[2]
            if pkttype == PACKET_OUTGOING:
                kind = "send"
            elif pkttype in (PACKET_HOST, PACKET_BROADCAST):
                kind = "deliver"
            else:
                continue
            if len(frame) < ETH_HEADER or struct.unpack_from("!H", frame, 12)[0] != ETH_P_IP:
                continue  # not IPv4 (ARP, IPv6, ...)
            ip = parse_ipv4(frame[ETH_HEADER:])
            if ip is None:
                continue
            src, dst, proto, ttl, ident, frag, payload = ip
            whole = frags.add(src, dst, proto, ident, frag, payload)
            if whole is None:
                continue
            msg = message(src, dst, proto, ttl, whole, self._model, self.quote,
                          self.df and bool(frag & IP_DF))
            if msg is not None:
                self.frames.append(Frame(host, kind, stamp if stamp is not None
                                         else time.monotonic_ns(), msg))

    def _model(self, addr: int) -> int:
        return self.to_model(socket.inet_ntoa(struct.pack("!I", addr)))

    def _close(self) -> None:
        for s, _, _ in self.socks.values():
            s.close()
        self.socks.clear()

