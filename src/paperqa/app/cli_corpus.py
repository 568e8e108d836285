"""`paperqa catalog | status | download | add | index`: the reading lists, the PDFs, the index."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from ..errors import UsageError
from .cli_common import (
    EXIT_INTERRUPTED,
    EXIT_PARTIAL,
    EXIT_USAGE,
    HomeOpt,
    JsonOpt,
    app,
    catalog_app,
    err,
    lib_for,
    out,
    print_json,
)
from .progress import rich_progress
from .render import render_add_results, render_report


@catalog_app.callback()
def catalog_list(
    ctx: typer.Context,
    as_json: JsonOpt = False,
    all_items: Annotated[
        bool, typer.Option("--all", help="Include the blog post, repo and unidentified item.")
    ] = False,
    home: HomeOpt = None,
) -> None:
    """List the papers the reading lists name (with --all, every summary item too)."""
    if ctx.invoked_subcommand is not None:
        return
    lib = lib_for(home)
    items = list(lib.catalog.items) if all_items else lib.catalog.papers
    if as_json:
        print_json([_paper_json(p) for p in items])
        return
    table = Table(title=f"{len(lib.catalog.papers)} papers in the catalog", show_lines=False)
    for col in ("id", "year", "title", "organisation", "lists", "fixes"):
        table.add_column(col, overflow="fold")
    for p in items:
        lists = sorted({s.list_id.split("-")[0] for s in p.summaries})
        table.add_row(
            p.paper_id if p.kind == "paper" else f"{p.paper_id} ({p.kind})",
            str(p.year or ""),
            p.title,
            p.organisation,
            ",".join(lists),
            str(len(p.corrections) or ""),
        )
    out.print(table)


def _paper_json(p: Any) -> dict[str, Any]:
    d = p.to_dict()
    d["summaries"] = [
        {k: v for k, v in s.items() if k != "fields"} | {"fields": dict(s["fields"])} for s in d["summaries"]
    ]
    return d


@catalog_app.command("show")
def catalog_show(
    paper_id: Annotated[str, typer.Argument(help="paper_id, arXiv id or alias (e.g. QLoRA).")],
    as_json: JsonOpt = False,
    home: HomeOpt = None,
) -> None:
    """Show one paper with its summary entries and corrections."""
    lib = lib_for(home)
    try:
        p = lib.paper(paper_id)
    except KeyError as exc:
        raise UsageError(str(exc.args[0])) from exc
    if as_json:
        print_json(_paper_json(p))
        return
    out.print(f"[bold]{p.title}[/bold]  ({p.paper_id}{'v' + str(p.version) if p.arxiv_id else ''})")
    out.print(f"kind: {p.kind}   year: {p.year}   published: {p.published}   organisation: {p.organisation}")
    if p.aliases:
        out.print(f"aliases: {', '.join(p.aliases)}")
    out.print(f"page: {p.abs_url}   pdf: {p.source_pdf_url}")
    if p.note:
        out.print(f"note: {p.note}")
    for c in p.corrections:
        out.print(
            f"[yellow]correction[/yellow] ({c.list_id}, {c.field}): the list says «{c.listed}»; right: {c.correct}"
        )
        out.print(f"    evidence: {c.evidence}")
    for s in p.summaries:
        out.rule(f"{s.list_title} — {s.heading}  (line {s.line})")
        out.print(s.text, markup=False)


@catalog_app.command("check")
def catalog_check(as_json: JsonOpt = False, home: HomeOpt = None) -> None:
    """Validate: every list entry mapped, ids unique and well formed, a source for every paper."""
    lib = lib_for(home)
    problems = lib.catalog.check()
    cat = lib.catalog
    summary = {
        "ok": not problems,
        "papers": len(cat.papers),
        "items": len(cat.items),
        "mentions": len(cat.mentions),
        "mentions_by_list": {
            f.stem: sum(1 for m in cat.mentions if m.mention.list_id == f.stem) for f in cat.list_files
        },
        "corrections": sum(len(p.corrections) for p in cat.items),
        "problems": problems,
    }
    if as_json:
        print_json(summary)
    else:
        for line in problems:
            err.print(f"[red]✗[/red] {line}", markup=True, highlight=False)
        by_list = ", ".join(f"{k}: {v}" for k, v in summary["mentions_by_list"].items())
        verdict = "[green]catalog OK[/green]" if not problems else f"[red]{len(problems)} problem(s)[/red]"
        out.print(
            f"{verdict}: {summary['papers']} papers, {summary['items']} items, "
            f"{summary['mentions']} list entries ({by_list}), {summary['corrections']} corrections recorded"
        )
    if problems:
        raise typer.Exit(EXIT_PARTIAL)


@app.command()
def status(as_json: JsonOpt = False, home: HomeOpt = None) -> None:
    """What is under the data root: catalog, PDFs, index."""
    st = lib_for(home).status()
    if as_json:
        print_json(st)
        return
    idx = st["index"]
    out.print(f"data root: {st['home']}")
    out.print(f"catalog: {st['papers']} papers   PDFs: {st['pdfs']} (+{st['extra_pdfs']} of your own)")
    if idx:
        counts = idx.get("counts", {})
        out.print(
            f"index: {idx.get('embedder')} ({idx.get('dim')}-d), {counts}, built {idx.get('built_at', '')}"
        )
    else:
        out.print("index: not built yet — run `paperqa index`")


@app.command()
def download(
    only: Annotated[
        list[str] | None, typer.Option("--only", help="Only these paper ids (repeatable).")
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="List what would be fetched; write nothing.")
    ] = False,
    as_json: JsonOpt = False,
    home: HomeOpt = None,
) -> None:
    """Fetch the listed PDFs (arXiv: one request every 3 s; direct URLs); re-runs fetch only what is missing."""
    lib = lib_for(home)
    if only:
        try:
            only = [lib.catalog.get(x).paper_id for x in only]  # ids, versioned ids or aliases
        except KeyError as exc:
            raise UsageError(str(exc.args[0])) from exc
    with rich_progress(err, enabled=not as_json) as progress:
        report = lib.download(only=only, dry_run=dry_run, progress=progress)
    if as_json:
        print_json(report.to_dict())
    else:
        render_report(report, out)
    if getattr(report, "interrupted", False):  # Ctrl-C caught inside, after the summary
        raise typer.Exit(EXIT_INTERRUPTED)
    if not report.ok:
        raise typer.Exit(EXIT_PARTIAL)


@app.command()
def add(
    paths: Annotated[list[Path], typer.Argument(help="PDF files, or folders of PDFs.")],
    as_json: JsonOpt = False,
    home: HomeOpt = None,
) -> None:
    """Import PDFs you already have; matched by file name, arXiv stamp or title, else kept as your own."""
    results = lib_for(home).add(paths)
    if as_json:
        print_json([r.to_json() for r in results])
    else:
        render_add_results(results, out)
    failed = sum(r.status == "failed" for r in results)
    if failed:  # none imported: an input error (2); some: a partial failure (1)
        raise typer.Exit(EXIT_USAGE if failed == len(results) else EXIT_PARTIAL)


@app.command()
def index(
    full: Annotated[bool, typer.Option("--full", help="Start over instead of updating.")] = False,
    embedder: Annotated[
        str | None,
        typer.Option("--embedder", help="minilm | e5 | use | a sentence-transformers name or path."),
    ] = None,
    backend: Annotated[
        str | None,
        typer.Option(
            "--backend",
            help="faiss (default) | milvus (local milvus-lite file) | milvus-lite:/path/file.db | "
            "milvus://host:19530 (a shared server); other commands read PAPERQA_INDEX.",
        ),
    ] = None,
    as_json: JsonOpt = False,
    home: HomeOpt = None,
) -> None:
    """Build or update the index (incremental by default; atomic: built aside, then swapped in)."""
    lib = lib_for(home, embedder=embedder, index=backend)
    with rich_progress(err, enabled=not as_json, transient=False) as progress:
        result = lib.build_index(full=full, progress=progress)
    if as_json:
        print_json(result)
        return
    ing = result["ingest"]
    for f, reason in ing["skipped"]:
        err.print(f"[yellow]skipped[/yellow] {f}: {reason}", highlight=False)
    stats = result["index"]
    out.print(
        f"index ready: {stats.get('chunks', '?')} chunks from {len(ing['parsed']) + len(ing['cached'])} PDFs "
        f"({len(ing['parsed'])} parsed now, {ing['pages']} pages) + summary entries; "
        f"{stats.get('embedded', '?')} embedded now, {stats.get('reused', '?')} reused; "
        f"{stats.get('seconds', 0):.1f} s"
    )
