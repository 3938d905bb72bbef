"""Test configuration: Hypothesis profiles and the rule-coverage gate.

Profiles (select with the environment variable HYPOTHESIS_PROFILE):

* `ci` (default): 300 examples per property (the Theorem-1 file doubles it), so the
  Theorem-1 and sanity files stay well under a minute.
* `thorough`: 20 000 examples per property: 100 000 across the five
  Theorem-1 properties.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

_COMMON = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                      HealthCheck.data_too_large,
                                                      HealthCheck.filter_too_much])
settings.register_profile("ci", max_examples=300, **_COMMON)  # type: ignore[arg-type]
settings.register_profile("thorough", max_examples=20_000, **_COMMON)  # type: ignore[arg-type]
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
