"""The corpus manifest and the checks a PDF must pass before it enters the corpus.

The manifest (`settings.manifest_file`) maps paper_id -> ManifestEntry. An entry is
written only after its verified file is in place, and every write replaces the whole
file atomically (temp file in the same directory, fsync, os.replace), so a crash
leaves either the old manifest or the new one, never half of one. PDFs enter the
corpus the same way: staged next to their final name, verified, then renamed, and
`commit_pdf` makes the rename and the manifest entry one step (both or neither).
A run that stages files holds the staging lock shared (`staging_run`); the first
run that finds no other one alive removes the partial files killed runs left.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import secrets
import shutil
import tempfile
import time
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
MIN_PAGE_WORDS = 5  # every page of the 14 real papers extracts more; zeroed bytes leave 0
STALE_PART_AGE = 3600.0  # with another run alive, only partial files this old are surely dead
_ENTRY_FIELDS = {f.name for f in fields(ManifestEntry)}


class ManifestError(PaperqaError, ValueError):
    """The manifest file is damaged; the message names it and the way out."""


class CorpusWriteError(PaperqaError):
    """A verified PDF could not be stored with its manifest entry; nothing was changed."""


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
    texts, unreadable = _page_texts(path, reader)
    if 1 in unreadable:
        raise PdfCheckError(path, f"pypdf cannot read page 1 ({unreadable[1]})")
    words = tuple(len(t.split()) for t in texts)
    empty = [
        n for n, w in enumerate(words, 1) if w < MIN_PAGE_WORDS and _looks_damaged(reader, n, unreadable)
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
    from pypdf import PdfReader

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


def remove_stale_parts(directory: Path, older_than: float = STALE_PART_AGE) -> list[Path]:
    """Delete temp files older than `older_than` seconds (a live run's are younger)."""
    removed: list[Path] = []
    if not directory.is_dir():
        return removed
    now = time.time()
    for p in directory.glob(".*.part"):
        with contextlib.suppress(OSError):
            if now - p.stat().st_mtime >= older_than:
                p.unlink()
                removed.append(p)
    return removed


@contextlib.contextmanager
def staging_run(settings: Settings) -> Iterator[list[Path]]:
    """Hold the staging lock (shared) while a run stages files; yields the leftovers it removed.

    A run killed by SIGTERM or SIGKILL cannot delete its hidden `.part` files, so the next
    run does: when it can take the lock exclusively no other run is alive and every
    partial file is debris; otherwise only files untouched for an hour are removed, so
    a concurrent `download` or `add` never loses the file it is writing.
    """
    settings.pdf_dir.mkdir(parents=True, exist_ok=True)
    try:
        import fcntl
    except ImportError:  # Windows: no advisory locks; age is the only safe test
        yield remove_stale_parts(settings.pdf_dir)
        return
    with open(settings.pdf_dir / ".staging.lock", "a") as lock:
        try:
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            alone = True
        except BlockingIOError:
            alone = False
        age = 0.0 if alone else STALE_PART_AGE
        removed = remove_stale_parts(settings.pdf_dir, age)
        with _locked(_manifest_lock(settings)):  # a manifest write stages next to the manifest
            removed += remove_stale_parts(settings.corpus_dir, age)
        fcntl.flock(lock.fileno(), fcntl.LOCK_SH)
        try:
            yield removed
        finally:
            fcntl.flock(lock.fileno(), fcntl.LOCK_UN)


def commit_pdf(
    settings: Settings, staged: Path, dest: Path, entry: ManifestEntry, replaces: ManifestEntry | None = None
) -> None:
    """Move a verified staged file to `dest` and record `entry`: both happen or neither.

    On any failure (a full disk while the manifest is written, Ctrl-C) the file that was
    at `dest` before is back, the manifest is untouched, and an OSError becomes
    CorpusWriteError. Only after success is the replaced entry's other file deleted.
    """
    with _locked(_manifest_lock(settings)):
        entries = load_manifest(settings)
        backup: Path | None = None
        try:
            backup = _keep_aside(dest)
            try:
                install(staged, dest)
                save_manifest(settings, {**entries, entry.paper_id: entry})
            except BaseException:
                _put_back(backup, dest)
                raise
        except OSError as exc:
            raise CorpusWriteError(
                f"cannot store {relative_file(settings, dest)} with its entry in {settings.manifest_file.name}: "
                f"{exc.strerror or exc}; nothing was changed. Free disk space (or fix permissions) and try again"
            ) from exc
        finally:
            if backup is not None:
                backup.unlink(missing_ok=True)
    if replaces is not None and replaces.file != entry.file:
        with contextlib.suppress(OSError):
            entry_path(settings, replaces).unlink(missing_ok=True)


def _keep_aside(dest: Path) -> Path | None:
    """A hidden second name for the file at `dest` (a hard link), to put back on failure."""
    if not dest.exists():
        return None
    backup = dest.with_name(f".{dest.name}.{secrets.token_hex(4)}.part")  # a killed run's is debris
    try:
        os.link(dest, backup)
    except OSError:  # no hard links here: a copy does too
        shutil.copy2(dest, backup)
    return backup


def _put_back(backup: Path | None, dest: Path) -> None:
    with contextlib.suppress(OSError):
        if backup is None:
            dest.unlink(missing_ok=True)
        else:
            os.replace(backup, dest)


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
    with _locked(_manifest_lock(settings)):
        entries = load_manifest(settings)
        for key in remove:
            entries.pop(key, None)
        for entry in put:
            entries[entry.paper_id] = entry
        save_manifest(settings, entries)
        return entries


def _manifest_lock(settings: Settings) -> Path:
    # The lock file lives in the PDF folder, which is git-ignored in a checkout.
    return settings.pdf_dir / ".manifest.lock"


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
