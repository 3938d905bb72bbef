"""`udpsem schema` describes the real lines: every line of real traces of every program
validates with the `jsonschema` library (draft 2020-12), and lines the reader refuses are
refused by the schema too."""

from __future__ import annotations

import io
import json
from typing import Any

import jsonschema
import pytest
from click.testing import CliRunner

from udpsem.cli import cli
from udpsem.hosts.state import HostConsts
from udpsem.hosts.values import Arch, IcmpGen
from udpsem.network.faults import Crash, Faults, Window, apply_preset
from udpsem.programs.catalog import SCENARIOS
from udpsem.traces.record import run
from udpsem.traces.schema import Header, Record, json_schema

S = 1_000_000_000


@pytest.fixture(scope="module")
def validator() -> jsonschema.protocols.Validator:
    out = CliRunner().invoke(cli, ["schema"])
    assert out.exit_code == 0
    schema = json.loads(out.output)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"]
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def _trace(program: str, params: dict[str, int], faults: Faults, seed: int,
           consts: HostConsts | None = None) -> list[dict[str, Any]]:
    buf = io.StringIO()
    # badmem/intr runs make LIB calls fail; the heartbeat lets such an exception escape,
    # which stops a run by default (issue 9.3): this test is about the trace lines, so the
    # escape stays data in the model.
    run(program, params, faults, seed, consts=consts, trace=buf, stop_on_escape=False)
    return [json.loads(line) for line in buf.getvalue().splitlines()]


RUNS = [
    ("heartbeat", {"duration_ns": 6 * S}, Faults(loss=0.2, dup=0.3, max_copies=4,
                                                disconnects=(Window("KURT", 1 * S, 3 * S),),
                                                crashes=(Crash("KURT", 5 * S),)), 1, None),
    ("heartbeat", {"duration_ns": 4 * S},
     apply_preset(Faults(loss=0.3, dup=0.3, disconnects=(Window("KURT", 1 * S, 2 * S),)),
                  "paper"), 2, None),
    ("heartbeat", {"duration_ns": 3 * S}, Faults(loss=0.1),
     3, HostConsts(allow_badmem=True, allow_intr=True, icmp_gen=IcmpGen.NONDET)),
    ("echo", {"duration_ns": 4 * S, "clients": 2, "messages": 3}, Faults(loss=0.2, dup=0.2), 4,
     None),
    ("echo", {"duration_ns": 2 * S, "clients": 1, "messages": 2}, Faults(), 5,
     HostConsts(arch=Arch.FREEBSD)),
]


def test_every_program_is_covered() -> None:
    assert {r[0] for r in RUNS} == set(SCENARIOS)


@pytest.mark.parametrize("k", range(len(RUNS)))
def test_every_line_of_real_traces_validates(validator: Any, k: int) -> None:
    program, params, faults, seed, consts = RUNS[k]
    lines = _trace(program, params, faults, seed, consts)
    kinds: set[str] = set()
    for n, obj in enumerate(lines, 1):
        errors = sorted(validator.iter_errors(obj), key=lambda e: list(e.path))
        assert not errors, (n, errors[0].message, list(errors[0].path))
        (Header if n == 1 else Record).model_validate(obj)
        if n > 1:
            kinds.add(obj["label"]["kind"])
            kinds.update(c[0] for c in obj["choices"])
    assert len(lines) > 100 and {"call", "return", "time", "pick"} <= kinds


def test_counterexample_traces_validate(validator: Any, tmp_path: Any) -> None:
    cx = tmp_path / "cx.jsonl"
    res = CliRunner().invoke(cli, ["explore", "heartbeat", "--horizon", "4s", "--preset",
                                   "paper", "--max-successive-drops", "2",
                                   "--counterexample", str(cx)])
    assert res.exit_code in (0, 1), res.output
    for line in cx.read_text().splitlines():
        validator.validate(json.loads(line))


def test_labels_and_choices_are_discriminated_unions() -> None:
    schema = json_schema()
    rec = schema["$defs"]["Record"]["properties"]
    assert "discriminator" in rec["label"] and rec["label"]["discriminator"]["propertyName"] \
        == "kind"
    choice_alternatives = rec["choices"]["items"]["anyOf"]
    firsts = [alt["prefixItems"][0]["const"] for alt in choice_alternatives]
    assert len(firsts) == len(set(firsts)) and "pick" in firsts and "fate" in firsts


@pytest.mark.parametrize(("line", "path", "value"), [
    (0, ("timing", "dstore"), "100000"),
    (0, ("faults", "max_copies"), 3.5),
    (0, ("consts", "eph"), [1]),
    (0, ("hosts", 0, "addresses"), ["1.2.3.256"]),
    (1, ("choices", 0), ["pick", True]),
    (1, ("choices", 0), ["fate", "maybe"]),
    (1, ("label", "kind"), "bogus"),
    (1, ("digest",), "xyz"),
])
def test_schema_and_reader_agree_on_bad_lines(validator: Any, line: int, path: tuple[Any, ...],
                                              value: Any) -> None:
    obj = _trace("heartbeat", {"duration_ns": 1 * S}, Faults(), 0)[line]
    target = obj
    for p in path[:-1]:
        target = target[p]
    target[path[-1]] = value
    assert not validator.is_valid(obj)
    with pytest.raises(ValueError):  # pydantic's ValidationError is a ValueError
        (Header if line == 0 else Record).model_validate(obj)
