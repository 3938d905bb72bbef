"""Where the hosts of a real run live: loopback addresses, or network namespaces joined by veth.

A model host keeps its model addresses (ALAN is 192.168.0.14 to the program); the plan maps
each model address to the real address the kernel uses, and back:

- `Loopback`: host k (0-based, in the world's order) gets 127.77.B.(k+1), which is on `lo`
  with no configuration. B is the first block (0, unless other runs on this machine hold
  lower ones) that no other run holds: a run holds its block by a socket bound to
  127.77.B.254 while it lasts (the kernel releases it when the run ends, however it ends), so
  concurrent runs, which all share the machine's `lo`, never share a host's address (the
  model's own 127.0.0.1 stays the one `lo` address they all have).
  All hosts share one kernel, so a disconnect cannot be made on loopback and is refused.
- `Netns` (root only): host k gets its own network namespace `udpsem<pid>h<k>` with a veth
  whose other end sits in a switch namespace `udpsem<pid>sw` on a bridge; host k has
  10.77.0.(k+1)/24 and static neighbour entries for the others (no ARP, so a link coming back
  is usable at once). A disconnect takes the switch end of the host's link down (the cable is
  pulled: the host's own interface stays configured, sends still succeed and go nowhere), a
  reconnect brings it up. Every namespace is created by this plan and deleted by `close`,
  which runs also on failure and on SIGINT (see `udpsem.real.run`); nothing is created in
  the caller's namespace, and traffic goes only to loopback or these namespaces.

The model's own loopback (127.0.0.1) stays 127.0.0.1: on loopback it is the shared `lo`, in a
namespace the host's own `lo`.
"""

from __future__ import annotations

import ctypes
import errno
import os
import socket
import subprocess
from collections.abc import Sequence
from typing import Protocol

from udpsem.hosts.values import ip, ip_str

LOOPBACK_MODEL = ip("127.0.0.1")
CLONE_NEWNET = 0x40000000
NETNS_DIR = "/run/netns"


class RealNetError(RuntimeError):
    """The real network cannot be set up (not root, no `ip` command, ...)."""


class Plan(Protocol):
    """An address plan: model ↔ real addresses, per-thread namespace entry, link faults."""

    kind: str

    def real_of(self, model_ip: int) -> str: ...

    def model_of(self, real_ip: str) -> int: ...

    def own_real(self, host: str) -> str: ...

    def enter(self, host: str) -> None: ...

    def disconnect(self, host: str) -> None: ...

    def reconnect(self, host: str) -> None: ...

    def ifdown(self, host: str) -> None: ...

    def ifup(self, host: str) -> None: ...

    def close(self) -> None: ...

    def describe(self) -> dict[str, object]: ...


class _Mapping:
    """The address map shared by both plans."""

    kind = "?"

    def __init__(self, hosts: Sequence[tuple[str, Sequence[int]]], real: Sequence[str]) -> None:
        self.hosts = [h for h, _ in hosts]
        self._to_real: dict[int, str] = {LOOPBACK_MODEL: "127.0.0.1"}
        self._to_model: dict[str, int] = {"127.0.0.1": LOOPBACK_MODEL}
        self._own: dict[str, str] = {}
        for (name, addrs), r in zip(hosts, real, strict=True):
            if len(addrs) != 1:
                raise RealNetError(f"host {name} has {len(addrs)} addresses; real runs support "
                                   "exactly one per host")
            self._to_real[addrs[0]] = r
            self._to_model[r] = addrs[0]
            self._own[name] = r

    def real_of(self, model_ip: int) -> str:
        r = self._to_real.get(model_ip)
        if r is None:
            # An address no host has: keep it inside the plan's own range so that no traffic
            # ever leaves loopback or the namespaces (it goes unanswered, like the model's).
            return self._unused_real()
        return r

    def _unused_real(self) -> str:
        raise NotImplementedError

    def model_of(self, real_ip: str) -> int:
        m = self._to_model.get(real_ip)
        if m is None:  # no host of this run has it: shown as it is
            return ip(real_ip)
        return m

    def own_real(self, host: str) -> str:
        return self._own[host]

    def describe(self) -> dict[str, object]:
        return {"kind": self.kind,
                "addresses": {h: self._own[h] for h in self.hosts}}


