"""The trace format (docs/architecture.md), as strict pydantic models; `udpsem schema` prints
its JSON Schema (draft 2020-12).

A trace is JSON Lines: one `Header`, then one `Record` per transition. Records are written as
the run goes (plain `json` on the hot path) and validated with these models when read back.
Validation is strict: a string is not an integer, 3.0 is not 3, `true` is not 1, and no field
may be missing or extra. Labels are a union discriminated by `kind`, choices a union of
`[kind, value]` pairs discriminated by their first item.

Version 2 adds the header's `claims`: digests of what the world was built from, computed from
the built objects (`traces.record.claims`). Replay rebuilds the world from the header and
compares, so a changed header field is named instead of silently replayed.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    JsonValue,
    StrictBool,
    StrictInt,
    StrictStr,
)

from udpsem.hosts.values import Errno
from udpsem.network.messages import IcmpKind

FORMAT_VERSION = 2

SCHEMA_ID = "https://udpsem.invalid/schema/trace-line/v2"
"""The schema's `$id` (a name, not a location: nothing is fetched from it)."""

I64 = (1 << 63) - 1
Int = Annotated[StrictInt, Field(ge=-I64 - 1, le=I64)]
Nat = Annotated[StrictInt, Field(ge=0, le=I64)]
Pos = Annotated[StrictInt, Field(ge=1, le=I64)]
PortNo = Annotated[StrictInt, Field(ge=0, le=65535)]
Name = Annotated[StrictStr, Field(min_length=1, max_length=256)]
IPv4 = Annotated[StrictStr, Field(pattern=r"^(25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])"
                                         r"(\.(25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])){3}$")]
Hex16 = Annotated[StrictStr, Field(pattern=r"^[0-9a-f]{16}$")]
Hex32 = Annotated[StrictStr, Field(pattern=r"^[0-9a-f]{32}$")]
ERRNOS = tuple(e.value for e in Errno)
ICMP_KINDS = tuple(k.value for k in IcmpKind)
FATE = r"^(drop|single|dup[0-9]{1,2})$"
_TUPLE = BeforeValidator(lambda v: tuple(v) if isinstance(v, list) else v)
"""JSON arrays validate as the fixed-length tuples below (strict mode wants a real tuple)."""


class _Strict(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")


# Header --------------------------------------------------------------------------------------

class TimingModel(_Strict):
    """Timing parameters (docs/model.md, time), ns."""

    dpropmin: Nat
    dpropmax: Nat
    dsch: Nat
    doq: Nat
    dstore: Nat
    dthread: Nat


class WindowModel(_Strict):
    host: Name
    start: Nat
    end: Nat | None


class CrashModel(_Strict):
    host: Name
    at: Nat


class FaultsModel(_Strict):
    loss: Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)]
    dup: Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)]
    max_copies: Annotated[StrictInt, Field(ge=1, le=64)]
    max_successive_drops: Nat | None
    disconnects: list[WindowModel]
    crashes: list[CrashModel]
    allow_inject: StrictBool
    preset: Literal["paper"] | None
    never_disconnect: list[Name]
    ifdowns: list[WindowModel] = []  # present only when some host's interfaces go down


class ConstsModel(_Strict):
    """Host constants (docs/model.md, host state)."""

    arch: Literal["linux", "windows", "freebsd"]
    priv: StrictBool
    eph: Annotated[list[PortNo], Field(min_length=2, max_length=2)] | None
    console: Annotated[list[Nat], Field(max_length=1024)]
    open_max: Nat
    oq_cap: Nat | None
    allow_badmem: StrictBool
    allow_intr: StrictBool
    icmp_gen: Literal["always", "never", "nondet"]
    linux_error_order: StrictBool
    # extension fields (Linux state): present only when not at their defaults
    rmem_default: Nat | None = None
    rmem_max: Nat = 4194304
    hz: Pos = 250
    loopback_sync: StrictBool = False
    neigh: StrictBool = False
    router_icmp: StrictBool = False


class HostModel(_Strict):
    name: Name
    addresses: list[IPv4]


class ClaimsModel(_Strict):
    """Digests of the world-shaping header fields, computed from the objects the world was
    built with (and, for `world`, of the initial world itself)."""

    program: Hex32
    hosts: Hex32
    params: Hex32
    consts: Hex32
    timing: Hex32
    faults: Hex32
    world: Hex32


class SourceModel(_Strict):
    """For a trace of a program file: which file and function, and the file's digest."""

    file: StrictStr = Field(description="the program file as named on the command line")
    function: Name = Field(description="the function in it that built the world")
    sha256: Annotated[StrictStr, Field(pattern=r"^[0-9a-f]{64}$")] = Field(
        description="SHA-256 of the file's bytes")


class Header(_Strict):
    """The first line of a trace: enough to rebuild the initial world and the setup."""

    type: Literal["header"]
    format: Annotated[StrictInt, Field(ge=FORMAT_VERSION, le=FORMAT_VERSION)] = Field(
        description="trace format version")
    udpsem: Annotated[StrictStr, Field(max_length=64)] = Field(
        description="udpsem version that wrote the trace")
    program: Name
    hosts: Annotated[list[HostModel], Field(min_length=1)]
    params: dict[Name, Int] = Field(description="program parameters (durations in ns)")
    consts: ConstsModel = Field(description="host constants")
    timing: TimingModel
    faults: FaultsModel
    seed: Int | None = Field(description="seed of the random chooser; replay does not need it")
    claims: ClaimsModel
    source: SourceModel | None = Field(
        default=None, description="for a program file: which file and function, and the "
        "digest of its source")
    real: dict[str, Any] | None = Field(
        default=None, description="set in a trace recorded on the real kernel (`udpsem real`): "
        "the address plan, the label kinds observed, the end of the recording (end_ns) and "
        "the application's measured waits (app_gaps); its lines are then `obs` records")


