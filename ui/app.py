"""paperqa web chat: ask the reading list in English or Chinese, get answers with citation cards.

`build_app(lib)` builds the Gradio Blocks; `launch(lib)` serves it on settings.host:settings.port
(127.0.0.1:7860 by default) next to three routes of its own: the corpus PDFs (and nothing else),
the reader page, and the reader's static files (PDF.js, vendored in ui/vendor/pdfjs: no CDN), so a
citation opens the local copy beside the chat at the cited page, the quote highlighted, offline.

The handlers stay thin: every answer, search and status comes from the `Library`; this file
only validates input, streams, and turns records into escaped HTML. The rendering helpers are
pure functions so they can be tested without a server.
"""

from __future__ import annotations

import html
import logging
import re
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote as url_quote
from urllib.parse import urlencode, urlsplit

import gradio as gr
from starlette.datastructures import Headers
from starlette.responses import PlainTextResponse

from paperqa.answer import DECLINE, ENGINES
from paperqa.records import Answer, Citation, Correction, Paper, SummaryEntry

if TYPE_CHECKING:
    import fastapi
    import uvicorn
    from starlette.types import ASGIApp, Receive, Scope, Send

    from paperqa.library import Library

log = logging.getLogger("paperqa.ui")

MAX_QUESTION_CHARS = 2000
MAX_K = 20
PDF_ROUTE = "/paperqa/pdf"  # + /<paper_id>; serves only PDFs the manifest lists under corpus/pdfs
READER_ROUTE = "/paperqa/reader"  # ?paper=&page=&quote=&title=: PDF.js at the page, quote highlighted
ASSET_ROUTE = "/paperqa/assets"  # + /static/... and /vendor/pdfjs/...: the files under ui/ listed below
UI_DIR = Path(__file__).resolve().parent
ASSET_DIRS = ("static", "vendor")  # under UI_DIR; nothing else in ui/ (app.py itself) is served
ASSET_TYPES = {  # the only file types served from them, with the type browsers need (.mjs as JS)
    ".mjs": "text/javascript; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".html": "text/html; charset=utf-8",
    ".gif": "image/gif",
    ".svg": "image/svg+xml",
    ".pfb": "application/octet-stream",
    ".ttf": "font/ttf",
}
# The reader runs PDF.js on our own files only: no eval, no other origin, framed by this app alone.
READER_CSP = (
    "default-src 'self'; script-src 'self'; worker-src 'self' blob:; connect-src 'self'; "
    "style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; font-src 'self' data: blob:; "
    "object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'self'"
)
MAX_QUOTE_IN_URL = 1000  # characters; a verified quote is one sentence, this only bounds a link
MAX_FILE_SIZE = 100 * 1024  # bytes; the app takes no files, this bounds what a same-origin client posts
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
ASK_CONCURRENCY = 1  # one answer at a time: a local LLM is neither thread-safe nor fast on a CPU
QUEUE_SIZE = 64  # beyond this, gradio tells the user the queue is full instead of piling up
EXAMPLES = (
    "How does QLoRA save memory?",
    "QLoRA是如何节省显存的？",
    "What is the Transformer's self-attention and why does it replace recurrence?",
    "What is chain-of-thought prompting?",
    "RLHF 是如何让模型遵循指令的？",
    "LoRA 为什么只训练低秩矩阵？",
)
# The sentences the pipeline declines with; the head above already says them, so they are not repeated.
_STOCK_DECLINES = frozenset(DECLINE.values())
# What starts a tag or an entity, and the markdown marks that act anywhere in a line. An
# underscore inside a word (max_seq_len) is not emphasis and stays as typed.
_HTML_START = re.compile(r"<|&(?=#?[A-Za-z0-9]+;)")
_MD_INLINE = re.compile(r"[\\`*\[\]~|]|(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])")
_PAPER_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
# Chinese needs a CJK font in the stack, or the browser falls back to boxes on some systems.
FONT_STACK = (
    "'IBM Plex Sans', 'Noto Sans CJK SC', 'Noto Sans SC', 'Source Han Sans SC', 'PingFang SC', "
    "'Hiragino Sans GB', 'Microsoft YaHei', 'WenQuanYi Micro Hei', system-ui, sans-serif"
)


# --- input --------------------------------------------------------------------------------


def validate_question(text: str | None) -> str | None:
    """The problem with a question, for the user to read, or None when it can be asked."""
    question = (text or "").strip()
    if not question:
        return (
            "Please type a question first — for example “How does QLoRA save memory?” "
            "or “QLoRA是如何节省显存的？”."
        )
    if len(question) > MAX_QUESTION_CHARS:
        return (
            f"That question is {len(question):,} characters long; questions are limited to "
            f"{MAX_QUESTION_CHARS:,} characters. Please shorten it (your text is still in the box)."
        )
    return None


def notice_html(message: str) -> str:
    """The alert shown under the input box (empty string clears it)."""
    return f'<div class="pqa-notice" role="alert">⚠️ {esc(message)}</div>' if message else ""


# --- escaping and links -----------------------------------------------------------------------


def esc(text: object) -> str:
    """Escape anything that goes into HTML: list text, quotes and titles are never markup."""
    return html.escape(str(text), quote=True)


def esc_block(text: str) -> str:
    """Escaped multi-line text as one line of HTML (a blank line would end markdown's HTML block)."""
    lines = [esc(line.strip()) for line in str(text).strip().splitlines()]
    return "<br>".join(line for line in lines if line)


def user_text_markdown(text: str) -> str:
    """The user's question as they typed it: tags and markdown they type are shown, never applied.

    The chat renders markdown, then sanitized HTML, so what would act is escaped (`<` and an
    entity's `&` as entities, markdown marks with a backslash) and nothing else: a plain question
    stays as typed, which is what the bubble's copy button and screen-reader label give back.
    """
    lines = []
    for line in str(text).splitlines():
        line = line.strip()  # leading blanks would make a code block
        line = _HTML_START.sub(lambda m: "&lt;" if m.group() == "<" else "&amp;", line)
        line = _MD_INLINE.sub(r"\\\g<0>", line)
        if line.startswith(">"):
            line = "&gt;" + line[1:]  # a quote block
        elif line[:1] in ("#", "+", "-", "="):
            line = "\\" + line  # a heading, a list item, a rule or a setext underline
        elif numbered := re.match(r"\d{1,9}(?=[.)])", line):
            line = f"{numbered.group()}\\{line[numbered.end() :]}"  # an ordered list item
        lines.append(line)
    return "\n".join(lines)


