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

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from .errors import PaperqaError, UsageError
from .library import Library
from .settings import Settings

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
EmbedderOpt = Annotated[
    str | None, typer.Option("--embedder", help="use | minilm | e5 | a sentence-transformers name or path.")
]


def _lib(home: Path | None = None, **overrides: Any) -> Library:
    return Library(Settings.load(home=home, **overrides))


def _print_json(obj: Any) -> None:
    sys.stdout.write(json.dumps(obj, ensure_ascii=False, indent=2) + "\n")


# --- catalog ------------------------------------------------------------------


@catalog_app.callback()
def catalog_list(
    ctx: typer.Context,
    as_json: JsonOpt = False,
    all_items: Annotated[
        bool, typer.Option("--all", help="Include the blog post, repo and unidentified item.")
    ] = False,
    home: HomeOpt = None,
) -> None:
    """List the papers (111 on the shipped lists)."""
    if ctx.invoked_subcommand is not None:
        return
    lib = _lib(home)
    items = list(lib.catalog.items) if all_items else lib.catalog.papers
    if as_json:
        _print_json([_paper_json(p) for p in items])
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
    lib = _lib(home)
    try:
        p = lib.paper(paper_id)
    except KeyError as exc:
        raise UsageError(str(exc.args[0])) from exc
    if as_json:
        _print_json(_paper_json(p))
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
    lib = _lib(home)
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
        _print_json(summary)
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


# --- status -------------------------------------------------------------------


@app.command()
def status(as_json: JsonOpt = False, home: HomeOpt = None) -> None:
    """What is under the data root: catalog, PDFs, index."""
    st = _lib(home).status()
    if as_json:
        _print_json(st)
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


# --- download / add -----------------------------------------------------------


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
    from .download import render_report

    lib = _lib(home)
    if only:
        try:
            only = [lib.catalog.get(x).paper_id for x in only]  # ids, versioned ids or aliases
        except KeyError as exc:
            raise UsageError(str(exc.args[0])) from exc
    report = lib.download(only=only, dry_run=dry_run, console=err, progress=not as_json)
    if as_json:
        _print_json(report.to_dict())
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
    from .localpdf import render_add_results

    results = _lib(home).add(paths)
    if as_json:
        _print_json([r.to_json() for r in results])
    else:
        render_add_results(results, out)
    failed = sum(r.status == "failed" for r in results)
    if failed:  # none imported: an input error (2); some: a partial failure (1)
        raise typer.Exit(EXIT_USAGE if failed == len(results) else EXIT_PARTIAL)


# --- index / search / ask / eval ------------------------------------------------


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
    lib = _lib(home, embedder=embedder, index=backend)
    result = lib.build_index(full=full, progress=not as_json, console=err)
    if as_json:
        _print_json(result)
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


@app.command()
def search(
    question: Annotated[str, typer.Argument(help="English or Chinese.")],
    k: Annotated[int, typer.Option("-k", min=1, help="How many passages (1 or more).")] = 10,
    papers: Annotated[
        str | None, typer.Option("--papers", help="Restrict to these ids, comma-separated.")
    ] = None,
    as_json: JsonOpt = False,
    embedder: EmbedderOpt = None,
    home: HomeOpt = None,
) -> None:
    """Ranked passages: paper, pages, section, kind (paper / summary / abstract), score, text."""
    if not question.strip():
        raise UsageError("the question is empty")
    lib = _lib(home, embedder=embedder)
    hits = lib.search(question, k=k, papers=papers.split(",") if papers else None)
    if as_json:
        _print_json([h.to_dict() for h in hits])
        return
    for i, h in enumerate(hits, 1):
        where = (
            f"pp. {h.page_start}-{h.page_end}"
            if h.page_end > h.page_start
            else (f"p. {h.page_start}" if h.page_start else h.kind)
        )
        out.print(
            f"[bold]{i}. {h.title}[/bold] ({h.paper_id}, {where}{', ' + h.section if h.section else ''})  score {h.score:.4f}"
        )
        out.print("   " + h.text[:300].replace("\n", " ") + ("…" if len(h.text) > 300 else ""), markup=False)


