"""PDF file -> clean text per page, with the section and zone at the top of each page.

`parse_pdf` is the one entry point; it refuses files it cannot give text for (corrupt,
encrypted, empty, scanned without a text layer) with a `PdfError` that names the file,
so that ingestion can report and skip them instead of indexing nothing.
Cleaning is in `paperqa.pdfclean`, headings and zones in `paperqa.pdfsections`.
"""

from __future__ import annotations

from pathlib import Path

from paperqa.pdfclean import clean_pages
from paperqa.pdfsections import SectionSpan, section_at, sections
from paperqa.records import Page

from .errors import PaperqaError

__all__ = [
    "MIN_TEXT_CHARS",
    "PARSER_VERSION",
    "PdfError",
    "pages_from_raw",
    "SectionSpan",
    "parse_pdf",
    "read_raw_pages",
    "section_at",
    "sections",
]

MIN_TEXT_CHARS = 50  # below this over all pages there is no usable text layer
PARSER_VERSION = 1  # bump when cleaning changes, so that stored page texts are redone


class PdfError(PaperqaError, ValueError):
    """A PDF we cannot get text from; the message names the file and the reason."""


def read_raw_pages(path: Path) -> list[str]:
    """pypdf's text for each page, uncleaned. Raises PdfError for unreadable files."""
    from pypdf import PdfReader
    from pypdf.errors import DependencyError, FileNotDecryptedError, PdfReadError

    path = Path(path)
    try:
        reader = PdfReader(path, strict=False)
        if reader.is_encrypted:
            try:
                ok = reader.decrypt("")  # owner-password-only PDFs open without a password
            except (DependencyError, NotImplementedError) as e:
                raise PdfError(f"{path}: encrypted, cannot decrypt ({e})") from e
            if not ok:
                raise PdfError(f"{path}: encrypted, a password is required")
        n = len(reader.pages)
    except PdfError:
        raise
    except FileNotFoundError as e:
        raise PdfError(f"{path}: no such file") from e
    except FileNotDecryptedError as e:
        raise PdfError(f"{path}: encrypted, a password is required") from e
    except (PdfReadError, OSError, ValueError, KeyError, TypeError, AttributeError, IndexError) as e:
        raise PdfError(f"{path}: corrupt or not a PDF ({type(e).__name__}: {e})") from e
    if n == 0:
        raise PdfError(f"{path}: empty, the PDF has no pages")
    texts = []
    for i in range(n):
        try:
            texts.append(reader.pages[i].extract_text() or "")
        except FileNotDecryptedError as e:
            raise PdfError(f"{path}: encrypted, a password is required") from e
        except Exception as e:  # one bad page must not lose the paper
            if i == 0 and n == 1:
                raise PdfError(f"{path}: corrupt, page 1 unreadable ({type(e).__name__}: {e})") from e
            texts.append("")
    return texts


def parse_pdf(path: Path, paper_id: str) -> list[Page]:
    """Clean text of every page (Page.page 1-based), with Page.section and Page.zone
    as in force at the top of the page; `sections(pages)` gives changes mid-page."""
    path = Path(path)
    return pages_from_raw(read_raw_pages(path), paper_id, source=str(path))


def pages_from_raw(raw: list[str], paper_id: str, source: str = "") -> list[Page]:
    """The cleaning half of parse_pdf, on pypdf's raw page strings; `source` names the
    file in the error for a PDF without a text layer."""
    texts = clean_pages(raw)
    if sum(len("".join(t.split())) for t in texts) < MIN_TEXT_CHARS:
        raise PdfError(
            f"{source or paper_id}: no text layer (scanned or image-only?); {len(raw)} pages without text"
        )
    pages = [Page(paper_id=paper_id, page=i, text=t) for i, t in enumerate(texts, start=1)]
    spans = sections(pages)
    out = []
    for p in pages:
        top = section_at(spans, p.page, 0)
        out.append(Page(paper_id=paper_id, page=p.page, text=p.text, section=top.title, zone=top.zone))
    return out
