"""The model's reference lives inside the repository (issue 9, item 9).

* README.md and docs/ link only to files and headings that exist in the repository.
* The package's docstrings and comments cite docs/*.md (with anchors that exist), never the
  specification files outside the repository.
* docs/rules.md is what `udpsem rules --markdown` generates from the registry.
* Every rule has a formal statement; the glossary defines the terms the statements use.
* `udpsem rules` fits an 80-column terminal; `rules`, `programs` and `rules --coverage`
  have --json.
"""

from __future__ import annotations

import functools
import io
import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner
from rich.console import Console

from udpsem import cli, reference
from udpsem.cli import cli as cli_group

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
MARKDOWN = [ROOT / "README.md", *sorted(DOCS.glob("*.md"))]
RULES = reference.registry()

REGENERATE = "regenerate it: udpsem rules --markdown > docs/rules.md"


@functools.cache
def _anchors(md: Path) -> frozenset[str]:
    """GitHub's heading anchors of a Markdown file."""
    out = set()
    in_code = False
    for line in md.read_text(encoding="utf-8").splitlines():
        if line.startswith("```"):
            in_code = not in_code
        m = re.match(r"^#{1,6}\s+(.*)$", line)
        if m and not in_code:
            text = m.group(1).strip().lower().replace("`", "")
            out.add(re.sub(r"\s", "-", re.sub(r"[^\w\- ]", "", text)))
    return frozenset(out)


def _links(md: Path) -> list[str]:
    text = re.sub(r"```.*?```", "", md.read_text(encoding="utf-8"), flags=re.DOTALL)
    return re.findall(r"\]\(([^)\s]+)\)", text)


@pytest.mark.parametrize("md", MARKDOWN, ids=lambda p: p.name)
def test_markdown_links_stay_in_the_repository_and_resolve(md: Path) -> None:
    text = md.read_text(encoding="utf-8")
    for outside in ("../shared", "shared/MODEL.md", "MODEL.md", "DESIGN.md", "/work/"):
        assert outside not in text, f"{md.name} mentions {outside!r}, outside the repository"
    for link in _links(md):
        if re.match(r"^[a-z]+://", link) or link.startswith("mailto:"):
            continue
        path, _, anchor = link.partition("#")
        target = (md.parent / path).resolve() if path else md
        assert target.is_relative_to(ROOT), f"{md.name}: {link} leaves the repository"
        assert target.exists(), f"{md.name}: {link} names a file that does not exist"
        if anchor and target.suffix == ".md":
            assert anchor in _anchors(target), f"{md.name}: {link}: no such heading"


def _package_sources() -> list[Path]:
    """The package, its tests and benchmarks (this file names the forbidden strings)."""
    paths = [*(ROOT / "udpsem").rglob("*.py"), *(ROOT / "tests").rglob("*.py"),
             *(ROOT / "benchmarks").rglob("*.py")]
    return sorted(p for p in paths if p.resolve() != Path(__file__).resolve())


def test_the_sources_never_cite_files_outside_the_repository() -> None:
    bad = []
    for py in _package_sources():
        for n, line in enumerate(py.read_text(encoding="utf-8").splitlines(), 1):
            if re.search(r"MODEL\.md|DESIGN\.md|\.\./shared|§[AB]\.?\d", line):
                bad.append(f"{py.relative_to(ROOT)}:{n}: {line.strip()}")
    assert not bad, "cite docs/*.md instead:\n" + "\n".join(bad)


def test_every_docs_citation_in_the_package_resolves() -> None:
    cited = 0
    for py in _package_sources():
        text = py.read_text(encoding="utf-8")
        for name, anchor in re.findall(r"docs/([\w-]+\.md)(?:#([\w-]+))?", text):
            target = DOCS / name
            assert target.exists(), f"{py.relative_to(ROOT)} cites docs/{name}, which is missing"
            if anchor:
                assert anchor in _anchors(target), \
                    f"{py.relative_to(ROOT)} cites docs/{name}#{anchor}: no such heading"
            cited += 1
    assert cited > 50  # the rule modules, hosts, network, programs, traces and explore cite