def esc_markdown_text(text: str) -> str:
    """Engine text goes through markdown: keep its emphasis, but no tags and no raw HTML blocks."""
    return html.escape(str(text).strip(), quote=False)


def safe_url(url: str) -> str:
    """Only web links and our own PDF route may become an href (no javascript:, file:, data:)."""
    url = (url or "").strip()
    if url.startswith((PDF_ROUTE + "/", READER_ROUTE + "?")):
        return url
    parts = urlsplit(url)
    return url if parts.scheme in ("http", "https") and parts.netloc else ""


def paper_class(paper_id: str) -> str:
    """A CSS class naming a paper (the chat's sanitizer drops data-* attributes, keeps classes)."""
    return "pqa-p-" + re.sub(r"[^A-Za-z0-9_-]", "-", paper_id)


def local_pdf_url(paper_id: str, page: int = 0) -> str:
    anchor = f"#page={page}" if page > 0 else ""
    return f"{PDF_ROUTE}/{url_quote(paper_id, safe='')}{anchor}"


def reader_url(paper_id: str, page: int = 0, quote: str = "", title: str = "") -> str:
    """The in-app reader at `page` of a corpus PDF, `quote` to highlight there (the link works in a tab
    of its own too; on the chat page a click opens it in the reader beside the chat)."""
    args = {"paper": paper_id}
    if page > 0:
        args["page"] = str(page)
    if quote and len(quote) <= MAX_QUOTE_IN_URL:
        args["quote"] = quote
    if title:
        args["title"] = title[:200]
    return f"{READER_ROUTE}?{urlencode(args)}"


def with_page(url: str, page: int) -> str:
    """A remote PDF URL opened at `page` (keeps a #page= the engine already set)."""
    if not url or page <= 0 or "#page=" in url:
        return url
    return f"{url.split('#', 1)[0]}#page={page}"


def page_label(pages: Sequence[int]) -> str:
    pages = sorted({p for p in pages if p > 0})
    if not pages:
        return ""
    if len(pages) == 1:
        return f"p. {pages[0]}"
    if pages == list(range(pages[0], pages[-1] + 1)):
        return f"pp. {pages[0]}–{pages[-1]}"
    return "pp. " + ", ".join(str(p) for p in pages)


def _link(label: str, url: str, cls: str = "") -> str:
    url = safe_url(url)
    if not url:
        return ""
    klass = f' class="{cls}"' if cls else ""
    return f'<a{klass} href="{esc(url)}" target="_blank" rel="noopener noreferrer">{esc(label)}</a>'


def _is_arxiv(url: str) -> bool:
    return urlsplit(url).netloc.endswith("arxiv.org")


# --- citation cards ---------------------------------------------------------------------------


def summary_entries_html(entries: Iterable[SummaryEntry]) -> str:
    """The reading lists' own entries for a paper: list title, heading, whole text."""
    parts = []
    for s in entries:
        parts.append(
            '<div class="pqa-entry">'
            f'<div class="pqa-entry-head"><span class="pqa-list">{esc(s.list_title)}</span>'
            f' · <span class="pqa-heading">{esc(s.heading)}</span>'
            f' <span class="pqa-line">(line {int(s.line)})</span></div>'
            f'<div class="pqa-entry-text">{esc_block(s.text)}</div>'
            "</div>"
        )
    return "".join(parts)


def citation_card_html(
    c: Citation, *, paper: Paper | None = None, local_pdf: bool = False, open_: bool = False
) -> str:
    """One collapsible card: quote, pages, section, PDF at the page, arXiv abstract, list entries.

    `local_pdf` says the corpus holds this paper's PDF, so the card links the in-app reader at the
    cited page with the quote highlighted (works offline); the remote PDF (arXiv) is linked too.
    Without a local PDF the card says so and offers the arXiv links and the list's summary entry.
    A file:// pdf_url is never linked.
    """
    page = c.quote.page if c.quote and c.quote.page > 0 else (min(c.pages) if c.pages else 0)
    pages = page_label(c.pages or ((page,) if page else ()))
    remote_pdf = safe_url(c.pdf_url) or (paper.source_pdf_url if paper else "")
    remote_pdf = with_page(safe_url(remote_pdf), page)
    abs_url = safe_url(c.abs_url) or (paper.abs_url if paper else "")

    head = [
        f'<span class="pqa-num">[{int(c.number)}]</span>',
        f'<span class="pqa-title">{esc(c.title)}</span>',
    ]
    meta = [str(c.year) if c.year else "", pages, f"§ {c.section}" if c.section else ""]
    if c.kind in ("summary", "abstract"):
        meta.append("reading-list entry" if c.kind == "summary" else "abstract")
    head.append(f'<span class="pqa-meta">{esc(" · ".join(m for m in meta if m))}</span>')

    body = []
    if c.quote is not None and c.quote.text.strip():
        if c.kind == "summary":
            where, check = "", "quoted from the reading list's entry"
        elif c.quote.page <= 0:
            where, check = "", "from the paper's title and abstract" if c.kind == "abstract" else ""
        else:
            where = f"p. {c.quote.page}"
            check = "verbatim from the PDF page" if c.quote.verbatim else "not found verbatim on the page"
        body.append(
            f'<blockquote class="pqa-quote">“{esc_block(c.quote.text)}”</blockquote>'
            f'<div class="pqa-quote-meta">{esc(" · ".join(x for x in (where, check) if x))}</div>'
        )
    links = []
    if local_pdf:
        # the quote is highlighted only where it was verified on that very page
        quote = c.quote.text if c.quote and c.quote.verbatim and c.quote.page == page > 0 else ""
        label = f"Read p. {page} here" if page else "Read the PDF here"
        links.append(_link(label, reader_url(c.paper_id, page, quote, c.title), "pqa-read pqa-pdf"))
    else:
        links.append('<span class="pqa-nopdf">no local PDF</span>')
    if remote_pdf:
        site = "arXiv PDF" if _is_arxiv(remote_pdf) else "PDF"
        links.append(_link(f"{site} at p. {page}" if page else site, remote_pdf, "pqa-pdf-remote"))
    if abs_url:
        links.append(_link("arXiv abstract" if _is_arxiv(abs_url) else "Paper page", abs_url, "pqa-abs"))
    ident = f"{c.paper_id}v{c.version}" if c.version else c.paper_id
    links.append(f'<span class="pqa-id">{esc(ident)}</span>')
    body.append('<div class="pqa-links">' + " · ".join(x for x in links if x) + "</div>")

    entries = tuple(c.summaries) or (paper.summaries if paper else ())
    if entries:
        body.append(
            '<div class="pqa-entries"><div class="pqa-entries-title">Reading list summary</div>'
            + summary_entries_html(entries)
            + "</div>"
        )
    return (
        f'<details class="pqa-card {paper_class(c.paper_id)}"{" open" if open_ else ""}>'
        f"<summary>{' '.join(head)}</summary>"
        f'<div class="pqa-card-body">{"".join(body)}</div>'
        "</details>"
    )


