"""`paperqa` command line: a thin shell over `paperqa.Library`.

Every command that prints results takes `--json`. Errors a user can fix (`PaperqaError`) are
printed as one clear line (what, where, the way out), never a traceback. Exit codes, so that
scripts and `make` can tell success from failure (README, "Exit codes"):

    0    everything asked was done
    1    partial failure: some of it was not done (failed files or papers, catalog problems)
    2    usage or input error: nothing was done (bad option, unreadable file, missing index)
    130  interrupted (Ctrl-C)
"""

from __future__ import annotations

import sys

import typer
from rich.markup import escape

from ..errors import PaperqaError
from . import cli_corpus, cli_questions  # noqa: F401  (importing them registers their commands)
from .cli_common import EXIT_INTERRUPTED, EXIT_OK, app, err

# --- index / search / ask / eval ------------------------------------------------


def _usage_errors() -> tuple[type[Exception], ...]:
    """Typer's usage errors: its own classes since it vendored click, click's before (typer>=0.12)."""
    kinds: list[type[Exception]] = []
    if isinstance(getattr(typer, "TyperException", None), type):
        kinds.append(typer.TyperException)
    try:
        import click  # late: typer vendors click since 0.12; older ones raise click's errors
    except ImportError:
        pass
    else:
        kinds.append(click.ClickException)
    return tuple(kinds)


def run(argv: list[str] | None = None) -> int:
    """Run the CLI and return its exit code (0, 1, 2 or 130; see the module docstring).

    Typer is run with `standalone_mode=False` so that `PaperqaError` reaches this function and is
    printed as one line; in that mode Typer *returns* the code of `typer.Exit` (and 130 for a
    Ctrl-C it caught) instead of exiting, so the code must be passed on, not dropped.
    """
    try:
        code = app(args=argv, prog_name="paperqa", standalone_mode=False)
    except PaperqaError as exc:
        err.print(f"[red]error:[/red] {escape(str(exc))}", highlight=False)
        return exc.exit_code
    except (KeyboardInterrupt, typer.Abort):  # Ctrl-C outside a command (e.g. while importing)
        code = EXIT_INTERRUPTED
    except _usage_errors() as exc:  # bad usage: unknown option, -k 0, a missing argument
        show = getattr(exc, "show", None)
        if callable(show):
            show()
        else:
            err.print(f"[red]error:[/red] {escape(exc.format_message())}", highlight=False)
        return exc.exit_code
    if not isinstance(code, int) or isinstance(code, bool):
        code = EXIT_OK  # a command's return value (None) is not an exit code
    if code == EXIT_INTERRUPTED:
        err.print("interrupted")
    return code


def main() -> None:
    """Console-script entry point: exits with the code of `run`."""
    sys.exit(run())


if __name__ == "__main__":
    main()
