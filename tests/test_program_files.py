"""Program files and the settings of their explorations (issue 9.4, 9.5)."""

from __future__ import annotations

from pathlib import Path

import pytest

import udpsem
from udpsem.programs.files import ProgramFileError, is_file_ref, load, split_ref

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def test_refs() -> None:
    assert is_file_ref("x.py") and is_file_ref("a/b.py:w") and not is_file_ref("heartbeat")
    assert split_ref("a/b.py") == ("a/b.py", "world")
    assert split_ref("a/b.py:other") == ("a/b.py", "other")
    with pytest.raises(ProgramFileError, match="not a function name"):
        split_ref("a.py:1x")


def test_load_errors_name_the_reason(tmp_path: Path) -> None:
    with pytest.raises(ProgramFileError, match="cannot read"):
        load(str(tmp_path / "none.py"))
    bad = tmp_path / "bad.py"
    bad.write_text("def world():\n    return 3\n")
    with pytest.raises(ProgramFileError, match=r"world\(\) returned int, not a udpsem.WorldSpec"):
        load(str(bad))
    with pytest.raises(ProgramFileError, match=r"no function 'nope' \(functions in the file: "
                                               r"world\)"):
        load(f"{bad}:nope")
    raising = tmp_path / "raising.py"
    raising.write_text("x = 1 // 0\n")
    with pytest.raises(ProgramFileError, match="loading it raised ZeroDivisionError") as info:
        load(str(raising))
    assert "x = 1 // 0" in str(info.value)  # the user's line


def test_a_bound_enables_its_fault() -> None:
    hosts = [udpsem.HostSpec("A", ["10.0.0.1"])]
    plain = udpsem.WorldSpec(hosts).explore_faults()
    assert plain.fate_options(0) == ("single",)  # nothing unless asked for
    dup = udpsem.WorldSpec(hosts, max_copies=2).explore_faults()
    assert dup.fate_options(0) == ("single", "dup2")  # max_copies alone: duplication
    drop = udpsem.WorldSpec(hosts, max_successive_drops=1).explore_faults()
    assert drop.fate_options(0) == ("drop", "single") and drop.fate_options(1) == ("single",)
    lossy = udpsem.WorldSpec(hosts, faults=udpsem.Faults(loss=0.1)).explore_faults()
    assert "drop" in lossy.fate_options(5)  # loss without a bound: any run of drops


def test_user_invariants_are_added_to_the_models() -> None:
    res = udpsem.explore(str(EXAMPLES / "reqresp.py"))
    assert list(res.verdicts) == ["host_ok", "network_ok", "answers_match", "no_escape",
                                  "no_time_stop"]
    assert res.complete and set(res.verdicts.values()) == {"holds"}


def test_duplication_bound_reaches_the_search() -> None:
    # max_copies=2 alone (no dup probability) makes the search duplicate datagrams; the
    # fixed client still holds (it drops the duplicate answer).
    import dataclasses

    from udpsem.explore.engine import ExploreConfig, Search

    path = str(EXAMPLES / "reqresp.py")
    spec = load(path).spec
    faults = dataclasses.replace(spec, max_copies=2).explore_faults()
    s = Search(ExploreConfig(program=path, horizon=spec.horizon, faults=faults,
                             max_states=3000, graph=True))
    res = s.run()
    assert res.violation is None and res.states == 3000
    partners = {d.get("partner") for _, _, d in s.graph().edges(data=True)}
    assert "net_accept_dup" in partners
    plain = Search(ExploreConfig(program=path, horizon=spec.horizon,
                                 faults=spec.explore_faults(), max_states=3000, graph=True))
    plain.run()
    assert "net_accept_dup" not in {d.get("partner") for _, _, d in
                                    plain.graph().edges(data=True)}
