"""How close a question comes in meaning to what the reading list is about.

A question about cooking can share its words, and even its meaning, with a passage of the index:
GPT-2's appendix prints generated cake recipes, InstructGPT's prints model samples in French. What
it does not come near is any paper's summary entry: the lists' own words for what each paper is
about. The decline reads this as one signal (`answer.confidence.DeclineSignals.topic`).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..parse.chunking import is_entry_head
from .backend import IndexBackend
from .embedders import Embedder


class TopicMeter:
    """`meter(question)`: the best cosine between the question and the index's summary entries
    (0.0 when the index holds none, or the question is blank). Reads the live index on each call
    (a reload swaps it); the summary rows are found once per index generation."""

    def __init__(self, embedder: Callable[[], Embedder], index: Callable[[], IndexBackend]):
        self._embedder, self._index = embedder, index
        self._rows: tuple[str, np.ndarray] | None = None  # (generation, summary rows)

    def _summary_rows(self, idx: IndexBackend) -> np.ndarray:
        if self._rows is None or self._rows[0] != idx.generation:
            # an entry's first chunk, as when the decline was fitted: what the paper is about
            rows = np.asarray([i for i, c in enumerate(idx.chunks) if is_entry_head(c)], dtype=np.int64)
            self._rows = (idx.generation, rows)
        return self._rows[1]

    def __call__(self, question: str) -> float:
        idx = self._index()
        rows = self._summary_rows(idx)
        if not len(rows) or not question.strip():
            return 0.0
        q = np.asarray(self._embedder().encode_query(question), dtype=np.float32).reshape(-1)
        q = q / (float(np.linalg.norm(q)) or 1.0)
        return float((idx.vectors[rows] @ q).max())
