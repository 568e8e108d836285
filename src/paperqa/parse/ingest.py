"""From the catalog and the verified PDFs to the chunk list the index is built from.

Parsing is cached by the PDF's sha256 and the parser (page texts under corpus/text/), so
an incremental rebuild only parses new or changed PDFs. A PDF that cannot be parsed is skipped and
reported by name; the others go on.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

from ..catalog.catalog import Catalog
from ..corpus.manifest import load_manifest
from ..records import Chunk, Page, Paper
from ..settings import Settings
from .chunking import abstract_chunk, chunk_pages, summary_chunks
from .params import PARSE_PARAMS, ParseParams
from .pdftext import PdfError, parse_pdf, parser_key
from .textstore import load_pages, save_pages, stored_sha256


@dataclass
class IngestReport:
    parsed: list[str] = field(default_factory=list)  # paper_ids parsed now
    cached: list[str] = field(default_factory=list)  # paper_ids whose text was already stored
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (file, reason)
    pages: int = 0

    def to_dict(self) -> dict:
        return {"parsed": self.parsed, "cached": self.cached, "skipped": self.skipped, "pages": self.pages}


def extra_papers(settings: Settings) -> list[Paper]:
    """The user's own PDFs that match no catalog paper, as minimal Paper records."""
    return [
        Paper(paper_id=e.paper_id, title=e.title or e.paper_id, kind="paper", year=0, version=e.version)
        for e in load_manifest(settings).values()
        if e.extra
    ]


def page_texts(
    settings: Settings, paper_id: str, path: Path, sha256: str, params: ParseParams = PARSE_PARAMS
) -> tuple[list[Page], bool]:
    """(clean pages, True if they came from the store). The store is keyed by the PDF's
    sha256 and the parser with its cleaning version: another parser re-parses."""
    text_key = f"{sha256}:{parser_key(settings.parser)}"
    if stored_sha256(settings, paper_id) == text_key:
        return load_pages(settings, paper_id), True
    pages = parse_pdf(path, paper_id, settings.parser, params)
    save_pages(settings, paper_id, pages, text_key)
    return pages, False


def collect_chunks(
    settings: Settings,
    catalog: Catalog,
    *,
    max_words: int,
    overlap_words: int,
    on_progress=None,
    params: ParseParams = PARSE_PARAMS,
) -> tuple[list[Chunk], IngestReport]:
    """Every chunk of the corpus: PDF pages, summary entries, titles and abstracts."""
    report = IngestReport()
    manifest = load_manifest(settings)
    papers = {p.paper_id: p for p in catalog.papers}
    chunks: list[Chunk] = []
    for paper_id, entry in sorted(manifest.items()):
        path = settings.home / entry.file
        if on_progress:
            on_progress(paper_id)
        if not path.is_file():
            report.skipped.append(
                (str(path), "listed in the manifest but the file is missing; run `paperqa download`")
            )
            continue
        try:
            pages, cached = page_texts(settings, paper_id, path, entry.sha256, params)
            (report.cached if cached else report.parsed).append(paper_id)
        except PdfError as exc:
            report.skipped.append((str(path), str(exc)))
            continue
        report.pages += len(pages)
        paper = papers.get(paper_id)
        title = paper.title if paper else entry.title
        names = ", ".join(paper.aliases[:3]) if paper else ""
        for c in chunk_pages(pages, max_words=max_words, overlap_words=overlap_words, params=params):
            context = f"{title}{f' ({names})' if names else ''}" + (f" — {c.section}" if c.section else "")
            chunks.append(replace(c, context=context))
    for paper in [*papers.values(), *extra_papers(settings)]:
        entry = manifest.get(paper.paper_id)
        if paper.summaries:
            chunks.extend(summary_chunks(paper, params))
        chunks.append(abstract_chunk(paper, entry.abstract if entry else ""))
    return chunks, report
