"""The corpus manifest and the checks a PDF must pass before it enters the corpus.

The manifest (`settings.manifest_file`) maps paper_id -> ManifestEntry. An entry is
written only after its verified file is in place, and every write replaces the whole
file atomically (temp file in the same directory, fsync, os.replace), so a crash
leaves either the old manifest or the new one, never half of one. PDFs enter the
corpus the same way: staged next to their final name, verified, then renamed.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from .errors import PaperqaError
from .records import ManifestEntry
from .settings import Settings

MIN_PDF_BYTES = 512  # smaller than any real paper; catches empty and stub responses
_HEAD_BYTES = 1024  # the PDF spec allows junk before %PDF- within the first 1 KiB
_TAIL_BYTES = 2048  # %%EOF sits at the very end, give or take trailing whitespace
_ENTRY_FIELDS = {f.name for f in fields(ManifestEntry)}


class ManifestError(PaperqaError, ValueError):
    """The manifest file is damaged; the message names it and the way out."""


class PdfCheckError(PaperqaError, ValueError):
    """A file is not a usable PDF. `transient` marks damage a retry can cure (cut or HTML)."""

    def __init__(self, path: Path | str, reason: str, *, transient: bool = False):
        self.path = Path(path)
        self.reason = reason
        self.transient = transient
        super().__init__(f"{path}: {reason}")


@dataclass(frozen=True)
class PdfInfo:
    """What the checks learn while opening a PDF; matching needs the first page's text."""

    pages: int
    first_page_text: str
    meta_title: str


# --- PDF checks -----------------------------------------------------------------


def verify_pdf(path: Path) -> int:
    """Page count of a PDF that passed every check; raises PdfCheckError otherwise."""
    return inspect_pdf(path).pages


def inspect_pdf(path: Path) -> PdfInfo:
    """Check a PDF the way the corpus needs it (whole, readable, unlocked) and read page 1."""
    path = Path(path)
    try:
        size = path.stat().st_size
        with path.open("rb") as f:
            head = f.read(_HEAD_BYTES)
            f.seek(max(0, size - _TAIL_BYTES))
            tail = f.read()
    except OSError as exc:
        raise PdfCheckError(path, f"cannot read the file: {exc.strerror or exc}") from exc
    if b"%PDF-" not in head:
        raise PdfCheckError(path, _not_pdf_reason(head), transient=True)
    if size < MIN_PDF_BYTES:
        raise PdfCheckError(path, f"too small to be a paper ({size} bytes)", transient=True)
    if b"%%EOF" not in tail:
        raise PdfCheckError(
            path, "truncated: no %%EOF marker at the end (the transfer was cut short)", transient=True
        )
    return _read_with_pypdf(path)


def _not_pdf_reason(head: bytes) -> str:
    start = head.lstrip()[:64]
    if start.lower().startswith((b"<!doctype html", b"<html", b"<?xml", b"<head")):
        return "not a PDF: it is an HTML/XML page (an error or interstitial page from the server)"
    if not start:
        return "not a PDF: the file is empty"
    return f"not a PDF: no %PDF- header (it starts with {start[:24]!r})"


def _read_with_pypdf(path: Path) -> PdfInfo:
    """Open strictly: a lenient read "repairs" a damaged file by silently dropping pages."""
    from pypdf import PasswordType, PdfReader

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
    try:
        text = _page_one_text(reader)
    except Exception:  # strict mode trips over harmless font quirks: read the text leniently
        try:
            text = _page_one_text(PdfReader(path, strict=False))
        except Exception as exc:
            raise PdfCheckError(path, f"pypdf cannot read page 1 ({type(exc).__name__}: {exc})") from exc
    try:
        meta = reader.metadata
        title = str(meta.title or "") if meta is not None else ""
    except Exception:  # a broken Info dictionary is no reason to refuse the paper
        title = ""
    return PdfInfo(pages=pages, first_page_text=text, meta_title=title.strip())


def _page_one_text(reader: Any) -> str:
    if reader.is_encrypted:
        reader.decrypt("")
    return reader.pages[0].extract_text() or ""


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with Path(path).open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# --- atomic files ---------------------------------------------------------------


