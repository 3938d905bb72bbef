"""The rule reference, generated from the rule registry.

For each registered rule: its formal statement (premises ⇒ `h --l--> h'` and the fields it
changes, from the `Formal:` section of its docstring), its category and timing explained,
its errors, and where it lives in the code. `udpsem rules NAME` prints one entry, `udpsem
rules --json` all of them, and `udpsem rules --markdown` writes docs/rules.md (a test fails
when that file is stale). The notation is explained in docs/glossary.md.

A rule docstring has the sections Description, Errors, Common cases, Model details and
Formal, in that order. The Formal section has four keyed entries, each on one line or
continued on more deeply indented lines:

    Formal:
        premises: what must hold (the guard, and the choices the rule makes)
        transition: the step, e.g. h --Lh_call(tid, bind(fd, is, ps))--> h'
        after: the successor state, e.g. h' = h with {ts(tid) := RET(OK ())_dsch}
        changes: the fields the rule changes (or "nothing")
"""

from __future__ import annotations

import inspect
import re
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from udpsem.base import source

SECTIONS: Final = ("Description", "Errors", "Common cases", "Model details", "Formal")
FORMAL_KEYS: Final = ("premises", "transition", "after", "changes")

CATEGORY_TEXT: Final = {
    "succeed": "a call that succeeds at once: the thread's answer RET(OK v) is pending and "
               "ret_1 delivers it within dsch",
    "fail": "a call that fails at once: the answer RET(FAIL e) is pending and ret_1 delivers "
            "it within dsch",
    "badfail": "a failure caused by exhausted kernel resources; enabled only with the host "
               "switch ALLOW_BADMEM (off by default and under Theorem 2)",
    "enter2": "a call that blocks: the thread enters a *2 state (SENDTO2, RECVFROM2, SELECT2, "
              "DELAY2, PRINT2) until a slow rule answers it",
    "slowsucceed": "a blocked call completes successfully, leaving its *2 state",
    "slowfail": "a blocked call fails, leaving its *2 state",
    "slowintr": "a blocked call is interrupted by a signal and fails with EINTR; enabled "
                "only with the host switch ALLOW_INTR",
    "misc": "any other step: returns, exit, the out-queue, threads, the store, the network "
            "and the machines' connection",
    "accept": "the host takes a datagram the network delivers to one of its addresses "
              "(Lh_recvmsg); together these rules accept every such datagram",
    "emit": "the network hands a datagram whose delay has run out to its destination",
    "internaldelivery": "the host delivers a datagram from its own out-queue to itself "
                        "(loopback or one of its own addresses)",
    "crash": "a machine crashes (a multiway label)",
    "console": "console output appears",
}

_TIMING_TEXT: Final = {
    "urgent": "urgent: time cannot pass while this rule is enabled, so it fires at the "
              "instant it becomes enabled (unless another step disables it first)",
    "upper": "upper-bound timer {p}: may fire at any moment while the timer runs, and must "
             "fire before it expires (time cannot pass beyond the deadline)",
    "sharp": "sharp timer ({p}): enabled only at the exact instant the timer reaches 0; time "
             "cannot pass beyond that instant",
    "call": "taken when a thread makes the call; the host accepts every call at once (local "
            "receptiveness), and the calling snippet's timer dthread bounds when that is",
    "sync": "not timed itself: it fires together with {p}",
    "any": "not urgent and no timer: may fire at any moment, and time may pass while it is "
           "enabled",
    "scheduled": "at the moment the fault setting schedules (an environment event)",
    "time": "the time step itself: allowed only when nothing is urgent and no timer would "
            "pass 0 (see docs/model.md#time-and-urgency)",
}

