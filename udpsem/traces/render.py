"""Readable output of runs with rich: a timeline of the events that matter and a summary."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

from udpsem.base.time import fmt_ns
from udpsem.core.drivers import Step

# Rules worth a line in a heartbeat timeline (the rest are counted in the summary).
NOTABLE = {
    "select_4": "select timed out with nothing ready",
    "sendto_5": "sendto failed with the pending ICMP error",
    "delivery_in_udp_2": "datagram for no socket (ICMP port unreachable)",
    "delivery_in_icmp_1": "ICMP error recorded on the socket",
    "net_accept_dup": "network duplicated a datagram",
    "host_send_disc": "sent while unplugged: lost",
    "host_recv_disc": "arrived while unplugged: discarded",
    "net_emit_outside": "datagram left the modelled network",
}


class Timeline:
    """Collects notable events during a run (bounded), for printing afterwards."""

    def __init__(self, limit: int | None = 60) -> None:
        self.rows: list[tuple[int, str, str]] = []
        self.limit = limit
        self.omitted = 0
        self.last_status: Any = None
        self.calls: dict[tuple[str, Any], str] = {}  # (host, tid) -> its last module call

    def _add(self, t: int, host: str, what: str) -> None:
        if self.limit is None or len(self.rows) < self.limit:
            self.rows.append((t, host, what))
        else:
            self.omitted += 1

    def __call__(self, st: Step) -> None:
        tr = st.transition
        lab, t = tr.label, tr.world.now
        host = lab.host or ""
        if lab.kind == "modcall":
            self.calls[(host, lab.tid)] = lab.value[0]
        if lab.kind in ("disconnect", "reconnect", "crash"):
            self._add(t, host, f"[bold magenta]{lab.kind}[/]")
        elif lab.kind == "modcall" and lab.value[0] != "get_status":
            self._add(t, host, f"calls {lab.value[0]}()")
        elif lab.kind == "modret" and isinstance(lab.value, int) \
                and self.calls.get((host, lab.tid)) == "get_status" \
                and lab.value != self.last_status:
            colour = "green" if lab.value == 1 else "red"
            self._add(t, host, f"get_status → [bold {colour}]{lab.value}[/]")
            self.last_status = lab.value
        elif lab.kind == "thread_end" and lab.value is not None:
            self._add(t, host, f"[bold red]exception escaped thread {lab.tid}: {lab.value}[/]")
        elif tr.rule in NOTABLE or tr.partner in NOTABLE:
            key = tr.rule if tr.rule in NOTABLE else tr.partner
            assert key is not None
            self._add(t, host, f"[dim]{key}[/]: {NOTABLE[key]}")
        elif tr.partner == "net_accept_drop":
            self._add(t, host, "[dim]net_accept_drop[/]: network lost a datagram")

    def render(self, console: Console, title: str) -> None:
        table = Table(title=title, show_lines=False)
        table.add_column("time", justify="right", style="cyan")
        table.add_column("host")
        table.add_column("event")
        for t, host, what in self.rows:
            table.add_row(fmt_ns(t), host, what)
        console.print(table)
        if self.omitted:
            console.print(f"[dim]… {self.omitted} more events not shown (--limit N or --all "
                          f"shows them)[/]")


def rules_table(fired: dict[str, int], title: str = "rules fired") -> Table:
    table = Table(title=title)
    table.add_column("rule")
    table.add_column("count", justify="right")
    for name, count in sorted(fired.items(), key=lambda kv: (-kv[1], kv[0])):
        table.add_row(name, str(count))
    return table