@app.command()
def ask(
    question: Annotated[str, typer.Argument(help="English or Chinese.")],
    engine: Annotated[str | None, typer.Option("--engine", help="extractive | llama | openai")] = None,
    k: Annotated[
        int | None, typer.Option("-k", min=1, help="Passages given to the answer (1 or more).")
    ] = None,
    papers: Annotated[
        str | None, typer.Option("--papers", help="Restrict to these ids, comma-separated.")
    ] = None,
    as_json: JsonOpt = False,
    fmt: Annotated[
        str | None,
        typer.Option("--format", help="markdown (answer and citations) | bibtex (the cited papers)."),
    ] = None,
    embedder: EmbedderOpt = None,
    home: HomeOpt = None,
) -> None:
    """Answer a question with citations to paper, page and summary entry."""
    from .export import FORMATS, export, manifest_authors

    if not question.strip():
        raise UsageError("the question is empty")
    if fmt is not None and fmt not in FORMATS:
        raise UsageError(f"unknown --format '{fmt}'; use one of: {', '.join(FORMATS)}")
    if fmt is not None and as_json:
        raise UsageError("--json and --format each choose the output: give one of them")
    lib = _lib(home, embedder=embedder)
    final = None
    for item in lib.ask_stream(question, engine=engine, k=k, papers=papers.split(",") if papers else None):
        if isinstance(item, str):
            if not as_json and fmt is None:
                out.print(item, end="", markup=False, highlight=False)
        else:
            final = item
    assert final is not None
    if as_json:
        _print_json(final.to_dict())
        return
    if fmt is not None:
        authors = manifest_authors(lib.settings) if fmt == "bibtex" else None
        text = export(final, fmt, lib.catalog, authors=authors)
        if not text:
            err.print("declined: no papers cited, nothing to export as BibTeX", highlight=False)
        sys.stdout.write(text)
        return
    out.print()
    _print_citations(final)


def _print_citations(final: Any) -> None:
    """The citations under an answer, as `ask` and `chat` print them."""
    shown: set[str] = set()
    for c in final.citations:
        pages = "-".join(str(p) for p in (c.pages[:1] + c.pages[-1:] if len(c.pages) > 1 else c.pages))
        out.print(
            f"[{c.number}] {c.title} ({c.paper_id}v{c.version}, {c.year}){', p. ' + pages if pages else ''}{', ' + c.section if c.section else ''}",
            markup=False,
        )
        if c.quote:
            out.print(f"    “{c.quote.text}”", markup=False)
        out.print(f"    {c.pdf_url}", markup=False)
        if c.paper_id in shown:
            continue  # a paper's summary entries once, under its first citation
        shown.add(c.paper_id)
        for s in c.summaries[:2]:
            out.print(
                f"    {s.list_title} — {s.heading}: {s.text[:120].replace(chr(10), ' ')}…", markup=False
            )


@app.command()
def chat(
    engine: Annotated[str | None, typer.Option("--engine", help="extractive | llama | openai")] = None,
    k: Annotated[
        int | None, typer.Option("-k", min=1, help="Passages given to each answer (1 or more).")
    ] = None,
    papers: Annotated[
        str | None, typer.Option("--papers", help="Restrict to these ids, comma-separated.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON answer a line (JSON lines).")] = False,
    embedder: EmbedderOpt = None,
    home: HomeOpt = None,
) -> None:
    """A conversation: one question a line from stdin (typed or piped), each answered with
    citations like `ask`; follow-ups ("How much memory does it need?") are read against the
    previous turn. `/new` starts a new conversation; end of input (Ctrl-D) ends the session."""
    from .conversation import Conversation

    lib = _lib(home, embedder=embedder)
    session = Conversation(lib, engine=engine, k=k, papers=papers.split(",") if papers else None)
    interactive = sys.stdin.isatty()
    if interactive and not as_json:
        out.print("Ask a question (/new: a new conversation, Ctrl-D: quit).", markup=False)
    failed = 0
    while True:
        try:
            line = input("> " if interactive else "")
        except EOFError:
            break
        question = line.strip()
        if not question:
            continue
        if question.lower() in ("/new", "/reset"):
            session.reset()
            if not as_json:
                out.print("(new conversation)", markup=False)
            continue
        if question.lower() in ("/quit", "/exit"):
            break
        final = None
        try:
            for item in session.ask_stream(question):
                if isinstance(item, str):
                    if not as_json:
                        out.print(item, end="", markup=False, highlight=False)
                else:
                    final = item
        except PaperqaError as exc:  # one failed turn (an engine down) does not end the session
            failed += 1
            err.print(f"[red]error:[/red] {escape(str(exc))}", highlight=False)
            continue
        assert final is not None
        if as_json:
            sys.stdout.write(json.dumps(final.to_dict(), ensure_ascii=False) + "\n")
            sys.stdout.flush()
            continue
        out.print()
        _print_citations(final)
        out.print()
    if failed:
        raise typer.Exit(EXIT_PARTIAL)


