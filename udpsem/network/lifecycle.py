"""The host connection rules: a machine is unplugged and plugged back in, its sends and
arrivals while unplugged, a crash, and a program's exit.
"""

from __future__ import annotations

from udpsem.base.frozen import replace
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



# Interfaces taken down and up (Linux 6.18, experiment) -----------------------------------------

def _set_up(m: Machine, up: bool) -> Machine | None:
    h = m.host
    if h is None or all(i.up == up for i in h.ifds if not i.is_lo):
        return None
    # going down deletes the interface's routes and with them the path MTUs learned on them
    ifds = tuple(i if i.is_lo else replace(i, up=up) if up else replace(i, up=False, pmtu=())
                 for i in h.ifds)
    return m.with_host(replace(h, ifds=ifds))


@rule("host_ifdown", category="misc", trigger="net",
      summary="a machine's interfaces are taken down: their routes go, nothing arrives on them [Linux 6.18, experiment]")
def host_ifdown(m: Machine) -> Machine | None:
    """Description: `ip link set DEV down` on every non-loopback interface of machine n (an
    environment event, like a disconnect): routes through them are gone, so sends and
    connects to anywhere but this host fail with ENETUNREACH (sendto_11, connect_2); nothing
    arrives on them (host_recv_ifdown). Their addresses stay the host's own: bind to them,
    and sends to them (over loopback), still work.

    Errors: none here (ENETUNREACH comes from sendto_11 and connect_2).

    Common cases: an administrator or a test taking the interface down; a connected socket's
    next send fails at once.

    Model details: provenance: Linux 6.18, experiment (two namespaces on a veth pair: after
    `ip link set eth0 down`, sendto, send on a connected socket, connect and a broadcast all
    gave ENETUNREACH; bind to the interface's address and a send to it succeeded and was
    received; datagrams from the peer were lost). Datagrams the machine holds for neighbour
    resolution are dropped without an error (Linux purges the neighbour queues), and the
    path MTUs learned on the interfaces are forgotten (experiment: after a
    fragmentation-needed IP_MTU read 1000; after `ip link set eth0 down` and up, a new
    connected socket's read 1500: they are exceptions of the deleted routes).
    Differences from a disconnect (carrier loss): there sends succeed and are lost (or held).

    Formal:
        premises: machine n is alive, some non-LO interface of n is up; a scheduled ifdown of
          n is due
        transition: n·HOST(c, h) --n·ifdown--> n·HOST(c, h')
        after: h' = h with every non-LO interface's up := F and its learned path MTUs
          forgotten; the datagrams n holds are gone
        changes: n's interfaces, the messages n holds
    """
    return _set_up(m, False)


@rule("host_ifup", category="misc", trigger="net",
      summary="a machine's interfaces are brought back up, with their routes [Linux 6.18, experiment]")
def host_ifup(m: Machine) -> Machine | None:
    """Description: `ip link set DEV up` on every non-loopback interface of machine n: their
    subnet routes come back and sends through them work again.

    Errors: none.

    Common cases: the end of an ifdown window; a connected socket's next send succeeds (its
    binding and peer were kept).

    Model details: provenance: Linux 6.18, experiment (the subnet route is back within
    50 ms; a send on the socket connected before the interface went down was received by
    the peer from the same address and port). The model's default route is the lowest
    ETH, so it comes back with the interface.

    Formal:
        premises: machine n is alive, some non-LO interface of n is down; a scheduled ifup of
          n is due
        transition: n·HOST(c, h) --n·ifup--> n·HOST(c, h')
        after: h' = h with every non-LO interface's up := T
        changes: n's interfaces
    """
    return _set_up(m, True)


@rule("host_recv_ifdown", category="misc", trigger="net",
      summary="a datagram arriving for an address of a down interface is lost [Linux 6.18, experiment]")
def host_recv_ifdown(m: Machine) -> Machine:
    """Description: `HOST(c, h) --n·msg?--> HOST(c, h)` when msg's destination is an address
    of an interface of n that is down: nothing arrives on a down interface.

    Errors: none (the sender's sendto returned OK: its route is up).

    Common cases: a peer sending to a host whose interface was taken down.

    Model details: provenance: Linux 6.18, experiment (the peer's sendto returned OK, its
    interface showed NO-CARRIER, and nothing was received). Synchronises with net_emit and
    keeps the network receptive, like host_recv_disc.

    Formal:
        premises: net_emit offers msg to machine n (connected); the interface of n with
          msg's destination is down
        transition: n·HOST(c, h) --n·msg?--> n·HOST(c, h)
        after: the message is discarded; h is unchanged
        changes: nothing
    """
    return m


def arrives_down(m: Machine, dst: int) -> bool:
    """Whether `dst` is an address of one of machine m's interfaces that is down."""
    h = m.host
    return h is not None and any(not i.up and dst in i.ipset for i in h.ifds)
