"""The core: candidate enumeration, urgency and time passage (`system`, `passage`), the drivers
that pick and fire candidates (`drivers`), the whole-world invariants (`invariants`) and the
rule-coverage counter (`coverage`).

Importing it registers every rule in the order of the model's reference: the host rules, then
the thread, module and store rules, time, the network rules and the host connection rules
(the order `udpsem rules` shows).
"""
# ruff: noqa: I001  (the import order is the registration order)

import udpsem.hosts.lts
import udpsem.programs.threads
import udpsem.core.passage
import udpsem.network.rules
import udpsem.network.lifecycle
import udpsem.network.neighbours  # noqa: F401