# How each rule that is neither a call rule nor urgent is timed (docs/model.md#timers).
TIMING: Final[dict[str, tuple[str, str]]] = {
    "ret_1": ("upper", "dsch"),
    "intr_1": ("any", ""),
    "badmem_3": ("any", ""),
    "badmem_4": ("any", ""),
    "select_4": ("sharp", "the select timeout"),
    "poll_4": ("sharp", "the poll timeout"),
    "delay_3": ("sharp", "the delay"),
    "print_2": ("upper", "dsch"),
    "exit_2": ("upper", "dsch"),
    "delivery_out_1": ("upper", "doq, the out-queue timer"),
    "delivery_out_martian": ("upper", "doq, the out-queue timer"),
    "delivery_loopback_udp_1": ("upper", "doq, the out-queue timer"),
    "delivery_loopback_udp_2": ("upper", "doq, the out-queue timer"),
    "delivery_loopback_icmp_1": ("upper", "doq, the out-queue timer"),
    "delivery_loopback_icmp_2": ("upper", "doq, the out-queue timer"),
    "delivery_in_udp_1": ("sync", "net_emit (sharp: at the datagram's arrival)"),
    "delivery_in_udp_2": ("sync", "net_emit (sharp: at the datagram's arrival)"),
    "delivery_in_udp_3": ("sync", "net_emit (sharp: at the datagram's arrival)"),
    "delivery_in_icmp_1": ("sync", "net_emit (sharp: at the datagram's arrival)"),
    "delivery_in_icmp_2": ("sync", "net_emit (sharp: at the datagram's arrival)"),
    "module_call_1": ("sharp", ("the application's request: it is due the moment the "
                               "application computes it")),
    "thread_return_1": ("upper", "dthread, the snippet's step timer"),
    "thread_end_1": ("upper", "dthread, the snippet's step timer"),
    "create_call_1": ("upper", "dthread, the snippet's step timer"),
    "create_ret_1": ("sync", "ret_1 (upper bound dsch)"),
    "store_new_1": ("upper", "dthread, the requesting snippet's step timer"),
    "store_set_1": ("upper", "dthread, the requesting snippet's step timer"),
    "store_get_1": ("upper", "dthread, the requesting snippet's step timer"),
    "storeret_1": ("upper", "dstore"),
    "app_wake": ("sharp", "the application's sleep"),
    "time_pass": ("time", ""),
    "net_accept_single": ("sync", "delivery_out_1 (upper bound doq)"),
    "net_accept_dup": ("sync", "delivery_out_1 (upper bound doq)"),
    "net_accept_drop": ("sync", "delivery_out_1 (upper bound doq)"),
    "net_msg_time": ("sync", "time_pass (it is the message's part of every time step)"),
    "net_emit": ("sharp", "the datagram's propagation delay"),
    "net_emit_outside": ("sharp", "the datagram's propagation delay"),
    "net_inject": ("any", ""),
    "host_lift": ("sync", "the host rule it lifts (timed as that rule is)"),
    "host_disconnect": ("scheduled", ""),
    "host_reconnect": ("scheduled", ""),
    "host_send_disc": ("sync", "delivery_out_1 (upper bound doq)"),
    "host_recv_disc": ("sync", "net_emit (sharp: at the datagram's arrival)"),
    "host_crash": ("scheduled", ""),
    "host_exit": ("sync", "exit_2 (upper bound dsch)"),
    # Linux additions (issue 12)
    "recvfrom_13": ("sharp", "the socket's SO_RCVTIMEO"),
    "sendto_15": ("sharp", "the socket's SO_SNDTIMEO"),
    "delivery_loopback_udp_3": ("upper", "doq, the out-queue timer"),
    "delivery_loopback_bcast_1": ("upper", "doq, the out-queue timer"),
    "delivery_loopback_bcast_2": ("upper", "doq, the out-queue timer"),
    "delivery_in_udp_4": ("sync", "net_emit (sharp: at the datagram's arrival)"),
    # The link layer (issue 12): interfaces and neighbour resolution
    "net_router_unreach": ("sharp", "the datagram's propagation delay"),
    "net_router_ttl": ("sharp", "the datagram's propagation delay"),
    "host_ifdown": ("scheduled", ""),
    "host_ifup": ("scheduled", ""),
    "host_recv_ifdown": ("sync", "net_emit (sharp: at the datagram's arrival)"),
    "net_neigh_hold": ("sync", "delivery_out_1 (upper bound doq)"),
    "net_neigh_release": ("sharp", "the neighbour entry's probe, NEIGH_RETRANS apart"),
    "net_neigh_probe": ("sharp", "the neighbour entry's probe, NEIGH_RETRANS apart"),
    "net_neigh_fail": ("sharp", ("the entry's last probe, NEIGH_PROBES·NEIGH_RETRANS after "
                                 "it began")),
    # Path MTU, admin-prohibited, the router's neighbour wait, the bounded neighbour queue
    "delivery_in_icmp_3": ("sync", "net_emit (sharp: at the datagram's arrival)"),
    "net_router_frag_needed": ("sharp", "the datagram's propagation delay"),
    "net_router_prohibit": ("sharp", "the datagram's propagation delay"),
    "net_neigh_overflow": ("sync", ("delivery_out_1 (upper bound doq), or the datagram's "
                                    "arrival at the router")),
    "net_router_neigh_hold": ("sharp", "the datagram's propagation delay"),
    "net_router_neigh_release": ("sharp", "the router's entry's probe, NEIGH_RETRANS apart"),
    "net_router_neigh_probe": ("sharp", "the router's entry's probe, NEIGH_RETRANS apart"),
    "net_router_neigh_fail": ("sharp", ("the router's entry's last probe, "
                                        "NEIGH_PROBES·NEIGH_RETRANS after it began")),
}

