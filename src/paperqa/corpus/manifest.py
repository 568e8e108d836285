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
import json
import os
import secrets
import shutil
import tempfile
import time
from collections.abc import Iterator, Mapping
from dataclasses import fields
from pathlib import Path
from typing import Any

from ..errors import PaperqaError
from ..records import ManifestEntry
from ..settings import Settings
from .pdfcheck import sha256_file

STALE_PART_AGE = 3600.0  # with another run alive, only partial files this old are surely dead
_ENTRY_FIELDS = {f.name for f in fields(ManifestEntry)}


class ManifestError(PaperqaError, ValueError):
    """The manifest file is damaged; the message names it and the way out."""


class CorpusWriteError(PaperqaError):
    """A verified PDF could not be stored with its manifest entry; nothing was changed."""


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
        import fcntl  # late: POSIX only (absent on Windows)
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


def _manifest_lock(settings: Settings) -> Path:
    # The lock file lives in the PDF folder, which is git-ignored in a checkout.
    return settings.pdf_dir / ".manifest.lock"


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        import fcntl  # late: POSIX only (absent on Windows)
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


class ManifestCache:
    """The corpus manifest, re-read only when its file changes (answers ask per citation)."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self._cached: tuple[int, dict[str, ManifestEntry]] | None = None

    def get(self) -> dict[str, ManifestEntry]:
        try:
            mtime = self.settings.manifest_file.stat().st_mtime_ns
        except OSError:
            mtime = 0
        if self._cached is None or self._cached[0] != mtime:
            self._cached = (mtime, load_manifest(self.settings))
        return self._cached[1]