@contextlib.contextmanager
def staged_file(dest: Path) -> Iterator[Path]:
    """A hidden temp path next to `dest` (same filesystem, so the rename is atomic).

    Whatever happens inside the block, the temp file is gone afterwards: either
    `install()` moved it into place or it is deleted here.
    """
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
    finally:
        tmp.unlink(missing_ok=True)


def install(tmp: Path, dest: Path) -> None:
    """fsync the staged file, rename it over `dest`, fsync the directory."""
    with tmp.open("rb+") as f:
        os.fsync(f.fileno())
    os.replace(tmp, dest)
    _fsync_dir(dest.parent)


def _fsync_dir(directory: Path) -> None:
    if os.name != "posix":
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def remove_stale_parts(directory: Path, older_than: float = 3600.0) -> list[Path]:
    """Delete temp files a killed run left behind (a live run's are younger)."""
    import time

    removed = []
    if not directory.is_dir():
        return removed
    now = time.time()
    for p in directory.glob(".*.part"):
        with contextlib.suppress(OSError):
            if now - p.stat().st_mtime > older_than:
                p.unlink()
                removed.append(p)
    return removed


# --- manifest -------------------------------------------------------------------


def load_manifest(settings: Settings) -> dict[str, ManifestEntry]:
    return read_manifest_file(settings.manifest_file)


def read_manifest_file(path: Path) -> dict[str, ManifestEntry]:
    if not path.is_file():
        return {}
    way_out = "delete it and run `paperqa add <pdf folder>` (or `paperqa download`) to rebuild it"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ManifestError(f"manifest {path} cannot be read ({exc}); {way_out}") from exc
    if not isinstance(data, dict):
        raise ManifestError(f"manifest {path} is not a JSON object; {way_out}")
    out: dict[str, ManifestEntry] = {}
    for key, raw in data.items():
        try:
            # Unknown keys are dropped so an older program can read a newer manifest.
            out[key] = ManifestEntry(**{k: v for k, v in raw.items() if k in _ENTRY_FIELDS})
        except (TypeError, AttributeError) as exc:
            raise ManifestError(f"manifest {path}: entry '{key}' is malformed ({exc}); {way_out}") from exc
    return out


def save_manifest(settings: Settings, entries: Mapping[str, ManifestEntry]) -> None:
    write_manifest_file(settings.manifest_file, entries)


def write_manifest_file(path: Path, entries: Mapping[str, ManifestEntry]) -> None:
    data: dict[str, Any] = {k: entries[k].to_dict() for k in sorted(entries)}
    payload = (json.dumps(data, ensure_ascii=False, indent=2) + "\n").encode("utf-8")
    with staged_file(path) as tmp:
        tmp.write_bytes(payload)
        install(tmp, path)


def update_manifest(
    settings: Settings, put: Iterable[ManifestEntry] = (), remove: Iterable[str] = ()
) -> dict[str, ManifestEntry]:
    """Read-modify-write under a lock, so `download` and `add` running at once lose nothing."""
    # The lock file lives in the PDF folder, which is git-ignored in a checkout.
    with _locked(settings.pdf_dir / ".manifest.lock"):
        entries = load_manifest(settings)
        for key in remove:
            entries.pop(key, None)
        for entry in put:
            entries[entry.paper_id] = entry
        save_manifest(settings, entries)
        return entries


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        import fcntl
    except ImportError:  # Windows: no advisory locks; single-process use is still safe
        yield
        return
    with open(path, "a") as lock:
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock.fileno(), fcntl.LOCK_UN)


def entry_path(settings: Settings, entry: ManifestEntry) -> Path:
    """ManifestEntry.file is relative to the data root (settings.home)."""
    return settings.home / entry.file


def relative_file(settings: Settings, path: Path) -> str:
    try:
        return path.resolve().relative_to(settings.home.resolve()).as_posix()
    except ValueError:
        return str(path)


def is_verified(settings: Settings, entry: ManifestEntry) -> bool:
    """The file the entry names is there and is byte for byte the one that was verified."""
    path = entry_path(settings, entry)
    try:
        if path.stat().st_size != entry.bytes:
            return False
        return sha256_file(path) == entry.sha256
    except OSError:
        return False