_ROOT: Final = Path(__file__).resolve().parent.parent


class ReferenceError(Exception):
    """A rule's documentation is malformed: a bug in udpsem, not in the user's input."""


@dataclass(frozen=True)
class Formal:
    """A rule's formal statement: `premises ⇒ transition`, with `after` the successor state
    and `changes` the fields it changes."""

    premises: str
    transition: str
    after: str
    changes: str


def sections(doc: str) -> dict[str, str]:
    """A rule docstring's sections by name (text with its line breaks, dedented)."""
    text = inspect.cleandoc(doc)
    names = "|".join(re.escape(s) for s in SECTIONS)
    out: dict[str, str] = {}
    current: str | None = None
    lines: list[str] = []
    for line in text.splitlines():
        m = re.match(rf"^({names}):(.*)$", line)
        if m:
            if current is not None:
                out[current] = textwrap.dedent("\n".join(lines)).strip()
            current, lines = m.group(1), [m.group(2).strip()]
        elif current is not None:
            lines.append(line)
    if current is not None:
        out[current] = textwrap.dedent("\n".join(lines)).strip()
    return out


def _flow(text: str) -> str:
    """Join wrapped lines into one paragraph."""
    return " ".join(text.split())


def formal(info: Any) -> Formal:
    """The formal statement of a rule (a `RuleInfo`); ReferenceError if it has none."""
    body = sections(info.doc).get("Formal")
    if not body:
        raise ReferenceError(f"rule {info.name!r}: docstring has no 'Formal:' section")
    entries: dict[str, list[str]] = {}
    current: str | None = None
    for line in body.splitlines():
        m = re.match(r"^(\w+):\s*(.*)$", line)
        if m and not line.startswith(" "):
            current = m.group(1)
            if current not in FORMAL_KEYS:
                raise ReferenceError(f"rule {info.name!r}: unknown Formal entry {current!r}")
            if current in entries:
                raise ReferenceError(f"rule {info.name!r}: Formal entry {current!r} twice")
            entries[current] = [m.group(2)]
        elif current is None:
            raise ReferenceError(f"rule {info.name!r}: Formal text before its first entry")
        else:
            entries[current].append(line)
    if tuple(entries) != FORMAL_KEYS:
        raise ReferenceError(f"rule {info.name!r}: Formal needs the entries "
                             f"{', '.join(FORMAL_KEYS)} in that order, has {', '.join(entries)}")
    values = {k: _flow("\n".join(v)) for k, v in entries.items()}
    for k, v in values.items():
        if not v:
            raise ReferenceError(f"rule {info.name!r}: Formal entry {k!r} is empty")
    if "-->" not in values["transition"]:
        raise ReferenceError(f"rule {info.name!r}: the Formal transition has no --l--> arrow")
    return Formal(**values)


