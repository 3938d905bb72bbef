"""Private network namespaces for real-kernel runs (Linux, as root).

`Namespace(name, addr=...)` creates a namespace with loopback up and, if `addr` is given
(e.g. "10.77.0.1/24"), one end of a veth pair holding that address with the default route
through it (the other end, up and without an address, stays in the namespace): a stand-in
for a host with one Ethernet interface on an empty network. Use it as a
context manager; it deletes the namespace (and with it the interface) on exit, also when the
body fails. Only addresses the caller chooses are used, inside the namespace: the machine's
own network is never touched.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from types import TracebackType
from typing import Self


def unavailable() -> str | None:
    """Why namespaces cannot be made here (not Linux, not root, no `ip`), or None."""
    if sys.platform != "linux":
        return "network namespaces need Linux"
    if os.geteuid() != 0:
        return "network namespaces need root (CI runs as root)"
    if shutil.which("ip") is None:
        return "network namespaces need the `ip` command (iproute2)"
    return None


def _ip(*args: str) -> None:
    r = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=20, check=False)
    if r.returncode != 0:
        raise OSError(f"ip {' '.join(args)}: {r.stderr.strip() or r.returncode}")


class Namespace:
    """A network namespace that exists while the `with` block runs."""

    def __init__(self, name: str, addr: str | None = None) -> None:
        self.name = name
        self.addr = addr

    def __enter__(self) -> Self:
        why = unavailable()
        if why is not None:
            raise OSError(why)
        _ip("netns", "add", self.name)
        try:
            _ip("-n", self.name, "link", "set", "lo", "up")
            if self.addr is not None:
                _ip("-n", self.name, "link", "add", "udpsem0", "type", "veth", "peer", "name",
                    "udpsem1")
                _ip("-n", self.name, "addr", "add", self.addr, "dev", "udpsem0")
                _ip("-n", self.name, "link", "set", "udpsem1", "up")
                _ip("-n", self.name, "link", "set", "udpsem0", "up")
                _ip("-n", self.name, "route", "add", "default", "dev", "udpsem0")
        except BaseException:
            self.delete()
            raise
        return self

    def delete(self) -> None:
        subprocess.run(["ip", "netns", "del", self.name], capture_output=True, timeout=20,
                       check=False)

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.delete()


def exists(name: str) -> bool:
    """Whether a namespace of that name exists (under /run/netns)."""
    return os.path.exists(f"/run/netns/{name}")


def remove_stale(prefix: str) -> list[str]:
    """Delete the namespaces named `<prefix><pid>` whose process is gone (a test run that was
    killed before it could clean up); returns their names. A live pid's are left alone."""
    r = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, timeout=20,
                       check=False)
    gone = []
    for line in r.stdout.splitlines():
        name = line.split()[0] if line.split() else ""
        tail = name[len(prefix):]
        if not name.startswith(prefix) or not tail.isdigit():
            continue
        try:
            os.kill(int(tail), 0)
        except ProcessLookupError:
            Namespace(name).delete()
            gone.append(name)
        except PermissionError:
            pass  # alive, someone else's
    return gone
