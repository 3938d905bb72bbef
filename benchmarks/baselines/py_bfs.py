"""Baseline: plain-CPython explicit-state BFS of a much simpler heartbeat model.

N hosts run a heartbeat failure detector: host i, on its timer, sends HB(i, k) to every
peer (k its round counter, bounded by R); the network is a bounded multiset ("soup", at most
B) of datagrams in flight; actions are deliver, drop or duplicate any datagram, or fire a
timer. A receiver records the highest round heard from each peer and suspects a peer whose
round lags by more than 1. No time, sockets or threads. States are nested tuples, the soup
a sorted tuple; the invariant (no host suspects itself) is checked in every state. The
visited set is keyed by the full state, by hash(), or by a 64-bit BLAKE2 of repr.
"""

from __future__ import annotations

import hashlib
import time
from collections import deque
from collections.abc import Callable
from typing import Any

State = tuple[Any, ...]


def _model(n: int, r: int, b: int) -> tuple[State, Callable[[State], list[State]]]:
    def init() -> State:
        return ((0,) * n, tuple((0,) * n for _ in range(n)), tuple(() for _ in range(n)), ())

    def successors(s: State) -> list[State]:
        rounds, heard, suspects, soup = s
        out = []
        for i in range(n):
            if rounds[i] < r:
                k = rounds[i] + 1
                new = list(soup)
                for j in range(n):
                    if j != i:
                        new.append((i, j, k))
                if len(new) <= b + n - 1:
                    new.sort()
                    nr = rounds[:i] + (k,) + rounds[i + 1:]
                    sus = tuple(sorted(j for j in range(n)
                                       if j != i and k - heard[i][j] > 1))
                    nsus = suspects[:i] + (sus,) + suspects[i + 1:]
                    out.append((nr, heard, nsus, tuple(new)))
        seen = set()
        for idx, m in enumerate(soup):
            if m in seen:
                continue
            seen.add(m)
            rest = soup[:idx] + soup[idx + 1:]
            out.append((rounds, heard, suspects, rest))
            if len(soup) < b:
                out.append((rounds, heard, suspects, tuple(sorted(soup + (m,)))))
            src, dst, k = m
            h = heard[dst]
            if k > h[src]:
                h2 = h[:src] + (k,) + h[src + 1:]
                nheard = heard[:dst] + (h2,) + heard[dst + 1:]
                sus = tuple(x for x in suspects[dst] if x != src)
                nsus = suspects[:dst] + (sus,) + suspects[dst + 1:]
                out.append((rounds, nheard, nsus, rest))
            else:
                out.append((rounds, heard, suspects, rest))
        return out

    return init(), successors


def _fp_blake(s: State) -> bytes:
    return hashlib.blake2b(repr(s).encode(), digest_size=8).digest()


KEYS: dict[str, Callable[[State], Any]] = {
    "full-state set": lambda s: s,
    "hash() int set": hash,
    "blake2b-64 of repr": _fp_blake,
}


def run(key: str, n: int = 3, r: int = 2, b: int = 3) -> dict[str, Any]:
    """BFS with the visited set keyed by `key` (one of KEYS); unique, generated, CPU, wall."""
    s0, successors = _model(n, r, b)
    kf = KEYS[key]
    visited = {kf(s0)}
    q = deque([s0])
    gen = 0
    c0, t0 = time.process_time(), time.perf_counter()
    while q:
        s = q.popleft()
        assert all(i not in s[2][i] for i in range(n))
        for t in successors(s):
            gen += 1
            k = kf(t)
            if k not in visited:
                visited.add(k)
                q.append(t)
    return {"unique": len(visited), "generated": gen, "cpu": time.process_time() - c0,
            "wall": time.perf_counter() - t0}