LOOPBACK_HOSTS = 200
"""The most hosts of a loopback run: host k is 127.77.B.(k+1), below the block's two
addresses of its own (.250 for addresses no host has, .254 for the block's hold), as for
`--netns` (200)."""

_HOLD_PORT = 65535
"""The port of a block's hold socket at 127.77.B.254 (an address no host of a run has)."""


def _hold_loopback_block() -> tuple[socket.socket, int]:
    """A socket holding the first loopback block 127.77.B.0/24 (B in 0-255) that no other run
    on this machine holds, and B. The hold is a UDP socket bound to 127.77.B.254 (no
    SO_REUSEADDR, so a second bind there fails with EADDRINUSE)."""
    for block in range(256):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            s.bind((f"127.77.{block}.254", _HOLD_PORT))
        except OSError as e:
            s.close()
            if e.errno == errno.EADDRINUSE:
                continue
            raise RealNetError(f"cannot hold a loopback block at 127.77.{block}.254: "
                               f"{e.strerror or e}") from e
        return s, block
    raise RealNetError("all 256 loopback blocks (127.77.0-255.0/24) are held by other runs")


class Loopback(_Mapping):
    """Every host on `lo`: host k at 127.77.B.(k+1), in a block B no other run holds while this
    plan lasts (until `close`)."""

    kind = "loopback"

    def __init__(self, hosts: Sequence[tuple[str, Sequence[int]]]) -> None:
        if len(hosts) > LOOPBACK_HOSTS:
            raise RealNetError(f"loopback runs support at most {LOOPBACK_HOSTS} hosts")
        self._hold, self.block = _hold_loopback_block()
        try:
            super().__init__(hosts, [f"127.77.{self.block}.{k + 1}" for k in range(len(hosts))])
        except BaseException:
            self._hold.close()
            raise

    def _unused_real(self) -> str:
        return f"127.77.{self.block}.250"

    def enter(self, host: str) -> None:
        return None

    def disconnect(self, host: str) -> None:
        raise RealNetError("a disconnect needs separate links: use --netns (as root)")

    def reconnect(self, host: str) -> None:
        self.disconnect(host)

    def ifdown(self, host: str) -> None:
        raise RealNetError("an interface taken down needs one per host: use --netns (as root)")

    def ifup(self, host: str) -> None:
        self.ifdown(host)

    def close(self) -> None:
        self._hold.close()  # the block is free for the next run


def _ip(*args: str) -> None:
    try:
        r = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=20,
                           check=False)
    except FileNotFoundError:
        raise RealNetError("the `ip` command (iproute2) is not installed") from None
    except subprocess.TimeoutExpired:
        raise RealNetError(f"`ip {' '.join(args)}` timed out") from None
    if r.returncode != 0:
        raise RealNetError(f"`ip {' '.join(args)}` failed: {r.stderr.strip()}")


