"""How a stage reports progress without printing: a callback object that `app/` renders.

A stage (download, add, index build) calls `task` when it starts counting something, `advance`
as items finish and `note` for a line worth showing (a retry, a skipped file). The CLI passes a
rich progress bar (`app/progress.py`); a library caller passes nothing and sees nothing.
"""

from __future__ import annotations

from typing import Protocol


class Progress(Protocol):
    def task(self, description: str, total: int | None = None) -> None:
        """Start counting (or rename what is counted, keeping the count when `total` is None)."""

    def advance(self, n: int = 1) -> None:
        """`n` more items of the current task are done."""

    def note(self, message: str) -> None:
        """A line for the human watching: a retry, a skipped file."""


class Silent:
    """Progress that nobody watches: the default of every stage."""

    def task(self, description: str, total: int | None = None) -> None:
        pass

    def advance(self, n: int = 1) -> None:
        pass

    def note(self, message: str) -> None:
        pass


SILENT = Silent()
