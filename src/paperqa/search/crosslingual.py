"""Chinese question words -> the English words of the indexed papers that mean the same.

CC-CEDICT gives a Chinese term its dictionary glosses (遮盖 "to cover; to hide", 比例
"proportion; scale"), which often miss the word a paper uses ("mask", "ratio", "percentage").
The multilingual embedder knows both languages: the English words of the indexed text are
embedded once per index generation (cached under the index's cache folder), and a Chinese term
is matched to its nearest English words by cosine. Only with a multilingual embedder (USE, e5):
an English-only or hash embedder has no Chinese to match.

How many neighbours, and how close, are `CrossLingualParams`, fitted on the tuning half by
`scripts/fit_crosslingual.py`.
"""

from __future__ import annotations

import collections
import hashlib
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import numpy as np

from ..cjk import CJK_IDEOGRAPHS
from ..corpus.manifest import install, staged_file
from ..errors import PaperqaError
from ..params import load_params
from .backend import IndexBackend
from .dictionary import english_for
from .dictionary import params as dictionary_params
from .embedders import E5_NAME, USE_NAME, Embedder
from .keywords import EN_STOPWORDS, tokenize

PARAMS_FILE = Path(__file__).with_name("crosslingual_params.json")

MULTILINGUAL = (USE_NAME, E5_NAME)

_WORD_RE = re.compile(r"[A-Za-z][A-Za-z-]{2,}")
_CJK_RE = re.compile(f"[{CJK_IDEOGRAPHS}]")


@dataclass(frozen=True)
class CrossLingualParams:
    """Which English words stand for a Chinese term (JSON: PARAMS_FILE)."""

    top: int = 3  # nearest English words taken per Chinese term
    min_cos: float = 0.6  # ... when at least this close in meaning
    min_count: int = 2  # a word seen once in the corpus is often a PDF artefact ("Englishto")
    max_words: int = 30000  # the most frequent words: bounds the one-time embedding cost
    max_chunks: int = 20000  # chunks read for the vocabulary (evenly spaced in a bigger index)
    fitted_on: dict[str, object] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path = PARAMS_FILE) -> CrossLingualParams:
        return load_params(cls, path) if path.is_file() else cls()


def corpus_words(texts: Sequence[str], params: CrossLingualParams) -> list[str]:
    """The English words of the indexed text, most frequent first (lower case)."""
    counts: collections.Counter[str] = collections.Counter()
    for text in texts:
        counts.update(w.lower().strip("-") for w in _WORD_RE.findall(text))
    common = counts.most_common(params.max_words)
    return [w for w, n in common if n >= params.min_count and len(w) >= 3 and w not in EN_STOPWORDS]


class TermNeighbours:
    """`english_for(term)`: the corpus's English words nearest a Chinese term, best first."""

    def __init__(
        self,
        words: list[str],
        embedder: Embedder,
        cache_file: Path | None = None,
        params: CrossLingualParams | None = None,
        vectors: np.ndarray | None = None,
    ):
        self.words = words
        self.embedder = embedder
        self.params = params or CrossLingualParams.load()
        self._cache_file = cache_file
        self._vectors = vectors  # the words' vectors when already embedded (a fit tries many params)

    @property
    def vectors(self) -> np.ndarray:
        if self._vectors is None:
            self._vectors = _load_or_embed(self.words, self.embedder, self._cache_file)
        return self._vectors

    def english_for(self, term: str) -> tuple[str, ...]:
        if not self.words:
            return ()
        sims = self.vectors @ self.embedder.encode_query(term)
        out: dict[str, str] = {}  # one word per family: "proportion", not also "proportions"
        for i in np.argsort(-sims)[: 8 * self.params.top]:
            if sims[i] < self.params.min_cos or len(out) >= self.params.top:
                break
            out.setdefault(self.words[i][:5], self.words[i])
        return tuple(out.values())


def term_neighbours(
    embedder: Embedder, texts: Callable[[], Sequence[str]], cache_dir: Path, generation: str
) -> Callable[[str], tuple[str, ...]] | None:
    """The cross-lingual lookup for an index (None for an embedder with no Chinese), memoised."""
    if embedder.name not in MULTILINGUAL:
        return None
    params = CrossLingualParams.load()
    chunks = list(texts())
    step = max(1, len(chunks) // params.max_chunks)
    words = corpus_words(chunks[::step], params)
    key = hashlib.sha1(("\n".join(words) + embedder.name).encode()).hexdigest()[:16]
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", f"{generation}-{key}")
    neighbours = TermNeighbours(words, embedder, cache_dir / "crosslingual" / f"{name}.npy", params)
    return cache(neighbours.english_for)


class LiveNeighbours:
    """`term_neighbours` of the live index, opened on first use and again after `reset()` (a
    rebuilt index); no neighbours while there is no index to match against."""

    def __init__(self, embedder: Callable[[], Embedder], index: Callable[[], IndexBackend], cache_dir: Path):
        self._embedder, self._index, self._cache_dir = embedder, index, cache_dir
        self._lookup: Callable[[str], tuple[str, ...]] | None = None
        self._opened = False

    def reset(self) -> None:
        self._lookup, self._opened = None, False

    def __call__(self, term: str) -> tuple[str, ...]:
        if not self._opened:
            self._opened = True
            try:
                opened = self._index()
            except PaperqaError:
                return ()
            texts = lambda: [c.text for c in opened.chunks]  # noqa: E731
            self._lookup = term_neighbours(self._embedder(), texts, self._cache_dir, opened.generation)
        return self._lookup(term) if self._lookup is not None else ()


def _load_or_embed(words: list[str], embedder: Embedder, cache_file: Path | None) -> np.ndarray:
    """The words' vectors, from the cache when it holds them (written whole or not at all)."""
    if cache_file is not None and cache_file.is_file():
        try:
            vectors = np.load(cache_file)
            if vectors.shape[0] == len(words):
                return vectors
        except (OSError, ValueError):
            pass  # a damaged cache is rebuilt
    vectors = np.asarray(embedder.encode_passages(words), dtype=np.float32)
    if cache_file is not None:
        try:
            with staged_file(cache_file) as tmp:
                with tmp.open("wb") as fh:
                    np.save(fh, vectors)
                install(tmp, cache_file)
        except OSError:
            pass  # a read-only data folder: embed again next time
    return vectors


def crossing_words(
    question: str, neighbours: Callable[[str], tuple[str, ...]] | None = None
) -> tuple[tuple[str, ...], ...]:
    """Per Chinese word of a question, the English keyword tokens that stand for it: its
    CC-CEDICT glosses and (with `neighbours`) the papers' own nearest words. Why: the papers are
    English, so a Chinese question's words meet only the Chinese summary entries in BM25; these
    tokens let keyword search and the second stage read the English passages too."""
    out = []
    for token in dict.fromkeys(tokenize(question)):
        if not _CJK_RE.search(token) or len(token) < dictionary_params().min_chinese_chars:
            continue
        words = [*english_for(token), *(neighbours(token) if neighbours is not None else ())]
        tokens = tuple(dict.fromkeys(t for w in words for t in tokenize(w) if not _CJK_RE.search(t)))
        if tokens:
            out.append(tokens)
    return tuple(out)
