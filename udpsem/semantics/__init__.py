"""The LTS machinery.

Layering: `time`, `labels`-free base modules (`time`, `registry`, `choice`) import nothing else
from udpsem, so that `hosts` and `network` can build rules on them; `system`, `drivers` and the
rest compose hosts, network and threads into the whole network term.
"""
