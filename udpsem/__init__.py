"""udpsem: an executable, timed operational semantics of UDP/ICMP sockets with threads and failures."""

from udpsem.base.version import __version__

__all__ = ["__version__"]
