"""The search stage end to end: a question in, ranked `Passage` records out; and the index build.

`candidates` is the first stage (dense and BM25 hits fused, papers the question names lifted),
`search` adds the fitted second stage (`rerank.py`) and one-paper-per-slot diversity.

`k` is the same everywhere in paperqa: the number of passages wanted (a whole number, 1 or more).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import asdict, dataclass, is_dataclass
from numbers import Integral
from pathlib import Path
from typing import Any

import numpy as np

from ..catalog.catalog import Catalog
from ..corpus.manifest import load_manifest
from ..errors import UsageError
from ..parse.ingest import collect_chunks
from ..progress import SILENT, Progress
from ..records import Passage
from ..settings import Settings
from .crosslingual import crossing_words
from .embedders import Embedder
from .index import IndexBackend, build_index
from .keywords import tokenize
from .rerank import Candidates, RankerParams, features, rerank, section_kind
from .retrieve import FusionParams, NameLinker, diversify, fuse, search_query, to_passage

MODES = ("fused", "fused-only", "dense", "bm25")


@dataclass(frozen=True)
class SearchContext:
    """What a search reads, opened once by the Library and shared by every question."""

    index: IndexBackend
    embedder: Embedder
    catalog: Catalog
    fusion: FusionParams
    ranker: RankerParams
    name_linker: NameLinker
    pages_of: Callable[[], dict[str, int]]  # page counts of the PDFs on hand (a ranking signal)
    # a Chinese word -> the indexed papers' English words for it (crosslingual.LiveNeighbours)
    neighbours: Callable[[str], tuple[str, ...]] | None = None
    # (name, paper) -> share of the other papers that mention the name (retrieve.NameSpread)
    name_spread: Callable[[str, str], float] | None = None


def check_k(k: int | None, name: str = "k") -> None:
    """Refuse k < 1 up front: a negative k sliced from the end and 0 silently meant "default"."""
    if k is not None and (isinstance(k, bool) or not isinstance(k, Integral) or k < 1):
        raise UsageError(f"{name} must be a whole number of passages, 1 or more (got {k!r})")


def candidates(ctx: SearchContext, question: str, papers: list[str] | None = None) -> Candidates | None:
    """First stage for a cleaned question: dense and BM25 hits fused, with what the second stage needs."""
    if not question:
        return None
    params, idx, catalog = ctx.fusion, ctx.index, ctx.catalog
    allowed = {catalog.get(p).paper_id if catalog.find(p) else p for p in papers} if papers else None
    query = search_query(question)
    qvec = ctx.embedder.encode_query(query)
    dense = [row for row, _ in idx.search_dense(qvec, params.depth, allowed=allowed)]
    bm25 = [row for row, _ in idx.search_bm25(query, params.depth, allowed=allowed)]
    # a Chinese question's words in English, so keyword search reaches the English passages
    english = crossing_words(query, ctx.neighbours)
    crossing: list[int] = []
    if english:
        words = " ".join(w for words in english for w in words)
        crossing = [row for row, _ in idx.search_bm25(words, params.depth, allowed=allowed)]
    spans = ctx.name_linker.spans(question)
    named = frozenset(pid for _, _, pid in spans)
    spread: dict[str, float] = {}
    if ctx.name_spread is not None:
        for a, b, pid in spans:  # a paper named twice is as specific as its rarer name
            spread[pid] = min(spread.get(pid, 1.0), ctx.name_spread(question[a:b], pid))
    fused = fuse(idx.chunks, dense, bm25, params, named=named, crossing=crossing, spread=spread)
    return Candidates(query, qvec, dense, bm25, named, fused, crossing, english, spread)


def rank_features(ctx: SearchContext, cand: Candidates, head: list[tuple[int, float]]) -> np.ndarray:
    """The second stage's feature rows for the fused `head` (one row per candidate)."""
    return features(cand, head, ctx.index.chunks, ctx.index.vectors, ctx.pages_of())


def _reranked(ctx: SearchContext, cand: Candidates) -> list[tuple[int, float]]:
    """The fused head re-scored by the fitted second stage (see `rerank.py`)."""
    params = ctx.ranker
    if not params.weights:
        return cand.fused
    head, tail = cand.fused[: params.depth], cand.fused[params.depth :]
    return rerank(head, rank_features(ctx, cand, head), params) + [(row, 0.0) for row, _ in tail]