def _setns(fd: int) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.setns(fd, CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise RealNetError(f"setns failed: {os.strerror(err)}")


class Netns(_Mapping):
    """One namespace per host, veth to a bridge in a switch namespace; 10.77.0.0/24."""

    kind = "netns"

    def __init__(self, hosts: Sequence[tuple[str, Sequence[int]]], tag: str | None = None) -> None:
        if os.geteuid() != 0:
            raise RealNetError("--netns needs root (network namespaces and veth links)")
        if len(hosts) > 200:
            raise RealNetError("--netns supports at most 200 hosts")
        super().__init__(hosts, [f"10.77.0.{k + 1}" for k in range(len(hosts))])
        self.tag = tag or f"udpsem{os.getpid()}"
        self.switch = f"{self.tag}sw"
        self.ns = {h: f"{self.tag}h{k}" for k, h in enumerate(self.hosts)}
        self.port = {h: f"us{os.getpid() % 100000}p{k}" for k, h in enumerate(self.hosts)}
        self.created: list[str] = []
        self._fds: dict[str, int] = {}
        try:
            self._build()
        except BaseException:
            self.close()
            raise

    def _unused_real(self) -> str:
        return "10.77.0.250"

    def _build(self) -> None:
        _ip("netns", "add", self.switch)
        self.created.append(self.switch)
        _ip("-n", self.switch, "link", "add", "br0", "type", "bridge", "forward_delay", "0")
        _ip("-n", self.switch, "link", "set", "br0", "up")
        macs = self._macs = {h: f"02:77:00:00:00:{k + 1:02x}" for k, h in enumerate(self.hosts)}
        for h in self.hosts:
            ns = self.ns[h]
            _ip("netns", "add", ns)
            self.created.append(ns)
            _ip("-n", ns, "link", "set", "lo", "up")
            _ip("-n", ns, "link", "add", "eth0", "address", macs[h], "type", "veth", "peer",
                "name", self.port[h], "netns", self.switch)
            _ip("-n", ns, "addr", "add", f"{self.own_real(h)}/24", "dev", "eth0")
            _ip("-n", ns, "link", "set", "eth0", "up")
            _ip("-n", self.switch, "link", "set", self.port[h], "master", "br0")
            _ip("-n", self.switch, "link", "set", self.port[h], "up")
        for h in self.hosts:
            for other in self.hosts:
                if other != h:
                    _ip("-n", self.ns[h], "neigh", "replace", self.own_real(other), "lladdr",
                        macs[other], "dev", "eth0", "nud", "permanent")
        for h in self.hosts:
            self._fds[h] = os.open(os.path.join(NETNS_DIR, self.ns[h]), os.O_RDONLY)

    def enter(self, host: str) -> None:
        """Move the calling OS thread into `host`'s namespace (sockets it creates live there)."""
        _setns(self._fds[host])

    def disconnect(self, host: str) -> None:
        _ip("-n", self.switch, "link", "set", self.port[host], "down")

    def reconnect(self, host: str) -> None:
        _ip("-n", self.switch, "link", "set", self.port[host], "up")

    def ifdown(self, host: str) -> None:
        """`ip link set eth0 down` in the host's namespace: its routes go (sends fail with
        ENETUNREACH) and so do its neighbour entries, even the permanent ones."""
        _ip("-n", self.ns[host], "link", "set", "eth0", "down")

    def ifup(self, host: str) -> None:
        """The interface up again, with the permanent neighbour entries the plan gave it
        (the model's hosts know their neighbours)."""
        _ip("-n", self.ns[host], "link", "set", "eth0", "up")
        for other in self.hosts:
            if other != host:
                _ip("-n", self.ns[host], "neigh", "replace", self.own_real(other), "lladdr",
                    self._macs[other], "dev", "eth0", "nud", "permanent")

    def close(self) -> None:
        """Delete every namespace this plan made (their veth ends and the bridge go with
        them). Safe to call twice; tries every namespace even if one fails."""
        for fd in self._fds.values():
            try:
                os.close(fd)
            except OSError:
                pass
        self._fds.clear()
        while self.created:
            ns = self.created.pop()
            try:
                _ip("netns", "del", ns)
            except RealNetError:
                pass

    def describe(self) -> dict[str, object]:
        return {**super().describe(), "namespaces": dict(self.ns), "switch": self.switch}


def leftover_namespaces(pid: int | None = None) -> list[str]:
    """The namespaces named as a `Netns` plan names its own (`udpsem<pid>sw`,
    `udpsem<pid>h<k>`) that exist now, those of process `pid` only if given (for the cleanup
    tests: other processes' runs, such as another test suite's, come and go meanwhile)."""
    import re

    try:
        names = os.listdir(NETNS_DIR)
    except FileNotFoundError:
        return []
    who = r"\d+" if pid is None else str(pid)
    return sorted(n for n in names if re.fullmatch(rf"udpsem{who}(sw|h\d+)", n))


def real_ip_str(addr: int) -> str:
    """Dotted quad of a model address (re-exported for the LIB shim)."""
    return ip_str(addr)
