"""`paperqa search | ask | chat | history | eval | serve`: questions and their answers."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from ..answer.ask import Conversation
from ..errors import PaperqaError, UsageError
from ..keep.export import FORMATS, export, manifest_authors
from ..library import Library
from .cli_common import (
    EXIT_PARTIAL,
    EmbedderOpt,
    EngineOpt,
    HomeOpt,
    JsonOpt,
    KOpt,
    PapersOpt,
    app,
    err,
    lib_for,
    out,
    paper_ids,
    print_json,
)
from .web import launch


@app.command()
def search(
    question: Annotated[str, typer.Argument(help="English or Chinese.")],
    k: KOpt = None,
    papers: PapersOpt = None,
    as_json: JsonOpt = False,
    embedder: EmbedderOpt = None,
    home: HomeOpt = None,
) -> None:
    """Ranked passages: paper, pages, section, kind (paper / summary / abstract), score, text."""
    if not question.strip():
        raise UsageError("the question is empty")
    lib = lib_for(home, embedder=embedder)
    hits = lib.search(question, k=k, papers=paper_ids(papers))
    if as_json:
        print_json([h.to_dict() for h in hits])
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
    engine: EngineOpt = None,
    k: KOpt = None,
    papers: PapersOpt = None,
    as_json: JsonOpt = False,
    fmt: Annotated[
        str | None,
        typer.Option("--format", help="markdown (answer and citations) | bibtex (the cited papers)."),
    ] = None,
    embedder: EmbedderOpt = None,
    home: HomeOpt = None,
) -> None:
    """Answer a question with citations to paper, page and summary entry."""
    if not question.strip():
        raise UsageError("the question is empty")
    if fmt is not None and fmt not in FORMATS:
        raise UsageError(f"unknown --format '{fmt}'; use one of: {', '.join(FORMATS)}")
    if fmt is not None and as_json:
        raise UsageError("--json and --format each choose the output: give one of them")
    lib = lib_for(home, embedder=embedder)
    final = None
    for item in lib.ask_stream(question, engine=engine, k=k, papers=paper_ids(papers)):
        if isinstance(item, str):
            if not as_json and fmt is None:
                out.print(item, end="", markup=False, highlight=False)
        else:
            final = item
    assert final is not None
    if as_json:
        print_json(final.to_dict())
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
    engine: EngineOpt = None,
    k: KOpt = None,
    papers: PapersOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON answer a line (JSON lines).")] = False,
    embedder: EmbedderOpt = None,
    home: HomeOpt = None,
) -> None:
    """A conversation: one question a line from stdin (typed or piped), each answered with
    citations like `ask`; follow-ups ("How much memory does it need?") are read against the
    previous turn. `/new` starts a new conversation; end of input (Ctrl-D) ends the session."""
    lib = lib_for(home, embedder=embedder)
    session = Conversation(lib, engine=engine, k=k, papers=paper_ids(papers))
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
    lib = lib_for(home)
    entries = lib.history(query, limit=limit)
    if not lib.settings.history:
        err.print("history is off (PAPERQA_HISTORY=0): new answers are not kept", highlight=False)
    if as_json:
        print_json([e.to_dict() for e in entries])
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
    engine: EngineOpt = None,
    k: KOpt = None,
    as_json: JsonOpt = False,
    embedder: EmbedderOpt = None,
    home: HomeOpt = None,
) -> None:
    """Retrieval (and answer) metrics over a question file, in one process."""
    if bool(questions) == (conversations is not None):
        raise UsageError("give a question file or --conversations FILE (one of them)")
    lib = lib_for(home, embedder=embedder)
    if conversations is not None:
        _eval_conversations(lib, conversations, engine, as_json)
        return
    assert questions is not None
    report = lib.evaluate(questions, answers=answers, engine=engine, k=k)
    if as_json:
        print_json(report)
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
        print_json(report)
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
    launch(lib_for(home, host=host, port=port, embedder=embedder))