def declined_html(answer: Answer, find: Callable[[str], Paper | None]) -> str:
    """A declined answer: say plainly the list does not cover it, and offer the closest papers."""
    said = answer.answer.strip()
    lines = [f'<div class="pqa-declined"><div class="pqa-declined-head">{esc(DECLINE["en"])}']
    if answer.language == "zh":
        lines.append(f" {esc(DECLINE['zh'])}")
    lines.append("</div>")
    if said and said not in _STOCK_DECLINES:  # the engine's own words, unless it is the stock line
        lines.append(f'<div class="pqa-declined-text">{esc_block(said)}</div>')
    closest = [find(pid) or pid for pid in answer.closest]
    if closest:
        lines.append(
            '<div class="pqa-closest-title">Closest papers on the list:</div><ul class="pqa-closest">'
        )
        for p in closest:
            if isinstance(p, Paper):
                year = f" ({p.year})" if p.year else ""
                title = _link(p.title, p.abs_url) or esc(p.title)
                lines.append(f'<li class="{paper_class(p.paper_id)}">{title}{esc(year)}</li>')
            else:
                lines.append(f'<li class="{paper_class(p)}">{esc(p)}</li>')
        lines.append("</ul>")
    lines.append("</div>")
    return "".join(lines)


def _pre(text: str) -> str:
    """Text for a <pre> kept on one source line (a newline would end markdown's HTML block)."""
    return esc(text.strip("\n")).replace("\n", "&#10;")


def export_html(exports: tuple[str, str] | None) -> str:
    """Under an answer: the answer as Markdown and its papers as BibTeX, each to open or copy.

    A click on a summary copies its text (ui/static/app.mjs); the text is shown too, so it can be
    selected by hand where the clipboard is not available.
    """
    if not exports:
        return ""
    parts = []
    for kind, label, text in (("md", "Copy as Markdown", exports[0]), ("bib", "BibTeX", exports[1])):
        if text.strip():
            parts.append(
                f'<details class="pqa-exp pqa-exp-{kind}"><summary class="pqa-copy">{esc(label)}</summary>'
                f'<pre class="pqa-exp-text">{_pre(text)}</pre></details>'
            )
    return f'<div class="pqa-export">{"".join(parts)}</div>' if parts else ""


def answer_markdown(
    answer: Answer,
    find: Callable[[str], Paper | None],
    local_pdfs: Iterable[str] = (),
    exports: tuple[str, str] | None = None,
) -> str:
    """The whole assistant message: answer text (markdown), then one line of card HTML.

    `exports` is (Markdown, BibTeX) of the answer (`export_texts`), offered under it.
    """
    footer = f'{export_html(exports)}<div class="pqa-footer">{esc(_footer(answer))}</div>'
    if answer.declined:
        return declined_html(answer, find) + footer
    local = set(local_pdfs)
    cards = "".join(
        citation_card_html(c, paper=find(c.paper_id), local_pdf=c.paper_id in local, open_=i == 0)
        for i, c in enumerate(answer.citations)
    )
    text = esc_markdown_text(answer.answer) or "_(no answer text)_"
    if not cards:
        return f"{text}\n\n{footer}"
    count = len(answer.citations)
    title = f'<div class="pqa-cards-title">{count} source{"s" if count != 1 else ""}</div>'
    return f'{text}\n\n<div class="pqa-cards">{title}{cards}</div>{footer}'


def export_texts(lib: Any, answer: Answer) -> tuple[str, str] | None:
    """The answer as Markdown and its cited papers as BibTeX (paperqa.keep.export); None if unavailable.

    Exporting is a convenience: a failure is logged and the answer is shown without it.
    """
    try:
        from paperqa.keep.export import manifest_authors, to_bibtex, to_markdown
    except ImportError:
        return None
    try:
        try:
            authors = manifest_authors(lib.settings)
        except Exception:  # no manifest (or a fake one): BibTeX without author fields
            authors = {}
        return to_markdown(answer, lib.catalog), to_bibtex(answer, lib.catalog, authors=authors)
    except Exception as exc:
        log.warning("export of %r failed: %s", answer.question, exc)
        return None


def local_pdfs_of(lib: Any, answer: Answer) -> set[str]:
    """The cited papers whose PDF is in the corpus (their cards open the reader)."""
    return {c.paper_id for c in answer.citations if lib.pdf_path(c.paper_id)}


def _footer(answer: Answer) -> str:
    bits = [f"engine: {answer.engine}"]
    t = answer.timings
    total = float(t.get("total_ms", 0) or 0) + float(t.get("retrieve_ms", 0) or 0)
    if total:
        bits.append(f"{total:.0f} ms" if total < 1000 else f"{total / 1000:.1f} s")
    return " · ".join(bits)


def error_markdown(exc: BaseException) -> str:
    """A failure the user can act on (no index yet, engine missing) without a traceback."""
    return f'<div class="pqa-error">⚠️ {esc(str(exc) or type(exc).__name__)}</div>'


# --- chat handler -------------------------------------------------------------------------------


def _message(role: str, content: str) -> dict[str, Any]:
    return {"role": role, "content": content}


def respond(
    lib: Any,
    message: str | None,
    history: list[dict[str, Any]] | None,
    engine: str | None = None,
    k: float | None = None,
    papers: list[str] | None = None,
    turns: list[tuple[str, Answer]] | None = None,
) -> Iterator[tuple[Any, Any, Any]]:
    """Stream one answer into the chat; yields (chat history, input box, notice).

    `turns` is the conversation so far, (question, Answer) pairs: a follow-up ("How much memory
    does it need?") is read against it, and the new turn is appended to it. Invalid input leaves
    the chat and the input box as they are and shows the notice.
    """
    history = list(history or [])
    problem = validate_question(message)
    if problem:
        yield history, gr.skip(), notice_html(problem)
        return
    question = (message or "").strip()
    history.append(_message("user", user_text_markdown(question)))
    history.append(_message("assistant", "_Searching the reading list…_"))
    yield list(history), "", ""
    text = ""
    try:
        for item in lib.ask_stream(
            question,
            engine=engine or None,
            k=int(k) if k else None,
            papers=list(papers) if papers else None,
            **({"history": list(turns)} if turns else {}),
        ):
            if isinstance(item, str):
                text += item
                history[-1] = _message("assistant", esc_markdown_text(text) + " ▌")
                yield list(history), gr.skip(), gr.skip()
            else:
                shown = answer_markdown(
                    item, lib.catalog.find, local_pdfs_of(lib, item), exports=export_texts(lib, item)
                )
                history[-1] = _message("assistant", shown)
                if turns is not None:
                    turns.append((question, item))
                yield list(history), gr.skip(), gr.skip()
                return
    except Exception as exc:  # shown in the chat; the server keeps serving the others
        log.exception("answering %r failed", question)
        history[-1] = _message("assistant", error_markdown(exc))
        yield list(history), gr.skip(), gr.skip()
        return
    history[-1] = _message("assistant", error_markdown(RuntimeError("the answer engine returned no answer")))
    yield list(history), gr.skip(), gr.skip()


