"""udpsem: an executable, timed operational semantics of UDP/ICMP sockets with threads and failures."""

__version__ = "0.1.0"
