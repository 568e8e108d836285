"""Second-stage passage ranking: separate the passage that answers from those that share its words.

Fusion (RRF) ranks by agreement between two retrievers, so five passages of one paper that all
mention "memory" score within 1% of each other. This stage re-scores the fused head with more
than shared words: where the passage sits in its paper (abstract, introduction, method, versus
background, related work, appendix, references), how close its meaning is to the question (the
dense cosine, not only the dense rank), how much of the question's words it holds, how strong its
paper is overall, and the question's type. The weights are a logistic model fitted on the tuning
half of the evaluation set by `scripts/fit_ranker.py` and stored in `ranker_params.json`; none is
set by hand.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np

from ..params import load_params
from ..parse.chunking import is_entry_head
from ..records import Chunk
from .keywords import tokenize

PARAMS_FILE = Path(__file__).with_name("ranker_params.json")
SECTIONS_FILE = Path(__file__).with_name("section_kinds.json")


@lru_cache(maxsize=1)
def _section_kinds() -> tuple[tuple[str, re.Pattern[str]], ...]:
    """Heading words of the usual parts of a paper (language data, in a file beside this module)."""
    data = json.loads(SECTIONS_FILE.read_text(encoding="utf-8"))
    return tuple(
        (kind, re.compile(r"\b(" + "|".join(words) + r")", re.IGNORECASE)) for kind, words in data.items()
    )


SECTION_KINDS = ("abstract", "intro", "method", "experiments", "background", "discussion", "other")
QUESTION_KINDS = ("what", "how", "why", "number", "which")
_QUESTION_CUES: dict[str, re.Pattern[str]] = {
    "number": re.compile(r"\bhow (many|much|large|big|long)\b|多少|几个|多大|多长|多久", re.IGNORECASE),
    "why": re.compile(r"\bwhy\b|为什么|为何", re.IGNORECASE),
    "how": re.compile(r"\bhow\b|如何|怎么|怎样", re.IGNORECASE),
    "which": re.compile(r"\bwhich\b|哪些|哪个|哪篇|哪一", re.IGNORECASE),
    "what": re.compile(r"\bwhat\b|什么", re.IGNORECASE),
}


def question_kind(question: str) -> str:
    """The question's form, first cue wins in the order above ("how many" is a number question)."""
    for kind, cue in _QUESTION_CUES.items():
        if cue.search(question):
            return kind
    return "what"


def section_kind(kind: str, section: str) -> str:
    """Which part of its paper a chunk (of this kind, under this heading) comes from."""
    if kind in ("abstract", "summary"):
        return "abstract"
    for name, pattern in _section_kinds():
        if pattern.search(section or ""):
            return name
    return "other"


def feature_names() -> tuple[str, ...]:
    base = (
        "fused",
        "inv_rank",
        "dense_cos",
        "dense_inv",
        "bm25_inv",
        "term_cov",
        "cross_inv",
        "cross_cov",
        "paper_strength",
        "named",
        "named_common",
        "summary_tail",
        "summary",
        "appendix",
        "references",
        "early_page",
    )
    sections = tuple(f"sec_{s}" for s in SECTION_KINDS)
    crossed = tuple(
        f"{q}_x_{s}" for q in QUESTION_KINDS for s in ("abstract", "intro", "method", "experiments")
    )
    return base + sections + crossed


