"""The handshake (docs/sessions.md#handshake) as explicit transition tables, plus their renderings.

The cores do not encode the handshake in nested `if`s: they classify each event into a
`(state, event)` pair, look the row up here, and dispatch on the row's action. So the
table *is* the behaviour, a test checks that every pair is covered exactly once, and the
diagram drawn from it cannot drift from the code.

Rows marked `spec=False` are not in the B.4 table but are forced by the source: a
connected server receiving bytes it cannot decode (the source's deserializer would
crash), and a connected client receiving anything from a source other than its server
(the source asserts on it). The client's retransmission timer (B.5) is a row too, so
that the client's table is total.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Final


class Entry(StrEnum):
    """The server's connection-table state for one source address."""

    ABSENT = "absent"
    HALF_OPEN = "HalfOpen"
    CONNECTED = "Connected"


class ClientState(StrEnum):
    """The client's handshake state."""

    CONNECTING_INIT = "connecting_init"
    CONNECTING_COOKIE = "connecting_cookie"
    CONNECTED = "connected"


class Event(StrEnum):
    """What arrived, classified relative to the receiver's state.

    `COOKIE_MATCH` means a COOKIE whose number is the cookie of the table entry;
    `COOKIE_OTHER` any other COOKIE (always, when there is no entry). `FOREIGN` is any
    datagram from an address other than the client's server. `TIMEOUT` is the core's
    own timer.
    """

    INIT = "INIT"
    INIT_ACK = "INIT-ACK"
    COOKIE_MATCH = "COOKIE(c)"
    COOKIE_OTHER = "COOKIE(other)"
    COOKIE_ACK = "COOKIE-ACK"
    OTHER_HANDSHAKE = "other handshake"
    ACK = "ACK"
    DATA = "DATA"
    MALFORMED = "malformed"
    FOREIGN = "foreign source"
    TIMEOUT = "timeout"


class Action(StrEnum):
    """What the core does for a row."""

    NEW_COOKIE = "choose cookie c; send INIT-ACK(c)"
    RESEND_INIT_ACK = "re-send INIT-ACK(c), same cookie"
    OPEN_SERVER_SESSION = "create session; send COOKIE-ACK; queue for accept"
    RESEND_COOKIE_ACK = "re-send COOKIE-ACK (no new session)"
    SEND_COOKIE = "send COOKIE(c)"
    OPEN_CLIENT_SESSION = "create session (sidLB = ackId = 0)"
    RESEND_REQUEST = "re-send current request"
    IGNORE = "ignore"
    PROCESS = "process (B.5)"
    RETRANSMIT = "retransmit out_buf (B.5)"
    VIOLATION = "protocol violation: drop+count / raise"


@dataclass(frozen=True, slots=True)
class Row:
    """One transition: in `state`, on any of `events`, do `action` and go to `target`."""

    id: str
    state: str
    events: tuple[Event, ...]
    action: Action
    target: str
    spec: bool = True


_HS_SERVER: Final = (Event.INIT, Event.INIT_ACK, Event.COOKIE_MATCH, Event.COOKIE_OTHER,
                     Event.COOKIE_ACK, Event.OTHER_HANDSHAKE)
SERVER_EVENTS: Final = (*_HS_SERVER, Event.ACK, Event.DATA, Event.MALFORMED)
_ABS, _HO, _CON = Entry.ABSENT, Entry.HALF_OPEN, Entry.CONNECTED

SERVER_TABLE: Final[tuple[Row, ...]] = (
    Row("S1", _ABS, (Event.INIT,), Action.NEW_COOKIE, _HO),
    Row("S2", _HO, (Event.INIT,), Action.RESEND_INIT_ACK, _HO),
    Row("S3", _HO, (Event.COOKIE_MATCH,), Action.OPEN_SERVER_SESSION, _CON),
    Row("S4", _CON, (Event.COOKIE_MATCH,), Action.RESEND_COOKIE_ACK, _CON),
    Row("S5", _CON, (Event.INIT, Event.INIT_ACK, Event.COOKIE_OTHER, Event.COOKIE_ACK,
                     Event.OTHER_HANDSHAKE), Action.IGNORE, _CON),
    Row("S6", _CON, (Event.ACK, Event.DATA), Action.PROCESS, _CON),
    Row("S7", _ABS, tuple(e for e in SERVER_EVENTS if e != Event.INIT), Action.VIOLATION, _ABS),
    Row("S8", _HO, tuple(e for e in SERVER_EVENTS if e not in (Event.INIT, Event.COOKIE_MATCH)),
        Action.VIOLATION, _HO),
    Row("S9", _CON, (Event.MALFORMED,), Action.VIOLATION, _CON, spec=False),
)

