"""Bad user input on the command line: one line on stderr, exit status 2, no traceback.

Shared by `udpsem.cli` and `udpsem.explore.cli` (which `udpsem.cli` registers, so neither can
import helpers from the other at module level).
"""

from __future__ import annotations

from typing import NoReturn

import click

from udpsem.base.time import parse_duration


class InputError(click.ClickException):
    """Bad user input: printed as one line, exit status 2."""

    exit_code = 2


def fail(msg: str) -> NoReturn:
    """Stop the command with a one-line input error."""
    raise InputError(msg)


def duration(text: str, what: str) -> int:
    """Nanoseconds of a duration option, or an input error naming the option."""
    try:
        return parse_duration(text)
    except ValueError as e:
        fail(f"{what}: {e}")
