"""PDF file -> clean text per page, with the section and zone at the top of each page.

`parse_pdf` is the one entry point; it refuses files it cannot give text for (corrupt,
encrypted, empty, scanned without a text layer) with a `PdfError` that names the file,
so that ingestion can report and skip them instead of indexing nothing.

Two parsers give the raw page text: PDFium (`pypdfium2`, the default: over 10x faster
than pypdf on real papers, as much text, as clean after `pdfium_text`; measured by
scripts/bench_ingest.py) and pypdf (setting `parser = "pypdf"`, PAPERQA_PARSER).
Cleaning is in `paperqa.pdfclean`, headings and zones in `paperqa.pdfsections`; both
see the same conventions from either parser.
"""

from __future__ import annotations

import threading
from pathlib import Path

from ..errors import PaperqaError, UsageError
from ..records import Page
from .clean import clean_pages
from .sections import SectionSpan, section_at, sections

__all__ = [
    "DEFAULT_PARSER",
    "MIN_TEXT_CHARS",
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

MIN_TEXT_CHARS = 50  # below this over all pages there is no usable text layer
PARSER_VERSION = 1  # bump when cleaning changes, so that stored page texts are redone
PARSERS = ("pdfium", "pypdf")
DEFAULT_PARSER = "pdfium"

# PDFium keeps global state and is not thread-safe; ingestion and `paperqa add` may overlap.
_PDFIUM_LOCK = threading.Lock()


class PdfError(PaperqaError, ValueError):
    """A PDF we cannot get text from; the message names the file and the reason."""


def check_parser(parser: str | None) -> str:
    """The parser name to use (None: the default); a typo in PAPERQA_PARSER fails loudly."""
    name = (parser or DEFAULT_PARSER).strip().lower()
    if name not in PARSERS:
        raise UsageError(f"unknown PDF parser {parser!r}; use one of: {', '.join(PARSERS)}")
    return name


def parser_key(parser: str | None = None) -> str:
    """What stored page texts are keyed by besides the PDF's sha256: a text parsed by
    one parser (or an older cleaning) must not be served when another is asked for."""
    return f"{check_parser(parser)}-{PARSER_VERSION}"


def read_raw_pages(path: Path, parser: str | None = None) -> list[str]:
    """The parser's text for each page, uncleaned, lines separated by "\\n".
    Raises PdfError for unreadable files, with the same reasons for either parser."""
    path = Path(path)
    if check_parser(parser) == "pypdf":
        return _pypdf_pages(path)
    return _pdfium_pages(path)


def _pypdf_pages(path: Path) -> list[str]:
    """pypdf's text for each page (one bad page gives "")."""
    from pypdf import PdfReader  # late: PDF library: loaded on the first PDF read
    from pypdf.errors import (  # late: PDF library: loaded on the first PDF read
        DependencyError,
        FileNotDecryptedError,
        PdfReadError,
    )

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


def _pdfium_pages(path: Path) -> list[str]:
    """PDFium's text for each page, in pypdf's conventions (see `pdfium_text`)."""
    import pypdfium2 as pdfium  # late: PDF library: loaded on the first PDF read
    from pypdfium2 import raw as fpdf  # late: PDF library: loaded on the first PDF read

    reasons = {
        fpdf.FPDF_ERR_PASSWORD: "encrypted, a password is required",
        fpdf.FPDF_ERR_SECURITY: "encrypted, cannot decrypt (unsupported security handler)",
        fpdf.FPDF_ERR_FILE: "cannot be opened",
    }
    with _PDFIUM_LOCK:
        try:
            doc = pdfium.PdfDocument(path)  # owner-password-only PDFs open without a password
        except FileNotFoundError as e:
            raise PdfError(f"{path}: no such file") from e
        except pdfium.PdfiumError as e:
            reason = reasons.get(getattr(e, "err_code", None), "corrupt or not a PDF")
            raise PdfError(f"{path}: {reason} ({e})") from e
        except OSError as e:
            raise PdfError(f"{path}: cannot be read ({type(e).__name__}: {e})") from e
        try:
            n = len(doc)
            if n == 0:
                raise PdfError(f"{path}: empty, the PDF has no pages")
            texts = []
            for i in range(n):
                try:
                    page = doc[i]
                    try:
                        textpage = page.get_textpage()
                        try:
                            # bounded, not get_text_range: the latter breaks lines at every
                            # superscript ("Dao†\n, Daniel") and keeps text off the page
                            texts.append(pdfium_text(textpage.get_text_bounded()))
                        finally:
                            textpage.close()
                    finally:
                        page.close()
                except pdfium.PdfiumError as e:  # one bad page must not lose the paper
                    if n == 1:
                        raise PdfError(f"{path}: corrupt, page 1 unreadable ({e})") from e
                    texts.append("")
            return texts
        finally:
            doc.close()


def pdfium_text(raw: str) -> str:
    r"""PDFium's page text in pypdf's conventions, which the cleaner is written for:
    lines end in "\r\n" (-> "\n"), and a hyphen that PDFium takes for a line-end
    hyphenation comes out as "\x02" (U+FFFE with embedded TrueType fonts) with the line
    break removed ("us\x02age"). It becomes "-" and the line break again, so that the
    cleaner decides with the document's vocabulary whether to join ("us-|age" -> "usage")
    or keep the hyphen ("pre-|trained"), as it does for pypdf, instead of PDFium joining
    every such word."""
    text = raw.replace("\r\n", "\n").replace("\r", "\n")
    return text.replace("\x02", "-\n").replace("\ufffe", "-\n")


def parse_pdf(path: Path, paper_id: str, parser: str | None = None) -> list[Page]:
    """Clean text of every page (Page.page 1-based), with Page.section and Page.zone
    as in force at the top of the page; `sections(pages)` gives changes mid-page.
    `parser`: "pdfium" or "pypdf" (None: DEFAULT_PARSER)."""
    path = Path(path)
    return pages_from_raw(read_raw_pages(path, parser), paper_id, source=str(path))


def pages_from_raw(raw: list[str], paper_id: str, source: str = "") -> list[Page]:
    """The cleaning half of parse_pdf, on `read_raw_pages` strings; `source` names the
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
