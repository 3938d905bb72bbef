"""The host connection rules: a machine is unplugged and plugged back in, its sends and
arrivals while unplugged, a crash, and a program's exit.
"""

from __future__ import annotations

from dataclasses import replace

from udpsem.base.registry import rule
from udpsem.hosts.state import (
    Host,
)
from udpsem.state.world import Machine


@rule("host_disconnect", category="misc", trigger="net",
      summary="a machine is unplugged: its sends are lost and arrivals discarded")
def host_disconnect(m: Machine) -> Machine | None:
    """Description: `HOST(T, h) --n·disconnect--> HOST(F, h)`.

    Errors: none.

    Common cases: KURT unplugged in the heartbeat scenario.

    Model details: at scheduled times (fault settings); loopback traffic is unaffected.

    Formal:
        premises: machine n is alive and connected; a scheduled disconnect of n is due
        transition: n·HOST(T, h) --n·disconnect--> n·HOST(F, h)
        after: conn = F: n's sends are lost (host_send_disc) and arrivals discarded
          (host_recv_disc); loopback traffic is unaffected
        changes: conn of n
    """
    return replace(m, conn=False) if m.conn and m.host is not None else None


@rule("host_reconnect", category="misc", trigger="net",
      summary="an unplugged machine is plugged back in")
def host_reconnect(m: Machine) -> Machine | None:
    """Description: `HOST(F, h) --n·reconnect--> HOST(T, h)`.

    Errors: none.

    Common cases: the end of a disconnect window.

    Model details: at scheduled times (fault settings).

    Formal:
        premises: machine n is alive and disconnected; a scheduled reconnect of n is due
        transition: n·HOST(F, h) --n·reconnect--> n·HOST(T, h)
        after: conn = T
        changes: conn of n
    """
    return replace(m, conn=True) if not m.conn and m.host is not None else None


@rule("host_send_disc", category="misc", trigger="net",
      summary="a datagram sent while the machine is unplugged is lost")
def host_send_disc(m: Machine) -> Machine:
    """Description: `HOST(F, h)` outputs a datagram as τ: nothing leaves the machine.

    Errors: none (UDP does not notice).

    Common cases: KURT's pings during its disconnect window.

    Model details: the out-queue rule still fires; only the network side differs.

    Formal:
        premises: h --Lh_sendmsg msg--> h' (delivery_out_1) for machine n with conn = F
        transition: n·HOST(F, h) --τ--> n·HOST(F, h')
        after: h' (the out-queue head is gone) and nothing enters the network: the message is lost
        changes: machine n's HOST (per delivery_out_1)
    """
    return m


@rule("host_recv_disc", category="misc", trigger="net",
      summary="a datagram arriving at an unplugged machine is discarded")
def host_recv_disc(m: Machine) -> Machine:
    """Description: `HOST(F, h) --n·msg?--> HOST(F, h)`: keeps the network receptive.

    Errors: none.

    Common cases: a ping in flight when the receiver is unplugged.

    Model details: synchronises with net_emit.

    Formal:
        premises: net_emit offers msg to machine n with conn = F
        transition: n·HOST(F, h) --n·msg?--> n·HOST(F, h)
        after: the message is discarded; h is unchanged (this keeps the network receptive)
        changes: nothing
    """
    return m


@rule("host_crash", category="crash", trigger="net",
      summary="a machine crashes: every component tagged with its name becomes 0")
def host_crash(m: Machine) -> Machine:
    """Description: multiway `n·crash`: HOST, threads, store, module and pending answers go.

    Errors: none.

    Common cases: `--crash KURT@50s`.

    Model details: crashed hosts never return; datagrams they sent stay in flight.

    Formal:
        premises: machine n is alive; a scheduled crash of n is due
        transition: N | n·HOST(c, h) | n·hc1 | ... | n·hck --n·crash--> N (multiway)
        after: every component tagged n becomes 0 (HOST, MODULE, STORE, threads, pending answers);
          messages n sent stay in flight; n never returns
        changes: machine n (gone)
    """
    return Machine(m.name, False, None)


@rule("host_exit", category="misc", trigger="net",
      summary="a program's exit ends every thread of its machine; HOST, MODULE and STORE stay")
def host_exit(m: Machine, host: Host) -> Machine:
    """Description: multiway `n·exit`, driven by exit_2: every THREAD, THREADCREATE and
    STORERET of n becomes 0.

    Errors: none.

    Common cases: a program calling exit().

    Model details: the host has already cleared `ts` and `s` (exit_2) and keeps `oq`. The
    application threads are the program's too, so they end as well: an application left
    behind could call the module again and start a snippet whose tid is no longer in
    `dom(ts)`, whose LIB calls no rule accepts (a deadlock; network_ok N4).

    Formal:
        premises: exit_2 gives h --Lh_exit--> h' for machine n
        transition: n·HOST(c, h) | n·THREAD(...) | n·THREADCREATE(...) | n·STORERET(...)
          --n·exit--> n·HOST(c, h') (multiway)
        after: h' has ts = ∅ and s = [] and keeps oq; every THREAD, THREADCREATE and STORERET of n
          becomes 0 (the application threads end too); MODULE and STORE remain
        changes: machine n's HOST, snippets, pending store answers and applications
    """
    return replace(m, host=host, snippets=(), storerets=(), apps=())

