"""The on-disk search index: dense vectors (FAISS), keywords (BM25) and the chunk records.

Layout under `settings.index_dir`::

    CURRENT                  name of the live generation (replaced atomically with os.replace)
    gen-<utc>-<us>-<pid>/    one complete, immutable build
        manifest.json        embedder, chunker settings, hashes, counts, versions, faiss type
        chunks.jsonl         Chunk records; line i is row i of both indexes
        dense.faiss          IndexFlatIP, or IndexHNSWFlat (inner product) past HNSW_THRESHOLD
        bm25/                bm25s arrays + vocabulary (tokens from paperqa.keywords)
    cache/embeddings.sqlite  vectors keyed by (embedder name, sha256 of chunk text)
    .build.lock              held while a build runs (one build at a time)

Why generations: a build writes a new directory and only then swaps CURRENT, so an interrupted
build leaves the old index answering, and a process that opened the old generation keeps
working (everything it needs is in memory). The last two generations are kept.

Rebuilds: vectors come from the previous generation (same embedder, same text) and from the
cache, so only new or changed chunks are embedded. `full=True` ignores the previous
generation but still uses the cache (keyed by model and content, so never stale);
`clear_cache=True` also forgets this embedder's cached vectors and re-embeds everything.

Backends: this module is the embedded default (FAISS + bm25s, files under `index_dir`).
`settings.index` (PAPERQA_INDEX) = "milvus", "milvus-lite:/path/file.db" or
"milvus://host:19530" stores the same chunks, vectors and keyword index in Milvus instead
(`index_milvus.py`: one collection per generation, an alias switched at the end). Both open as
an `IndexBackend`; `open_index`, `build_index` and `read_manifest` pick the backend.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import sqlite3
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np

from . import __version__
from .embedders import Embedder, canonical_name, normalise_rows
from .errors import PaperqaError
from .keywords import TOKENIZER_VERSION, tokenize
from .records import Chunk
from .settings import Settings

if TYPE_CHECKING:
    from collections.abc import Callable

INDEX_FORMAT = 1
CURRENT_FILE = "CURRENT"
GEN_PREFIX = "gen-"
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
_GEN_RE = re.compile(r"^gen-[0-9A-Za-z._-]+$")
_BM25_K1 = 1.5
_BM25_B = 0.75


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


# --- helpers ------------------------------------------------------------------------


def text_key(text: str) -> str:
    """Cache key of a chunk's content."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _fsync_file(path: Path) -> None:
    with open(path, "rb+") as f:
        os.fsync(f.fileno())


def _fsync_dir(path: Path) -> None:
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


def _fsync_tree(root: Path) -> None:
    for p in sorted(root.rglob("*")):
        if p.is_file():
            _fsync_file(p)
    for d in [root, *(p for p in root.rglob("*") if p.is_dir())]:
        _fsync_dir(d)


def _read_current(index_dir: Path) -> str | None:
    try:
        name = (index_dir / CURRENT_FILE).read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    return name if _GEN_RE.match(name) else None


def _write_current(index_dir: Path, gen: str) -> None:
    """Point CURRENT at `gen` atomically: readers see the old name or the new, never half."""
    tmp = index_dir / f".{CURRENT_FILE}.{os.getpid()}.tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(gen + "\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, index_dir / CURRENT_FILE)
    _fsync_dir(index_dir)


def _new_generation_name() -> str:
    now = datetime.now(UTC)
    return f"{GEN_PREFIX}{now:%Y%m%dT%H%M%S}-{now.microsecond:06d}-{os.getpid()}"


@contextlib.contextmanager
def _build_lock(index_dir: Path) -> Iterator[None]:
    """One build at a time per index_dir (advisory lock; released when the process dies)."""
    try:
        import fcntl
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


# --- embedding cache ------------------------------------------------------------------


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


# --- dense and keyword structures -----------------------------------------------------


