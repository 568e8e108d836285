"""The extractive engine's first half: the passages' quotable sentences (`quotable.py`), how well
each answers the question (fitted weights in `sentence_params.json`, `scripts/fit_sentences.py`),
picked with a redundancy penalty (maximal marginal relevance).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np

from ..params import load_params
from ..search.keywords import tokenize
from ..search.rerank import SECTION_KINDS, section_kind
from .base import Source
from .definitions import defines_a_name
from .kinds import (
    CAPTION_RE,
    DEFINITION_S_RE,
    MATH_RE,
    REASON_S_RE,
    question_kinds,
    states_a_number,
)
from .quotable import printed_output, quotable
from .text import Term, collapse_ws, lite_stem, stems, term_matches, word_set

LOWER_FIRST = word_set(
    """The This These That Those It Its In To A An For By With Since Because However Therefore
    Thus Unlike Instead Each Both Such When While Using As Their Here Our We Most Many All First
    Second Third Finally Then Also Moreover Furthermore Additionally Specifically Note One Another
    Overall Recently More Given Although Compared Following Based After Before During Without Instead"""
)


LIST_Q_RE = re.compile(
    r"\bwhich (papers|works|articles|models)\b|\blist (the |all )?papers\b|\bwhat papers\b|"
    r"\bwhich of the (listed )?(papers|works)\b|"
    r"哪些论文|哪几篇|哪些文章|哪些工作|有哪些[^？?。，,]{0,30}的?(论文|文章|工作)",
    re.IGNORECASE,
)


LIST_ITEM_RE = re.compile(r"^\s*\d{1,2}\s*[.、)]")


SENTENCE_PARAMS_FILE = Path(__file__).with_name("sentence_params.json")


@dataclass
class Cand:
    source: Source
    index: int  # position among the source's sentences
    text: str
    page: int | None
    toks: list[str]
    rel: float = 0.0
    # the question's topic terms it states, each with its share of their weight (for MMR's coverage)
    covers: dict[str, float] = field(default_factory=dict)

    @property
    def zh(self) -> bool:
        """Reading-list text (Chinese, even a line of English terms in it) rather than the paper's."""
        return self.source.kind == "summary"


def candidates(sources: Sequence[Source]) -> list[Cand]:
    """Sentences worth showing: whole, mostly words (not a table or a formula), and verbatim in
    their page, so the quote is the sentence itself (if no page text is there to check at all,
    unchecked ones are used and their citations carry no quote)."""
    out: list[Cand] = []
    unchecked: list[Cand] = []  # used only when no page text can be checked at all
    for src in sources:
        if printed_output(src.passage.section, src.passage.zone):
            continue  # a model's words, printed as an example, are not the paper's claims
        for i, s in enumerate(src.sentences):
            if s.example or not quotable(s.text, src.kind):
                continue
            cand = Cand(src, i, s.text, s.page, [lite_stem(t) for t in tokenize(s.text)])
            (out if s.page is not None else unchecked).append(cand)
    return out or unchecked


def sentence_feature_names() -> tuple[str, ...]:
    sections = tuple(f"sec_{k}" for k in SECTION_KINDS)
    return (
        "bm25",
        "coverage",
        "coverage_topic",
        "named_miss",
        "title_cov",
        "source_rank",
        "source_score",
        "position",
        "summary",
        "definition",
        "defines_name",
        "number",
        "reason",
        "q_number",
        "q_why",
        "q_definition",
        "caption",
        "math",
        "length",
        *sections,
        *NEIGHBOUR_FEATURES,
        *POOL_FEATURES,
    )


# A sentence's standing in its own pool: how far below the pool's best it covers the question (and
# its paper and neighbours do), and its rank by BM25 and by coverage. What counts is beating the
# other candidates for this question, not an absolute level that varies from question to question.
POOL_RELATIVE = ("coverage", "coverage_topic", "source_score", "title_cov", "nb_coverage")
POOL_FEATURES = (*(f"gap_{n}" for n in POOL_RELATIVE), "rank_bm25", "rank_coverage")


# An answer often sits next to the sentence that repeats the question ("To counteract this
# effect, we scale ..." follows the reason it counteracts): the best of the two neighbours'
# BM25 and coverage, in the same passage.
NEIGHBOUR_FEATURES = ("nb_bm25", "nb_coverage")


