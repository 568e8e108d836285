"""Rich rendering of a stage's progress callbacks (`paperqa.progress.Progress`) for the CLI."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from ..progress import Progress as ProgressFn
from ..progress import Silent


class RichProgress:
    """One rich bar per task; notes are printed above it."""

    def __init__(self, bar: Progress):
        self._bar = bar
        self._task: TaskID | None = None

    def task(self, description: str, total: int | None = None) -> None:
        if self._task is None or total is not None:
            self._task = self._bar.add_task(description, total=total)
        else:
            self._bar.update(self._task, description=description)

    def advance(self, n: int = 1) -> None:
        if self._task is not None:
            self._bar.advance(self._task, n)

    def note(self, message: str) -> None:
        self._bar.console.print(f"[yellow]•[/yellow] {escape(message)}", highlight=False)


class Notes(Silent):
    """No bar (the output is JSON), but the notes still reach stderr."""

    def __init__(self, console: Console):
        self._console = console

    def note(self, message: str) -> None:
        self._console.print(f"[yellow]•[/yellow] {escape(message)}", highlight=False)


@contextlib.contextmanager
def rich_progress(
    console: Console | None, enabled: bool = True, *, transient: bool = True
) -> Iterator[ProgressFn]:
    """A progress callback drawing on `console` (stderr by default); when not `enabled` (--json) only
    its notes are printed."""
    console = console or Console(stderr=True)
    if not enabled:
        yield Notes(console)
        return
    columns = [SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn()]
    columns.append(TimeElapsedColumn() if transient else TimeRemainingColumn())
    with Progress(*columns, console=console, transient=transient) as bar:
        yield RichProgress(bar)
