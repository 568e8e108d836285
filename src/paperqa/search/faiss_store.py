"""The embedded backend's generation: FAISS dense vectors, a bm25s keyword index and the chunk
records, written once and opened into memory.
"""

from __future__ import annotations

import json
from array import array
from pathlib import Path
from typing import Any

import numpy as np

from ..records import Chunk
from .backend import (
    BM25_B,
    BM25_K1,
    EXACT_SUBSET_MAX,
    HNSW_EF_CONSTRUCTION,
    HNSW_EF_SEARCH,
    HNSW_M,
    HNSW_THRESHOLD,
    IndexMismatchError,
    OpenedIndex,
    check_readable,
    load_chunks,
    text_key,
    top_k,
)
from .embedders import Embedder
from .keywords import index_term, index_terms


def build_faiss(vectors: np.ndarray) -> Any:
    import faiss  # late: heavy native library: loaded when an index is built or opened

    dim = vectors.shape[1]
    if len(vectors) > HNSW_THRESHOLD:
        index = faiss.IndexHNSWFlat(dim, HNSW_M, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
    else:
        index = faiss.IndexFlatIP(dim)
    if len(vectors):
        index.add(vectors)
    return index


def faiss_type(index: Any) -> str:
    return type(index).__name__


def _stored_vectors(index: Any) -> np.ndarray:
    """A zero-copy (n, d) view of the vectors inside a flat or HNSW-flat index.

    The view points into `index`'s memory: keep `index` referenced as long as the view.
    """
    import faiss  # late: heavy native library: loaded when an index is built or opened

    flat = faiss.downcast_index(index.storage) if hasattr(index, "hnsw") else index
    n, d = flat.ntotal, flat.d
    if n == 0:
        return np.zeros((0, d), dtype=np.float32)
    return faiss.rev_swig_ptr(flat.get_xb(), n * d).reshape(n, d)


def token_ids(chunks: list[Chunk]) -> tuple[list[array], dict[str, int]]:
    """Each chunk's BM25 tokens as vocabulary ids (4 bytes each), and the vocabulary.

    Ids are assigned as tokens are first seen, one chunk at a time, so the token strings of the
    whole corpus never sit in memory at once (as lists of str they take ~10 KB per chunk: 10 GB
    at 1M chunks, against 0.6 KB as ids). A chunk with no tokens gets the empty token, as bm25s
    gives it when it builds the vocabulary itself.
    """
    vocab: dict[str, int] = {}
    ids = []
    for c in chunks:
        toks = index_terms(c.index_text) or [""]
        ids.append(array("i", [vocab.setdefault(t, len(vocab)) for t in toks]))
    return ids, vocab


def write_bm25(chunks: list[Chunk], out_dir: Path) -> None:
    import bm25s  # late: loaded with the index, not at import

    bm25 = bm25s.BM25(k1=BM25_K1, b=BM25_B)
    bm25.index(token_ids(chunks), show_progress=False)  # (ids, vocab): scores as from the token lists
    bm25.save(str(out_dir), show_progress=False)


def _load_bm25(path: Path) -> Any:
    import bm25s  # late: loaded with the index, not at import

    return bm25s.BM25.load(str(path), show_progress=False)


class Index(OpenedIndex):
    """One opened generation: chunk records plus dense and BM25 search, all in memory."""

    def __init__(self, path: Path, manifest: dict[str, Any], chunks: list[Chunk], dense: Any, bm25: Any):
        self.path = path
        self.manifest = manifest
        self.chunks = chunks
        self._dense = dense
        self._vectors = _stored_vectors(dense)
        self._bm25 = bm25
        by_paper: dict[str, list[int]] = {}
        for i, c in enumerate(chunks):
            by_paper.setdefault(c.paper_id, []).append(i)
        self._paper_rows = {p: np.asarray(r, dtype=np.int64) for p, r in by_paper.items()}
        if hasattr(dense, "hnsw"):
            dense.hnsw.efSearch = int(manifest.get("faiss", {}).get("ef_search", HNSW_EF_SEARCH))

    @property
    def generation(self) -> str:
        return self.path.name

    @property
    def paper_ids(self) -> list[str]:
        return sorted(self._paper_rows)

    def rows_for(self, allowed: set[str] | frozenset[str] | list[str]) -> np.ndarray:
        """Sorted rows of the chunks of the given papers (unknown ids match nothing)."""
        parts = [self._paper_rows[p] for p in allowed if p in self._paper_rows]
        if not parts:
            return np.zeros(0, dtype=np.int64)
        return np.sort(np.concatenate(parts))

    def search_dense(
        self, qvec: np.ndarray, k: int, allowed: set[str] | None = None
    ) -> list[tuple[int, float]]:
        """Top-k (row, cosine) for a query vector, optionally only within papers `allowed`."""
        q = self._query_vector(qvec)
        n = len(self.chunks)
        if allowed is None:
            kk = min(k, n)
            if kk <= 0:
                return []
            scores, ids = self._search_faiss(q, kk)
            keep = ids >= 0
            return top_k(scores[keep], ids[keep], kk)
        rows = self.rows_for(allowed)
        kk = min(k, rows.size)
        if kk <= 0:
            return []
        if rows.size <= EXACT_SUBSET_MAX:
            return top_k(self._vectors[rows] @ q, rows, kk)
        scores, ids = self._search_faiss(q, kk, rows)
        keep = ids >= 0
        return top_k(scores[keep], ids[keep], kk)

    def _search_faiss(
        self, q: np.ndarray, k: int, rows: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        import faiss  # late: heavy native library: loaded when an index is built or opened

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
        ids = self._bm25.get_tokens_ids(index_terms(query))
        if not ids or k <= 0:
            return []
        scores = np.asarray(self._bm25.get_scores_from_ids(ids), dtype=np.float32)
        rows = np.arange(scores.size, dtype=np.int64) if allowed is None else self.rows_for(allowed)
        sub = scores[rows]
        hit = sub > 0
        return top_k(sub[hit], rows[hit], k)

    # --- vocabulary (answer/confidence.py: does the list mention a name at all?) ---------------
    def has_term(self, token: str) -> bool:
        """True when `token` (as `keywords.tokenize` writes it) occurs in some indexed chunk."""
        return index_term(token) in self._bm25.vocab_dict


def open_generation(path: Path, embedder_name: str | None) -> Index:
    import faiss  # late: heavy native library: loaded when an index is built or opened

    manifest = json.loads((path / "manifest.json").read_text(encoding="utf-8"))
    check_readable(path, manifest, embedder_name)
    chunks = load_chunks(path / "chunks.jsonl")
    dense = faiss.read_index(str(path / "dense.faiss"))
    bm25 = _load_bm25(path / "bm25")
    if dense.ntotal != len(chunks) or dense.d != manifest.get("dim"):
        raise IndexMismatchError(
            f"The index in {path} is inconsistent ({dense.ntotal} vectors of {dense.d}-d for "
            f"{len(chunks)} chunks). Rebuild it with `paperqa index --full`."
        )
    return Index(path, manifest, chunks, dense, bm25)


def vectors_from_generation(path: Path, embedder: Embedder) -> dict[str, np.ndarray]:
    """key -> vector from a previous generation built with the same embedder, else {}."""
    import faiss  # late: heavy native library: loaded when an index is built or opened

    try:
        manifest = json.loads((path / "manifest.json").read_text(encoding="utf-8"))
        if (manifest.get("embedder"), manifest.get("dim")) != (embedder.name, embedder.dim):
            return {}
        chunks = load_chunks(path / "chunks.jsonl")
        dense = faiss.read_index(str(path / "dense.faiss"))
        vecs = dense.reconstruct_n(0, dense.ntotal)  # a copy: outlives `dense`
    except (OSError, ValueError, KeyError, RuntimeError, TypeError):
        return {}  # unreadable or old: fall back to the cache
    if len(vecs) != len(chunks):
        return {}
    return {text_key(c.index_text): vecs[i] for i, c in enumerate(chunks)}
