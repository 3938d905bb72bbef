"""B.8 guarantees of the cores over the in-memory lossy network, over many seeds.

Loss 30 %, duplication 20 %, delays 1–300 ms (so heavy reordering), strict mode on both
sides (B.8.3: a closed world raises no `ProtocolViolation`). `SESSIONS_SEEDS` sets the
number of seeds (200 by default, for CI).
"""

from __future__ import annotations

import os
import random
from collections.abc import Hashable
from typing import Any

import pytest

from tests.test_sessions_harness import HARSH, SRV, Faults, Net, client_addr
from udpsem.base.time import MS, S
from udpsem.programs.sessions import ClientState, CookieAck, HandshakeResend, Some, encode_message

SEEDS = int(os.environ.get("SESSIONS_SEEDS", "200"))
VALUES = 8


class Workload:
    """Clients send tagged strings, the server sends ints per session; all at random times.

    Every receive is checked against the peer's sent sequence at once (prefix property),
    and the run ends when every value has been received.
    """

    def __init__(self, net: Net, n_clients: int, seed: int, eager_server: bool) -> None:
        self.net = net
        self.eager_server = eager_server
        self.app = random.Random(seed * 7919 + 1)
        self.clients = [client_addr(i) for i in range(n_clients)]
        for a in self.clients:
            net.add_client(a)
        self.to_server: dict[Hashable, list[str]] = {
            a: [f"c{i}-v{k}-" + "x" * self.app.randrange(4) for k in range(VALUES)]
            for i, a in enumerate(self.clients)}
        self.to_client: dict[Hashable, list[int]] = {
            a: [1000 * i + k for k in range(VALUES)] for i, a in enumerate(self.clients)}
        self.sent_c: dict[Hashable, int] = {a: 0 for a in self.clients}
        self.sent_s: dict[Hashable, int] = {a: 0 for a in self.clients}
        self.got_s: dict[Hashable, list[Any]] = {a: [] for a in self.clients}
        self.got_c: dict[Hashable, list[Any]] = {a: [] for a in self.clients}
        self.session_of: dict[Hashable, int] = {}

    def tick(self) -> None:
        net, app = self.net, self.app
        while (acc := net.server.pop_accept()) is not None:
            sid, addr = acc
            assert addr in self.clients and addr not in self.session_of, "accepted twice"
            self.session_of[addr] = sid
        for a in self.clients:
            cli = net.nodes[a]
            if cli.state == ClientState.CONNECTED:
                if self.sent_c[a] < VALUES and app.randrange(4) == 0:
                    net.send_from(a, self.to_server[a][self.sent_c[a]])
                    self.sent_c[a] += 1
                if app.randrange(3) == 0 and (v := cli.try_recv()) is not None:
                    self._got(self.got_c[a], v, self.to_client[a][: self.sent_s[a]])
            sid = self.session_of.get(a)
            if sid is not None:
                may_send = self.eager_server or self.got_s[a]
                if may_send and self.sent_s[a] < VALUES and app.randrange(4) == 0:
                    net.send_from(SRV, sid, self.to_client[a][self.sent_s[a]])
                    self.sent_s[a] += 1
                if app.randrange(3) == 0 and (v := net.server.try_recv(sid)) is not None:
                    self._got(self.got_s[a], v, self.to_server[a][: self.sent_c[a]])

    @staticmethod
    def _got(got: list[Any], v: Some[Any] | None, sent: list[Any]) -> None:
        assert isinstance(v, Some)
        got.append(v.value)
        assert got == sent[: len(got)], f"not a prefix of what was sent: {got} vs {sent}"

    def done(self) -> bool:
        return all(len(self.got_s[a]) == VALUES and len(self.got_c[a]) == VALUES
                   for a in self.clients)


