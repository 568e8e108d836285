"""How sure we are that the retrieved passages can answer the question; under a threshold we decline.

Why not the retrieval score alone: a fused (RRF) score ranks passages but says nothing absolute,
since some passage always comes first, even for "What is the best recipe for chocolate cake?".
What does say it is coverage: do the top passages mention what the question asks about? Terms are
weighted (names such as QLoRA or Kimi K2 most, generic words such as "paper" least), Chinese terms
also match their English equivalents, and a top passage that only one retriever found (dense or
BM25, not both) counts a little less.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..records import Passage
from .base import PaperLookup
from .text import Term, question_terms, stems, term_matches

# Calibrate on the dev set's answerable vs unanswerable questions (see `confidence`).
DEFAULT_MIN_CONFIDENCE = 0.4
TOP_PASSAGES = 3


def _coverage(terms: Sequence[Term], stem_set: set[str]) -> float:
    total = sum(t.weight for t in terms)
    got = sum(t.weight for t in terms if term_matches(t, stem_set))
    return got / total if total else 0.0


def passage_stems(passage: Passage, catalog: PaperLookup | None = None) -> set[str]:
    """What a passage says, with its paper's title and aliases (chunks rarely repeat the name)."""
    names = [passage.title]
    paper = catalog.find(passage.paper_id) if catalog is not None else None
    if paper is not None:
        names += [paper.title, *paper.aliases]
    return stems("\n".join([*names, passage.text]))


def confidence(question: str, passages: Sequence[Passage], *, catalog: PaperLookup | None = None) -> float:
    """0..1: how well the top passages cover the question's terms. Pure, cheap, for calibration:
    run it over answerable and unanswerable questions and put `min_confidence` between them.

    0.35 x coverage by the best passage + 0.65 x coverage by the top three together,
    x 0.9 when the best passage was found by only one of the two retrievers. Passages from the
    body of a paper (or its abstract or reading-list entry) are judged first: an appendix of
    model samples (GPT-2 prints a generated chocolate-cake recipe) says nothing the paper claims,
    so appendix and reference passages count only when nothing else came back, and then half.
    """
    terms = question_terms(question)
    if not passages or not terms:
        return 0.0
    body = [p for p in passages if p.zone == "body"]
    top = body[:TOP_PASSAGES] or list(passages[:TOP_PASSAGES])
    sets = [passage_stems(p, catalog) for p in top]
    union: set[str] = set().union(*sets)
    score = 0.35 * _coverage(terms, sets[0]) + 0.65 * _coverage(terms, union)
    best = top[0]
    if bool(best.dense_rank) != bool(best.bm25_rank):
        score *= 0.9
    if not body:
        score *= 0.5
    return round(score, 4)
