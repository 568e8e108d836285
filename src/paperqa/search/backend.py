"""What both index backends share: tunable numbers, errors, the opened-index protocol, build
stats, the manifest and the checks on chunks and embedders.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections import Counter
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from .. import __version__
from ..errors import PaperqaError
from ..progress import SILENT, Progress
from ..records import Chunk
from .embedders import Embedder, canonical_name
from .keywords import TOKENIZER_VERSION
from .unit import normalise_rows

INDEX_FORMAT = 1  # bumped when the files of a generation change shape
# Measured with scripts/bench_faiss.py (2-core EPYC, 384-d, one query): exact search takes
# 0.5 ms at 10k vectors, 3 ms at 50k and 6-8 ms at 100k; HNSW stays under 1 ms but loses
# recall, so exact search is kept up to 100k vectors.
HNSW_THRESHOLD = 100_000
HNSW_M = 32
HNSW_EF_CONSTRUCTION = 80
HNSW_EF_SEARCH = 128
# A paper filter with at most this many rows is scored with numpy over just those rows (exact,
# and cheaper than a masked scan); larger filters go to faiss with an ID selector.
EXACT_SUBSET_MAX = 20_000
# bm25s's defaults (Robertson's usual k1 and b): term-frequency saturation and length normalisation
BM25_K1 = 1.5
BM25_B = 0.75


class PaperIndexError(PaperqaError, RuntimeError):
    """Base class of index problems; messages say what is wrong and the command that fixes it."""


class IndexMissingError(PaperIndexError):
    """No usable index exists yet."""


class IndexMismatchError(PaperIndexError):
    """The index was built with another embedder, dimension or format than requested."""


class IndexBusyError(PaperIndexError):
    """Another build holds the lock."""


@runtime_checkable
class IndexBackend(Protocol):
    """What the Library needs from an opened index, whichever store holds it.

    Rows are positions in `chunks`; every search returns (row, score) best first, score desc and
    row asc on ties, so both backends give the same answers for the same data.
    """

    chunks: list[Chunk]
    manifest: dict[str, Any]

    def __len__(self) -> int: ...

    @property
    def vectors(self) -> np.ndarray: ...

    @property
    def generation(self) -> str: ...

    @property
    def embedder_name(self) -> str: ...

    @property
    def dim(self) -> int: ...

    @property
    def paper_ids(self) -> list[str]: ...

    def chunk(self, i: int) -> Chunk: ...

    def row_of(self, chunk_id: str) -> int | None: ...

    def check_embedder(self, embedder: Embedder) -> None: ...

    def search_dense(
        self, qvec: np.ndarray, k: int, allowed: set[str] | None = None
    ) -> list[tuple[int, float]]: ...

    def search_bm25(self, query: str, k: int, allowed: set[str] | None = None) -> list[tuple[int, float]]: ...

    def has_term(self, token: str) -> bool: ...


@dataclass(frozen=True)
class BuildStats:
    """What a build did: how many vectors were computed vs reused, and where it went."""

    generation: str
    path: Path
    chunks: int
    papers: int
    embedded: int  # vectors computed now (unique texts)
    from_cache: int  # chunks whose vector came from the embedding cache
    from_index: int  # chunks whose vector came from the previous generation
    reused: int  # from_cache + from_index: chunks not embedded now
    seconds: float
    index_type: str
    removed: tuple[str, ...] = ()  # generations pruned after the swap
    backend: str = "faiss"  # faiss | milvus (then `path` is the milvus-lite file or the index dir)


def text_key(text: str) -> str:
    """Cache key of a chunk's content."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def top_k(scores: np.ndarray, rows: np.ndarray, k: int) -> list[tuple[int, float]]:
    """Best k (row, score) by score desc, row asc on ties (deterministic)."""
    if k <= 0 or scores.size == 0:
        return []
    if scores.size > k:
        part = np.argpartition(-scores, k - 1)[:k]
        scores, rows = scores[part], rows[part]
    order = np.lexsort((rows, -scores))
    return [(int(rows[i]), float(scores[i])) for i in order]


def _alias(name: str) -> str:
    """The short spelling a user would pass to --embedder for a stored name."""
    for short in ("minilm", "e5", "use"):
        if canonical_name(short) == name:
            return short
    return name.removeprefix("st:")


def check_readable(where: Any, manifest: dict[str, Any], embedder_name: str | None) -> None:
    """Raise IndexMismatchError unless this paperqa can read an index with this manifest: its
    format, its embedder (when one is asked for) and its keyword tokenizer. Both backends."""
    if manifest.get("format") != INDEX_FORMAT:
        raise IndexMismatchError(
            f"The index in {where} has format {manifest.get('format')!r}; this paperqa "
            f"({__version__}) reads format {INDEX_FORMAT}. Rebuild it with `paperqa index --full`."
        )
    if embedder_name is not None:
        wanted = canonical_name(embedder_name)
        if wanted != manifest.get("embedder"):
            raise mismatch_error(where, manifest, f"embedder '{wanted}'", embedder_name)
    if manifest.get("bm25", {}).get("tokenizer") != TOKENIZER_VERSION:
        raise IndexMismatchError(
            f"The keyword index in {where} was built with tokenizer "
            f"{manifest.get('bm25', {}).get('tokenizer')!r}, this paperqa uses {TOKENIZER_VERSION!r}. "
            "Rebuild it with `paperqa index` (cached vectors are reused, so this is quick)."
        )