@dataclass(frozen=True)
class RankerParams:
    """A logistic model over `feature_names()`; `weights` empty means "keep the fused order"."""

    depth: int = 30  # fused candidates re-scored (the rest keep their fused order after them)
    # passages a search returns unless asked for another number (`Settings.k`): what an answer
    # reads, fitted on the answers by scripts/fit_answers.py, not by the ranker's own fit
    k: int = 12
    names: tuple[str, ...] = ()
    mean: tuple[float, ...] = ()
    scale: tuple[float, ...] = ()
    weights: tuple[float, ...] = ()
    bias: float = 0.0
    fitted_on: dict[str, object] = field(default_factory=dict)  # what the fit saw, for the record

    @classmethod
    def load(cls, path: Path = PARAMS_FILE) -> RankerParams:
        if not path.is_file():
            return cls()
        params = load_params(cls, path)
        if params.weights and params.names != feature_names():
            # written for other features: fall back to the fused order, never guess (k is no weight)
            return cls(k=params.k)
        return params

    def save(self, path: Path = PARAMS_FILE) -> None:
        path.write_text(json.dumps(asdict(self), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")

    def score(self, x: np.ndarray) -> np.ndarray:
        z = (x - np.asarray(self.mean)) / np.asarray(self.scale)
        return z @ np.asarray(self.weights) + self.bias


@dataclass(frozen=True)
class Candidates:
    """The first stage's output for one question: what the second stage re-scores."""

    query: str  # the question's topic as searched
    qvec: np.ndarray
    dense: list[int]  # chunk rows, best first
    bm25: list[int]
    named: frozenset[str]  # papers the question names
    fused: list[tuple[int, float]]  # (row, fused score), best first
    crossing: list[int] = field(default_factory=list)  # BM25 over the question's English words
    english: tuple[tuple[str, ...], ...] = ()  # per Chinese word of the question, its English tokens
    # per named paper, how common the question's name for it is in the other papers (NameSpread)
    named_spread: dict[str, float] = field(default_factory=dict)


def features(
    cand: Candidates,
    head: Sequence[tuple[int, float]],
    chunks: Sequence[Chunk],
    vectors: np.ndarray,
    pages_of: dict[str, int],
) -> np.ndarray:
    """One row of `feature_names()` per fused candidate in `head` (row, fused score)."""
    question, qvec, named = cand.query, cand.qvec, cand.named
    dense_ranks = {row: i for i, row in enumerate(cand.dense, 1)}
    bm25_ranks = {row: i for i, row in enumerate(cand.bm25, 1)}
    cross_ranks = {row: i for i, row in enumerate(cand.crossing, 1)}
    if not head:
        return np.zeros((0, len(feature_names())), dtype=np.float32)
    q_tokens = set(tokenize(question))
    top = head[0][1] or 1.0
    strength: dict[str, float] = {}
    for row, score in head:
        pid = chunks[row].paper_id
        strength[pid] = strength.get(pid, 0.0) + score / top
    best_paper = max(strength.values())
    qkind = question_kind(question)
    q = np.asarray(qvec, dtype=np.float32).reshape(-1)
    q = q / (np.linalg.norm(q) or 1.0)
    out = []
    for i, (row, score) in enumerate(head, 1):
        c = chunks[row]
        toks = set(tokenize(c.text))
        sec = section_kind(c.kind, c.section)
        n_pages = pages_of.get(c.paper_id, 0)
        values = {
            "fused": score / top,
            "inv_rank": 1.0 / i,
            "dense_cos": float(vectors[row] @ q),
            "dense_inv": 1.0 / dense_ranks[row] if row in dense_ranks else 0.0,
            "bm25_inv": 1.0 / bm25_ranks[row] if row in bm25_ranks else 0.0,
            "term_cov": len(q_tokens & toks) / len(q_tokens) if q_tokens else 0.0,
            "cross_inv": 1.0 / cross_ranks[row] if row in cross_ranks else 0.0,
            # share of the question's Chinese words whose English stands in the passage
            "cross_cov": sum(1 for e in cand.english if toks.intersection(e)) / len(cand.english)
            if cand.english
            else 0.0,
            "paper_strength": strength[c.paper_id] / best_paper,
            "named": float(c.paper_id in named),
            "named_common": cand.named_spread.get(c.paper_id, 0.0),  # its keys are the named papers
            "summary": float(c.kind == "summary"),
            # a long entry's later chunk: its facts, without the lines that say what the paper is
            "summary_tail": float(c.kind == "summary" and not is_entry_head(c)),
            "appendix": float(c.zone == "appendix"),
            "references": float(c.zone == "references"),
            "early_page": 1.0 - (c.page_start - 1) / n_pages if c.page_start and n_pages else 0.0,
        }
        for s in SECTION_KINDS:
            values[f"sec_{s}"] = float(sec == s)
        for qk in QUESTION_KINDS:
            for s in ("abstract", "intro", "method", "experiments"):
                values[f"{qk}_x_{s}"] = float(qk == qkind and sec == s)
        out.append([values[name] for name in feature_names()])
    return np.asarray(out, dtype=np.float32)


def rerank(head: Sequence[tuple[int, float]], x: np.ndarray, params: RankerParams) -> list[tuple[int, float]]:
    """`head` re-ordered by the model's score (a probability-like 0..1, ties by fused order)."""
    if not params.weights or len(head) == 0:
        return list(head)
    z = params.score(x)
    probs = [1.0 / (1.0 + math.exp(-float(v))) for v in z]
    order = sorted(range(len(head)), key=lambda i: (-probs[i], i))
    return [(head[i][0], round(probs[i], 6)) for i in order]