@dataclass(frozen=True)
class SentenceParams:
    """How sentences are chosen. `weights` is a logistic model over `sentence_feature_names()`,
    fitted on the tuning half by `scripts/fit_sentences.py`; the MMR thresholds say when a
    sentence is too weak or too repetitive to add after the first."""

    k1: float = 1.2  # BM25 term-frequency saturation (the usual value)
    b: float = 0.5  # BM25 length normalisation for paper sentences
    b_summary: float = 0.2  # reading-list lines are short: their length says little
    min_rel: float = 0.15  # a sentence below this share of the best one is not added
    min_rel_third: float = 0.3  # ... nor, as a third sentence, below this
    max_overlap: float = 0.6  # word overlap (Jaccard) over which a sentence repeats one picked
    en_sentences: int = 3  # sentences in an English answer
    zh_paper_sentences: int = 2  # sentences of the paper's own text in a Chinese answer
    zh_summary_sentences: int = 2  # reading-list lines leading a Chinese answer
    # ... each scoring at least this share of the best line (the lists mix facts with analogies)
    zh_summary_min_share: float = 0.4
    # reading-list lines in an English answer: Chinese lines an English reader skims, and a
    # paper known only by its list entry has a dozen of them, analogies among the facts
    en_summary_sentences: int = 10
    second_paper_share: float = 0.0  # a second paper joins a Chinese answer when its best sentence
    # scores at least this share of the first paper's best
    # after the first sentence, the bonus for stating question words no picked sentence states
    # ("how long, and on what hardware?" wants both halves answered)
    novelty: float = 0.0
    names: tuple[str, ...] = ()
    mean: tuple[float, ...] = ()
    scale: tuple[float, ...] = ()
    weights: tuple[float, ...] = ()
    bias: float = 0.0
    fitted_on: dict[str, object] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path = SENTENCE_PARAMS_FILE) -> SentenceParams:
        if not path.is_file():
            return cls()
        params = load_params(cls, path)
        if params.weights and params.names != sentence_feature_names():
            # a model over other features: BM25 alone until refitted; the answer lengths stay
            return replace(params, names=(), mean=(), scale=(), weights=(), bias=0.0)
        return params

    def save(self, path: Path = SENTENCE_PARAMS_FILE) -> None:
        path.write_text(json.dumps(asdict(self), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def sentence_features(
    cands: list[Cand], terms: Sequence[Term], question: str, params: SentenceParams
) -> np.ndarray:
    """One row of `sentence_feature_names()` per candidate sentence, over this pool."""
    names = sentence_feature_names()
    if not cands:
        return np.zeros((0, len(names)), dtype=np.float32)
    name_sets = {id(c.source): name_stems(c.source) for c in cands}
    total_w = sum(t.weight for t in terms) or 1.0
    title_cov = {
        k: sum(t.weight for t in terms if term_matches(t, v)) / total_w for k, v in name_sets.items()
    }
    avgdl = sum(len(c.toks) for c in cands) / len(cands) or 1.0
    tfs = [_term_frequencies(c, terms, name_sets[id(c.source)]) for c in cands]
    df = {t.token: sum(1 for x in tfs if x[t.token]) for t in terms}
    named = [t for t in terms if t.named]
    topic = [t for t in terms if not t.named]
    topic_w = sum(t.weight for t in topic) or 1.0
    on_topic = [any(tf[t.token] for t in named) for tf in tfs]
    kinds = question_kinds(question)
    definition_q, number_q, why_q = (kinds[k] > 0 for k in ("q_definition", "q_number", "q_why"))
    top_score = max((c.source.passage.score for c in cands), default=0.0) or 1.0
    rows = []
    for c, tf, hit in zip(cands, tfs, on_topic, strict=True):
        bm25 = _bm25(
            tf, df, terms, len(cands), len(c.toks), avgdl, params.k1, params.b_summary if c.zh else params.b
        )
        sec = section_kind(c.source.passage.kind, c.source.passage.section)
        values = {
            "bm25": bm25,
            "coverage": sum(t.weight for t in terms if tf[t.token]) / total_w,
            # what the question asks about the thing it names: its other words
            "coverage_topic": sum(t.weight for t in topic if tf[t.token]) / topic_w,
            "named_miss": float(bool(named) and any(on_topic) and not hit),
            "title_cov": title_cov[id(c.source)],
            "source_rank": 1.0 / c.source.number,
            "source_score": c.source.passage.score / top_score,
            "position": 1.0 / (1 + c.index),
            "summary": float(c.zh),
            "definition": float(definition_q and bool(DEFINITION_S_RE.search(c.text))),
            # "What is LoRA?": a sentence that says the name itself in a defining frame ("we propose
            # ..., or LoRA, which"), not one that inherits the name from its paper
            "defines_name": float(definition_q and defines_a_name(c.text, named)),
            "number": float(number_q and states_a_number(c.text)),
            "reason": float(why_q and bool(REASON_S_RE.search(c.text))),
            **kinds,
            "caption": float(bool(CAPTION_RE.match(c.text.lstrip()))),
            "math": float(len(MATH_RE.findall(c.text)) >= 3),
            "length": min(len(c.text), 400) / 400,
            **{f"sec_{k}": float(sec == k) for k in SECTION_KINDS},
        }
        rows.append([values.get(n, 0.0) for n in names])
    x = np.asarray(rows, dtype=np.float32)
    top = x[:, 0].max()
    if top > 0:
        x[:, 0] /= top  # BM25 is relative to this pool
    return _with_pool(_with_neighbours(x, cands, names), names)


def _with_neighbours(x: np.ndarray, cands: list[Cand], names: tuple[str, ...]) -> np.ndarray:
    """Fill the NEIGHBOUR_FEATURES columns from the sentences just before and after each one."""
    at = {(id(c.source), c.index): i for i, c in enumerate(cands)}
    cols = [names.index(n) for n in NEIGHBOUR_FEATURES]
    own = [names.index("bm25"), names.index("coverage")]
    for i, c in enumerate(cands):
        near = [at[k] for k in ((id(c.source), c.index - 1), (id(c.source), c.index + 1)) if k in at]
        for col, src in zip(cols, own, strict=True):
            x[i, col] = max((x[j, src] for j in near), default=0.0)
    return x


def _with_pool(x: np.ndarray, names: tuple[str, ...]) -> np.ndarray:
    """Fill the POOL_FEATURES columns: gaps to the pool's best, and 1/(1+rank) by BM25 and coverage."""
    for n in POOL_RELATIVE:
        col = x[:, names.index(n)]
        x[:, names.index(f"gap_{n}")] = col - col.max()
    for out, src in (("rank_bm25", "bm25"), ("rank_coverage", "coverage")):
        ranks = np.argsort(np.argsort(-x[:, names.index(src)], kind="stable"), kind="stable")
        x[:, names.index(out)] = 1.0 / (1.0 + ranks)
    return x


def _term_frequencies(c: Cand, terms: Sequence[Term], name_set: set[str]) -> dict[str, int]:
    joined = set(c.toks) | {a + b_ for a, b_ in zip(c.toks, c.toks[1:], strict=False)}
    tf: dict[str, int] = {}
    for t in terms:
        alts = t.alts if c.zh else (*t.alts, *t.borrowed)
        n = sum(1 for tok in c.toks if tok in alts) or (1 if any(a in joined for a in alts) else 0)
        if not n and t.named and term_matches(t, name_set):
            n = 1  # a sentence of the QLoRA paper is about QLoRA even when it says "we"
        tf[t.token] = min(n, 1) if c.zh else n  # list notes repeat terms without saying more
    return tf


def _bm25(
    tf: dict[str, int],
    df: dict[str, int],
    terms: Sequence[Term],
    n: int,
    length: int,
    avgdl: float,
    k1: float,
    b: float,
) -> float:
    """BM25 of one sentence (`length` tokens) over the pool of `n` candidates."""
    total = 0.0
    for t in terms:
        if tf[t.token]:
            idf = math.log(1 + (n - df[t.token] + 0.5) / (df[t.token] + 0.5))
            norm = tf[t.token] * (k1 + 1) / (tf[t.token] + k1 * (1 - b + b * length / avgdl))
            total += t.weight * idf * norm
    return total


def score_sentences(cands: list[Cand], terms: Sequence[Term], question: str, params: SentenceParams) -> None:
    """Each candidate's relevance: the fitted model's probability, or BM25 alone when unfitted."""
    if not cands:
        return
    x = sentence_features(cands, terms, question, params)
    if params.weights:
        z = ((x - np.asarray(params.mean)) / np.asarray(params.scale)) @ np.asarray(
            params.weights
        ) + params.bias
        rel = 1.0 / (1.0 + np.exp(-z))
    else:
        rel = x[:, 0]
    for c, r in zip(cands, rel, strict=True):
        c.rel = float(r)
    topic = [t for t in terms if not t.named] or list(terms)
    topic_w = sum(t.weight for t in topic) or 1.0
    for c in cands:
        tf = _term_frequencies(c, topic, set())
        c.covers = {t.token: t.weight / topic_w for t in topic if tf[t.token]}


def similarity(a: Cand, b: Cand) -> float:
    sa, sb = set(a.toks), set(b.toks)
    return len(sa & sb) / len(sa | sb) if sa and sb else 0.0


def mmr(
    cands: list[Cand], k: int, lam: float, params: SentenceParams, max_summary: int | None = None
) -> list[Cand]:
    """Relevant and not repeating each other; weak sentences are left out rather than padded in;
    at most `max_summary` reading-list lines (None: no cap)."""
    if not cands:
        return []
    top = max(c.rel for c in cands)
    if top <= 0:
        return [min(cands, key=lambda c: (c.source.number, c.index))]
    picked: list[Cand] = []
    pool = list(cands)
    while pool and len(picked) < k:
        said = {tok for p in picked for tok in p.covers}

        def mmr(c: Cand, said: set[str] = said) -> float:
            red = max((similarity(c, p) for p in picked), default=0.0)
            new = sum(w for tok, w in c.covers.items() if tok not in said) if picked else 0.0
            return lam * c.rel / top - (1 - lam) * red + params.novelty * new

        best = max(pool, key=mmr)
        rel = best.rel / top
        if picked and (
            rel < params.min_rel
            or (rel < params.min_rel_third and len(picked) >= 2)
            or max(similarity(best, p) for p in picked) > params.max_overlap
        ):
            break
        picked.append(best)
        pool.remove(best)
        if max_summary is not None and sum(c.zh for c in picked) >= max_summary:
            pool = [c for c in pool if not c.zh]
    return picked


def with_named_papers(picked: list[Cand], cands: list[Cand], terms: Sequence[Term]) -> list[Cand]:
    """ "LoRA vs QLoRA": each paper the question names gets a sentence of its own, when we have one."""
    named = [t for t in terms if t.named]
    if len(named) < 2:
        return picked
    out = list(picked)
    for t in named:
        own = [c for c in cands if term_matches(t, name_stems(c.source)) and c.rel > 0]
        if not own or any(c.source.paper.paper_id == own[0].source.paper.paper_id for c in out):
            continue
        best = max(own, key=lambda c: c.rel)
        if len(out) >= 3:
            out.pop()
        out.append(best)
    return out


def name_stems(src: Source) -> set[str]:
    return stems(" ".join([src.paper.title, *src.paper.aliases]))


def top_sentences(cands: list[Cand], k: int, min_share: float = 0.0) -> list[Cand]:
    """Best k by relevance (ties: the source's own order) that score at least `min_share` of the
    best, shown in their order in the source."""
    if not cands:
        return []
    ranked = sorted(cands, key=lambda c: (-c.rel, c.source.number, c.index))[:k]
    best = ranked[0].rel
    ranked = [c for c in ranked if c.rel >= min_share * best] if best > 0 else ranked[:1]
    return sorted(ranked, key=lambda c: (c.source.number, c.index))


def items_of(c: Cand) -> range:
    """The numbered items (sentence indices) that follow a summary lead-in ending in a colon."""
    if not collapse_ws(c.text).endswith(("：", ":")):
        return range(0)
    end, stop = c.index + 1, min(c.index + 5, len(c.source.sentences))
    while end < stop and LIST_ITEM_RE.match(c.source.sentences[end].text):
        end += 1
    return range(c.index + 1, end)


def without_items_shown(picked: list[Cand]) -> list[Cand]:
    """Drop a summary line that a picked lead-in already brings along as one of its items."""
    shown = {(id(c.source), i) for c in picked if c.zh for i in items_of(c)}
    return [c for c in picked if not (c.zh and (id(c.source), c.index) in shown)]
