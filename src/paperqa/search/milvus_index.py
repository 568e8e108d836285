"""An opened Milvus generation: the same `IndexBackend` answers as the FAISS default, from Milvus."""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from ..records import Chunk
from .backend import (
    BM25_K1,
    IndexMismatchError,
    IndexMissingError,
    OpenedIndex,
    check_readable,
    top_k,
)
from .keywords import index_term
from .milvus_client import (
    MAX_LIMIT,
    IndexGoneError,
    MilvusTarget,
    backend_error,
    call,
    chunk_from_json,
    encode_tokens,
    is_missing,
    live_collection,
    milvus_client,
    read_manifest_of,
    read_rows,
    term_code,
)


class MilvusIndex(OpenedIndex):
    """One opened generation in Milvus: chunks and vectors in memory, searches in Milvus."""

    def __init__(
        self,
        target: MilvusTarget,
        collection: str,
        manifest: dict[str, Any],
        chunks: list[Chunk],
        vectors: np.ndarray,
    ):
        self.target = target
        self.collection = collection
        self.manifest = manifest
        self.chunks = chunks
        self._vectors = vectors
        self._vectors.setflags(write=False)
        self._papers = sorted({c.paper_id for c in chunks})
        self._terms: dict[str, bool] = {}
        info = manifest.get("milvus", {})
        self._search_params: dict[str, Any] = {"metric_type": "IP"}
        self._ef = int(info.get("ef_search", 0))
        self._k1 = float(manifest.get("bm25", {}).get("k1", BM25_K1))

    @property
    def path(self) -> str:
        return f"{self.target.label} (collection {self.collection})"

    @property
    def generation(self) -> str:
        return str(self.manifest["generation"])

    @property
    def paper_ids(self) -> list[str]:
        return list(self._papers)

    def _search(self, data: Any, field: str, k: int, params: dict[str, Any], allowed: Any) -> list:
        expr = "" if allowed is None else f"paper_id in {json.dumps(sorted(allowed), ensure_ascii=False)}"
        try:
            res = milvus_client(self.target).search(
                self.collection,
                data=[data],
                anns_field=field,
                limit=min(k, MAX_LIMIT),
                filter=expr,
                output_fields=["row"],
                search_params=params,
            )
        except Exception as exc:
            if is_missing(exc):
                raise IndexGoneError(
                    f"Generation {self.generation} in {self.target.label} was dropped by newer builds. "
                    "Reopen the index (restart `paperqa serve`, or Library.reload())."
                ) from exc
            raise backend_error(self.target, exc) from exc
        return list(res[0]) if res else []

    def search_dense(
        self, qvec: np.ndarray, k: int, allowed: set[str] | None = None
    ) -> list[tuple[int, float]]:
        """Top-k (row, cosine) for a query vector, optionally only within papers `allowed`."""
        q = self._query_vector(qvec)
        if k <= 0 or not self.chunks or (allowed is not None and not allowed):
            return []
        params = dict(self._search_params)
        if self._ef:
            params["params"] = {"ef": max(self._ef, 2 * k)}
        hits = self._search(q.tolist(), "vector", min(k, len(self.chunks)), params, allowed)
        rows = np.asarray([h["row"] for h in hits], dtype=np.int64)
        scores = np.asarray([h["distance"] for h in hits], dtype=np.float32)
        return top_k(scores, rows, k)

    def search_bm25(self, query: str, k: int, allowed: set[str] | None = None) -> list[tuple[int, float]]:
        """Top-k (row, BM25 score on bm25s's scale) for a question in any language; scores > 0 only."""
        text = encode_tokens(query)
        if not text or k <= 0 or (allowed is not None and not allowed):
            return []
        hits = self._search(text, "sparse", k, {"metric_type": "BM25"}, allowed)
        rows = np.asarray([h["row"] for h in hits], dtype=np.int64)
        # milvus-lite reports -score as the distance, a Milvus server +score: BM25 is never negative
        scores = np.abs(np.asarray([h["distance"] for h in hits], dtype=np.float64)) / (self._k1 + 1.0)
        keep = scores > 0
        return top_k(scores[keep].astype(np.float32), rows[keep], k)

    def has_term(self, token: str) -> bool:
        """True when `token` occurs in some indexed chunk: a one-term BM25 search, remembered."""
        if token not in self._terms:
            hits = self._search(term_code(index_term(token)), "sparse", 1, {"metric_type": "BM25"}, None)
            self._terms[token] = bool(hits)
        return self._terms[token]


def open_milvus_index(target: MilvusTarget, embedder_name: str | None = None) -> MilvusIndex:
    """Open the generation the alias names; same checks as the FAISS path."""
    absent = target.lite_path is not None and not target.lite_path.exists()
    live = None if absent else live_collection(target)
    if live is None:
        raise IndexMissingError(
            f"No index in {target.label}. Build it with `paperqa index --backend milvus` "
            "(or PAPERQA_INDEX set as now), after `paperqa download` has put the PDFs in place."
        )
    manifest = read_manifest_of(target, live)
    if manifest is None:
        raise IndexMissingError(
            f"The index in {target.label} is incomplete (no manifest for {live}). "
            "Rebuild it with `paperqa index --full`."
        )
    where = f"{target.label} (collection {live})"
    check_readable(where, manifest, embedder_name)
    client = milvus_client(target)
    call(target, client.load_collection, live)  # a restarted milvus-lite starts collections released
    n = int(manifest["counts"]["chunks"])
    chunks: list[Chunk] = []
    vectors = np.zeros((n, int(manifest["dim"])), dtype=np.float32)
    for batch in read_rows(target, live, n, ["row", "record", "vector"]):
        for r in batch:
            if r["row"] != len(chunks):
                break
            vectors[len(chunks)] = r["vector"]
            chunks.append(chunk_from_json(r["record"]))
    if len(chunks) != n:
        raise IndexMismatchError(
            f"The index in {where} is inconsistent (rows 0..{len(chunks)} of {n} chunks readable). "
            "Rebuild it with `paperqa index --full`."
        )
    return MilvusIndex(target, live, manifest, chunks, vectors)
