"""Exploration uses 64-bit fingerprints and reports the birthday bound on a collision."""

from __future__ import annotations

import json

from click.testing import CliRunner

from udpsem.cli import cli
from udpsem.explore.fingerprint import DIGEST_SIZE, collision_probability


def test_collision_bound() -> None:
    assert DIGEST_SIZE == 8
    assert collision_probability(1) == 0.0
    # n(n-1)/2 pairs, each colliding with probability 2^-64
    assert collision_probability(2**20) == (2**20 * (2**20 - 1) / 2) / 2**64
    assert collision_probability(2**40) == 1.0


def test_explore_json_reports_the_bound() -> None:
    r = CliRunner().invoke(cli, ["explore", "heartbeat", "--horizon", "2s", "--json"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.output.strip().splitlines()[-1])
    assert out["fingerprint_bits"] == 64
    assert out["collision_probability"] == collision_probability(out["states"])
