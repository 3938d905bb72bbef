"""Fault settings: what the network and the environment may do, as data, not code.

`loss` and `dup` are probabilities used only by the random chooser (simulation); the semantic
bounds (`max_copies`, `max_successive_drops`, whether drops or duplicates happen at all) shape
the options every chooser sees, so exploration covers exactly what the settings allow.
Scheduled disconnect/reconnect windows and crashes are environment events at fixed times.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from udpsem.base.time import S, fmt_ns, parse_duration


@dataclass(frozen=True, slots=True)
class Window:
    """Host `host` is unplugged from `start` to `end` (ns; end None = never reconnected)."""

    host: str
    start: int
    end: int | None

    def __str__(self) -> str:
        end = "" if self.end is None else fmt_ns(self.end)
        return f"{self.host}@{fmt_ns(self.start)}-{end}"


@dataclass(frozen=True, slots=True)
class Crash:
    """Host `host` crashes at `at` (ns) and never returns."""

    host: str
    at: int

    def __str__(self) -> str:
        return f"{self.host}@{fmt_ns(self.at)}"


@dataclass(frozen=True, slots=True)
class Faults:
    """The fault setting of a run."""

    loss: float = 0.0
    dup: float = 0.0
    max_copies: int = 3
    max_successive_drops: int | None = None
    disconnects: tuple[Window, ...] = ()
    crashes: tuple[Crash, ...] = ()
    allow_inject: bool = False
    preset: str | None = None
    never_disconnect: tuple[str, ...] = field(default=())

    def fate_options(self, successive_drops: int) -> tuple[str, ...]:
        """What the network may do with the next datagram from a host whose last
        `successive_drops` datagrams were all dropped."""
        opts: list[str] = []
        if self.loss > 0 and (self.max_successive_drops is None
                              or successive_drops < self.max_successive_drops):
            opts.append("drop")
        opts.append("single")
        if self.dup > 0:
            opts.extend(f"dup{k}" for k in range(2, self.max_copies + 1))
        return tuple(opts)


def union_windows(windows: tuple[Window, ...]) -> tuple[Window, ...]:
    """The disconnect windows as their union, per host: windows of one host that overlap or
    touch become one (docs/model.md#faults: the host is down while any of its windows
    is open), so the scheduled disconnects and reconnects of a host alternate and each one
    applies. Sorted by host, then start; an open end (None) absorbs every later window."""
    out: list[Window] = []
    for w in sorted(windows, key=lambda w: (w.host, w.start)):
        last = out[-1] if out and out[-1].host == w.host else None
        if last is not None and (last.end is None or w.start <= last.end):
            end = None if last.end is None or w.end is None else max(last.end, w.end)
            out[-1] = Window(w.host, last.start, end)
        else:
            out.append(w)
    return tuple(out)


PRESETS = ("paper",)


def apply_preset(f: Faults, name: str, watched: str = "KURT", detector: str = "ALAN") -> Faults:
    """Theorem 2's assumptions 2, 3, 6, 7, 8 (docs/model.md#theorem-2) on top of `f`.

    At most 3 copies, never two successive drops from one host, no crash, the detector never
    disconnected (badmem/intr are host switches, off by default).
    """
    if name != "paper":
        raise ValueError(f"unknown preset {name!r}; known presets: {', '.join(PRESETS)}")
    bad = [w for w in f.disconnects if w.host == detector]
    if bad:
        raise ValueError(f"preset paper: {detector} is never disconnected (assumption 7), "
                         f"but --disconnect {bad[0]} was given")
    if f.crashes:
        raise ValueError(f"preset paper: no host crashes (assumption 6), "
                         f"but --crash {f.crashes[0]} was given")
    return Faults(loss=f.loss, dup=f.dup, max_copies=min(f.max_copies, 3),
                  max_successive_drops=1, disconnects=f.disconnects, crashes=(),
                  allow_inject=False, preset=name, never_disconnect=(detector,))


def parse_window(text: str) -> Window:
    """`KURT@20s-40s` (or `KURT@20s-` for never reconnecting) as a Window; ValueError."""
    host, at, span = text.partition("@")
    if not at or not host or "-" not in span:
        raise ValueError(f"malformed window {text!r}: expected HOST@START-END, "
                         "e.g. KURT@20s-40s")
    start_s, _, end_s = span.partition("-")
    start = parse_duration(start_s)
    end = parse_duration(end_s) if end_s.strip() else None
    if end is not None and end <= start:
        raise ValueError(f"malformed window {text!r}: the end must be after the start")
    return Window(host.strip(), start, end)


def parse_crash(text: str) -> Crash:
    """`KURT@50s` as a Crash; ValueError."""
    host, at, when = text.partition("@")
    if not at or not host:
        raise ValueError(f"malformed crash time {text!r}: expected HOST@TIME, e.g. KURT@50s")
    return Crash(host.strip(), parse_duration(when))


DEFAULT_DURATION = 60 * S