def _faiss_index(vectors: np.ndarray) -> Any:
    import faiss

    dim = vectors.shape[1]
    if len(vectors) > HNSW_THRESHOLD:
        index = faiss.IndexHNSWFlat(dim, HNSW_M, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
    else:
        index = faiss.IndexFlatIP(dim)
    if len(vectors):
        index.add(vectors)
    return index


def _faiss_type(index: Any) -> str:
    return type(index).__name__


def _stored_vectors(index: Any) -> np.ndarray:
    """A zero-copy (n, d) view of the vectors inside a flat or HNSW-flat index.

    The view points into `index`'s memory: keep `index` referenced as long as the view.
    """
    import faiss

    flat = faiss.downcast_index(index.storage) if hasattr(index, "hnsw") else index
    n, d = flat.ntotal, flat.d
    if n == 0:
        return np.zeros((0, d), dtype=np.float32)
    return faiss.rev_swig_ptr(flat.get_xb(), n * d).reshape(n, d)


def _write_bm25(chunks: list[Chunk], out_dir: Path) -> None:
    import bm25s

    corpus_tokens = [tokenize(c.index_text) or [""] for c in chunks]
    bm25 = bm25s.BM25(k1=_BM25_K1, b=_BM25_B)
    bm25.index(corpus_tokens, show_progress=False)
    bm25.save(str(out_dir), show_progress=False)


def _load_bm25(path: Path) -> Any:
    import bm25s

    return bm25s.BM25.load(str(path), show_progress=False)


def _top_k(scores: np.ndarray, rows: np.ndarray, k: int) -> list[tuple[int, float]]:
    """Best k (row, score) by score desc, row asc on ties (deterministic)."""
    if k <= 0 or scores.size == 0:
        return []
    if scores.size > k:
        part = np.argpartition(-scores, k - 1)[:k]
        scores, rows = scores[part], rows[part]
    order = np.lexsort((rows, -scores))
    return [(int(rows[i]), float(scores[i])) for i in order]


# --- the open index --------------------------------------------------------------------


class Index:
    """One opened generation: chunk records plus dense and BM25 search, all in memory."""

    def __init__(self, path: Path, manifest: dict[str, Any], chunks: list[Chunk], dense: Any, bm25: Any):
        self.path = path
        self.manifest = manifest
        self.chunks = chunks
        self._dense = dense
        self._vectors = _stored_vectors(dense)
        self._bm25 = bm25
        self._row_of = {c.chunk_id: i for i, c in enumerate(chunks)}
        by_paper: dict[str, list[int]] = {}
        for i, c in enumerate(chunks):
            by_paper.setdefault(c.paper_id, []).append(i)
        self._paper_rows = {p: np.asarray(r, dtype=np.int64) for p, r in by_paper.items()}
        if hasattr(dense, "hnsw"):
            dense.hnsw.efSearch = int(manifest.get("faiss", {}).get("ef_search", HNSW_EF_SEARCH))

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

    @property
    def generation(self) -> str:
        return self.path.name

    @property
    def paper_ids(self) -> list[str]:
        return sorted(self._paper_rows)

    def chunk(self, i: int) -> Chunk:
        return self.chunks[i]

    def row_of(self, chunk_id: str) -> int | None:
        return self._row_of.get(chunk_id)

    def rows_for(self, allowed: set[str] | frozenset[str] | list[str]) -> np.ndarray:
        """Sorted rows of the chunks of the given papers (unknown ids match nothing)."""
        parts = [self._paper_rows[p] for p in allowed if p in self._paper_rows]
        if not parts:
            return np.zeros(0, dtype=np.int64)
        return np.sort(np.concatenate(parts))

    def check_embedder(self, embedder: Embedder) -> None:
        """Raise IndexMismatchError unless `embedder` is the one this index was built with."""
        if embedder.name != self.embedder_name or embedder.dim != self.dim:
            raise _mismatch(self.path, self.manifest, f"{embedder.name} ({embedder.dim}-d)", embedder.name)

    def search_dense(
        self, qvec: np.ndarray, k: int, allowed: set[str] | None = None
    ) -> list[tuple[int, float]]:
        """Top-k (row, cosine) for a query vector, optionally only within papers `allowed`."""
        q = normalise_rows(np.asarray(qvec, dtype=np.float32).reshape(-1))
        if q.shape[0] != self.dim:
            raise _mismatch(self.path, self.manifest, f"a {q.shape[0]}-d query vector", None)
        n = len(self.chunks)
        if allowed is None:
            kk = min(k, n)
            if kk <= 0:
                return []
            scores, ids = self._search_faiss(q, kk)
            keep = ids >= 0
            return _top_k(scores[keep], ids[keep], kk)
        rows = self.rows_for(allowed)
        kk = min(k, rows.size)
        if kk <= 0:
            return []
        if rows.size <= EXACT_SUBSET_MAX:
            return _top_k(self._vectors[rows] @ q, rows, kk)
        scores, ids = self._search_faiss(q, kk, rows)
        keep = ids >= 0
        return _top_k(scores[keep], ids[keep], kk)

    def _search_faiss(
        self, q: np.ndarray, k: int, rows: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        import faiss

        if hasattr(self._dense, "hnsw"):
            params = faiss.SearchParametersHNSW(efSearch=max(int(self._dense.hnsw.efSearch), 2 * k))
        else:
            params = faiss.SearchParameters()
        sel = faiss.IDSelectorBatch(rows) if rows is not None else None  # referenced until the search ends
        if sel is not None:
            params.sel = sel
        scores, ids = self._dense.search(q[None, :], k, params=params)
        return scores[0].astype(np.float32), ids[0].astype(np.int64)

    def search_bm25(self, query: str, k: int, allowed: set[str] | None = None) -> list[tuple[int, float]]:
        """Top-k (row, BM25 score) for a question in any language; only rows with score > 0."""
        ids = self._bm25.get_tokens_ids(tokenize(query))
        if not ids or k <= 0:
            return []
        scores = np.asarray(self._bm25.get_scores_from_ids(ids), dtype=np.float32)
        rows = np.arange(scores.size, dtype=np.int64) if allowed is None else self.rows_for(allowed)
        sub = scores[rows]
        hit = sub > 0
        return _top_k(sub[hit], rows[hit], k)

    # --- vocabulary (answer/confidence.py: does the list mention a name at all?) ---------------
    def has_term(self, token: str) -> bool:
        """True when `token` (as `keywords.tokenize` writes it) occurs in some indexed chunk."""
        return token in self._bm25.vocab_dict


def _alias(name: str) -> str:
    """The short spelling a user would pass to --embedder for a stored name."""
    for short in ("minilm", "e5", "use"):
        if canonical_name(short) == name:
            return short
    return name.removeprefix("st:")


def _mismatch(
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


# --- open ----------------------------------------------------------------------------------


def _load_chunks(path: Path) -> list[Chunk]:
    names = {f.name for f in fields(Chunk)}
    out = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                d = json.loads(line)
                out.append(Chunk(**{k: v for k, v in d.items() if k in names}))
    return out


def read_manifest(settings: Settings) -> dict[str, Any] | None:
    """The live generation's manifest, or None when there is no index (cheap: no arrays)."""
    target = _milvus_target(settings)
    if target is not None:
        from .index_milvus import read_milvus_manifest

        return read_milvus_manifest(target)
    gen = _read_current(settings.index_dir)
    if gen is None:
        return None
    try:
        return json.loads((settings.index_dir / gen / "manifest.json").read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError):
        return None


def _milvus_target(settings: Settings) -> Any:
    """The Milvus target named by `settings.index`, or None for the FAISS default."""
    from .index_milvus import parse_index_spec

    return parse_index_spec(getattr(settings, "index", "faiss"), settings.index_dir)


def open_index(settings: Settings, embedder_name: str | None = None) -> IndexBackend:
    """Open the live generation; check it was built with `embedder_name` (alias or full name)."""
    target = _milvus_target(settings)
    if target is not None:
        from .index_milvus import open_milvus_index

        return open_milvus_index(target, embedder_name)
    index_dir = settings.index_dir
    for attempt in range(3):  # a concurrent build may swap and prune between reads
        gen = _read_current(index_dir)
        if gen is None:
            raise IndexMissingError(
                f"No index in {index_dir}. Build it with `paperqa index` (after `paperqa fetch` "
                "has put the PDFs in place)."
            )
        path = index_dir / gen
        try:
            return _open_generation(path, embedder_name)
        except FileNotFoundError:
            if attempt == 2 or _read_current(index_dir) == gen:
                raise IndexMissingError(
                    f"The index in {index_dir} is incomplete ({path} is missing files). "
                    "Rebuild it with `paperqa index --full`."
                ) from None
    raise AssertionError("unreachable")


def _open_generation(path: Path, embedder_name: str | None) -> Index:
    import faiss

    manifest = json.loads((path / "manifest.json").read_text(encoding="utf-8"))
    if manifest.get("format") != INDEX_FORMAT:
        raise IndexMismatchError(
            f"The index in {path} has format {manifest.get('format')!r}; this paperqa "
            f"({__version__}) reads format {INDEX_FORMAT}. Rebuild it with `paperqa index --full`."
        )
    if embedder_name is not None:
        wanted = canonical_name(embedder_name)
        if wanted != manifest.get("embedder"):
            raise _mismatch(path, manifest, f"embedder '{wanted}'", embedder_name)
    if manifest.get("bm25", {}).get("tokenizer") != TOKENIZER_VERSION:
        raise IndexMismatchError(
            f"The keyword index in {path} was built with tokenizer "
            f"{manifest.get('bm25', {}).get('tokenizer')!r}, this paperqa uses {TOKENIZER_VERSION!r}. "
            "Rebuild it with `paperqa index` (cached vectors are reused, so this is quick)."
        )
    chunks = _load_chunks(path / "chunks.jsonl")
    dense = faiss.read_index(str(path / "dense.faiss"))
    bm25 = _load_bm25(path / "bm25")
    if dense.ntotal != len(chunks) or dense.d != manifest.get("dim"):
        raise IndexMismatchError(
            f"The index in {path} is inconsistent ({dense.ntotal} vectors of {dense.d}-d for "
            f"{len(chunks)} chunks). Rebuild it with `paperqa index --full`."
        )
    return Index(path, manifest, chunks, dense, bm25)


# --- build ---------------------------------------------------------------------------------


def _check_chunks(chunks: list[Chunk]) -> None:
    if not chunks:
        raise ValueError("Nothing to index: no chunks. Run `paperqa fetch` (or `paperqa add`) first.")
    dupes = [cid for cid, n in Counter(c.chunk_id for c in chunks).items() if n > 1]
    if dupes:
        raise ValueError(f"Duplicate chunk ids (first: {dupes[0]!r}); chunk ids must be unique.")


def _vectors_from_generation(path: Path, embedder: Embedder) -> dict[str, np.ndarray]:
    """key -> vector from a previous generation built with the same embedder, else {}."""
    import faiss

    try:
        manifest = json.loads((path / "manifest.json").read_text(encoding="utf-8"))
        if (manifest.get("embedder"), manifest.get("dim")) != (embedder.name, embedder.dim):
            return {}
        chunks = _load_chunks(path / "chunks.jsonl")
        dense = faiss.read_index(str(path / "dense.faiss"))
        vecs = dense.reconstruct_n(0, dense.ntotal)  # a copy: outlives `dense`
    except (OSError, ValueError, KeyError, RuntimeError, TypeError):
        return {}  # unreadable or old: fall back to the cache
    if len(vecs) != len(chunks):
        return {}
    return {text_key(c.index_text): vecs[i] for i, c in enumerate(chunks)}


def _progress(console: Any, enabled: bool) -> Any:
    if not enabled:
        return contextlib.nullcontext(None)
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    return Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=console or Console(stderr=True),
        transient=False,
    )


def _embed_missing(
    texts: dict[str, str],
    embedder: Embedder,
    cache: VectorCache,
    progress: bool,
    console: Any,
    batch_size: int,
) -> dict[str, np.ndarray]:
    """Embed texts (key -> text) in length-sorted batches, caching each batch as it finishes."""
    out: dict[str, np.ndarray] = {}
    keys = sorted(texts, key=lambda k: len(texts[k]))  # similar lengths batch with less padding
    with _progress(console, progress) as bar:
        task = bar.add_task(f"Embedding with {embedder.name}", total=len(keys)) if bar else None
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
            if bar is not None:
                bar.advance(task, len(part))
    return out


def _manifest(
    chunks: list[Chunk], embedder: Embedder, dense: Any, meta: dict[str, Any], gen: str, seconds: float
) -> dict[str, Any]:
    info: dict[str, Any] = {
        "type": _faiss_type(dense),
        "metric": "inner_product",
        "ntotal": int(dense.ntotal),
    }
    if hasattr(dense, "hnsw"):
        info.update(m=HNSW_M, ef_construction=HNSW_EF_CONSTRUCTION, ef_search=HNSW_EF_SEARCH)
    return _manifest_base(chunks, embedder, meta, gen, seconds, "faiss", info, "bm25s")


def _manifest_base(
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
        "bm25": {"tokenizer": TOKENIZER_VERSION, "k1": _BM25_K1, "b": _BM25_B, "library": bm25_library},
        "built_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "build_seconds": round(seconds, 3),
        "paperqa_version": __version__,
    }


def _write_generation(
    gen_dir: Path,
    chunks: list[Chunk],
    vectors: np.ndarray,
    embedder: Embedder,
    meta: dict[str, Any],
    t0: float,
) -> str:
    """Write every file of a generation, manifest last, and fsync them; returns the faiss type."""
    import faiss

    gen_dir.mkdir(parents=True)
    with open(gen_dir / "chunks.jsonl", "w", encoding="utf-8") as f:
        for c in chunks:
            f.write(json.dumps(c.to_dict(), ensure_ascii=False) + "\n")
    dense = _faiss_index(vectors)
    faiss.write_index(dense, str(gen_dir / "dense.faiss"))
    _write_bm25(chunks, gen_dir / "bm25")
    manifest = _manifest(chunks, embedder, dense, meta, gen_dir.name, time.perf_counter() - t0)
    (gen_dir / "manifest.json").write_text(
        json.dumps(manifest, ensure_ascii=False, indent=2, default=str) + "\n", encoding="utf-8"
    )
    _fsync_tree(gen_dir)
    _fsync_dir(gen_dir.parent)
    return _faiss_type(dense)


def _prune(index_dir: Path, keep: set[str]) -> tuple[str, ...]:
    """Remove generations not in `keep` (the live one and the one before it), oldest first."""
    removed = []
    for d in sorted(index_dir.glob(f"{GEN_PREFIX}*")):
        if d.is_dir() and d.name not in keep:
            shutil.rmtree(d, ignore_errors=True)
            removed.append(d.name)
    return tuple(removed)


def _gather_vectors(
    chunks: list[Chunk],
    embedder: Embedder,
    settings: Settings,
    previous: Callable[[], dict[str, np.ndarray]] | None,
    *,
    clear_cache: bool,
    progress: bool,
    console: Any,
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
            have.update(_embed_missing(todo, embedder, cache, progress, console, batch_size))
    finally:
        cache.close()
    return normalise_rows(np.stack([have[k] for k in keys])), len(todo), from_cache, from_index


def build_index(
    chunks: list[Chunk],
    embedder: Embedder,
    settings: Settings,
    *,
    meta: dict[str, Any],
    full: bool = False,
    progress: bool = True,
    console: Any = None,
    clear_cache: bool = False,
    batch_size: int = 32,
) -> BuildStats:
    """Build a new generation from `chunks` and make it live atomically.

    `meta`: "chunker" (dict of chunker settings), "catalog_hash", "corpus_hash"; other keys are
    kept under manifest["meta"]. On any exception (KeyboardInterrupt too) the live index is
    untouched and the partial generation is removed; embedded vectors stay cached.
    """
    target = _milvus_target(settings)
    if target is not None:
        from .index_milvus import build_milvus_index

        return build_milvus_index(
            chunks,
            embedder,
            settings,
            target,
            meta=meta,
            full=full,
            progress=progress,
            console=console,
            clear_cache=clear_cache,
            batch_size=batch_size,
        )
    t0 = time.perf_counter()
    _check_chunks(chunks)
    index_dir = settings.index_dir
    index_dir.mkdir(parents=True, exist_ok=True)
    with _build_lock(index_dir):
        old_gen = _read_current(index_dir)
        previous = None
        if not full and old_gen is not None:
            previous = lambda: _vectors_from_generation(index_dir / old_gen, embedder)  # noqa: E731
        vectors, embedded, from_cache, from_index = _gather_vectors(
            chunks,
            embedder,
            settings,
            previous,
            clear_cache=clear_cache,
            progress=progress,
            console=console,
            batch_size=batch_size,
        )

        gen = _new_generation_name()
        gen_dir = index_dir / gen
        try:
            index_type = _write_generation(gen_dir, chunks, vectors, embedder, meta, t0)
            _write_current(index_dir, gen)
        except BaseException:
            if _read_current(index_dir) != gen:  # interrupted before the swap took effect
                shutil.rmtree(gen_dir, ignore_errors=True)
            raise
        removed = _prune(index_dir, {gen} | ({old_gen} if old_gen else set()))
    return BuildStats(
        generation=gen,
        path=gen_dir,
        chunks=len(chunks),
        papers=len({c.paper_id for c in chunks}),
        embedded=embedded,
        from_cache=from_cache,
        from_index=from_index,
        reused=from_cache + from_index,
        seconds=round(time.perf_counter() - t0, 3),
        index_type=index_type,
        removed=removed,
    )
