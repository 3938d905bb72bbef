"""The sans-I/O cores step by step (docs/sessions.md), with hand-fed datagrams and times."""

from __future__ import annotations

import random
from typing import Any

import pytest

from udpsem.base.time import MS, S
from udpsem.programs.sessions import (
    COOKIE_BOUND,
    Ack,
    ClientCore,
    ClientState,
    Cookie,
    CookieAck,
    Data,
    Init,
    InitAck,
    MessageTooLarge,
    NotConnected,
    ProtocolViolation,
    Send,
    ServerCore,
    SessionReady,
    SetTimer,
    Some,
    Timing,
    encode_message,
    int_serializer,
    list_serializer,
    string_serializer,
)

SRV = (0x0A000001, 7000)
CLI = (0x0A000002, 5000)
OTHER = (0x0A000009, 9999)
E = encode_message


class FixedRng:
    """An injected random source that records its calls."""

    def __init__(self, *values: int) -> None:
        self.values = list(values)
        self.calls: list[int] = []

    def randrange(self, stop: int, /) -> int:
        self.calls.append(stop)
        return self.values.pop(0)


def server(*cookies: int, strict: bool = False) -> ServerCore[int, str]:
    return ServerCore(int_serializer, string_serializer, FixedRng(*cookies), strict=strict)


def client(strict: bool = False) -> ClientCore[str, int]:
    return ClientCore(SRV, string_serializer, int_serializer, strict=strict)


def sends(effects: list[Any]) -> list[tuple[Any, bytes]]:
    return [(e.addr, e.data) for e in effects if isinstance(e, Send)]


def connected_pair(t: int = 0) -> tuple[ClientCore[str, int], ServerCore[int, str], int]:
    """Run a clean handshake at times t, t+1ms, ...; return client, server, session id."""
    cli, srv = client(strict=True), server(777, strict=True)
    cli.start(t)
    srv.on_datagram(CLI, E(Init()), t + 1 * MS)
    cli.on_datagram(SRV, E(InitAck(777)), t + 2 * MS)
    srv.on_datagram(CLI, E(Cookie(777)), t + 3 * MS)
    cli.on_datagram(SRV, E(CookieAck()), t + 4 * MS)
    acc = srv.pop_accept()
    assert acc is not None and acc[1] == CLI
    return cli, srv, acc[0]


# ------------------------------------------------------------------------ client handshake


def test_client_start_sends_init_and_arms_one_second() -> None:
    cli = client()
    assert cli.start(5 * MS) == [Send(SRV, b"L_4_INIT0"), SetTimer(1 * S + 5 * MS)]
    assert cli.state == ClientState.CONNECTING_INIT
    with pytest.raises(RuntimeError):
        cli.start(6 * MS)


def test_client_resends_once_per_second_of_silence() -> None:
    cli = client()
    cli.start(0)
    assert cli.on_timer(999 * MS) == []  # early: nothing
    assert cli.on_timer(1 * S) == [Send(SRV, E(Init())), SetTimer(2 * S)]
    assert cli.last_row == "C2"
    # An ignored datagram (here from a stranger) restarts the 1 s wait without re-sending.
    assert cli.on_datagram(OTHER, E(InitAck(5)), 1500 * MS) == [SetTimer(2500 * MS)]
    assert cli.last_row == "C3" and cli.state == ClientState.CONNECTING_INIT
    assert cli.ignored["connecting_init: foreign source"] == 1


