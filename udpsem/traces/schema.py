"""The trace format (docs/architecture.md), as pydantic models; `udpsem schema` prints its schema.

A trace is JSON Lines: one `Header`, then one `Record` per transition. Records are written as
the run goes (plain `json` on the hot path, validated with these models when read back).
"""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

FORMAT_VERSION = 1


class TimingModel(BaseModel):
    model_config = ConfigDict(extra="forbid")
    dpropmin: int = Field(ge=0)
    dpropmax: int = Field(ge=0)
    dsch: int = Field(ge=0)
    doq: int = Field(ge=0)
    dstore: int = Field(ge=0)
    dthread: int = Field(ge=0)


class WindowModel(BaseModel):
    model_config = ConfigDict(extra="forbid")
    host: str
    start: int = Field(ge=0)
    end: int | None = None


class CrashModel(BaseModel):
    model_config = ConfigDict(extra="forbid")
    host: str
    at: int = Field(ge=0)


class FaultsModel(BaseModel):
    model_config = ConfigDict(extra="forbid")
    loss: float = Field(ge=0, le=1)
    dup: float = Field(ge=0, le=1)
    max_copies: int = Field(ge=1)
    max_successive_drops: int | None = None
    disconnects: list[WindowModel] = []
    crashes: list[CrashModel] = []
    preset: str | None = None


class HostModel(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    addresses: list[str]


class Header(BaseModel):
    """The first line of a trace: enough to rebuild the initial world and the setup."""

    model_config = ConfigDict(extra="forbid")
    type: Literal["header"] = "header"
    format: int = Field(description="trace format version")
    udpsem: str = Field(description="udpsem version that wrote the trace")
    program: str
    hosts: list[HostModel]
    params: dict[str, Any] = Field(description="program parameters (durations in ns)")
    consts: dict[str, Any] = Field(description="host constants")
    timing: TimingModel
    faults: FaultsModel
    seed: int | None = Field(description="seed of the random chooser; replay does not need it")
    real: dict[str, Any] | None = Field(
        default=None, description="set in a trace recorded on the real kernel (`udpsem real`): "
        "the address plan, the label kinds observed, the end of the recording (end_ns) and "
        "the application's measured waits (app_gaps); its lines are then `obs` records")


class Record(BaseModel):
    """One transition."""

    model_config = ConfigDict(extra="forbid")
    type: Literal["step"] = "step"
    i: int = Field(ge=0, description="index of the transition")
    t: int = Field(ge=0, description="time after the transition, ns")
    rule: str
    partner: str | None = Field(description="the synchronising partner rule, if any")
    label: dict[str, Any]
    choices: list[tuple[str, Any]] = Field(description="(kind, value) in the order made; the "
                                           "first is the candidate index `pick`")
    digest: str = Field(description="digest of the successor state")


class Observation(BaseModel):
    """One label observed in a real run (no rule, choices or state: those are unknown;
    `udpsem check` searches for them)."""

    model_config = ConfigDict(extra="forbid")
    type: Literal["obs"] = "obs"
    i: int = Field(ge=0, description="index of the observation")
    t: int = Field(ge=0, description="monotonic time since the start of the run, ns")
    label: dict[str, Any]


class TraceLine(BaseModel):
    """Any line of a trace file."""

    line: Header | Record | Observation = Field(discriminator="type")


def json_schema() -> dict[str, Any]:
    """The JSON Schema of a trace line (a header or a step record)."""
    return TraceLine.model_json_schema()


def schema_text() -> str:
    return json.dumps(json_schema(), indent=2)