def run_workload(seed: int, n_clients: int, faults: Faults = HARSH, strict: bool = True,
                 resend: HandshakeResend = HandshakeResend.SILENCE) -> tuple[Net, Workload]:
    """Run to completion; with the source's SILENCE re-send the server waits for the
    client's first value before sending (see `test_silence_resend_liveness_gap`)."""
    net = Net(seed, faults, strict=strict, resend=resend)
    w = Workload(net, n_clients, seed, eager_server=resend == HandshakeResend.PERIOD)
    finished = net.run(3600 * S, stop=w.done, each=w.tick, tick_ns=50 * MS)
    assert finished, f"seed {seed}: not all values delivered by t={net.now}"
    return net, w


@pytest.mark.parametrize("resend", list(HandshakeResend))
@pytest.mark.parametrize("seed", range(SEEDS))
def test_exactly_once_in_order_under_loss_dup_reorder(seed: int,
                                                      resend: HandshakeResend) -> None:
    net, w = run_workload(seed, n_clients=1 + seed % 3, resend=resend)
    for a in w.clients:
        assert w.got_s[a] == w.to_server[a]
        assert w.got_c[a] == w.to_client[a]
    # B.8.2: each connect matches exactly one accepted session, despite duplicated COOKIEs.
    assert sorted(w.session_of) == sorted(w.clients)
    assert len(net.server.sessions) == len(w.clients)
    assert not net.server.dropped


@pytest.mark.parametrize("seed", range(20))
def test_three_clients_kept_apart(seed: int) -> None:
    net, w = run_workload(10_000 + seed, n_clients=3)
    for i, a in enumerate(w.clients):
        assert all(s.startswith(f"c{i}-") for s in w.got_s[a])
        assert all(v // 1000 == i for v in w.got_c[a])
        assert net.server.peer(w.session_of[a]) == a


def test_harsh_runs_really_duplicate_and_reorder() -> None:
    """The fault setting is not vacuous: some seeds see duplicated COOKIEs and reordering."""
    dup_cookie_ack = reorder = 0
    for seed in range(30):
        net, _ = run_workload(seed, n_clients=2)
        dup_cookie_ack += net.server.row_counts["S4"]
        reorder += net.reordered
    assert dup_cookie_ack > 0 and reorder > 0


def test_reconnect_from_a_connected_address_never_connects() -> None:
    """B.9: a second INIT from a Connected address is ignored; that client hangs forever."""
    net = Net(3, HARSH)
    a = client_addr(0)
    net.add_client(a)
    assert net.run(120 * S, stop=lambda: len(net.ready) == 2)
    assert net.server.pop_accept() is not None
    start = net.now
    fresh = net.add_client(a)  # a new ClientCore on the same address
    net.run(start + 60 * S)
    assert net.now >= start + 60 * S
    assert fresh.state == ClientState.CONNECTING_INIT
    assert net.server.ignored["Connected: INIT"] > 0
    assert len(net.server.sessions) == 1 and net.server.pop_accept() is None


@pytest.mark.parametrize("resend", list(HandshakeResend))
def test_silence_resend_liveness_gap(resend: HandshakeResend) -> None:
    """The first COOKIE-ACK is lost and the server sends at once on accept.

    With the source's SILENCE re-send, the session's DATA retransmissions (every 0.35 s)
    keep restarting the client's 1 s wait, so COOKIE is never re-sent: the client hangs
    while the server retransmits forever. PERIOD re-sends anyway and connects.
    """
    net = Net(5, resend=resend)
    lost = []

    def drop_first_cookie_ack(src: Hashable, dst: Hashable, data: bytes) -> bool:
        if data == encode_message(CookieAck()) and not lost:
            lost.append(data)
            return True
        return False

    net.drop = drop_first_cookie_ack
    a = client_addr(0)
    cli = net.add_client(a)

    def server_app() -> None:
        if (acc := net.server.pop_accept()) is not None:
            net.send_from(SRV, acc[0], 42)

    net.run(60 * S, each=server_app, stop=lambda: cli.connected)
    if resend == HandshakeResend.SILENCE:
        assert cli.state == ClientState.CONNECTING_COOKIE and net.now >= 60 * S
        assert cli.row_counts["C6"] > 100 and cli.row_counts["C5"] == 0
    else:
        assert cli.connected and net.now < 2 * S
        assert cli.row_counts["C5"] == 1