def test_client_cookie_step_then_connected() -> None:
    cli = client()
    cli.start(0)
    eff = cli.on_datagram(SRV, E(InitAck(12345)), 10 * MS)
    assert eff == [Send(SRV, b"L_6_COOKIE12345"), SetTimer(1010 * MS)]
    assert cli.state == ClientState.CONNECTING_COOKIE and cli.last_row == "C1"
    # Timeout re-sends the *current* request: COOKIE, not INIT.
    assert sends(cli.on_timer(1010 * MS)) == [(SRV, b"L_6_COOKIE12345")]
    assert cli.last_row == "C5"
    # A duplicate INIT-ACK (even with another cookie) is ignored.
    cli.on_datagram(SRV, E(InitAck(99)), 1100 * MS)
    assert cli.last_row == "C6" and cli.cookie == 12345
    # COOKIE-ACK's number is ignored; the session starts with no timer.
    eff = cli.on_datagram(SRV, E(CookieAck(7)), 1200 * MS)
    assert eff == [SessionReady(SRV), SetTimer(None)]
    assert cli.connected and cli.last_row == "C4"
    assert cli.channel is not None and (cli.channel.sid_lb, cli.channel.ack_id) == (0, 0)
    # A late duplicate COOKIE-ACK is ignored.
    assert cli.on_datagram(SRV, E(CookieAck()), 1300 * MS) == []
    assert cli.last_row == "C8"


def test_client_ignores_data_and_acks_while_connecting() -> None:
    cli = client(strict=True)
    cli.start(0)
    for data in (E(Ack(1)), E(Data(0, b"5")), b"garbage", E(CookieAck())):
        cli.on_datagram(SRV, data, 1 * MS)
        assert cli.last_row == "C3"
    assert cli.state == ClientState.CONNECTING_INIT and not cli.dropped


def test_client_send_before_connected_is_an_error() -> None:
    cli = client()
    cli.start(0)
    with pytest.raises(NotConnected):
        cli.send("x", 1)
    with pytest.raises(NotConnected):
        cli.try_recv()
    with pytest.raises(RuntimeError):
        client().on_datagram(SRV, E(InitAck(1)), 0)


# ------------------------------------------------------------------------ server handshake


def test_server_cookie_is_drawn_from_the_injected_source() -> None:
    rng = FixedRng(12345)
    srv: ServerCore[int, str] = ServerCore(int_serializer, string_serializer, rng)
    assert srv.on_datagram(CLI, b"L_4_INIT0", 0) == [Send(CLI, b"L_8_INIT-ACK12345")]
    assert rng.calls == [COOKIE_BOUND] and COOKIE_BOUND == 2**30 - 1
    assert srv.last_row == "S1"


def test_server_cookies_uniform_range_with_random_random() -> None:
    srv: ServerCore[int, str] = ServerCore(int_serializer, string_serializer, random.Random(1))
    for i in range(50):
        srv.on_datagram((1, i), E(Init()), 0)
    assert all(0 <= e.cookie < 2**30 - 1 for e in srv.table.values())


def test_server_bad_random_source_is_reported() -> None:
    with pytest.raises(ValueError, match="random source"):
        server(2**30 - 1).on_datagram(CLI, E(Init()), 0)


def test_server_repeated_init_gets_the_same_cookie() -> None:
    srv = server(4, 5)
    srv.on_datagram(CLI, E(Init()), 0)
    assert srv.on_datagram(CLI, E(Init()), 1) == [Send(CLI, E(InitAck(4)))]
    assert srv.last_row == "S2"


def test_server_cookie_opens_one_session_and_duplicate_does_not() -> None:
    srv = server(4)
    srv.on_datagram(CLI, E(Init()), 0)
    eff = srv.on_datagram(CLI, E(Cookie(4)), 1)
    assert eff == [Send(CLI, b"L_10_COOKIE-ACK0"), SessionReady(CLI)]
    assert srv.last_row == "S3"
    assert srv.on_datagram(CLI, E(Cookie(4)), 2) == [Send(CLI, E(CookieAck()))]
    assert srv.last_row == "S4"
    assert srv.pop_accept() == (0, CLI)
    assert srv.pop_accept() is None
    assert len(srv.sessions) == 1


def test_server_connected_ignores_other_handshake_messages() -> None:
    srv = server(4, strict=True)
    srv.on_datagram(CLI, E(Init()), 0)
    srv.on_datagram(CLI, E(Cookie(4)), 1)
    for msg in (Init(), InitAck(4), Cookie(5), CookieAck()):
        assert srv.on_datagram(CLI, E(msg), 2) == []
        assert srv.last_row == "S5"
    assert sum(srv.ignored.values()) == 4 and not srv.dropped


