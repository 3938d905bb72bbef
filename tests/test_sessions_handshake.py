"""The B.4 transition tables: totality, agreement with the cores, renderings."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.test_sessions_core import CLI, OTHER, SRV, FixedRng
from tests.test_sessions_delivery import run_workload
from udpsem.programs.sessions import (
    CLIENT_TABLE,
    SERVER_TABLE,
    Ack,
    Action,
    ClientCore,
    ClientState,
    Cookie,
    CookieAck,
    Data,
    Entry,
    Event,
    Init,
    InitAck,
    ServerCore,
    encode_message,
    int_serializer,
    render_dot,
    render_text,
    string_serializer,
)
from udpsem.programs.sessions.handshake import CLIENT_EVENTS, SERVER_EVENTS, Row, index

E = encode_message

SERVER_DATAGRAM: dict[Event, bytes] = {
    Event.INIT: E(Init()),
    Event.INIT_ACK: E(InitAck(4)),
    Event.COOKIE_MATCH: E(Cookie(4)),
    Event.COOKIE_OTHER: E(Cookie(5)),
    Event.COOKIE_ACK: E(CookieAck()),
    Event.OTHER_HANDSHAKE: b"L_3_FOO1",
    Event.ACK: E(Ack(0)),
    Event.DATA: E(Data(0, b"x")),
    Event.MALFORMED: b"junk",
}

CLIENT_DATAGRAM: dict[Event, tuple[Any, bytes]] = {
    Event.INIT_ACK: (SRV, E(InitAck(4))),
    Event.COOKIE_ACK: (SRV, E(CookieAck())),
    Event.OTHER_HANDSHAKE: (SRV, E(Init())),
    Event.ACK: (SRV, E(Ack(0))),
    Event.DATA: (SRV, E(Data(0, b"5"))),
    Event.MALFORMED: (SRV, b"junk"),
    Event.FOREIGN: (OTHER, E(InitAck(4))),
}


def server_in(state: str) -> ServerCore[int, str]:
    srv: ServerCore[int, str] = ServerCore(int_serializer, string_serializer, FixedRng(4, 6))
    if state != Entry.ABSENT:
        srv.on_datagram(CLI, E(Init()), 0)
    if state == Entry.CONNECTED:
        srv.on_datagram(CLI, E(Cookie(4)), 0)
    return srv


def server_entry(srv: ServerCore[int, str]) -> Entry:
    entry = srv.table.get(CLI)
    if entry is None:
        return Entry.ABSENT
    return Entry.HALF_OPEN if entry.session is None else Entry.CONNECTED


def client_in(state: str) -> ClientCore[str, int]:
    cli: ClientCore[str, int] = ClientCore(SRV, string_serializer, int_serializer)
    cli.start(0)
    if state != ClientState.CONNECTING_INIT:
        cli.on_datagram(SRV, E(InitAck(4)), 0)
    if state == ClientState.CONNECTED:
        cli.on_datagram(SRV, E(CookieAck()), 0)
        cli.send("pending", 0)  # so that the retransmission timer is armed
    return cli


def _cases(table: tuple[Row, ...]) -> list[tuple[Row, Event]]:
    return [(row, ev) for row in table for ev in row.events]


@pytest.mark.parametrize(("row", "event"), _cases(SERVER_TABLE),
                         ids=lambda x: x.id if isinstance(x, Row) else str(x))
def test_server_core_follows_its_table(row: Row, event: Event) -> None:
    srv = server_in(row.state)
    srv.on_datagram(CLI, SERVER_DATAGRAM[event], 1)
    assert srv.last_row == row.id
    assert server_entry(srv) == row.target
    assert bool(srv.dropped) == (row.action == Action.VIOLATION)


@pytest.mark.parametrize(("row", "event"), _cases(CLIENT_TABLE),
                         ids=lambda x: x.id if isinstance(x, Row) else str(x))
def test_client_core_follows_its_table(row: Row, event: Event) -> None:
    cli = client_in(row.state)
    if event == Event.TIMEOUT:
        deadline = cli.next_deadline()
        assert deadline is not None
        cli.on_timer(deadline)
    else:
        src, data = CLIENT_DATAGRAM[event]
        cli.on_datagram(src, data, 1)
    assert cli.last_row == row.id
    assert cli.state == row.target
    assert bool(cli.dropped) == (row.action == Action.VIOLATION)


def test_tables_are_total_and_unambiguous() -> None:
    assert len(index(SERVER_TABLE, tuple(Entry), SERVER_EVENTS)) == 3 * len(SERVER_EVENTS)
    assert len(index(CLIENT_TABLE, tuple(ClientState), CLIENT_EVENTS)) == 3 * len(CLIENT_EVENTS)
    with pytest.raises(AssertionError, match="both cover"):
        index(SERVER_TABLE + (SERVER_TABLE[0],), tuple(Entry), SERVER_EVENTS)
    with pytest.raises(AssertionError, match="does not cover"):
        index(SERVER_TABLE[1:], tuple(Entry), SERVER_EVENTS)


def test_spec_rows_are_the_b4_table() -> None:
    """The six spec rows plus the 'anything else' rows, as docs/sessions.md#handshake lists them."""
    spec = [(r.state, r.events, r.action) for r in SERVER_TABLE if r.action != Action.VIOLATION]
    assert spec == [
        (Entry.ABSENT, (Event.INIT,), Action.NEW_COOKIE),
        (Entry.HALF_OPEN, (Event.INIT,), Action.RESEND_INIT_ACK),
        (Entry.HALF_OPEN, (Event.COOKIE_MATCH,), Action.OPEN_SERVER_SESSION),
        (Entry.CONNECTED, (Event.COOKIE_MATCH,), Action.RESEND_COOKIE_ACK),
        (Entry.CONNECTED, (Event.INIT, Event.INIT_ACK, Event.COOKIE_OTHER, Event.COOKIE_ACK,
                           Event.OTHER_HANDSHAKE), Action.IGNORE),
        (Entry.CONNECTED, (Event.ACK, Event.DATA), Action.PROCESS),
    ]
    assert [r.id for r in SERVER_TABLE if not r.spec] == ["S9"]
    assert [r.id for r in CLIENT_TABLE if not r.spec] == ["C9"]