# --- history tab --------------------------------------------------------------------------------

HISTORY_LIMIT = 100


def history_entry_html(entry: Any, lib: Any) -> str:
    """One past question: when, what, which engine; opens to the answer, its sources and exports."""
    answer: Answer = entry.record
    when = str(entry.asked_at)[:16].replace("T", " ")
    cited = len(answer.citations)
    meta = " · ".join(
        x
        for x in (
            f"{when} UTC" if when else "",
            entry.engine,
            "declined" if entry.declined else f"{cited} source{'s' if cited != 1 else ''}",
        )
        if x
    )
    if answer.declined:
        body = declined_html(answer, lib.catalog.find)
    else:
        local = local_pdfs_of(lib, answer)
        body = f'<div class="pqa-hist-answer">{esc_block(answer.answer)}</div>' + "".join(
            citation_card_html(c, paper=lib.catalog.find(c.paper_id), local_pdf=c.paper_id in local)
            for c in answer.citations
        )
    return (
        f'<details class="pqa-hist"><summary><span class="pqa-hist-q">{esc(entry.question)}</span> '
        f'<span class="pqa-pmeta">{esc(meta)}</span></summary>'
        f'<div class="pqa-paper-body">{body}{export_html(export_texts(lib, answer))}</div></details>'
    )


def history_html(lib: Any, query: str = "", limit: int = HISTORY_LIMIT) -> str:
    """Past questions, newest first, matching every word of `query` (Library.history)."""
    history = getattr(lib, "history", None)
    if history is None:
        return '<div class="pqa-papers-head">No history in this version.</div>'
    try:
        entries = history(query.strip() or None, limit)
    except Exception as exc:  # an unreadable history file must not take the page down
        return error_markdown(exc)
    if not entries:
        said = "No past question matches." if query.strip() else "No questions asked yet."
        if not getattr(lib.settings, "history", True):
            said += " (Keeping a history is off: PAPERQA_HISTORY=0.)"
        return f'<div class="pqa-papers-head">{esc(said)}</div>'
    head = f"{len(entries)} question{'s' if len(entries) != 1 else ''}" + (
        f" matching “{query.strip()}”" if query.strip() else ", newest first"
    )
    rows = "".join(history_entry_html(e, lib) for e in entries)
    return f'<div class="pqa-papers"><div class="pqa-papers-head">{esc(head)}</div>{rows}</div>'


# --- papers tab ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class CorpusStatus:
    """What is downloaded and indexed, per paper, plus the status summary line."""

    pdf_pages: dict[str, int] = field(default_factory=dict)  # paper_id -> pages of its PDF
    indexed: dict[str, Counter] = field(default_factory=dict)  # paper_id -> chunks by kind
    index_info: dict[str, Any] | None = None  # the live index's manifest (None: no index)
    index_error: str = ""


def corpus_status(lib: Any) -> CorpusStatus:
    """Read the manifests (cheap) and, when an index exists, its chunk records."""
    from paperqa.corpus.manifest import load_manifest

    try:
        pdf_pages = {pid: e.pages for pid, e in load_manifest(lib.settings).items()}
    except Exception as exc:  # a damaged manifest must not take the page down
        log.warning("manifest unreadable: %s", exc)
        pdf_pages = {}
    info = lib.status().get("index")
    indexed: dict[str, Counter] = {}
    error = ""
    if info:
        try:
            for chunk in lib.index.chunks:
                indexed.setdefault(chunk.paper_id, Counter())[chunk.kind] += 1
        except Exception as exc:
            error = str(exc)
    return CorpusStatus(pdf_pages, indexed, info, error)


def status_line(n_papers: int, st: CorpusStatus) -> str:
    """One line for the page header: papers, PDFs, index (or how to build one)."""
    return " · ".join([f"{n_papers} papers", *_status_parts(st)])


def _status_parts(st: CorpusStatus) -> list[str]:
    pdfs = len(st.pdf_pages)
    parts = [f"{pdfs} PDF{'s' if pdfs != 1 else ''} in the corpus"]
    if st.index_error:
        parts.append(f"index unusable: {st.index_error}")
    elif st.index_info:
        counts = st.index_info.get("counts", {})
        built = str(st.index_info.get("built_at", ""))[:16].replace("T", " ")
        parts.append(
            f"index: {counts.get('chunks', '?')} passages from {counts.get('papers', '?')} papers"
            + (f", built {built} UTC" if built else "")
        )
    else:
        parts.append("no index yet — run `paperqa index`")
    return parts


def _badge(text: str, kind: str) -> str:
    return f'<span class="pqa-badge pqa-{kind}">{esc(text)}</span>'


def corrections_html(corrections: Iterable[Correction]) -> str:
    items = [
        f"<li><b>{esc(c.field)}</b> ({esc(c.list_id)}): the list says «{esc(c.listed)}»; "
        f'right: «{esc(c.correct)}». <span class="pqa-evidence">{esc(c.evidence)}</span></li>'
        for c in corrections
    ]
    return f'<div class="pqa-corrections"><b>Corrections</b><ul>{"".join(items)}</ul></div>' if items else ""


def entry_place(s: SummaryEntry) -> tuple[str, str]:
    """Where an entry stands in its list: ("section", heading) in list one, ("part", heading) in list two.

    List one gives each paper a `## ` section with labelled fields; list two groups titles under
    part headings (第一部分 ...), so an entry with fields is a section of its own.
    """
    return ("section" if s.fields else "part", s.heading)


def places_html(p: Paper) -> str:
    """One line per list naming the paper: the list, then its part or section there."""
    rows = []
    for s in p.summaries:
        kind, heading = entry_place(s)
        rows.append(
            f'<div class="pqa-place"><span class="pqa-list">{esc(s.list_title)}</span> › '
            f'<span class="pqa-where">{esc(kind)}:</span> <span class="pqa-heading">{esc(heading)}</span></div>'
        )
    return f'<div class="pqa-places">{"".join(rows)}</div>' if rows else ""


