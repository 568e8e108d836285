"""The vectors a build needs: reused from the previous generation or the embedding cache, else embedded."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

import numpy as np

from ..progress import Progress
from ..records import Chunk
from ..settings import Settings
from .backend import text_key
from .embedders import Embedder, canonical_name
from .unit import normalise_rows


class VectorCache:
    """Vectors by (embedder name, text sha256) in SQLite: appended per batch, so an
    interrupted build keeps what it had embedded and the next one resumes from there."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._db = sqlite3.connect(path, timeout=30)
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS vectors ("
            " model TEXT NOT NULL, key TEXT NOT NULL, dim INTEGER NOT NULL, vec BLOB NOT NULL,"
            " PRIMARY KEY (model, key))"
        )
        self._db.commit()

    def get_many(self, model: str, dim: int, keys: list[str]) -> dict[str, np.ndarray]:
        found: dict[str, np.ndarray] = {}
        for i in range(0, len(keys), 500):
            part = keys[i : i + 500]
            rows = self._db.execute(
                f"SELECT key, vec FROM vectors WHERE model = ? AND dim = ? AND key IN ({','.join('?' * len(part))})",
                (model, dim, *part),
            )
            for key, blob in rows:
                found[key] = np.frombuffer(blob, dtype=np.float32)
        return found

    def put_many(self, model: str, items: list[tuple[str, np.ndarray]]) -> None:
        with self._db:
            self._db.executemany(
                "INSERT OR REPLACE INTO vectors (model, key, dim, vec) VALUES (?, ?, ?, ?)",
                [(model, k, int(v.shape[0]), np.asarray(v, np.float32).tobytes()) for k, v in items],
            )

    def clear(self, model: str | None = None) -> int:
        with self._db:
            cur = (
                self._db.execute("DELETE FROM vectors")
                if model is None
                else self._db.execute("DELETE FROM vectors WHERE model = ?", (model,))
            )
        return cur.rowcount

    def count(self, model: str | None = None) -> int:
        q = "SELECT COUNT(*) FROM vectors" + ("" if model is None else " WHERE model = ?")
        return int(self._db.execute(q, () if model is None else (model,)).fetchone()[0])

    def close(self) -> None:
        self._db.close()


def cache_path(settings: Settings) -> Path:
    return settings.cache_dir / "embeddings.sqlite"


def clear_cache(settings: Settings, embedder_name: str | None = None) -> int:
    """Forget cached vectors (of one embedder, or all); returns how many were removed."""
    if not cache_path(settings).exists():
        return 0
    cache = VectorCache(cache_path(settings))
    try:
        return cache.clear(canonical_name(embedder_name) if embedder_name else None)
    finally:
        cache.close()


def _embed_missing(
    texts: dict[str, str],
    embedder: Embedder,
    cache: VectorCache,
    progress: Progress,
    batch_size: int,
) -> dict[str, np.ndarray]:
    """Embed texts (key -> text) in length-sorted batches, caching each batch as it finishes."""
    out: dict[str, np.ndarray] = {}
    keys = sorted(texts, key=lambda k: len(texts[k]))  # similar lengths batch with less padding
    progress.task(f"Embedding with {embedder.name}", total=len(keys))
    for i in range(0, len(keys), batch_size):
        part = keys[i : i + batch_size]
        vecs = normalise_rows(embedder.encode_passages([texts[k] for k in part], batch_size=batch_size))
        if vecs.shape != (len(part), embedder.dim):
            raise ValueError(
                f"Embedder {embedder.name} returned shape {vecs.shape} for {len(part)} texts, "
                f"expected ({len(part)}, {embedder.dim})."
            )
        items = list(zip(part, vecs, strict=True))
        cache.put_many(embedder.name, items)
        out.update(items)
        progress.advance(len(part))
    return out


def gather_vectors(
    chunks: list[Chunk],
    embedder: Embedder,
    settings: Settings,
    previous: Callable[[], dict[str, np.ndarray]] | None,
    *,
    clear_cache: bool,
    progress: Progress,
    batch_size: int,
) -> tuple[np.ndarray, int, int, int]:
    """Unit vectors for `chunks`, reusing the previous generation's and the cache's before embedding.

    `previous` (None when building in full) returns key -> vector of the live generation.
    Returns (vectors, embedded now, from cache, from index). Shared by both backends, so an
    incremental Milvus build embeds exactly what an incremental FAISS build would.
    """
    keys = [text_key(c.index_text) for c in chunks]
    unique = dict(zip(keys, (c.index_text for c in chunks), strict=True))
    have: dict[str, np.ndarray] = {}
    from_index = from_cache = 0
    if previous is not None:
        prev = previous()
        have = {k: prev[k] for k in unique if k in prev}
        from_index = sum(k in have for k in keys)
    cache = VectorCache(cache_path(settings))
    try:
        if clear_cache:
            cache.clear(embedder.name)
        missing = [k for k in unique if k not in have]
        cached = cache.get_many(embedder.name, embedder.dim, missing)
        from_cache = sum(k in cached and k not in have for k in keys)
        have.update(cached)
        if from_index:
            cache.put_many(embedder.name, [(k, have[k]) for k in unique if k in have and k not in cached])
        todo = {k: unique[k] for k in unique if k not in have}
        if todo:
            have.update(_embed_missing(todo, embedder, cache, progress, batch_size))
    finally:
        cache.close()
    return normalise_rows(np.stack([have[k] for k in keys])), len(todo), from_cache, from_index