def test_every_row_fires_in_one_scripted_run() -> None:
    """One client and one server, robust mode, every row of both tables in turn."""
    srv = server_in(Entry.ABSENT)
    cli: ClientCore[str, int] = ClientCore(SRV, string_serializer, int_serializer)
    seen_s: list[str] = []
    seen_c: list[str] = []

    def s(data: bytes, src: Any = CLI) -> None:
        srv.on_datagram(src, data, 0)
        seen_s.append(str(srv.last_row))

    def c(data: bytes, src: Any = SRV, timer: bool = False) -> None:
        if timer:
            cli.on_timer(cli.next_deadline() or 0)
        else:
            cli.on_datagram(src, data, 0)
        seen_c.append(str(cli.last_row))

    cli.start(0)
    c(b"", timer=True)                      # C2: silence re-sends INIT
    c(E(InitAck(1)), src=OTHER)             # C3: stranger ignored
    s(E(Init()))                            # S1
    s(E(Init()))                            # S2: same cookie
    c(E(InitAck(4)))                        # C1
    c(b"", timer=True)                      # C5: re-sends COOKIE
    c(E(InitAck(4)))                        # C6: duplicate INIT-ACK ignored
    s(E(Cookie(4)))                         # S3
    s(E(Cookie(4)))                         # S4: duplicate COOKIE, no second session
    s(E(Init()))                            # S5
    c(E(CookieAck()))                       # C4
    c(E(CookieAck()))                       # C8
    s(E(Ack(0)), src=OTHER)                 # S7: ACK from an unknown address
    srv.on_datagram(OTHER, E(Init()), 0)
    s(E(Data(0, b"hi")), src=OTHER)         # S8: DATA from a half-open address
    s(b"\xff")                              # S9
    s(E(Data(0, b"hi")))                    # S6
    c(E(Data(0, b"1")))                     # C7
    c(E(Data(0, b"1")), src=OTHER)          # C9
    cli.send("v", 0)
    c(b"", timer=True)                      # C10
    assert sorted(seen_s) == sorted(r.id for r in SERVER_TABLE)
    assert sorted(seen_c, key=lambda x: int(x[1:])) == [r.id for r in CLIENT_TABLE]
    assert len(srv.sessions) == 1 and srv.pop_accept() == (0, CLI) and srv.pop_accept() is None


def test_closed_world_runs_fire_only_non_violation_rows() -> None:
    fired_s: set[str] = set()
    fired_c: set[str] = set()
    for seed in range(20):
        net, w = run_workload(seed, n_clients=3)
        fired_s |= set(net.server.row_counts)
        for a in w.clients:
            fired_c |= set(net.nodes[a].row_counts)
    violation = {r.id for r in SERVER_TABLE + CLIENT_TABLE if r.action == Action.VIOLATION}
    assert not (fired_s | fired_c) & violation
    assert fired_s == {"S1", "S2", "S3", "S4", "S5", "S6"}
    assert {"C1", "C2", "C4", "C5", "C6", "C7", "C8", "C10"} <= fired_c


@pytest.mark.parametrize("table", [SERVER_TABLE, CLIENT_TABLE])
@pytest.mark.parametrize("render", [render_text, render_dot])
def test_renderings_mention_every_row(table: tuple[Row, ...],
                                      render: Callable[[tuple[Row, ...]], str]) -> None:
    out = render(table)
    for row in table:
        assert row.id in out and row.action.value in out


def test_dot_is_well_formed() -> None:
    dot = render_dot(SERVER_TABLE, name="server")
    assert dot.startswith('digraph "server" {') and dot.endswith("}")
    assert dot.count("->") == len(SERVER_TABLE)
    assert '"absent" -> "HalfOpen"' in dot and "style=dashed" in dot
    assert dot.count("{") == dot.count("}")


def test_text_rendering_golden_first_lines() -> None:
    lines = render_text(SERVER_TABLE).splitlines()
    assert lines[0].split() == ["row", "state", "events", "action", "next"]
    assert lines[2].startswith("S1") and "HalfOpen" in lines[2]
    assert "S9 *" in render_text(SERVER_TABLE)

