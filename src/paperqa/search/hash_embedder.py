"""A model-free embedder: hashed word and character features, instant and deterministic. For tests
and for trying paperqa without a model (`--embedder hash`); it knows no synonyms.
"""

from __future__ import annotations

import hashlib
import math
import re
import unicodedata
from collections import Counter

import numpy as np

from ..cjk import CJK
from .unit import normalise_rows

HASH_DEFAULT_DIM = 256


_FEATURE_RE = re.compile(rf"[{CJK}]+|[^\W_{CJK}]+", re.UNICODE)


def _hash_features(text: str) -> Counter[str]:
    """Words, char 3-grams of Latin words, CJK characters and bigrams: enough overlap to rank."""
    feats: Counter[str] = Counter()
    for run in _FEATURE_RE.findall(unicodedata.normalize("NFKC", text).lower()):
        if re.match(rf"[{CJK}]", run):
            feats.update(run)
            feats.update(run[i : i + 2] for i in range(len(run) - 1))
        else:
            feats["w:" + run] += 1
            padded = f"<{run}>"
            feats.update("c:" + padded[i : i + 3] for i in range(len(padded) - 2))
    return feats


class HashEmbedder:
    """Deterministic hashed bag of features: no model, instant, stable across processes.

    Only for unit tests of the index: it ranks by shared words, not by meaning.
    """

    def __init__(self, dim: int = HASH_DEFAULT_DIM) -> None:
        if dim < 8:
            raise ValueError("hash embedder dimension must be >= 8")
        self._dim = dim
        self.name = f"hash:{dim}"

    @property
    def dim(self) -> int:
        return self._dim

    def _one(self, text: str) -> np.ndarray:
        v = np.zeros(self._dim, dtype=np.float32)
        for feat, tf in _hash_features(text).items():
            h = int.from_bytes(hashlib.blake2b(feat.encode(), digest_size=8).digest(), "little")
            v[h % self._dim] += (1.0 if (h >> 63) & 1 else -1.0) * (1.0 + math.log(tf))
        return v

    def encode_passages(self, texts: list[str], batch_size: int = 32, progress: bool = False) -> np.ndarray:
        if not texts:
            return np.zeros((0, self._dim), dtype=np.float32)
        return normalise_rows(np.stack([self._one(t) for t in texts]))

    def encode_query(self, text: str) -> np.ndarray:
        return normalise_rows(self._one(text))
