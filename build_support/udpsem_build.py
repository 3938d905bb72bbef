"""The PEP 517 build backend: setuptools, plus mypy (mypyc) as a build requirement when
`UDPSEM_COMPILE=1` asks for the compiled build (setup.py says which modules it compiles).
The pure-Python build needs nothing beyond setuptools."""

from __future__ import annotations

import os
from typing import Any

from setuptools import build_meta as _setuptools
from setuptools.build_meta import *  # every hook not redefined here

MYPYC = "mypy>=1.10"  # mypyc ships with mypy


def _compile() -> bool:
    return os.environ.get("UDPSEM_COMPILE") == "1"


def get_requires_for_build_wheel(config_settings: dict[str, Any] | None = None) -> list[str]:
    extra = [MYPYC] if _compile() else []
    return [*_setuptools.get_requires_for_build_wheel(config_settings), *extra]