# Labels ----------------------------------------------------------------------------------------

class BytesValue(_Strict):
    """Bytes, as the string of their latin-1 characters."""

    bytes: StrictStr


class UDPBody(_Strict):
    udp: Annotated[list[PortNo | None], Field(min_length=2, max_length=2)]
    data: BytesValue


class ICMPBody(_Strict):
    icmp: Literal[ICMP_KINDS]  # type: ignore[valid-type]
    quote: Annotated[list[IPv4 | PortNo | None], Field(min_length=4, max_length=4)]
    data: BytesValue | None = None  # the quoted payload, when the host quotes it
    mtu: Annotated[int, Field(ge=0, le=65535)] | None = None  # fragmentation-needed's MTU


class MessageModel(_Strict):
    src: IPv4
    dst: IPv4
    body: UDPBody | ICMPBody
    ttl: Annotated[int, Field(ge=1, le=255)] = 64  # IP_TTL, present only when not 64
    df: StrictBool = False  # the don't-fragment bit (IP_MTU_DISCOVER), present only when set


class _Label(_Strict):
    host: Name | None = None
    tid: Nat | None = None


class TimeLabel(_Strict):
    """Time passes by `value` ns."""

    kind: Literal["time"]
    value: Pos


class MessageLabel(_Label):
    """A datagram sent by a host, delivered to one, or crossing the modelled network's edge."""

    kind: Literal["send", "deliver", "in", "out"]
    value: MessageModel


class CallValue(_Strict):
    """A LIB call or a store request: its name, then its arguments."""

    model_config = ConfigDict(strict=True, extra="allow")
    name: Name = Field(alias="_")


class CallLabel(_Label):
    kind: Literal["call", "store"]
    value: CallValue


class ReturnOk(_Strict):
    ok: JsonValue


class ReturnFail(_Strict):
    fail: Literal[ERRNOS]  # type: ignore[valid-type]


class ReturnLabel(_Label):
    kind: Literal["return"]
    value: ReturnOk | ReturnFail


class ModCallLabel(_Label):
    """A module call: the function's name and its argument."""

    kind: Literal["modcall"]
    value: Annotated[tuple[Name, JsonValue], _TUPLE]


class ValueLabel(_Label):
    """A label whose value is a program value (or absent)."""

    kind: Literal["modret", "storeret", "thread_end"]
    value: JsonValue = None


class ConsoleLabel(_Label):
    kind: Literal["console"]
    value: StrictStr


class BareLabel(_Label):
    kind: Literal["tau", "wake", "exit", "disconnect", "reconnect", "crash", "ifdown", "ifup"]


Label = Annotated[TimeLabel | MessageLabel | CallLabel | ReturnLabel | ModCallLabel |
                  ValueLabel | ConsoleLabel | BareLabel, Field(discriminator="kind")]


# Choices ---------------------------------------------------------------------------------------

Choice = (Annotated[tuple[Literal["pick"], Nat], _TUPLE]
          | Annotated[tuple[Literal["time"], Pos], _TUPLE]
          | Annotated[tuple[Literal["delay"], Nat], _TUPLE]
          | Annotated[tuple[Literal["eph"], PortNo], _TUPLE]
          | Annotated[tuple[Literal["sock"], Nat], _TUPLE]
          | Annotated[tuple[Literal["icmp"], StrictBool], _TUPLE]
          | Annotated[tuple[Literal["neigh"], Literal["hold", "cached"]], _TUPLE]
          | Annotated[tuple[Literal["fate"], Annotated[StrictStr, Field(pattern=FATE)]], _TUPLE]
          | Annotated[tuple[Literal["errno"], Literal[ERRNOS]], _TUPLE])  # type: ignore[valid-type]
"""A `[kind, value]` pair: the first item says which."""


class Record(_Strict):
    """One transition."""

    type: Literal["step"]
    i: Nat = Field(description="index of the transition")
    t: Nat = Field(description="time after the transition, ns")
    rule: Name
    partner: Name | None = Field(description="the synchronising partner rule, if any")
    label: Label
    choices: Annotated[list[Choice], Field(min_length=1)] = Field(
        description="(kind, value) in the order made; the first is the candidate index `pick`")
    digest: Hex16 = Field(description="digest of the successor state")


class Observation(_Strict):
    """One label observed in a real run (no rule, choices or state: those are unknown;
    `udpsem check` searches for them)."""

    type: Literal["obs"]
    i: Nat = Field(description="index of the observation")
    t: Nat = Field(description="monotonic time since the start of the run, ns")
    label: dict[str, Any]


def json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a trace line: a header or a step record."""
    from pydantic.json_schema import models_json_schema

    _, top = models_json_schema([(Header, "validation"), (Record, "validation")],
                                ref_template="#/$defs/{model}")
    defs = top.get("$defs", {})
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": "udpsem trace line",
        "description": "One line of a udpsem trace (JSON Lines): the first line is a header, "
                       "every other line a step record.",
        "oneOf": [{"$ref": "#/$defs/Header"}, {"$ref": "#/$defs/Record"}],
        "$defs": defs,
    }


def schema_text() -> str:
    return json.dumps(json_schema(), indent=2)
