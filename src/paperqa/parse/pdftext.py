"""PDF file -> clean text per page, with the section and zone at the top of each page.

`parse_pdf` is the one entry point; it refuses files it cannot give text for (corrupt,
encrypted, empty, scanned without a text layer) with a `PdfError` that names the file,
so that ingestion can report and skip them instead of indexing nothing.

The raw page text comes from `paperqa.corpus.pdfread` (PDFium or pypdf, which the corpus
stage reads too); cleaning is in `parse.clean`, headings and zones in `parse.sections`;
both see the same conventions from either parser.
"""

from __future__ import annotations

from pathlib import Path

from ..corpus.pdfread import DEFAULT_PARSER, PARSERS, PdfError, check_parser, pdfium_text, read_raw_pages
from ..records import Page
from .clean import clean_pages
from .params import PARSE_PARAMS, ParseParams
from .sections import SectionSpan, section_at, sections

__all__ = [
    "DEFAULT_PARSER",
    "PARSERS",
    "PARSER_VERSION",
    "PdfError",
    "check_parser",
    "pages_from_raw",
    "parser_key",
    "pdfium_text",
    "SectionSpan",
    "parse_pdf",
    "read_raw_pages",
    "section_at",
    "sections",
]

PARSER_VERSION = 1  # bump when cleaning changes, so that stored page texts are redone


def parser_key(parser: str | None = None) -> str:
    """What stored page texts are keyed by besides the PDF's sha256: a text parsed by
    one parser (or an older cleaning) must not be served when another is asked for."""
    return f"{check_parser(parser)}-{PARSER_VERSION}"


def parse_pdf(
    path: Path, paper_id: str, parser: str | None = None, params: ParseParams = PARSE_PARAMS
) -> list[Page]:
    """Clean text of every page (Page.page 1-based), with Page.section and Page.zone
    as in force at the top of the page; `sections(pages)` gives changes mid-page.
    `parser`: "pdfium" or "pypdf" (None: DEFAULT_PARSER)."""
    path = Path(path)
    return pages_from_raw(read_raw_pages(path, parser), paper_id, source=str(path), params=params)


def pages_from_raw(
    raw: list[str], paper_id: str, source: str = "", params: ParseParams = PARSE_PARAMS
) -> list[Page]:
    """The cleaning half of parse_pdf, on `read_raw_pages` strings; `source` names the
    file in the error for a PDF without a text layer."""
    texts = clean_pages(raw, params)
    if sum(len("".join(t.split())) for t in texts) < params.min_text_chars:
        raise PdfError(
            f"{source or paper_id}: no text layer (scanned or image-only?); {len(raw)} pages without text"
        )
    pages = [Page(paper_id=paper_id, page=i, text=t) for i, t in enumerate(texts, start=1)]
    spans = sections(pages, params)
    out = []
    for p in pages:
        top = section_at(spans, p.page, 0)
        out.append(Page(paper_id=paper_id, page=p.page, text=p.text, section=top.title, zone=top.zone))
    return out