@dataclass(frozen=True)
class BuildOptions:
    """How a build runs, the same for every backend (see `index.build_index`)."""

    meta: dict[str, Any]  # "chunker", "catalog_hash", "corpus_hash"; others kept under manifest["meta"]
    full: bool = False  # re-embed everything, reusing nothing from the live generation
    progress: Progress = SILENT
    clear_cache: bool = False  # also drop the local embedding cache
    batch_size: int = 32  # passages per embedder call

    def gathering(self) -> dict[str, Any]:
        """The options `vectors.gather_vectors` takes."""
        return {"clear_cache": self.clear_cache, "progress": self.progress, "batch_size": self.batch_size}


def mismatch_error(
    path: Path | str, manifest: dict[str, Any], requested: str, requested_spec: str | None
) -> IndexMismatchError:
    name, dim = manifest.get("embedder", "?"), manifest.get("dim", "?")
    how = (
        f"Rebuild it with: paperqa index --full --embedder {_alias(requested_spec)}"
        if requested_spec
        else "Rebuild it with: paperqa index --full --embedder <name>"
    )
    return IndexMismatchError(
        f"The index in {path} was built with embedder '{name}' ({dim}-d), but was queried with "
        f"{requested}. {how}, or query it with --embedder {_alias(str(name))}."
    )


def load_chunks(path: Path) -> list[Chunk]:
    names = {f.name for f in fields(Chunk)}
    out = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                d = json.loads(line)
                out.append(Chunk(**{k: v for k, v in d.items() if k in names}))
    return out


def check_chunks(chunks: list[Chunk]) -> None:
    if not chunks:
        raise ValueError("Nothing to index: no chunks. Run `paperqa download` (or `paperqa add`) first.")
    dupes = [cid for cid, n in Counter(c.chunk_id for c in chunks).items() if n > 1]
    if dupes:
        raise ValueError(f"Duplicate chunk ids (first: {dupes[0]!r}); chunk ids must be unique.")


def manifest_base(
    chunks: list[Chunk],
    embedder: Embedder,
    meta: dict[str, Any],
    gen: str,
    seconds: float,
    store_key: str,
    store_info: dict[str, Any],
    bm25_library: str,
) -> dict[str, Any]:
    """The manifest both backends write; `store_key` ("faiss" / "milvus") holds the store's own details."""
    known = ("chunker", "catalog_hash", "corpus_hash")
    by_paper_kind = Counter(c.kind for c in chunks)
    return {
        "format": INDEX_FORMAT,
        "generation": gen,
        "embedder": embedder.name,
        "dim": int(embedder.dim),
        "chunker": meta.get("chunker", {}),
        "catalog_hash": meta.get("catalog_hash", ""),
        "corpus_hash": meta.get("corpus_hash", ""),
        "meta": {k: v for k, v in meta.items() if k not in known},
        "counts": {
            "chunks": len(chunks),
            "papers": len({c.paper_id for c in chunks}),
            "by_kind": dict(sorted(by_paper_kind.items())),
        },
        store_key: store_info,
        "bm25": {"tokenizer": TOKENIZER_VERSION, "k1": BM25_K1, "b": BM25_B, "library": bm25_library},
        "built_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "build_seconds": round(seconds, 3),
        "paperqa_version": __version__,
    }


def build_stats(
    gen: str,
    path: Path,
    chunks: list[Chunk],
    counts: tuple[int, int, int],
    t0: float,
    index_type: str,
    removed: tuple[str, ...],
    backend: str = "faiss",
) -> BuildStats:
    """The stats of a finished build; `counts`: (embedded now, from the cache, from the index)."""
    embedded, from_cache, from_index = counts
    return BuildStats(
        generation=gen,
        path=path,
        chunks=len(chunks),
        papers=len({c.paper_id for c in chunks}),
        embedded=embedded,
        from_cache=from_cache,
        from_index=from_index,
        reused=from_cache + from_index,
        seconds=round(time.perf_counter() - t0, 3),
        index_type=index_type,
        removed=removed,
        backend=backend,
    )


class OpenedIndex:
    """What both backends' opened indexes answer the same way, from their chunks and manifest."""

    chunks: list[Chunk]
    manifest: dict[str, Any]
    path: Any  # where it lives: a generation folder, or the Milvus target
    _vectors: np.ndarray

    def __len__(self) -> int:
        return len(self.chunks)

    @property
    def vectors(self) -> np.ndarray:
        """The stored unit vectors, one row per chunk (read-only; the reranker reads cosines)."""
        return self._vectors

    @property
    def embedder_name(self) -> str:
        return str(self.manifest["embedder"])

    @property
    def dim(self) -> int:
        return int(self.manifest["dim"])

    def chunk(self, i: int) -> Chunk:
        return self.chunks[i]

    def _query_vector(self, qvec: np.ndarray) -> np.ndarray:
        """The query as a unit vector of this index's dimension (else IndexMismatchError)."""
        q = normalise_rows(np.asarray(qvec, dtype=np.float32).reshape(-1))
        if q.shape[0] != self.dim:
            raise mismatch_error(self.path, self.manifest, f"a {q.shape[0]}-d query vector", None)
        return q

    def check_embedder(self, embedder: Embedder) -> None:
        """Raise IndexMismatchError unless `embedder` is the one this index was built with."""
        if embedder.name != self.embedder_name or embedder.dim != self.dim:
            raise mismatch_error(
                self.path, self.manifest, f"{embedder.name} ({embedder.dim}-d)", embedder.name
            )
