"""Time passage: the multiway rule `time_pass`. When it may fire, and by how much, is decided
by the core (`core.system.time_bound`)."""

from __future__ import annotations

from udpsem.base.labels import Label, Transition
from udpsem.base.registry import rule
from udpsem.state.world import World


@rule("time_pass", category="misc", trigger="net",
      summary="global time passes by d in every component, if nothing is urgent")
def time_pass(w: World, d: int) -> Transition:
    """Description: the multiway label d: every component lets d pass (`Time_Pass`).

    Errors: none.

    Common cases: between pings, and while threads sleep or wait in select.

    Model details: timers are absolute deadlines, so passing time only moves the clock; the
    bound (no timer below 0, nothing urgent) is enforced by `time_bound`.

    Formal:
        premises: d > 0; the world is not urgent (no timer is 0 and no urgent rule is enabled);
          every timer in every component is ≥ d (Time_Pass_h for each host, net_msg_time for each
          message, the scheduled environment events); now + d ≤ the horizon
        transition: N --d--> N'
        after: N' = N with every timer decreased by d (∞ − d = ∞); with absolute deadlines only the
          clock moves: now := now + d
        changes: now (the global clock)
    """
    return Transition("time_pass", None, Label("time", None, None, d),
                      World(w.now + d, w.machines, w.net, w.schedule, w.drops, w.seq))