def timing(info: Any) -> str:
    """How time constrains the rule, in words."""
    if info.urgent:
        return _TIMING_TEXT["urgent"]
    if info.name in TIMING:
        kind, param = TIMING[info.name]
    elif info.trigger == "call":
        kind, param = "call", ""
    else:
        raise ReferenceError(f"rule {info.name!r}: no timing in udpsem.reference.TIMING")
    return _TIMING_TEXT[kind].format(p=param)


def location(info: Any) -> tuple[str, int]:
    """The rule's source file (relative to the repository or site-packages) and the line of
    its `@rule` decorator."""
    fn = info.fn
    path = Path(source.source_file(fn) or "").resolve()
    try:
        shown = path.relative_to(_ROOT).as_posix()
    except ValueError:
        shown = path.as_posix()
    return shown, source.first_line(fn)


def record(info: Any) -> dict[str, Any]:
    """The reference entry of one rule as plain data (`udpsem rules --json`)."""
    path, line = location(info)
    f = formal(info)
    secs = sections(info.doc)
    return {
        "name": info.name,
        "summary": info.summary,
        "category": info.category,
        "category_meaning": CATEGORY_TEXT[info.category],
        "urgent": info.urgent,
        "timing": timing(info),
        "trigger": info.trigger,
        "call": info.call,
        "archs": list(info.archs),
        "errors": list(info.errors),
        "formal": {"premises": f.premises, "transition": f.transition, "after": f.after,
                   "changes": f.changes},
        "description": _flow(secs.get("Description", "")),
        "errors_text": _flow(secs.get("Errors", "")),
        "common_cases": _flow(secs.get("Common cases", "")),
        "model_details": _flow(secs.get("Model details", "")),
        "module": info.fn.__module__,
        "function": info.fn.__name__,
        "file": path,
        "line": line,
    }


def _taken(info: Any) -> str:
    if info.trigger == "call":
        return "every LIB call (generic rule)" if info.call == "*" else f"the call {info.call}"
    return {"thread": "a thread's state in ts", "oq": "the head of the out-queue",
            "recv": "a datagram arriving from the network",
            "net": "the network term (messages, machines, time)",
            "snippet": "threads, the module and the store"}[info.trigger]


def _errors_line(info: Any, r: dict[str, Any]) -> str:
    """The errors a rule returns: those it declares, else what its Errors section says (slow
    rules and ICMP deliveries pass on a pending error rather than declaring one)."""
    if info.errors:
        return ", ".join(info.errors)
    return str(r["errors_text"]) or "none"


def text(info: Any, width: int = 80) -> str:
    """One rule's reference entry as plain text, wrapped to `width` (`udpsem rules NAME`)."""
    r = record(info)
    out: list[str] = []

    def para(label: str, body: str, indent: int = 0, lead: str | None = None) -> None:
        first = lead if lead is not None else " " * indent + (f"{label}: " if label else "")
        out.extend(textwrap.wrap(body, width=width, initial_indent=first,
                                 subsequent_indent=" " * (indent + 4),
                                 break_on_hyphens=False, break_long_words=False) or [first])

    para("", f"{info.name}: {info.summary}")
    out.append("")
    out.append("Formal statement (premises => step, successor, changed fields):")
    for key, word in (("premises", "if"), ("transition", "then"), ("after", "where"),
                      ("changes", "changes")):
        para("", r["formal"][key], indent=6, lead=f"  {word:<8}")
    out.append("")
    para("Category", f"{info.category}: {r['category_meaning']}")
    para("Timing", r["timing"])
    para("Taken on", _taken(info) + (f"; only on {', '.join(info.archs)}" if info.archs
                                     else ""))
    para("Errors", _errors_line(info, r))
    out.append("")
    for key, label in (("description", "Description"), ("errors_text", "Errors in detail"),
                       ("common_cases", "Common cases"), ("model_details", "Model details")):
        if r[key] and not (key == "errors_text" and not info.errors):
            para(label, r[key])
    out.append("")
    para("Code", f"{r['file']}:{r['line']} ({r['module']}.{r['function']})")
    para("Notation", "docs/glossary.md; the model in docs/model.md")
    return "\n".join(out)


