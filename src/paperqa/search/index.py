"""The on-disk search index: dense vectors (FAISS), keywords (BM25) and the chunk records.

Layout under `settings.index_dir`::

    CURRENT                  name of the live generation (replaced atomically with os.replace)
    gen-<utc>-<us>-<pid>/    one complete, immutable build
        manifest.json        embedder, chunker settings, hashes, counts, versions, faiss type
        chunks.jsonl         Chunk records; line i is row i of both indexes
        dense.faiss          IndexFlatIP, or IndexHNSWFlat (inner product) past HNSW_THRESHOLD
        bm25/                bm25s arrays + vocabulary (tokens from paperqa.search.keywords)
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
(`search/milvus.py`: one collection per generation, an alias switched at the end). Both open as
an `IndexBackend`; `open_index`, `build_index` and `read_manifest` pick the backend.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np

from ..progress import SILENT, Progress
from ..records import Chunk
from ..settings import Settings
from .backend import (
    HNSW_EF_CONSTRUCTION,
    HNSW_EF_SEARCH,
    HNSW_M,
    BuildOptions,
    BuildStats,
    IndexBackend,
    IndexMissingError,
    build_stats,
    check_chunks,
    manifest_base,
)
from .embedders import Embedder
from .faiss_store import build_faiss, faiss_type, open_generation, vectors_from_generation, write_bm25
from .generations import (
    build_lock,
    fsync_dir,
    fsync_tree,
    new_generation_name,
    prune,
    read_current,
    write_current,
)
from .milvus import build_milvus_index
from .milvus_client import parse_index_spec, read_milvus_manifest
from .milvus_index import open_milvus_index
from .vectors import gather_vectors

# scripts/bench_scale.py writes generations by hand through these names
_new_generation_name, _write_current, _manifest_base = new_generation_name, write_current, manifest_base


def read_manifest(settings: Settings) -> dict[str, Any] | None:
    """The live generation's manifest, or None when there is no index (cheap: no arrays)."""
    target = _milvus_target(settings)
    if target is not None:
        return read_milvus_manifest(target)
    gen = read_current(settings.index_dir)
    if gen is None:
        return None
    try:
        return json.loads((settings.index_dir / gen / "manifest.json").read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError):
        return None


def _milvus_target(settings: Settings) -> Any:
    """The Milvus target named by `settings.index`, or None for the FAISS default."""
    return parse_index_spec(getattr(settings, "index", "faiss"), settings.index_dir)


def open_index(settings: Settings, embedder_name: str | None = None) -> IndexBackend:
    """Open the live generation; check it was built with `embedder_name` (alias or full name)."""
    target = _milvus_target(settings)
    if target is not None:
        return open_milvus_index(target, embedder_name)
    index_dir = settings.index_dir
    for attempt in range(3):  # a concurrent build may swap and prune between reads
        gen = read_current(index_dir)
        if gen is None:
            if (index_dir / "milvus.db").exists():
                raise IndexMissingError(
                    f"No FAISS index in {index_dir}, but a Milvus one is there (milvus.db): "
                    "set PAPERQA_INDEX=milvus, or build a FAISS one with `paperqa index`."
                )
            raise IndexMissingError(
                f"No index in {index_dir}. Build it with `paperqa index` (after `paperqa download` "
                "has put the PDFs in place)."
            )
        path = index_dir / gen
        try:
            return open_generation(path, embedder_name)
        except FileNotFoundError:
            if attempt == 2 or read_current(index_dir) == gen:
                raise IndexMissingError(
                    f"The index in {index_dir} is incomplete ({path} is missing files). "
                    "Rebuild it with `paperqa index --full`."
                ) from None
    raise AssertionError("unreachable")


def _dense_info(dense: Any) -> dict[str, Any]:
    """The manifest's "faiss" entry for a built dense index."""
    info: dict[str, Any] = {
        "type": faiss_type(dense),
        "metric": "inner_product",
        "ntotal": int(dense.ntotal),
    }
    if hasattr(dense, "hnsw"):
        info.update(m=HNSW_M, ef_construction=HNSW_EF_CONSTRUCTION, ef_search=HNSW_EF_SEARCH)
    return info


def _write_dense(vectors: np.ndarray, path: Path) -> dict[str, Any]:
    """Build and write the FAISS index; returns its manifest entry. The index (a copy of every
    vector, plus the HNSW graph) is freed on return, before the BM25 build needs its memory."""
    import faiss  # late: heavy native library: loaded when an index is built or opened

    dense = build_faiss(vectors)
    faiss.write_index(dense, str(path))
    return _dense_info(dense)


def _write_generation(
    gen_dir: Path,
    chunks: list[Chunk],
    vectors: np.ndarray,
    embedder: Embedder,
    meta: dict[str, Any],
    t0: float,
) -> str:
    """Write every file of a generation, manifest last, and fsync them; returns the faiss type."""
    gen_dir.mkdir(parents=True)
    with open(gen_dir / "chunks.jsonl", "w", encoding="utf-8") as f:
        for c in chunks:
            f.write(json.dumps(c.to_dict(), ensure_ascii=False) + "\n")
    info = _write_dense(vectors, gen_dir / "dense.faiss")
    write_bm25(chunks, gen_dir / "bm25")
    seconds = time.perf_counter() - t0
    manifest = manifest_base(chunks, embedder, meta, gen_dir.name, seconds, "faiss", info, "bm25s")
    (gen_dir / "manifest.json").write_text(
        json.dumps(manifest, ensure_ascii=False, indent=2, default=str) + "\n", encoding="utf-8"
    )
    fsync_tree(gen_dir)
    fsync_dir(gen_dir.parent)
    return str(info["type"])


def build_index(
    chunks: list[Chunk],
    embedder: Embedder,
    settings: Settings,
    *,
    meta: dict[str, Any],
    full: bool = False,
    progress: Progress = SILENT,
    clear_cache: bool = False,
    batch_size: int = 32,
) -> BuildStats:
    """Build a new generation from `chunks` and make it live atomically.

    `meta`: "chunker" (dict of chunker settings), "catalog_hash", "corpus_hash"; other keys are
    kept under manifest["meta"]. On any exception (KeyboardInterrupt too) the live index is
    untouched and the partial generation is removed; embedded vectors stay cached.
    """
    opts = BuildOptions(meta, full, progress, clear_cache, batch_size)
    target = _milvus_target(settings)
    if target is not None:
        return build_milvus_index(chunks, embedder, settings, target, opts)
    t0 = time.perf_counter()
    check_chunks(chunks)
    index_dir = settings.index_dir
    index_dir.mkdir(parents=True, exist_ok=True)
    with build_lock(index_dir):
        old_gen = read_current(index_dir)
        previous = (
            None
            if full or old_gen is None
            else (lambda: vectors_from_generation(index_dir / old_gen, embedder))
        )
        vectors, *counts = gather_vectors(chunks, embedder, settings, previous, **opts.gathering())
        gen = new_generation_name()
        gen_dir = index_dir / gen
        try:
            index_type = _write_generation(gen_dir, chunks, vectors, embedder, meta, t0)
            write_current(index_dir, gen)
        except BaseException:
            if read_current(index_dir) != gen:  # interrupted before the swap took effect
                shutil.rmtree(gen_dir, ignore_errors=True)
            raise
        removed = prune(index_dir, {gen} | ({old_gen} if old_gen else set()))
    return build_stats(gen, gen_dir, chunks, tuple(counts), t0, index_type, removed)
