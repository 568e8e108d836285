"""Reciprocal rank fusion: merge ranked lists whose scores are not comparable (cosine vs BM25)."""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import TypeVar

K = TypeVar("K", bound=Hashable)


def rrf(
    rank_lists: Sequence[Sequence[K]], k: int = 60, weights: Sequence[float] | None = None
) -> list[tuple[K, float]]:
    """Fuse best-first lists of keys: score(key) = sum_i w_i / (k + rank_i), rank from 1.

    Only ranks matter, so no score normalisation is needed. Ties keep first-seen order
    (earlier lists, better ranks first), so the result is deterministic. Duplicates within one
    list count at their best rank only.
    """
    if weights is None:
        weights = [1.0] * len(rank_lists)
    if len(weights) != len(rank_lists):
        raise ValueError(f"rrf: {len(weights)} weights for {len(rank_lists)} lists")
    scores: dict[K, float] = {}
    for ranked, w in zip(rank_lists, weights, strict=True):
        seen: set[K] = set()
        for rank, key in enumerate(ranked, start=1):
            if key in seen:
                continue
            seen.add(key)
            scores[key] = scores.get(key, 0.0) + w / (k + rank)
    order = {key: i for i, key in enumerate(scores)}
    return sorted(scores.items(), key=lambda kv: (-kv[1], order[kv[0]]))