def _ordered(ctx: SearchContext, cand: Candidates, mode: str) -> list[tuple[int, float]]:
    rrf_k = ctx.fusion.rrf_k
    if mode == "dense":
        return [(row, 1.0 / (rrf_k + r)) for r, row in enumerate(cand.dense, 1)]
    if mode == "bm25":
        return [(row, 1.0 / (rrf_k + r)) for r, row in enumerate(cand.bm25, 1)]
    if mode == "fused-only" or not ctx.ranker.weights:
        return diversify(cand.fused, ctx.index.chunks, ctx.fusion.per_paper)
    # diversified within the re-scored head only: a passage the second stage never saw does
    # not jump ahead of one it judged, however many of one paper's passages come first
    ranked = _reranked(ctx, cand)
    depth = ctx.ranker.depth
    return diversify(ranked[:depth], ctx.index.chunks, ctx.fusion.per_paper) + ranked[depth:]


def search(ctx: SearchContext, cand: Candidates | None, k: int = 10, mode: str = "fused") -> list[Passage]:
    """The best `k` passages of the candidates, in the order `mode` gives (see `Library.search`)."""
    check_k(k)
    if cand is None:
        return []
    idx = ctx.index
    ranks_d = {row: i for i, row in enumerate(cand.dense, 1)}
    ranks_b = {row: i for i, row in enumerate(cand.bm25, 1)}
    q = np.asarray(cand.qvec, dtype=np.float32).reshape(-1)
    q = q / (float(np.linalg.norm(q)) or 1.0)
    out = []
    ordered = _ordered(ctx, cand, mode)
    if mode == "fused":
        ordered = _abstract_first(ctx, cand, ordered)
    entries: set[tuple[str, int]] = set()
    for row, score in ordered:
        if len(out) == k:
            break
        c = idx.chunks[row]
        if c.kind == "summary":  # one passage per entry: each of its chunks cites the whole entry
            if (c.paper_id, c.summary_index) in entries:
                continue
            entries.add((c.paper_id, c.summary_index))
        p = ctx.catalog.find(c.paper_id)
        sim = float(idx.vectors[row] @ q)
        title = p.title if p else c.paper_id
        out.append(to_passage(c, title, score, ranks_d.get(row, 0), ranks_b.get(row, 0), sim))
    return out


def _abstract_first(
    ctx: SearchContext, cand: Candidates, ordered: list[tuple[int, float]]
) -> list[tuple[int, float]]:
    """A question that is only a paper's name ("What is LoRA?", "GraphRAG是什么？") asks what the
    paper is, which its abstract says; every other passage of it repeats the name as often. Its
    abstract's passages go first, scored as the best one so far."""
    spans = ctx.name_linker.spans(cand.query)
    named = {pid for _, _, pid in spans}
    if len(named) != 1:
        return ordered
    rest = cand.query
    for a, b, _ in sorted(spans, reverse=True):
        rest = rest[:a] + " " + rest[b:]
    if tokenize(rest):
        return ordered
    chunks = ctx.index.chunks
    (pid,) = named
    abstract = [
        row
        for row, c in enumerate(chunks)
        if c.paper_id == pid and c.kind == "paper" and section_kind(c.kind, c.section) == "abstract"
    ]
    if not abstract:
        return ordered
    top = ordered[0][1] if ordered else 1.0
    first = set(abstract)
    return [(row, top) for row in abstract] + [(row, s) for row, s in ordered if row not in first]


def build(
    settings: Settings,
    catalog: Catalog,
    embedder: Embedder,
    *,
    full: bool = False,
    progress: Progress = SILENT,
) -> dict[str, Any]:
    """Parse what is new, chunk, embed what changed, and swap the new index in atomically."""
    chunk_settings = {"max_words": settings.chunk_words, "overlap_words": settings.chunk_overlap}
    chunks, report = collect_chunks(settings, catalog, **chunk_settings)
    meta = {
        "chunker": chunk_settings,
        "catalog_hash": catalog.source_hash,
        "corpus_hash": _corpus_hash(settings),
    }
    stats = build_index(chunks, embedder, settings, meta=meta, full=full, progress=progress)
    return {"ingest": report.to_dict(), "index": _as_dict(stats)}


def _corpus_hash(settings: Settings) -> str:
    h = hashlib.sha256()
    for pid, e in sorted(load_manifest(settings).items()):
        h.update(f"{pid}:{e.sha256}\n".encode())
    return h.hexdigest()[:16]


def _as_dict(obj: Any) -> Any:
    """A stats record as plain JSON values (paths as strings)."""
    d = obj.to_dict() if hasattr(obj, "to_dict") else asdict(obj) if is_dataclass(obj) else obj
    return {k: str(v) if isinstance(v, Path) else v for k, v in d.items()} if isinstance(d, dict) else d