_INIT, _COOK, _CONN = (ClientState.CONNECTING_INIT, ClientState.CONNECTING_COOKIE,
                       ClientState.CONNECTED)
CLIENT_EVENTS: Final = (Event.INIT_ACK, Event.COOKIE_ACK, Event.OTHER_HANDSHAKE, Event.ACK,
                        Event.DATA, Event.MALFORMED, Event.FOREIGN, Event.TIMEOUT)
_NOT_REPLY: Final = (Event.OTHER_HANDSHAKE, Event.ACK, Event.DATA, Event.MALFORMED,
                     Event.FOREIGN)

CLIENT_TABLE: Final[tuple[Row, ...]] = (
    Row("C1", _INIT, (Event.INIT_ACK,), Action.SEND_COOKIE, _COOK),
    Row("C2", _INIT, (Event.TIMEOUT,), Action.RESEND_REQUEST, _INIT),
    Row("C3", _INIT, (Event.COOKIE_ACK, *_NOT_REPLY), Action.IGNORE, _INIT),
    Row("C4", _COOK, (Event.COOKIE_ACK,), Action.OPEN_CLIENT_SESSION, _CONN),
    Row("C5", _COOK, (Event.TIMEOUT,), Action.RESEND_REQUEST, _COOK),
    Row("C6", _COOK, (Event.INIT_ACK, *_NOT_REPLY), Action.IGNORE, _COOK),
    Row("C7", _CONN, (Event.ACK, Event.DATA), Action.PROCESS, _CONN),
    Row("C8", _CONN, (Event.INIT_ACK, Event.COOKIE_ACK, Event.OTHER_HANDSHAKE), Action.IGNORE,
        _CONN),
    Row("C9", _CONN, (Event.MALFORMED, Event.FOREIGN), Action.VIOLATION, _CONN, spec=False),
    Row("C10", _CONN, (Event.TIMEOUT,), Action.RETRANSMIT, _CONN),
)


def index(table: tuple[Row, ...], states: tuple[str, ...],
          events: tuple[Event, ...]) -> dict[tuple[str, Event], Row]:
    """The lookup `(state, event) -> row`; fails loudly unless each pair has exactly one row."""
    out: dict[tuple[str, Event], Row] = {}
    for row in table:
        for ev in row.events:
            key = (row.state, ev)
            if key in out:
                raise AssertionError(f"rows {out[key].id} and {row.id} both cover {key}")
            out[key] = row
    missing = [(s, e) for s in states for e in events if (s, e) not in out]
    if missing:
        raise AssertionError(f"handshake table does not cover {missing}")
    return out


SERVER_INDEX: Final = index(SERVER_TABLE, tuple(Entry), SERVER_EVENTS)
CLIENT_INDEX: Final = index(CLIENT_TABLE, tuple(ClientState), CLIENT_EVENTS)


def render_text(table: tuple[Row, ...]) -> str:
    """The table as aligned plain text, one row per line."""
    lines = [("row", "state", "events", "action", "next")]
    for r in table:
        mark = "" if r.spec else " *"
        lines.append((r.id + mark, r.state, ", ".join(r.events), r.action.value, r.target))
    widths = [max(len(line[i]) for line in lines) for i in range(5)]
    out = ["  ".join(c.ljust(w) for c, w in zip(line, widths)).rstrip() for line in lines]
    out.insert(1, "  ".join("-" * w for w in widths))
    if not all(r.spec for r in table):
        out.append("* not in the table of docs/sessions.md; forced by the source's behaviour")
    return "\n".join(out)


def _dot_quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def render_dot(table: tuple[Row, ...], name: str = "handshake") -> str:
    """The table as a Graphviz DOT state diagram (states as nodes, rows as edges)."""
    states: list[str] = []
    for r in table:
        for s in (r.state, r.target):
            if s not in states:
                states.append(s)
    lines = [f"digraph {_dot_quote(name)} {{", "  rankdir=LR;", "  node [shape=box];"]
    lines += [f"  {_dot_quote(s)};" for s in states]
    for r in table:
        label = f"{r.id}: {' | '.join(r.events)} / {r.action.value}"
        style = "" if r.spec else ", style=dashed"
        lines.append(f"  {_dot_quote(r.state)} -> {_dot_quote(r.target)} "
                     f"[label={_dot_quote(label)}{style}];")
    lines.append("}")
    return "\n".join(lines)
