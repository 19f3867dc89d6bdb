"""The errors a user can cause, each with the exit code the CLI returns for it.

Raise these with one sentence that says what went wrong, where, and what to do; the CLI prints the
sentence without a traceback. Anything else that escapes is a bug and keeps its traceback.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class UserError(Exception):
    """Bad input from the user (a missing file, an unwritable folder, a run conflict): exit code 1."""

    exit_code = 1


class UsageError(UserError):
    """A command line or config that cannot be understood (unknown name, key or type): exit code 2."""

    exit_code = 2


class NotBuiltError(UserError):
    """A registered name whose implementation has not landed yet: exit code 3."""

    exit_code = 3


def did_you_mean(word: str, choices: Iterable[str], prefix: str = "") -> str:
    """ "; did you mean 'x'?" for the closest choice (shown with `prefix`), or "" when nothing is close."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.5)
    return f"; did you mean '{prefix}{close[0]}'?" if close else ""


class RegressionFound(UserError):
    """`aidbench check` found numbers worse than the curated ones beyond their margin: exit code 4."""

    exit_code = 4