def _md(s: str) -> str:
    """Prose for Markdown: `*` outside code spans is literal (as in `*2 state`)."""
    parts = s.split("`")
    return "`".join(p.replace("*", "\\*") if k % 2 == 0 else p for k, p in enumerate(parts))


def registry() -> dict[str, Any]:
    """Every registered rule, by name, in registration order."""
    import udpsem.core.system  # noqa: F401  (registers every rule)
    from udpsem.base.registry import RULES

    return RULES


def markdown() -> str:
    """docs/rules.md: every rule's reference entry, grouped by source module, in registry
    order. Line numbers are left out so that edits elsewhere in a module do not make the file
    stale; `udpsem rules NAME` gives them."""
    rules = registry()
    groups: dict[str, list[Any]] = {}
    for info in rules.values():
        groups.setdefault(location(info)[0], []).append(info)
    out = [
        "# Rule reference",
        "",
        "<!-- Generated by `udpsem rules --markdown > docs/rules.md`; do not edit by hand. -->",
        "",
        (f"All {len(rules)} rules of the model, generated from the rule registry. Each entry "
        "gives the rule's formal statement (if the premises hold, the step happens, leading "
        "to the state described; and the fields it changes), its category and timing, the "
        "errors it returns and where it lives in the code. The notation (`h`, `ts`, `s`, "
        "`SOCK`, `RET`, `oq`, `dosend`, `lookup`, ...) is defined in "
        "[the glossary](glossary.md); the model as a whole in [model.md](model.md). "
        "`udpsem rules NAME` prints the same entry with the line number of the rule."),
        "",
        "## Contents",
        "",
    ]
    for path, infos in groups.items():
        names = ", ".join(f"[{i.name}](#{i.name})" for i in infos)
        out.append(f"- `{path}`: {names}")
    out.append("")
    for path, infos in groups.items():
        out += [f"## `{path}`", ""]
        for info in infos:
            r = record(info)
            f = r["formal"]
            flags = ", urgent" if info.urgent else ""
            out += [
                f"### {info.name}",
                "",
                _md(info.summary),
                "",
                f"- **if** `{f['premises']}`",
                f"- **then** `{f['transition']}`",
                f"- **where** `{f['after']}`",
                f"- **changes** {f['changes']}",
                "",
                f"*Category* `{info.category}`{flags}: {_md(r['category_meaning'])}.  ",
                f"*Timing*: {_md(r['timing'])}.  ",
                f"*Taken on*: {_taken(info)}"
                + (f"; only on {', '.join(info.archs)}" if info.archs else "") + ".  ",
                f"*Errors*: {_md(_errors_line(info, r)).rstrip('.')}.  ",
                f"*Code*: `{r['module']}.{r['function']}` in `{r['file']}`.",
                "",
            ]
            for key, label in (("description", "Description"), ("errors_text", "Errors"),
                               ("common_cases", "Common cases"),
                               ("model_details", "Model details")):
                if r[key] and not (key == "errors_text" and not info.errors):
                    out += [f"**{label}.** {_md(r[key])}", ""]
    return "\n".join(out).rstrip() + "\n"
