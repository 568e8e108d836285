"""How sure we are that the retrieved passages can answer the question; under a threshold we decline.

Why not the retrieval score alone: a fused (RRF) score ranks passages but says nothing absolute,
since some passage always comes first, even for a question about cooking. What does say it is
coverage: do the top passages mention what the question asks about? Terms are weighted (names
most, frame words least), Chinese terms also match their English translations, and a top
passage that only one retriever found (dense or BM25, not both) counts a little less.

A second signal needs no passages: a thing the question names (a model, a method, an acronym)
that appears nowhere in the catalog or the indexed text cannot be answered from the list, however
well the other words are covered; `unknown_names` finds those.

Every number is a field of `DeclineParams` (decline_params.json), to be fitted on a tuning
split of answerable and unanswerable questions (`fit_threshold`), never on a question at hand.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from ..params import load_params
from ..records import Passage
from ..search.keywords import tokenize
from .base import PaperLookup
from .text import CONNECTOR_RE, Term, TermWeights, named_phrases, question_terms, stems, term_matches

PARAMS_FILE = Path(__file__).with_name("decline_params.json")


@dataclass(frozen=True)
class DeclineParams:
    """The numbers behind `confidence` and the decline; defaults in decline_params.json."""

    # Share of the score from the best passage alone: one passage covering the question is strongest.
    best_weight: float = 0.35
    # Share from the top passages together: a question may be covered by two passages between them.
    union_weight: float = 0.65
    # How many top passages are judged: beyond a few, some passage mentions every word by chance.
    top_passages: int = 3
    # Factor when the best passage was found by only one retriever: the two agreeing is evidence.
    single_retriever_factor: float = 0.9
    # Factor when only appendix or reference passages came back: they say nothing the paper claims.
    no_body_factor: float = 0.5
    # Weight of a named term (QLoRA): an answer that never mentions the thing asked about is none.
    named_weight: float = 2.5
    # Weight of an ordinary content word.
    ordinary_weight: float = 1.0
    # Weight of a frame word, number or single Chinese character: present in any passage.
    generic_weight: float = 0.3
    # Under this confidence the answer declines, when no decline model is fitted (or
    # Settings.min_confidence asks for the plain coverage rule).
    threshold: float = 0.4
    # The decline model: a logistic regression over DECLINE_FEATURES, fitted on the tuning half
    # by scripts/fit_decline.py; empty weights mean "use the coverage threshold above".
    features: tuple[str, ...] = ()
    mean: tuple[float, ...] = ()
    scale: tuple[float, ...] = ()
    weights: tuple[float, ...] = ()
    bias: float = 0.0
    # Under this probability that the list answers the question, the answer declines (chosen by
    # the fit: as many near misses declined as possible while few answerable questions are).
    min_probability: float = 0.5
    # A word seen fewer times than this in the corpus is rare: a name of several common words
    # that never occur together is unknown ("Code Llama"), one with a rare word is not.
    rare_word_count: int = 10
    fitted_on: dict[str, object] = field(default_factory=dict)

    @property
    def term_weights(self) -> TermWeights:
        return TermWeights(
            named=self.named_weight, ordinary=self.ordinary_weight, generic=self.generic_weight
        )

    @classmethod
    def load(cls, path: Path | str = PARAMS_FILE) -> DeclineParams:
        return load_params(cls, path)


DECLINE_PARAMS = DeclineParams.load()
DEFAULT_MIN_CONFIDENCE = DECLINE_PARAMS.threshold


def fit_threshold(
    scored: Sequence[tuple[float, bool]], params: DeclineParams = DECLINE_PARAMS
) -> DeclineParams:
    """`params` with the threshold that best separates (confidence, answerable) pairs of a tuning
    split: fewest errors, ties broken toward the middle of the gap. Save it with params.dump_params."""
    if not scored:
        return params
    values = sorted({c for c, _ in scored})
    cuts = (
        [values[0] - 1e-3]
        + [(a + b) / 2 for a, b in zip(values, values[1:], strict=False)]
        + [values[-1] + 1e-3]
    )

    def errors(t: float) -> int:
        return sum((c >= t) != ok for c, ok in scored)

    best = min(errors(t) for t in cuts)
    good = [t for t in cuts if errors(t) == best]
    return replace(params, threshold=round(good[len(good) // 2], 4))


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


def confidence(
    question: str,
    passages: Sequence[Passage],
    *,
    catalog: PaperLookup | None = None,
    params: DeclineParams = DECLINE_PARAMS,
) -> float:
    """0..1: how well the top passages cover the question's terms. Pure and cheap, for fitting:
    run it over answerable and unanswerable questions and put the threshold between them.

    best_weight x coverage by the best passage + union_weight x coverage by the top passages
    together, x single_retriever_factor when the best passage was found by only one retriever.
    Passages from the body of a paper (or its abstract or reading-list entry) are judged first:
    an appendix of model samples says nothing the paper claims, so appendix and reference
    passages count only when nothing else came back, and then x no_body_factor.
    """
    terms = question_terms(question, params.term_weights)
    if not passages or not terms:
        return 0.0
    body = [p for p in passages if p.zone == "body"]
    top = body[: params.top_passages] or list(passages[: params.top_passages])
    sets = [passage_stems(p, catalog) for p in top]
    union: set[str] = set().union(*sets)
    score = params.best_weight * _coverage(terms, sets[0]) + params.union_weight * _coverage(terms, union)
    best = top[0]
    if bool(best.dense_rank) != bool(best.bm25_rank):
        score *= params.single_retriever_factor
    if not body:
        score *= params.no_body_factor
    return round(score, 4)


# a sentence ends at ! ? ; (either script), or at a full stop before anything but a lower-case
# letter ("e.g. the 13B one" goes on)
_SENTENCE_END_RE = re.compile(r"(?<=[!?;。！？；])\s*|(?<=\.)\s+(?=[^a-z])")


def asking_sentence(question: str) -> str:
    """The sentence that asks: the last one with a question mark (the whole text when none).
    Text in front of it (an injected "'; DROP TABLE papers; --", a remark) names nothing asked."""
    parts = [p for p in _SENTENCE_END_RE.split(question) if p.strip()]
    asking = [p for p in parts if "?" in p or "？" in p]
    return asking[-1] if asking else question


def unknown_names(question: str, known: Callable[[str], bool]) -> tuple[str, ...]:
    """The things the asking sentence of a question names (see `text.named_phrases`) that `known`
    has never seen: a phrase is unknown when one of its words, as the index tokenizes it, is not a
    known token. Ordinary words that happen to be capitalised are in the index vocabulary, so they
    pass."""
    out: list[str] = []
    for phrase in named_phrases(asking_sentence(question)):
        if any(_unknown_part(part, known) for part in _named_parts(phrase)):
            out.append(phrase)
    return tuple(dict.fromkeys(out))


def _named_parts(phrase: str) -> list[str]:
    """ "RLHF for InstructGPT" names two things, each known alone; "Tree of Thoughts" names one
    (its words are ordinary ones, capitalised): a phrase splits at its connectors when every
    part is a name by its own spelling (an acronym, a capital inside, a digit), and otherwise at
    those that join two things rather than make one name ("Minerva on GSM8k": "of" makes names)."""
    parts = [p for p in CONNECTOR_RE.split(phrase) if p.strip()]
    spelled = all(any(_spelled_name(w) for w in p.split()) for p in parts)
    if len(parts) > 1 and spelled:
        return parts
    return [p for p in _JOINING_RE.split(phrase) if p.strip()] or [phrase]


_JOINING_RE = re.compile(r"\s+(?:for|in|on|with)\s+", re.IGNORECASE)


def _spelled_name(word: str) -> bool:
    return any(c.isupper() for c in word[1:]) or any(c.isdigit() for c in word)


def _unknown_part(phrase: str, known: Callable[[str], bool]) -> bool:
    words = phrase.split()
    if any(_unknown_word(word, known) for word in words):
        return True
    # common words, never together: "Code Llama", "Ring Attention"
    return len([w for w in words if tokenize(w)]) >= 2 and not known(phrase)


# What the decline model sees: term coverage of the question by the best passages, whether it names
# something the corpus never mentions, how sure the passage ranker is of its best passage, and
# whether any passage came from the body of a paper (or an entry) rather than an appendix, and how
# close in meaning the best passages are to the question (an everyday question shares words, not
# meaning, with the papers), and whether it names a listed paper by its title or a name the catalog
# knows it by ("What is QLoRA?" is short, and an embedder that never saw "QLoRA" finds it far from
# every passage in meaning), and how close in meaning it is to the closest summary entry of the
# lists (`search.topic`): a cooking question can match a recipe an appendix prints, not what any
# listed paper is about.
DECLINE_FEATURES = ("coverage", "unknown", "top_score", "body", "similarity", "listed", "topic")


@dataclass(frozen=True)
class DeclineSignals:
    """The signals behind one decline decision (kept for fitting and for the record)."""

    coverage: float
    unknown: tuple[str, ...]
    top_score: float
    body: bool
    similarity: float = 0.0
    listed: bool = False
    topic: float | None = None  # None: no meter was given (it counts as the tuning half's mean)

    def vector(self) -> list[float | None]:
        return [
            self.coverage,
            float(bool(self.unknown)),
            self.top_score,
            float(self.body),
            self.similarity,
            float(self.listed),
            # a question that names a listed paper is on the list's topic by that alone: a short
            # "who made X?" is far in meaning from X's entry, which says what X does
            1.0 if self.listed and self.topic is not None else self.topic,
        ]


def decline_signals(
    topic: str,
    passages: Sequence[Passage],
    *,
    catalog: PaperLookup | None,
    known: Callable[[str], bool] | None,
    on_topic: Callable[[str], float] | None = None,
    params: DeclineParams = DECLINE_PARAMS,
) -> DeclineSignals:
    """The signals for a question's `topic` text (see DECLINE_FEATURES); `on_topic` measures how
    close in meaning a text is to the lists' summary entries (`search.topic.TopicMeter`). The
    meaning signal reads the best passages of the papers' bodies and the lists: an appendix that
    prints a model's samples (GPT-2's cake recipes) is close to anything it happens to print."""
    body = [p for p in passages if p.zone == "body"]
    return DeclineSignals(
        coverage=confidence(topic, passages, catalog=catalog, params=params),
        unknown=unknown_names(topic, known) if known is not None else (),
        top_score=float(passages[0].score) if passages else 0.0,
        body=bool(body),
        similarity=max((p.similarity for p in body[: params.top_passages]), default=0.0),
        listed=names_a_listed_paper(topic, catalog),
        topic=on_topic(topic) if on_topic is not None else None,
    )


def names_a_listed_paper(question: str, catalog: PaperLookup | None) -> bool:
    """The question names a paper of the catalog, whole: "QLoRA", "DistilBERT" (not "Llama 2"
    for LLaMA, nor "FlashAttention-2" for FlashAttention). Its first word counts too, which
    `named_phrases` leaves out as any sentence's capital ("Transformer: how long did training
    take?", as a follow-up is rewritten): a catalog name must match whole, so "What" never does.
    Not `search.retrieve.NameLinker`: for retrieval a name inside a longer one is a lead ("Llama 2",
    "Code Llama", "GPT-3.5" find LLaMA and GPT-3), for the decline it is a near miss."""
    if catalog is None:
        return False
    first = _FIRST_WORD_RE.findall(question)
    return any(catalog.find(phrase) is not None for phrase in [*first, *named_phrases(question)])


_FIRST_WORD_RE = re.compile(r"^\W*([A-Za-z][\w.+-]*)")


def answerable_probability(signals: DeclineSignals, params: DeclineParams = DECLINE_PARAMS) -> float | None:
    """The fitted model's probability that the list answers the question (None: no model)."""
    if not params.weights or params.features != DECLINE_FEATURES:
        return None
    z = params.bias + sum(  # a signal not measured counts as average: it adds nothing
        0.0 if x is None else w * (x - m) / sc
        for w, x, m, sc in zip(params.weights, signals.vector(), params.mean, params.scale, strict=True)
    )
    return 1.0 / (1.0 + math.exp(-z))


def should_decline(
    signals: DeclineSignals, params: DeclineParams = DECLINE_PARAMS, min_confidence: float | None = None
) -> bool:
    """Decline by the fitted model; by the plain rules (an unknown name, or coverage under the
    threshold) when none is fitted or the caller names its own coverage threshold."""
    prob = None if min_confidence is not None else answerable_probability(signals, params)
    if prob is not None:
        return prob < params.min_probability
    threshold = params.threshold if min_confidence is None else min_confidence
    return bool(signals.unknown) or signals.coverage < threshold


def _unknown_word(word: str, known: Callable[[str], bool]) -> bool:
    """A word is unknown when its token is; a compound ("1.5B-parameter") is known when its
    parts are written together in the corpus."""
    keys = tokenize(word)
    if not keys or known(keys[0]):
        return False
    parts = [p for p in re.split(r"[-_/]+", word) if p]
    worded = any(p.isalpha() and p.islower() for p in parts)  # "1.5B-parameter", not "Phi-2"
    return not (len(parts) > 1 and worded and known(" ".join(parts)))