def paper_row_html(p: Paper, st: CorpusStatus) -> str:
    """One paper of the Papers tab: a line to scan, expanding to its list entries and corrections."""
    pages = st.pdf_pages.get(p.paper_id)
    kinds = st.indexed.get(p.paper_id, Counter())
    badges = [
        _badge(f"PDF · {pages} pp." if pages else "no PDF", "ok" if pages else "off"),
        _badge(
            "indexed: full text" if kinds.get("paper") else ("indexed: summary" if kinds else "not indexed"),
            "ok" if kinds.get("paper") else ("part" if kinds else "off"),
        ),
    ]
    if p.corrections:
        badges.append(
            _badge(f"{len(p.corrections)} correction{'s' if len(p.corrections) > 1 else ''}", "fix")
        )
    ident = p.versioned_id
    kind = "" if p.kind == "paper" else f" ({p.kind})"
    read = _link("Read it here", reader_url(p.paper_id, 1, title=p.title), "pqa-read") if pages else ""
    links = [_link("arXiv abstract" if p.arxiv_id else "page", p.abs_url, "pqa-abs")]
    meta = " · ".join(x for x in (str(p.year or ""), p.organisation) if x)
    return (
        f'<details class="pqa-paper {paper_class(p.paper_id)} pqa-kind-{esc(p.kind)}"><summary>'
        f'<span class="pqa-ptitle">{esc(p.title)}{esc(kind)}</span> '
        f'<span class="pqa-pmeta">{esc(meta)}</span> {"".join(badges)} {read}'
        f"{places_html(p)}</summary>"
        '<div class="pqa-paper-body">'
        f'<div class="pqa-links"><span class="pqa-id">{esc(ident)}</span> · '
        + " · ".join(x for x in links if x)
        + (f" · aliases: {esc(', '.join(p.aliases))}" if p.aliases else "")
        + "</div>"
        + (f'<div class="pqa-note">{esc(p.note)}</div>' if p.note else "")
        + summary_entries_html(p.summaries)
        + corrections_html(p.corrections)
        + "</div></details>"
    )


def _matches(p: Paper, needle: str) -> bool:
    if not needle:
        return True
    hay = " ".join(
        [p.paper_id, p.title, p.organisation, str(p.year), *p.aliases, *(s.text for s in p.summaries)]
    ).lower()
    return all(word in hay for word in needle.lower().split())


PART_SEP = "::"  # list_id::heading in a part filter's value (list ids are file stems, never "::")


def part_choices(items: Sequence[Paper]) -> list[tuple[str, str]]:
    """(label, value) for the list/part filter: each list whole, then each part of a list with parts."""
    lists: dict[str, str] = {}
    parts: dict[str, list[str]] = {}
    for p in items:
        for s in p.summaries:
            lists.setdefault(s.list_id, s.list_title)
            kind, heading = entry_place(s)
            if kind == "part" and heading not in parts.setdefault(s.list_id, []):
                parts[s.list_id].append(heading)
    out = [("All lists and parts", "")]
    for list_id, title in lists.items():
        out.append((f"{title} (whole list)", list_id))
        out.extend((f"{title} › {h}", f"{list_id}{PART_SEP}{h}") for h in parts.get(list_id, ()))
    return out


def year_choices(items: Sequence[Paper]) -> list[tuple[str, str]]:
    years = sorted({p.year for p in items if p.kind == "paper" and p.year})
    return [("Any year", "")] + [(str(y), str(y)) for y in years]


def _in_part(p: Paper, part: str) -> bool:
    if not part:
        return True
    list_id, _, heading = part.partition(PART_SEP)
    return any(s.list_id == list_id and (not heading or s.heading == heading) for s in p.summaries)


def papers_html(
    items: Sequence[Paper],
    st: CorpusStatus,
    needle: str = "",
    *,
    part: str = "",
    year: str | int = "",
    has_pdf: bool = False,
) -> str:
    """The catalog: every paper (then the other items) with status, list entries, corrections.

    Filters combine: words of `needle`, a list or one of its parts, a year, having a local PDF.
    """
    year = str(year or "")

    def keep(p: Paper) -> bool:
        return (
            _matches(p, needle)
            and _in_part(p, part)
            and (not year or str(p.year) == year)
            and (not has_pdf or p.paper_id in st.pdf_pages)
        )

    papers = [p for p in items if p.kind == "paper"]
    others = [p for p in items if p.kind != "paper"]
    shown = [p for p in papers if keep(p)]
    filtered = bool(needle.strip() or part or year or has_pdf)
    head = f"{len(shown)} of {len(papers)} papers" if filtered else f"{len(papers)} papers"
    out = [
        f'<div class="pqa-papers"><div class="pqa-papers-head" data-count="{len(papers)}">{esc(head)}'
        f'<span class="pqa-status"> — {esc(" · ".join(_status_parts(st)))}</span></div>'
    ]
    out.extend(paper_row_html(p, st) for p in sorted(shown, key=lambda p: (p.year or 9999, p.title.lower())))
    other_shown = [p for p in others if keep(p)] if not (year or has_pdf) else []
    if other_shown:
        out.append(f'<div class="pqa-papers-head">Also on the lists ({len(others)} non-paper items)</div>')
        out.extend(paper_row_html(p, st) for p in other_shown)
    out.append("</div>")
    return "".join(out)


def paper_choices(items: Sequence[Paper]) -> list[tuple[str, str]]:
    """(label, paper_id) pairs for the restrict-to-papers dropdown."""
    papers = sorted((p for p in items if p.kind == "paper"), key=lambda p: p.title.lower())
    return [(f"{p.title} ({p.year})" if p.year else p.title, p.paper_id) for p in papers]


# --- the app ----------------------------------------------------------------------------------