@pytest.mark.parametrize("state", ["absent", "HalfOpen"])
@pytest.mark.parametrize("data", [E(Ack(0)), E(Data(0, b"x")), E(CookieAck()), E(InitAck(1)),
                                  E(Cookie(99)), b"L_4_INIT7", b"\x00garbage", b""])
def test_server_unexpected_traffic_robust_counts_strict_raises(state: str, data: bytes) -> None:
    for strict in (False, True):
        srv = server(4, strict=strict)
        if state == "HalfOpen":
            srv.on_datagram(CLI, E(Init()), 0)
        before = srv.snapshot()
        if strict:
            with pytest.raises(ProtocolViolation) as info:
                srv.on_datagram(CLI, data, 1)
            assert info.value.row == ("S7" if state == "absent" else "S8")
        else:
            assert srv.on_datagram(CLI, data, 1) == []
            assert srv.last_row == ("S7" if state == "absent" else "S8")
            assert sum(srv.dropped.values()) == 1
        assert srv.snapshot() == before


def test_connected_server_drops_malformed_and_bad_payload() -> None:
    _, srv, _ = connected_pair()
    srv.strict = False
    assert srv.on_datagram(CLI, b"R_R_1_0\xff", 10 * MS) == []  # payload is not UTF-8
    assert srv.on_datagram(CLI, b"nonsense", 10 * MS) == []
    assert srv.last_row == "S9" and srv.dropped["Connected: malformed"] == 2
    srv.strict = True
    with pytest.raises(ProtocolViolation):
        srv.on_datagram(CLI, b"nonsense", 10 * MS)


def test_connected_client_strict_raises_on_foreign_traffic_robust_counts() -> None:
    cli, _, _ = connected_pair()
    with pytest.raises(ProtocolViolation, match="foreign source"):
        cli.on_datagram(OTHER, E(Data(0, b"1")), 10 * MS)
    cli.strict = False
    assert cli.on_datagram(OTHER, E(Data(0, b"1")), 10 * MS) == []
    assert cli.on_datagram(SRV, b"R_R_1_0notanint", 10 * MS) == []
    assert cli.dropped == {"foreign source": 1, "malformed": 1}
    assert cli.last_row == "C9" and cli.try_recv() is None


# ------------------------------------------------------------------------ data transfer


def test_send_transmits_at_once_when_idle_then_every_period() -> None:
    _, srv, sid = connected_pair()
    t = 100 * MS
    assert srv.send(sid, 10, t) == [Send(CLI, b"R_R_1_010"), SetTimer(t + 350 * MS)]
    # The sender loop is sleeping: a second value waits for the next round.
    assert srv.send(sid, 11, t + 1 * MS) == []
    eff = srv.on_timer(t + 350 * MS)
    assert eff == [Send(CLI, E(Data(0, b"10"))), Send(CLI, E(Data(1, b"11"))),
                   SetTimer(t + 700 * MS)]
    # ACK(1) drops one value; a stale ACK(0) is ignored.
    assert srv.on_datagram(CLI, E(Ack(1)), t + 400 * MS) == []
    srv.on_datagram(CLI, E(Ack(0)), t + 401 * MS)
    chan = srv.sessions[sid]
    assert (chan.sid_lb, list(chan.out_buf)) == (1, [b"11"])
    assert sends(srv.on_timer(t + 700 * MS)) == [(CLI, E(Data(1, b"11")))]
    srv.on_datagram(CLI, E(Ack(2)), t + 800 * MS)
    # The next round finds out_buf empty: the loop goes idle and no timer remains.
    assert srv.on_timer(t + 1050 * MS) == [SetTimer(None)]
    assert srv.next_deadline() is None