@app.command()
def history(
    query: Annotated[
        str | None, typer.Argument(help="Words the question or answer contains (English or Chinese).")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, help="At most this many entries (1 or more).")] = 50,
    as_json: JsonOpt = False,
    home: HomeOpt = None,
) -> None:
    """Past questions and answers, newest first (kept under the data root; off: PAPERQA_HISTORY=0)."""
    lib = _lib(home)
    entries = lib.history(query, limit=limit)
    if not lib.settings.history:
        err.print("history is off (PAPERQA_HISTORY=0): new answers are not kept", highlight=False)
    if as_json:
        _print_json([e.to_dict() for e in entries])
        return
    if not entries:
        out.print(
            f"nothing in the history matches '{query}'" if query else "the history is empty", markup=False
        )
        return
    for e in entries:  # lines, not a table: a question is never folded, and grep finds it
        when = e.asked_at.replace("T", " ").removesuffix("+00:00")
        flag = "  declined" if e.declined else ""
        question = " ".join(e.question.split())
        out.print(f"{when} UTC  {e.engine}{flag}  {question}", markup=False, highlight=False)
        out.print(f"    cited: {', '.join(e.cited) or '-'}", markup=False, highlight=False)


@app.command("eval")
def eval_cmd(
    questions: Annotated[
        list[Path] | None,
        typer.Argument(help="Question files, JSON lines: {id, q, lang, expect} (see eval/README.md)."),
    ] = None,
    conversations: Annotated[
        Path | None,
        typer.Option(
            "--conversations",
            help="Score conversations instead (JSON lines: {id, lang, turns}): follow-ups vs standalone.",
        ),
    ] = None,
    answers: Annotated[
        bool, typer.Option("--answers", help="Also answer each question and score the citations.")
    ] = False,
    engine: Annotated[str | None, typer.Option("--engine", help="extractive | llama | openai")] = None,
    k: Annotated[int, typer.Option("-k", min=1, help="Passages retrieved per question (1 or more).")] = 10,
    as_json: JsonOpt = False,
    embedder: EmbedderOpt = None,
    home: HomeOpt = None,
) -> None:
    """Retrieval (and answer) metrics over a question file, in one process."""
    if bool(questions) == (conversations is not None):
        raise UsageError("give a question file or --conversations FILE (one of them)")
    lib = _lib(home, embedder=embedder)
    if conversations is not None:
        _eval_conversations(lib, conversations, engine, as_json)
        return
    assert questions is not None
    report = lib.evaluate(questions, answers=answers, engine=engine, k=k)
    if as_json:
        _print_json(report)
        return
    for r in report["results"]:
        mark = "✓" if r["rank"] == 1 else ("·" if r["rank"] else ("-" if not r["expect"] else "✗"))
        extra = f"  cited={r['cited'][:3]} declined={r['declined']}" if "cited" in r else ""
        out.print(
            f"{mark} {r['id']} [{r['lang']}] rank={r['rank']} top={r['retrieved'][:3]}{extra}  {r['q']}",
            markup=False,
        )
    out.print_json(data=report["summary"])


def _eval_conversations(lib: Library, path: Path, engine: str | None, as_json: bool) -> None:
    report = lib.evaluate_conversations(path, engine=engine)
    if as_json:
        _print_json(report)
        return
    for r in report["results"]:
        f, s = r["follow_up"], r.get("standalone")
        mark = "✓" if f["hit"] else "✗"
        alone = f"  standalone={'✓' if s['hit'] else '✗'}" if s else ""
        out.print(f"{mark} {r['id']} [{r['lang']}] cited={f['cited'][:2]}{alone}  {r['q']}", markup=False)
    table = Table(title="follow-up turns vs the same questions standalone")
    for col in ("set", "n", "cited hit@1", "standalone", "Δ", "nugget recall", "standalone", "Δ"):
        table.add_column(col)
    for name, b in report["summary"].items():
        f, s, d = b.get("follow_up", {}), b.get("standalone", {}), b.get("delta", {})
        table.add_row(
            name,
            str(b["n"]),
            *(
                str(x)
                for x in (
                    f.get("cited_hit@1"),
                    s.get("cited_hit@1"),
                    d.get("cited_hit@1"),
                    f.get("nugget_recall"),
                    s.get("nugget_recall"),
                    d.get("nugget_recall"),
                )
            ),
        )
    out.print(table)


@app.command()
def serve(
    host: Annotated[str | None, typer.Option("--host")] = None,
    port: Annotated[int | None, typer.Option("--port")] = None,
    embedder: EmbedderOpt = None,
    home: HomeOpt = None,
) -> None:
    """Start the web chat (Gradio) on 127.0.0.1 by default; no public share link."""
    from .webapp import launch

    launch(_lib(home, host=host, port=port, embedder=embedder))


def _usage_errors() -> tuple[type[Exception], ...]:
    """Typer's usage errors: its own classes since it vendored click, click's before (typer>=0.12)."""
    kinds: list[type[Exception]] = []
    if isinstance(getattr(typer, "TyperException", None), type):
        kinds.append(typer.TyperException)
    try:
        import click
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