CSS = f"""
.gradio-container, .gradio-container * {{ font-family: {FONT_STACK}; }}
.gradio-container code, .gradio-container pre {{ font-family: 'IBM Plex Mono', 'Noto Sans Mono CJK SC', monospace; }}
#pqa-status {{ color: var(--body-text-color-subdued); font-size: var(--text-sm); }}
.pqa-notice {{ border: 1px solid #f59e0b; background: #fffbeb; color: #92400e; border-radius: 8px;
  padding: 8px 12px; margin-top: 4px; }}
.pqa-error {{ border-left: 4px solid #dc2626; padding: 6px 10px; background: #fef2f2; color: #991b1b; }}
.pqa-cards {{ margin-top: 10px; display: flex; flex-direction: column; gap: 8px; }}
.pqa-cards-title {{ font-weight: 600; font-size: var(--text-sm); color: var(--body-text-color-subdued); }}
.pqa-card, .pqa-paper {{ border: 1px solid var(--border-color-primary); border-radius: 8px;
  background: var(--background-fill-primary); padding: 6px 10px; }}
.pqa-card > summary, .pqa-paper > summary {{ cursor: pointer; line-height: 1.5; }}
.pqa-num {{ font-weight: 700; color: var(--color-accent); }}
.pqa-title, .pqa-ptitle {{ font-weight: 600; }}
.pqa-meta, .pqa-pmeta, .pqa-line, .pqa-id, .pqa-quote-meta, .pqa-footer {{
  color: var(--body-text-color-subdued); font-size: var(--text-sm); }}
.pqa-meta::before {{ content: " — "; }}
.pqa-card-body, .pqa-paper-body {{ margin-top: 6px; display: flex; flex-direction: column; gap: 6px; }}
.pqa-quote {{ margin: 0; padding: 4px 10px; border-left: 3px solid var(--color-accent);
  background: var(--background-fill-secondary); font-style: italic; }}
.pqa-links {{ font-size: var(--text-sm); }}
.pqa-links a {{ font-weight: 600; font-size: inherit; }}
.pqa-entries-title {{ font-weight: 600; font-size: var(--text-sm); }}
.pqa-entry {{ border-top: 1px dashed var(--border-color-primary); padding-top: 4px; }}
.pqa-entry-head {{ font-size: var(--text-sm); }}
.pqa-list {{ font-weight: 600; }}
.pqa-entry-text {{ font-size: var(--text-sm); line-height: 1.6; max-height: 16em; overflow-y: auto; }}
.pqa-declined {{ border-left: 4px solid #f59e0b; padding: 6px 10px; background: var(--background-fill-secondary); }}
.pqa-declined-head {{ font-weight: 700; }}
.pqa-papers {{ display: flex; flex-direction: column; gap: 6px; }}
.pqa-papers-head {{ font-weight: 700; margin: 6px 0; }}
.pqa-status {{ font-weight: 400; color: var(--body-text-color-subdued); font-size: var(--text-sm); }}
.pqa-badge {{ display: inline-block; font-size: 11px; border-radius: 999px; padding: 0 8px; margin-left: 4px;
  border: 1px solid var(--border-color-primary); }}
.pqa-ok {{ background: #dcfce7; color: #166534; }}
.pqa-part {{ background: #e0f2fe; color: #075985; }}
.pqa-off {{ background: var(--background-fill-secondary); color: var(--body-text-color-subdued); }}
.pqa-fix {{ background: #fef3c7; color: #92400e; }}
.pqa-corrections ul {{ margin: 2px 0 0 18px; }}
.pqa-places {{ font-size: var(--text-sm); color: var(--body-text-color-subdued); margin-top: 2px; }}
.pqa-where {{ font-style: italic; }}
.pqa-nopdf {{ color: var(--body-text-color-subdued); }}
.pqa-export {{ display: flex; flex-wrap: wrap; gap: 6px; margin-top: 8px; }}
.pqa-exp {{ font-size: var(--text-sm); }}
.pqa-exp > summary {{ cursor: pointer; display: inline-block; border: 1px solid var(--border-color-primary);
  border-radius: 6px; padding: 1px 8px; background: var(--background-fill-secondary); }}
.pqa-exp > summary.pqa-copied::after {{ content: " ✓ copied"; color: #166534; }}
.pqa-exp[open] {{ flex-basis: 100%; }}
.pqa-exp-text {{ white-space: pre-wrap; max-height: 18em; overflow: auto; font-size: 12px; margin: 4px 0 0; }}
.pqa-hist {{ border: 1px solid var(--border-color-primary); border-radius: 8px; padding: 6px 10px; }}
.pqa-hist > summary {{ cursor: pointer; }}
.pqa-hist-q {{ font-weight: 600; }}
#pqa-reader-col {{ position: sticky; top: 8px; align-self: flex-start; }}
.pqa-reader-head {{ font-weight: 600; margin-bottom: 4px; }}
.pqa-reader-hint {{ font-weight: 400; color: var(--body-text-color-subdued); font-size: var(--text-sm); }}
#pqa-reader-frame {{ width: 100%; height: calc(100vh - 120px); min-height: 560px; border: 1px solid
  var(--border-color-primary); border-radius: 8px; background: #f3f4f6; }}
.pqa-evidence {{ color: var(--body-text-color-subdued); font-size: var(--text-sm); }}
"""


def intro(papers: int) -> str:
    """The chat's opening words; `papers`: how many papers the catalog has."""
    return (
        "## paperqa — ask the reading list\n"
        f"Questions in English or Chinese about the {papers} classic LLM papers on the reading lists. "
        "Answers cite the paper, the page, a quote and the list's own summary entry; "
        "open a source card for the details."
    )


def _theme() -> gr.themes.Base:
    """The default look with a CJK-capable font stack (local fonts only: the app runs offline)."""
    return gr.themes.Default(
        font=[
            gr.themes.LocalFont("IBM Plex Sans"),
            "Noto Sans CJK SC",
            "PingFang SC",
            "Microsoft YaHei",
            "system-ui",
            "sans-serif",
        ],
    )


def reader_panel_html() -> str:
    """The reader beside the tabs: an iframe on our own reader page (PDF.js), empty until a click."""
    return (
        '<div class="pqa-reader-head">Reader <span class="pqa-reader-hint">— a source\'s '
        "“Read p. N here” opens the cited page, the quote highlighted</span></div>"
        f'<iframe id="pqa-reader-frame" title="PDF reader" src="{READER_ROUTE}" '
        'referrerpolicy="same-origin"></iframe>'
    )


