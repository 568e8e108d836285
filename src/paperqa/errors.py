"""The one base of every error a user can act on.

Every stage raises a subclass of `PaperqaError` for a failure the user can fix (a bad file, a
missing index, an unreachable server), with a message that names the thing and the way out. The
CLI and the web app catch this one class; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations


class PaperqaError(Exception):
    """A failure the user can act on; `exit_code` is what the CLI returns for it.

    Exit codes (documented in the README): 0 ok, 1 partial failure (some of what was asked was
    not done), 2 usage or input error (nothing was done), 130 interrupted.
    """

    exit_code: int = 2


class UsageError(PaperqaError, ValueError):
    """A bad argument (an empty question, k < 1, an unknown paper id): refused before any work."""
