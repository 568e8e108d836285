"""What a "What is X?" question wants first: the sentence in which the paper defines X.

A reader asking what LoRA is wants "We propose Low-Rank Adaptation, or LoRA, which freezes ..."
first, not the abstract's opening about the field. The sentence scorer reads whether a sentence
defines a name the question asks about (a fitted feature); the engines then put the best such
sentence of the lead paper first.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

from .text import Term

if TYPE_CHECKING:
    from .sentences import Cand

_DEFINITION_Q_RE = re.compile(r"^\s*(what is|what are|what's|什么是)|是什么[？?]?\s*$", re.IGNORECASE)


# the frames a paper defines its method in, next to the name: "X is a", "X, which", "X: a",
# "we propose ... X", "called X", "refer to ... as X" (a name at the other end of the sentence
# from "which" is not being defined)
_DEFINES_BEFORE = r"\s+(is|are)\s+(an?|the)\b|\)?\s*[,:]\s*(which|an?)\b|\s*(是一种|是指)"
_DEFINES_AFTER = (
    r"\b(called|named|refers? to (this|it)?\s*as|we (present|propose|introduce)\b[^.;]{0,60}?)\s*"
)


def _defines_re(name: str, before: str = _DEFINES_BEFORE) -> re.Pattern[str]:
    """`name` (a regex) in a frame that defines it: one of `before` after it, or one before it."""
    return re.compile(rf"\b{name}\b\S*?(?:{before})|(?:{_DEFINES_AFTER})\b{name}\b", re.IGNORECASE)


def defines_a_name(text: str, terms: Sequence[Term]) -> bool:
    """The sentence says one of the question's names itself, in a frame that defines it."""
    return any(t.named and _defines_re(re.escape(t.token)).search(text) for t in terms)


# "What is a chain of thought?": the thing asked about when it is no name (then the question's
# named terms say it); a phrase of a few words, up to a clause or a qualifier
_SUBJECT_RE = re.compile(
    r"^\s*what(?:\s+is|'s|\s+are)\s+(?:(?:an?|the)\s+)?(.+?)\s*(?:[?(,:]|$)", re.IGNORECASE
)
_QUALIFIER_RE = re.compile(r"\s+(?:in|and|for|that|which|of the|used|proposed)\s+.*$", re.IGNORECASE)
_SUBJECT_WORDS = 4
# and the frame an appositive defines it in: "a chain of thought—a series of intermediate steps"
_APPOSITIVE = r"\s*[—–]\s*(an?|the)\b"


def asked_subject(question: str) -> str | None:
    """The phrase a "What is X?" question asks about ("chain of thought"), when short."""
    m = _SUBJECT_RE.search(question)
    if not m:
        return None
    phrase = _QUALIFIER_RE.sub("", m.group(1)).strip()
    return phrase if phrase and len(phrase.split()) <= _SUBJECT_WORDS else None


def defines_subject(text: str, subject: str) -> bool:
    """The sentence defines the phrase asked about ("X is a", "X, which", "X—a", "we propose X")."""
    name = re.escape(subject).replace(r"\ ", r"[\s-]+")  # "chain of thought" is "chain-of-thought"
    return _defines_re(name, f"{_DEFINES_BEFORE}|{_APPOSITIVE}").search(text) is not None


def asks_what_is(question: str) -> bool:
    return bool(_DEFINITION_Q_RE.search(question))


def definition_first(
    picked: list[Cand], cands: Sequence[Cand], terms: Sequence[Term], question: str
) -> list[Cand]:
    """ "What is X?" is answered by the sentence that defines X: the lead paper's first one (a paper
    defines its method where it introduces it; a later "we propose block-sparse X" is a variant),
    the best-scored on that page, leads, picked or not (taking the last place's turn); the rest follow."""
    if not picked or not asks_what_is(question):
        return picked
    paper = picked[0].source.paper.paper_id  # the lead paper stays the lead
    mine = [c for c in cands if c.source.paper.paper_id == paper and not c.zh]
    subject = None if any(t.named for t in terms) else asked_subject(question)

    def defines(c: Cand) -> bool:
        return defines_subject(c.text, subject) if subject else defines_a_name(c.text, terms)

    lead = next((c for c in sorted(mine, key=lambda c: (c.page or 0, -c.rel)) if defines(c)), None)
    if lead is None:
        return picked
    rest = [c for c in picked if c is not lead]
    if len(rest) == len(picked) and len(rest) > 1:
        rest = rest[:-1]
    return [lead, *rest]