def build_app(lib: Library, *, concurrency: int = ASK_CONCURRENCY) -> gr.Blocks:
    """The chat, the Papers and History tabs, and the reader beside them, for one Library.

    No global state: everything hangs off `lib`.
    """
    settings = lib.settings
    items = tuple(lib.catalog.items)
    default_engine = settings.engine if settings.engine in ENGINES else ENGINES[0]

    def on_submit(
        message: str, history: list[dict[str, Any]], engine: str, k: float, papers: list[str], turns: list
    ):
        turns = list(turns or [])
        for chat, box_value, notice_value in respond(lib, message, history, engine, k, papers, turns):
            yield chat, box_value, notice_value, turns

    def on_papers(needle: str = "", part: str = "", year: str = "", has_pdf: bool = False) -> tuple[str, str]:
        st = corpus_status(lib)
        view = papers_html(items, st, needle or "", part=part or "", year=year or "", has_pdf=bool(has_pdf))
        return view, status_line(len(lib.catalog.papers), st)

    def on_refresh(
        needle: str = "", part: str = "", year: str = "", has_pdf: bool = False
    ) -> tuple[str, str]:
        lib.reload()  # pick up an index rebuilt while the server runs (`paperqa index`)
        return on_papers(needle, part, year, has_pdf)

    def on_history(query: str = "") -> str:
        return history_html(lib, query or "")

    with gr.Blocks(title="paperqa — LLM reading list", analytics_enabled=False) as demo:
        gr.Markdown(intro(len(lib.catalog.papers)))
        status = gr.Markdown("", elem_id="pqa-status")
        with gr.Row(equal_height=False, elem_id="pqa-main"):
            with gr.Column(scale=5, min_width=480), gr.Tabs():
                with gr.Tab("Ask", id="ask"):
                    chatbot = gr.Chatbot(
                        show_label=False,
                        elem_id="pqa-chat",
                        height=620,
                        buttons=["copy"],
                        latex_delimiters=[],
                        feedback_options=None,
                        placeholder="Ask about the papers on the reading list — in English or 中文.",
                    )
                    with gr.Row():
                        box = gr.Textbox(
                            show_label=False,
                            placeholder="Ask a question, e.g. How does QLoRA save memory? / QLoRA是如何节省显存的？",
                            elem_id="pqa-input",
                            scale=6,
                            lines=1,
                            max_lines=6,
                            autofocus=True,
                        )
                        send = gr.Button("Ask", variant="primary", scale=1, min_width=80, elem_id="pqa-send")
                        stop = gr.Button("Stop", scale=0, min_width=60, elem_id="pqa-stop")
                    notice = gr.HTML("", elem_id="pqa-notice")
                    examples = gr.Examples(
                        examples=[[q] for q in EXAMPLES], inputs=[box], label="Examples / 示例问题"
                    )
                    with gr.Accordion("Settings", open=False, elem_id="pqa-settings"), gr.Row():
                        engine = gr.Radio(
                            list(ENGINES),
                            value=default_engine,
                            label="Answer engine",
                            info="extractive: no LLM; llama: local GGUF; openai: OpenAI-compatible server",
                        )
                        k = gr.Slider(1, MAX_K, value=min(max(lib.k, 1), MAX_K), step=1, label="Sources (k)")
                        papers = gr.Dropdown(
                            choices=paper_choices(items),
                            value=[],
                            multiselect=True,
                            label="Restrict to papers",
                            info="Empty: the whole reading list",
                            elem_id="pqa-papers-filter",
                        )
                        clear = gr.Button("Clear chat", size="sm")
                with gr.Tab("Papers", id="papers"):
                    with gr.Row():
                        needle = gr.Textbox(
                            show_label=False,
                            placeholder="Filter: title, year, organisation, 关键词…",
                            scale=4,
                            elem_id="pqa-needle",
                        )
                        part = gr.Dropdown(
                            choices=part_choices(items),
                            value="",
                            show_label=False,
                            scale=4,
                            elem_id="pqa-part",
                        )
                        year = gr.Dropdown(
                            choices=year_choices(items),
                            value="",
                            show_label=False,
                            scale=1,
                            elem_id="pqa-year",
                        )
                        has_pdf = gr.Checkbox(label="has PDF", value=False, scale=1, elem_id="pqa-has-pdf")
                        refresh = gr.Button("Refresh (reload index)", size="sm", scale=1)
                    catalog_view = gr.HTML("", elem_id="pqa-catalog")
                with gr.Tab("History", id="history") as history_tab:
                    history_query = gr.Textbox(
                        show_label=False,
                        placeholder="Search past questions and answers…",
                        elem_id="pqa-history-search",
                    )
                    history_view = gr.HTML("", elem_id="pqa-history")
            with gr.Column(scale=4, min_width=360, elem_id="pqa-reader-col"):
                gr.HTML(reader_panel_html(), elem_id="pqa-reader", js_on_load=None)

        turns = gr.State([])  # this browser session's conversation: (question, Answer) pairs
        inputs = [box, chatbot, engine, k, papers, turns]
        outputs = [chatbot, box, notice, turns]
        ask_opts: dict[str, Any] = {
            "concurrency_limit": concurrency,
            "concurrency_id": "ask",
            "show_progress": "minimal",
        }
        events = [
            box.submit(on_submit, inputs, outputs, api_name="ask", **ask_opts),
            send.click(on_submit, inputs, outputs, api_visibility="private", **ask_opts),
            examples.load_input_event.then(on_submit, inputs, outputs, api_visibility="private", **ask_opts),
        ]
        stop.click(None, cancels=events)
        clear.click(
            lambda: ([], "", []), None, [chatbot, notice, turns], queue=False, api_visibility="private"
        )
        filters = [needle, part, year, has_pdf]
        private: dict[str, Any] = {"api_visibility": "private"}
        demo.load(on_papers, filters, [catalog_view, status], **private)
        refresh.click(on_refresh, filters, [catalog_view, status], **private)
        for control in (part, year, has_pdf):
            control.change(on_papers, filters, [catalog_view, status], **private)
        needle.change(on_papers, filters, [catalog_view, status], trigger_mode="always_last", **private)
        history_tab.select(on_history, [history_query], [history_view], **private)
        history_query.change(
            on_history, [history_query], [history_view], trigger_mode="always_last", **private
        )

    demo.queue(default_concurrency_limit=concurrency, max_size=QUEUE_SIZE)
    return demo


# --- serving ------------------------------------------------------------------------------------


def local_pdf_file(lib: Any, paper_id: str) -> Path | None:
    """The PDF to serve for `paper_id`, only if the manifest lists it and it lies in corpus/pdfs."""
    if not _PAPER_ID_RE.match(paper_id or "") or ".." in paper_id:
        return None
    path = lib.pdf_path(paper_id)
    if path is None:
        return None
    try:
        resolved = Path(path).resolve(strict=True)
        root = Path(lib.settings.pdf_dir).resolve(strict=True)
    except OSError:
        return None
    if not resolved.is_relative_to(root) or resolved.suffix.lower() != ".pdf" or not resolved.is_file():
        return None
    return resolved


def asset_files(root: Path = UI_DIR) -> dict[str, Path]:
    """The reader's files, by path under ui/: listed once at start, so a request names one of them
    or gets a 404 (no path from a URL ever reaches the file system)."""
    base = root.resolve()
    files: dict[str, Path] = {}
    for folder in ASSET_DIRS:
        for f in sorted((base / folder).rglob("*")):
            if f.suffix in ASSET_TYPES and f.is_file() and f.resolve().is_relative_to(base):
                files[f.relative_to(base).as_posix()] = f.resolve()
    return files


