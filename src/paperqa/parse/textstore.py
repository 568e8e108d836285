"""Clean page texts, kept on disk so that quotes can be checked verbatim against the page.

One JSON file per paper under `<home>/corpus/text/`, written atomically by the
ingestion step and read by the answer step (which never re-parses a PDF).
"""

from __future__ import annotations

import json
import os
import tempfile
from functools import lru_cache
from pathlib import Path

from ..records import Page
from ..settings import Settings


def _path(settings: Settings, paper_id: str) -> Path:
    return settings.corpus_dir / "text" / f"{paper_id}.json"


def save_pages(settings: Settings, paper_id: str, pages: list[Page], source_sha256: str) -> Path:
    path = _path(settings, paper_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {"paper_id": paper_id, "sha256": source_sha256, "pages": [p.to_dict() for p in pages]}
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{paper_id}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(payload, f, ensure_ascii=False)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def stored_sha256(settings: Settings, paper_id: str) -> str | None:
    """The sha256 of the PDF the stored text came from (None: no text stored)."""
    path = _path(settings, paper_id)
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8")).get("sha256")
    except (OSError, ValueError):
        return None


def load_pages(settings: Settings, paper_id: str) -> list[Page]:
    return list(_load(_path(settings, paper_id), _mtime(_path(settings, paper_id))))


def page_text(settings: Settings, paper_id: str, page: int) -> str:
    """Text of one page (1-based), or "" when the paper or page is not stored."""
    for p in load_pages(settings, paper_id):
        if p.page == page:
            return p.text
    return ""


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


@lru_cache(maxsize=64)
def _load(path: Path, mtime: float) -> tuple[Page, ...]:
    """Cached per (file, mtime): a rebuilt text file is re-read, an unchanged one is not."""
    if not mtime:
        return ()
    data = json.loads(path.read_text(encoding="utf-8"))
    return tuple(Page(**p) for p in data["pages"])