def test_docs_rules_md_is_generated_from_the_registry() -> None:
    on_disk = (DOCS / "rules.md").read_text(encoding="utf-8")
    assert on_disk == reference.markdown(), f"docs/rules.md is stale; {REGENERATE}"


def test_rules_markdown_command_prints_the_reference() -> None:
    out = CliRunner().invoke(cli_group, ["rules", "--markdown"])
    assert out.exit_code == 0
    assert out.output == reference.markdown()


@pytest.mark.parametrize("name", list(RULES))
def test_every_rule_has_a_formal_statement_and_timing(name: str) -> None:
    info = RULES[name]
    f = reference.formal(info)
    assert "-->" in f.transition
    assert f.premises and f.after and f.changes
    assert reference.timing(info)
    path, line = reference.location(info)
    assert (ROOT / path).is_file()
    assert f'"{name}"' in (ROOT / path).read_text(encoding="utf-8").splitlines()[line - 1]


def test_timing_table_names_only_registered_rules() -> None:
    assert set(reference.TIMING) <= set(RULES)


def test_formal_statements_of_the_issue_explain_dup_and_lift() -> None:
    dup = reference.formal(RULES["net_accept_dup"])
    assert "msg_d1" in dup.transition and "max_copies" in dup.premises
    lift = reference.formal(RULES["host_lift"])
    assert "HOST(c, h)" in lift.transition and "h --l--> h'" in lift.premises


def _glossary_terms() -> set[str]:
    text = (DOCS / "glossary.md").read_text(encoding="utf-8")
    terms: set[str] = set()
    for entry in re.findall(r"^\*\*(.+?)\*\*", text, flags=re.MULTILINE):
        terms.update(re.findall(r"[A-Za-z_][\w]*", entry))
    for row in re.findall(r"^\| `([^`]+)`", text, flags=re.MULTILINE):
        terms.update(re.findall(r"[A-Za-z_][\w]*", row))
    return terms


LIB_CALLS = {"socket", "bind", "connect", "disconnect", "getsockname", "getpeername",
             "sendto", "recvfrom", "geterr", "getsockopt", "setsockopt", "close", "select",
             "port_of_int", "ip_of_string", "getifaddrs", "create", "delay",
             "print_endline_flush", "exit"}
# Constructors of messages and values, and the store operations, defined in docs/model.md.
MODEL_CONSTRUCTORS = {"IP", "UDP", "ICMP_PORT_UNREACH", "ICMP_HOST_UNREACH", "ICMP_NET_UNREACH",
                      "ICMP_TIME_EXCEEDED", "ICMP_k", "SOCK", "FLAGS", "HOST",
                      "MODULE", "THREAD", "THREADCREATE", "STORE", "STORERET", "APP",
                      "SENDTO2", "SELECT2", "RET", "OK", "FAIL", "new", "set", "get", "call",
                      "ret", "modcall", "modret", "store", "storeret", "out", "in", "Some",
                      "dom", "card", "string_size", "t_f",
                      "msg_"}  # msg_(d + d'): the notation msg_d with a compound delay


def test_the_glossary_defines_what_formal_statements_use() -> None:
    terms = _glossary_terms()
    used: set[str] = set()
    for info in RULES.values():
        f = reference.formal(info)
        for part in (f.premises, f.transition, f.after):
            used.update(re.findall(r"\b([A-Za-z_]\w*)\(", part))
    missing = used - terms - LIB_CALLS - MODEL_CONSTRUCTORS
    assert not missing, f"define in docs/glossary.md: {sorted(missing)}"


