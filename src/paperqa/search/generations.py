"""Index generations on disk: the CURRENT pointer swapped atomically, one build at a time, pruning."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from .backend import IndexBusyError

CURRENT_FILE = "CURRENT"


GEN_PREFIX = "gen-"


_GEN_RE = re.compile(r"^gen-[0-9A-Za-z._-]+$")


def _fsync_file(path: Path) -> None:
    with open(path, "rb+") as f:
        os.fsync(f.fileno())


def fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # Windows cannot open directories
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def fsync_tree(root: Path) -> None:
    for p in sorted(root.rglob("*")):
        if p.is_file():
            _fsync_file(p)
    for d in [root, *(p for p in root.rglob("*") if p.is_dir())]:
        fsync_dir(d)


def read_current(index_dir: Path) -> str | None:
    try:
        name = (index_dir / CURRENT_FILE).read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    return name if _GEN_RE.match(name) else None


def write_current(index_dir: Path, gen: str) -> None:
    """Point CURRENT at `gen` atomically: readers see the old name or the new, never half."""
    tmp = index_dir / f".{CURRENT_FILE}.{os.getpid()}.tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(gen + "\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, index_dir / CURRENT_FILE)
    fsync_dir(index_dir)


def new_generation_name() -> str:
    now = datetime.now(UTC)
    return f"{GEN_PREFIX}{now:%Y%m%dT%H%M%S}-{now.microsecond:06d}-{os.getpid()}"


@contextlib.contextmanager
def build_lock(index_dir: Path) -> Iterator[None]:
    """One build at a time per index_dir (advisory lock; released when the process dies)."""
    try:
        import fcntl  # late: POSIX only (absent on Windows)
    except ImportError:  # Windows: no advisory lock; builds are still atomic
        yield
        return
    with open(index_dir / ".build.lock", "a+") as f:
        try:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as e:
            raise IndexBusyError(
                f"Another build is running on {index_dir} (lock {index_dir / '.build.lock'}). "
                "Wait for it to finish, then run `paperqa index` again if needed."
            ) from e
        try:
            yield
        finally:
            fcntl.flock(f.fileno(), fcntl.LOCK_UN)


def prune(index_dir: Path, keep: set[str]) -> tuple[str, ...]:
    """Remove generations not in `keep` (the live one and the one before it), oldest first."""
    removed = []
    for d in sorted(index_dir.glob(f"{GEN_PREFIX}*")):
        if d.is_dir() and d.name not in keep:
            shutil.rmtree(d, ignore_errors=True)
            removed.append(d.name)
    return tuple(removed)
