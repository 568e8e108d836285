"""What every `paperqa` command shares: the Typer apps, the consoles, the common options."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from ..answer import ENGINES
from ..library import Library
from ..settings import Settings

EXIT_OK, EXIT_PARTIAL, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Ask questions of a reading list of classic LLM papers; answers cite paper, page and summary entry.",
)


catalog_app = typer.Typer(help="The papers the reading lists name.", invoke_without_command=True)
app.add_typer(catalog_app, name="catalog")


out = Console(soft_wrap=True)


err = Console(stderr=True, soft_wrap=True)


HomeOpt = Annotated[
    Path | None, typer.Option("--home", help="Data root (default: $PAPERQA_HOME or the checkout).")
]


JsonOpt = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]


EngineOpt = Annotated[str | None, typer.Option("--engine", help=" | ".join(ENGINES))]


KOpt = Annotated[
    int | None,
    typer.Option(
        "-k",
        min=1,
        help="Passages retrieved for a question (1 or more; default PAPERQA_K, else the fitted number).",
    ),
]
PapersOpt = Annotated[str | None, typer.Option("--papers", help="Restrict to these ids, comma-separated.")]


EmbedderOpt = Annotated[
    str | None, typer.Option("--embedder", help="use | minilm | e5 | a sentence-transformers name or path.")
]


def lib_for(home: Path | None = None, **overrides: Any) -> Library:
    return Library(Settings.load(home=home, **overrides))


def paper_ids(papers: str | None) -> list[str] | None:
    """The ids given to --papers (comma-separated); None: every paper."""
    return papers.split(",") if papers else None


def print_json(obj: Any) -> None:
    sys.stdout.write(json.dumps(obj, ensure_ascii=False, indent=2) + "\n")
