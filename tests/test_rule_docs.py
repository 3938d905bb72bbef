"""Every registered rule's docstring has the sections of docs/architecture.md#principles
(Description, Errors, Common cases, Model details, Formal), so that `udpsem rules NAME` and
docs/rules.md always have them to show."""

from __future__ import annotations

import re

import pytest

import udpsem.core.system  # noqa: F401  (registers every rule)
from udpsem.base.registry import RULES

SECTIONS = ("Description", "Errors", "Common cases", "Model details", "Formal")


@pytest.mark.parametrize("name", sorted(RULES))
def test_rule_docstring_has_the_five_sections_in_order(name: str) -> None:
    doc = RULES[name].doc
    starts = []
    for section in SECTIONS:
        m = re.search(rf"(?m)^\s*{section}:\s*\S", doc)
        assert m, f"rule {name}: docstring lacks a non-empty '{section}:' section"
        starts.append(m.start())
    assert starts == sorted(starts), f"rule {name}: sections are not in the order {SECTIONS}"
