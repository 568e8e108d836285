"""Rendering for humans: the tables and summary lines the CLI prints for download and add."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from ..corpus.download import DownloadReport, DownloadResult
from ..corpus.localpdf import AddResult


def _downloaded_detail(r: DownloadResult) -> str:
    notes = [
        escape(n)
        for n in r.reason.split("; ")
        if n and not n.startswith(("title mismatch", "check the link"))
    ]
    if r.title_match is False:
        notes.append("[yellow]title mismatch (see below)[/yellow]")
    return " ".join([escape(f"{r.file} ({r.pages} pages)"), *notes])


def render_report(report: DownloadReport, console: Console) -> None:
    """A summary table: what was fetched, what was there, what failed and why, wrong titles."""
    if report.dry_run:
        planned = report.of("planned")
        table = Table(title=f"Dry run: would fetch {len(planned)} PDF(s); nothing was written")
        for col in ("paper", "version", "url", "file"):
            table.add_column(col, overflow="fold")
        for r in planned:
            version = f"v{r.version}" if r.version else ("latest" if "<latest>" in r.file else "")
            table.add_row(escape(r.paper_id), version, escape(r.url), escape(r.file))
        if planned:
            console.print(table)
        console.print(f"{len(report.of('present'))} already present, {len(report.of('skipped'))} not PDFs")
        return
    rows = [r for r in report.results if r.status in ("downloaded", "failed", "pending")]
    if rows:
        table = Table(title="Download")
        for col in ("paper", "status", "version", "detail"):
            table.add_column(col, overflow="fold")
        styles = {"downloaded": "green", "failed": "red", "pending": "yellow"}
        for r in rows:
            style = styles[r.status]
            detail = escape(r.reason) if r.status != "downloaded" else _downloaded_detail(r)
            version = f"v{r.version}" if r.version else ""
            table.add_row(escape(r.paper_id), f"[{style}]{r.status}[/{style}]", version, detail)
        console.print(table)
    if report.mismatches:
        table = Table(title="Title mismatches: the link may point at the wrong paper")
        for col in ("paper", "catalog title", "source title", "score"):
            table.add_column(col, overflow="fold")
        for r in report.mismatches:
            score = f"{r.title_score or 0:.2f}"
            table.add_row(escape(r.paper_id), escape(r.catalog_title), escape(r.title or "?"), score)
        console.print(table)
    counts = report.to_dict()["counts"]
    console.print(
        f"downloaded {counts['downloaded']}, already present {counts['present']}, "
        f"failed {counts['failed']}, not PDFs {counts['skipped']}, title mismatches {counts['title_mismatches']}"
    )
    if report.interrupted:
        console.print(
            f"Interrupted: {counts['pending']} paper(s) not fetched; what is listed as downloaded is "
            "kept. Run `paperqa download` again to fetch the rest."
        )
    elif not report.ok:
        console.print("Run `paperqa download` again to retry the failed papers; the others are kept.")


def render_add_results(results: list[AddResult], console: Console) -> None:
    """A table of what `add` did with each file, then one summary line."""
    table = Table(title="Imported PDFs")
    for col in ("file", "paper", "matched by", "status", "detail"):
        table.add_column(col, overflow="fold")
    styles = {"added": "green", "present": "cyan", "skipped": "yellow", "failed": "red"}
    for r in results:
        paper = r.paper_id or (f"{r.extra_id} (your own)" if r.extra_id else "")
        style = styles.get(r.status, "white")
        detail = escape(r.reason or (f"{r.stored} v{r.version}" if r.version else r.stored))
        if not r.title_match:
            detail = f"[yellow]title mismatch[/yellow] {detail}"
        table.add_row(
            escape(Path(r.file).name), escape(paper), r.matched_by, f"[{style}]{r.status}[/{style}]", detail
        )
    console.print(table)
    counts = {s: sum(r.status == s for r in results) for s in styles}
    extra = sum(1 for r in results if r.extra_id and r.status == "added")
    console.print(
        f"added {counts['added']} ({extra} of your own), already present {counts['present']}, "
        f"skipped {counts['skipped']}, failed {counts['failed']}"
    )
