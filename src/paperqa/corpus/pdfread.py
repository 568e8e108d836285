"""The raw text of each page of a PDF, as PDFium or pypdf gives it: the low-level reader that the
corpus (identity checks: running headers on page 1) and parse (cleaning) stages both read with.

Two parsers give the raw page text: PDFium (`pypdfium2`, the default: over 10x faster than pypdf
on real papers, as much text, as clean after `pdfium_text`; measured by scripts/bench_ingest.py)
and pypdf (setting `parser = "pypdf"`, PAPERQA_PARSER). Both refuse files they cannot give text
for (corrupt, encrypted, empty) with a `PdfError` that names the file, for the same reasons.
"""

from __future__ import annotations

import threading
from pathlib import Path

from ..errors import PaperqaError, UsageError

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