def test_receiver_delivers_in_order_exactly_once_and_always_acks() -> None:
    cli, _, _ = connected_pair()
    t = 50 * MS
    assert cli.on_datagram(SRV, E(Data(1, b"21")), t) == [Send(SRV, b"R_L_0")]  # gap: drop
    assert cli.on_datagram(SRV, E(Data(0, b"20")), t) == [Send(SRV, b"R_L_1")]
    assert cli.on_datagram(SRV, E(Data(0, b"20")), t) == [Send(SRV, b"R_L_1")]  # dup
    assert cli.on_datagram(SRV, E(Data(1, b"21")), t) == [Send(SRV, b"R_L_2")]
    assert cli.last_row == "C7"
    assert [cli.try_recv(), cli.try_recv(), cli.try_recv()] == [Some(20), Some(21), None]


def test_ack_beyond_anything_sent_is_a_violation() -> None:
    cli, srv, sid = connected_pair()
    assert cli.connected
    srv.send(sid, 1, 10 * MS)
    with pytest.raises(ProtocolViolation, match="ACK beyond sent"):
        srv.on_datagram(CLI, E(Ack(2)), 11 * MS)
    cli.strict = False
    cli.on_datagram(SRV, E(Ack(1)), 11 * MS)
    assert cli.dropped["ACK beyond sent"] == 1


def test_client_retransmits_and_the_row_is_recorded() -> None:
    cli, _, _ = connected_pair()
    assert sends(cli.send("hi", 10 * MS)) == [(SRV, b"R_R_1_0hi")]
    assert sends(cli.on_timer(360 * MS)) == [(SRV, b"R_R_1_0hi")]
    assert cli.last_row == "C10"


def test_oversized_value_fails_at_send_and_changes_nothing() -> None:
    cli, _, _ = connected_pair()
    before = cli.snapshot()
    with pytest.raises(MessageTooLarge):
        cli.send("x" * 65501, 10 * MS)  # R_R_1_0 + 65501 bytes = 65508 > 65507
    assert cli.snapshot() == before
    assert sends(cli.send("x" * 65500, 10 * MS))[0][1].__len__() == 65507


def test_typed_values_use_the_users_serializers() -> None:
    cli_l: ClientCore[tuple[int, ...], str] = ClientCore(
        SRV, list_serializer(int_serializer), string_serializer)
    cli_l.start(0)
    cli_l.on_datagram(SRV, E(InitAck(1)), 1)
    cli_l.on_datagram(SRV, E(CookieAck()), 2)
    assert sends(cli_l.send((1, 22), 3)) == [(SRV, b"R_R_1_01_12_22")]


# ------------------------------------------------------------------------ state & timers


def test_snapshot_is_hashable_and_relative_time_forgets_the_clock() -> None:
    a, srv_a, sid_a = connected_pair(0)
    b, srv_b, sid_b = connected_pair(1 * S)
    assert a.snapshot() == b.snapshot()  # quiescent: no deadline at all
    a.send("v", 10 * MS)
    b.send("v", 1 * S + 10 * MS)
    assert a.snapshot() != b.snapshot()  # absolute deadlines differ...
    assert a.snapshot(now=10 * MS) == b.snapshot(now=1 * S + 10 * MS)  # ...relative agree
    srv_a.send(sid_a, 3, 10 * MS)
    srv_b.send(sid_b, 3, 1 * S + 10 * MS)
    assert srv_a.snapshot(10 * MS) == srv_b.snapshot(1 * S + 10 * MS)
    assert len({a.snapshot(), b.snapshot(), srv_a.snapshot(), srv_b.snapshot()}) == 4
    hash(srv_a.snapshot())


def test_timing_is_parametric_and_validated() -> None:
    fast = Timing(handshake_resend_ns=10 * MS, retransmit_ns=3 * MS)
    cli: ClientCore[str, int] = ClientCore(SRV, string_serializer, int_serializer, timing=fast)
    assert cli.start(0)[-1] == SetTimer(10 * MS)
    with pytest.raises(ValueError):
        Timing(retransmit_ns=0)


def test_same_inputs_same_effects() -> None:
    def run() -> list[Any]:
        srv: ServerCore[int, str] = ServerCore(int_serializer, string_serializer,
                                               random.Random(42))
        out = []
        for i in range(5):
            out += srv.on_datagram((1, i), E(Init()), i)
        return out

    assert run() == run()