def same_origin(headers: Headers) -> bool:
    """Whether a browser sent this request from the page this server serves.

    Browsers name the requesting page in `Origin` (and say `Sec-Fetch-Site`); a client that sends
    neither (curl, gradio_client) is not a browser acting for some other site.
    """
    if headers.get("sec-fetch-site", "").lower() in ("cross-site", "same-site"):
        return False
    origin = headers.get("origin")
    if origin is None:
        return True
    parts = urlsplit(origin)
    host = headers.get("host", "").lower()
    return parts.scheme in ("http", "https") and bool(host) and parts.netloc.lower() == host


class SameOriginWrites:
    """ASGI middleware: only this server's own page may POST (upload, join the queue, ...).

    Any web page can make its visitor's browser POST a form to 127.0.0.1 without a CORS preflight,
    and Gradio would act on it (store the upload, run a question); CORS only hides the reply.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        cross_site_write = (
            scope["type"] == "http"
            and scope["method"] not in SAFE_METHODS
            and not same_origin(Headers(scope=scope))
        )
        if cross_site_write:
            refuse = PlainTextResponse(
                "paperqa: requests from another site may not change anything here", status_code=403
            )
            await refuse(scope, receive, send)
            return
        await self.app(scope, receive, send)


def create_server_app(lib: Library, blocks: gr.Blocks | None = None) -> fastapi.FastAPI:
    """FastAPI app: the chat at /, the corpus PDFs at PDF_ROUTE, nothing else from disk.

    Cross-origin: writes are refused (SameOriginWrites) and no origin is granted CORS reads. With
    our own CORSMiddleware on the parent app, Gradio leaves out its own, which would otherwise echo
    any Origin with credentials whenever the Host is not localhost (e.g. served on the LAN).
    """
    from fastapi import FastAPI
    from fastapi.middleware.cors import CORSMiddleware
    from fastapi.responses import FileResponse, Response

    settings = lib.settings
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    app.add_middleware(CORSMiddleware, allow_origins=[])
    app.add_middleware(SameOriginWrites)

    assets = asset_files()
    reader_page = (UI_DIR / "static" / "reader.html").read_bytes()

    @app.get(READER_ROUTE, include_in_schema=False)
    def reader() -> Response:
        return Response(
            reader_page,
            media_type="text/html; charset=utf-8",
            headers={
                "Content-Security-Policy": READER_CSP,
                "X-Frame-Options": "SAMEORIGIN",
                "X-Content-Type-Options": "nosniff",
                "Referrer-Policy": "same-origin",
                "Cache-Control": "no-cache",
            },
        )

    @app.get(ASSET_ROUTE + "/{path:path}", include_in_schema=False)
    def asset(path: str) -> Response:
        file = assets.get(path)
        if file is None:
            return PlainTextResponse("not found", status_code=404)
        return FileResponse(
            file,
            media_type=ASSET_TYPES[file.suffix],
            headers={"X-Content-Type-Options": "nosniff", "Cache-Control": "no-cache"},
        )

    @app.get(PDF_ROUTE + "/{paper_id}", include_in_schema=False)
    def pdf(paper_id: str) -> Response:
        path = local_pdf_file(lib, paper_id)
        if path is None:
            return PlainTextResponse(
                f"No local PDF for '{paper_id}'. Fetch it with `paperqa download --only {paper_id}` "
                "or use the arXiv link.",
                status_code=404,
            )
        return FileResponse(
            path,
            media_type="application/pdf",
            content_disposition_type="inline",
            filename=f"{paper_id}.pdf",
            headers={"X-Content-Type-Options": "nosniff", "Cache-Control": "private, max-age=3600"},
        )

    return gr.mount_gradio_app(
        app,
        blocks or build_app(lib),
        path="/",
        server_name=settings.host,
        server_port=settings.port,
        footer_links=["settings"],
        run_history=False,  # nothing to review: it only stores questions (and offers an HF bucket)
        enable_monitoring=False,  # None would serve queue analytics at /monitoring/summary
        max_file_size=MAX_FILE_SIZE,
        allowed_paths=[],
        blocked_paths=[str(Path(settings.home).resolve())],
        show_error=True,
        ssr_mode=False,
        mcp_server=False,
        pwa=False,
        theme=_theme(),
        css=CSS,
        head=f'<script type="module" src="{ASSET_ROUTE}/static/app.mjs"></script>',
    )


@dataclass
class RunningServer:
    """A server started in a background thread (tests, notebooks); `close()` stops it."""

    url: str
    server: uvicorn.Server
    thread: threading.Thread

    def close(self, timeout: float = 10.0) -> None:
        self.server.should_exit = True
        self.thread.join(timeout)


def _server(lib: Library, host: str, port: int) -> uvicorn.Server:
    import uvicorn

    config = uvicorn.Config(
        create_server_app(lib), host=host, port=port, log_level="warning", ws="none", lifespan="on"
    )
    return uvicorn.Server(config)


def _warm_up(lib: Library) -> None:
    """Open the index (and embedder) before the first question, so the first answer is quick."""
    try:
        lib.index  # noqa: B018 - cached_property: opening it is the point
    except Exception as exc:  # the chat shows the same message per question; keep serving
        print(f"paperqa: {exc}")


def start(
    lib: Library, host: str | None = None, port: int | None = None, timeout: float = 60.0
) -> RunningServer:
    """Serve in a background thread and return once it accepts connections."""
    import time

    host = host or lib.settings.host
    port = int(port if port is not None else lib.settings.port)
    server = _server(lib, host, port)
    thread = threading.Thread(target=server.run, name="paperqa-ui", daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            raise RuntimeError(f"the web chat did not start on {host}:{port} (port in use?)")
        time.sleep(0.05)
    return RunningServer(f"http://{_url_host(host)}:{port}", server, thread)


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def launch(lib: Library) -> None:
    """Serve the chat on settings.host:settings.port until interrupted; no share link, ever."""
    host, port = lib.settings.host, int(lib.settings.port)
    print("paperqa: loading the index…", flush=True)
    _warm_up(lib)
    server = _server(lib, host, port)
    print(f"paperqa: web chat on http://{_url_host(host)}:{port}  (Ctrl+C to stop)", flush=True)
    server.run()
    if not server.started:
        raise SystemExit(
            f"paperqa: could not listen on {host}:{port}; is another server using it? Try --port."
        )
