"""Exploration: every behaviour of a program within bounds, properties, short counterexamples.

    from udpsem.explore import ExploreConfig, explore, invariant, Monitor
    res, search = explore(ExploreConfig(program="heartbeat", horizon=parse_duration("3s")))
    print(res.states, res.verdicts)

See `engine` (search), `choosers` (the discretisation of choice points), `fingerprint`
(state keys), `properties` (invariants and trace monitors) and `shrink` (counterexamples).
"""

from udpsem.explore.choosers import Discretisation
from udpsem.explore.engine import ExploreConfig, ExploreResult, Search, Violation, explore
from udpsem.explore.properties import Invariant, Monitor, NoEscape, Theorem2, invariant

__all__ = [
           "Discretisation",
           "ExploreConfig",
           "ExploreResult",
           "Invariant",
           "Monitor",
           "NoEscape",
           "Search",
           "Theorem2",
           "Violation",
           "explore",
           "invariant",
]