@pytest.mark.parametrize("term", [
    "SELECT2", "SENDTO2", "RECVFROM2", "RUN", "RET", "ZOMBIE", "EXIT", "oqf", "oq", "enter2",
    "slowsucceed", "slowfail", "slowintr", "badfail", "succeed", "fail", "misc", "accept",
    "emit", "internaldelivery", "crash", "console", "time_bound", "lookup", "sharp",
    "upper", "urgent", "dosend", "autobind", "AB", "orphan", "quad", "es", "lk", "cl",
])
def test_the_glossary_defines_the_terms_of_udpsem_rules(term: str) -> None:
    assert term in _glossary_terms()


def _rules_listing(width: int) -> str:
    buf = io.StringIO()
    console = Console(file=buf, width=width, force_terminal=True, color_system=None)
    saved = cli._console
    cli._console = lambda: console  # type: ignore[assignment]
    try:
        cli.main(["rules"])
    finally:
        cli._console = saved  # type: ignore[assignment]
    return buf.getvalue()


def test_rules_listing_fits_80_columns_with_whole_rule_names() -> None:
    out = _rules_listing(80)
    lines = out.splitlines()
    assert all(len(line.rstrip()) <= 80 for line in lines)
    firsts = [line.split()[0] for line in lines if line.strip()]
    for name in RULES:
        assert name in firsts, f"rule {name} is not shown whole at the start of a row"


def test_rule_entry_fits_80_columns_and_has_every_part() -> None:
    text = reference.text(RULES["net_accept_dup"], width=80)
    assert all(len(line) <= 80 for line in text.splitlines())
    for part in ("Formal statement", "  if ", "  then ", "  where ", "  changes ", "Category:",
                 "Timing:", "Errors:", "Code: udpsem/", "docs/glossary.md"):
        assert part in text


def test_rules_json_for_the_list_and_one_rule() -> None:
    runner = CliRunner()
    listing = json.loads(runner.invoke(cli_group, ["rules", "--json"]).output)
    assert [r["name"] for r in listing] == list(RULES)
    one = json.loads(runner.invoke(cli_group, ["rules", "sendto_8", "--json"]).output)
    assert one["urgent"] is True and one["category"] == "slowsucceed"
    assert set(one["formal"]) == {"premises", "transition", "after", "changes"}
    assert one["file"].endswith("sendto.py") and one["line"] > 0


def test_programs_json() -> None:
    out = json.loads(CliRunner().invoke(cli_group, ["programs", "--json"]).output)
    assert {p["name"] for p in out} >= {"heartbeat", "echo"}
    assert all(p["summary"] and "duration_ns" in p["defaults"] for p in out)


def test_rules_coverage_json(tmp_path: Path) -> None:
    trace = tmp_path / "t.jsonl"
    runner = CliRunner()
    ran = runner.invoke(cli_group, ["run", "heartbeat", "--duration", "3s", "--json",
                                    "--trace", str(trace)])
    assert ran.exit_code == 0, ran.output
    out = json.loads(runner.invoke(cli_group, ["rules", "--coverage", str(trace),
                                               "--json"]).output)
    counts = {c["rule"]: c["count"] for c in out["counts"]}
    assert set(counts) == set(RULES)
    assert counts["sendto_1"] > 0 and counts["select_1"] > 0
    assert out["exercised"] == sum(1 for k in counts.values() if k) and out["rules"] == len(RULES)
    assert set(out["never"]) == {n for n, k in counts.items() if k == 0}


def test_rules_of_a_call_and_a_hint_for_a_misspelt_rule() -> None:
    runner = CliRunner()
    out = json.loads(runner.invoke(cli_group, ["rules", "bind", "--json"]).output)
    assert {r["name"] for r in out} == {n for n, i in RULES.items() if i.call == "bind"}
    out = json.loads(runner.invoke(cli_group, ["rules", "select", "--json"]).output)
    assert [r["name"] for r in out] == ["select_5", "select_2", "select_1", "select_3",
                                        "select_4"]  # the call's rules and its slow rules
    res = runner.invoke(cli_group, ["rules", "sendto1"])
    assert res.exit_code != 0
    assert "unknown rule 'sendto1' (did you mean sendto_1" in res.output
