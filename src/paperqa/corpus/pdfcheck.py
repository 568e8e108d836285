"""Is a file a whole, readable PDF? Size, header and trailer, pages, text on enough pages."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import PaperqaError
from .params import CORPUS_PARAMS, CorpusParams


class PdfCheckError(PaperqaError, ValueError):
    """A file is not a usable PDF. `transient` marks damage a retry can cure (cut or HTML)."""

    def __init__(self, path: Path | str, reason: str, *, transient: bool = False):
        self.path = Path(path)
        self.reason = reason
        self.transient = transient
        super().__init__(f"{path}: {reason}")


@dataclass(frozen=True)
class PdfInfo:
    """What the checks learn while opening a PDF; matching needs the first page's text.

    `page_words` (words extracted per page) is what "at least as complete" compares when a
    new copy would replace a verified one.
    """

    pages: int
    first_page_text: str
    meta_title: str
    page_words: tuple[int, ...] = ()


def inspect_pdf(path: Path, params: CorpusParams = CORPUS_PARAMS) -> PdfInfo:
    """Check a PDF the way the corpus needs it (whole, readable, unlocked) and read page 1;
    raises PdfCheckError when a check fails."""
    path = Path(path)
    try:
        size = path.stat().st_size
        with path.open("rb") as f:
            head = f.read(params.head_bytes)
            f.seek(max(0, size - params.tail_bytes))
            tail = f.read()
    except OSError as exc:
        raise PdfCheckError(path, f"cannot read the file: {exc.strerror or exc}") from exc
    if b"%PDF-" not in head:
        raise PdfCheckError(path, _not_pdf_reason(head), transient=True)
    if size < params.min_pdf_bytes:
        raise PdfCheckError(path, f"too small to be a paper ({size} bytes)", transient=True)
    if b"%%EOF" not in tail:
        raise PdfCheckError(
            path, "truncated: no %%EOF marker at the end (the transfer was cut short)", transient=True
        )
    return _read_with_pypdf(path, params.min_page_words)


def _not_pdf_reason(head: bytes) -> str:
    start = head.lstrip()[:64]
    if start.lower().startswith((b"<!doctype html", b"<html", b"<?xml", b"<head")):
        return "not a PDF: it is an HTML/XML page (an error or interstitial page from the server)"
    if not start:
        return "not a PDF: the file is empty"
    return f"not a PDF: no %PDF- header (it starts with {start[:24]!r})"


def _read_with_pypdf(path: Path, min_page_words: int) -> PdfInfo:
    """Open strictly: a lenient read "repairs" a damaged file by silently dropping pages."""
    from pypdf import PasswordType, PdfReader  # late: PDF library: loaded on the first PDF read

    try:
        reader = PdfReader(path, strict=True)
        if reader.is_encrypted and reader.decrypt("") == PasswordType.NOT_DECRYPTED:
            # Permission-only encryption (empty user password) reads fine and is accepted.
            raise PdfCheckError(path, "encrypted: it needs a password to open; save an unlocked copy")
        pages = len(reader.pages)
    except PdfCheckError:
        raise
    except Exception as exc:  # pypdf raises many types for broken files
        raise PdfCheckError(
            path,
            f"damaged: pypdf cannot open it ({type(exc).__name__}: {exc}); if it opens in a viewer, "
            "re-save it (print to PDF) and use that copy",
            transient=True,
        ) from exc
    if pages == 0:
        raise PdfCheckError(path, "the PDF has no pages")
    texts, unreadable = _page_texts(path, reader)
    if 1 in unreadable:
        raise PdfCheckError(path, f"pypdf cannot read page 1 ({unreadable[1]})")
    words = tuple(len(t.split()) for t in texts)
    empty = [
        n for n, w in enumerate(words, 1) if w < min_page_words and _looks_damaged(reader, n, unreadable)
    ]
    if empty:
        where = f"page {empty[0]}" if len(empty) == 1 else "pages " + ", ".join(map(str, empty))
        raise PdfCheckError(
            path,
            f"damaged: {where} of {pages} extract{'s' if len(empty) == 1 else ''} no text (part of the "
            "file is missing or overwritten); get a fresh copy of the PDF",
            transient=True,
        )
    try:
        meta = reader.metadata
        title = str(meta.title or "") if meta is not None else ""
    except Exception:  # a broken Info dictionary is no reason to refuse the paper
        title = ""
    return PdfInfo(pages=pages, first_page_text=texts[0], meta_title=title.strip(), page_words=words)


def _page_texts(path: Path, reader: Any) -> tuple[list[str], dict[int, str]]:
    """Every page's text, and {page: error} for pages that cannot be read at all.

    Strict mode trips over harmless font quirks, so a page it cannot read is read leniently.
    """
    from pypdf import PdfReader  # late: PDF library: loaded on the first PDF read

    lenient: Any = None
    texts: list[str] = []
    unreadable: dict[int, str] = {}
    for n, page in enumerate(reader.pages, 1):
        try:
            texts.append(page.extract_text() or "")
            continue
        except Exception:
            pass
        try:
            if lenient is None:
                lenient = PdfReader(path, strict=False)
                if lenient.is_encrypted:
                    lenient.decrypt("")
            texts.append(lenient.pages[n - 1].extract_text() or "")
        except Exception as exc:
            texts.append("")
            unreadable[n] = f"{type(exc).__name__}: {exc}"
    return texts, unreadable


def _looks_damaged(reader: Any, n: int, unreadable: dict[int, str]) -> bool:
    """A page without text is damaged unless it shows a picture or is a blank last page."""
    if n in unreadable:
        return True
    try:
        resources = reader.pages[n - 1].get("/Resources")
        xobjects = resources.get_object().get("/XObject") if resources is not None else None
        if xobjects is not None and len(xobjects.get_object()) > 0:
            return False  # a figure or a scan: the parse stage judges its text layer
    except Exception:
        return True
    return n < len(reader.pages)


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with Path(path).open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
