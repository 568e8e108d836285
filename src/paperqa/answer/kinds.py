"""What kind of question is asked, and what kind of sentence could answer it: the sentence
features that read the question's form ("how many", "why", "what is") and the sentence's
(a quantity, a reason, a definition, a caption, mostly symbols)."""

from __future__ import annotations

import re

from .definitions import asks_what_is

MATH_RE = re.compile(r"[=∈×≪≫≈∑∏√→←⊙≤≥]")


CAPTION_RE = re.compile(r"^(Figure|Fig\.|Table|Algorithm|\((left|right|top|bottom|a|b|c)\))", re.IGNORECASE)


DEFINITION_S_RE = re.compile(r"\b(is an?|are|we (present|propose|introduce))\b", re.IGNORECASE)


_NUMBER_Q_RE = re.compile(r"\bhow (many|much|large|big|long)\b|多少|几个|多大|多长|多久", re.IGNORECASE)


_WHY_Q_RE = re.compile(r"\bwhy\b|为什么|为何", re.IGNORECASE)


REASON_S_RE = re.compile(r"\b(because|since|due to|so that|in order to|allows?|enables?)\b", re.IGNORECASE)


_NUMBER_S_RE = re.compile(r"\d")
# Numbers that point elsewhere rather than state a quantity: a bibliography marker ("[12]",
# "[Bro+16]"), a figure, table, section, equation or appendix number, a year.
_REFERENCE_NUMBER_RE = re.compile(
    r"\[[^\]]*\d[^\]]*\]|\b(fig(ure)?|tab(le)?|sec(tion)?|eq(uation)?|appendix|step)s?\.?\s*\(?[A-Z]?\d+(\.\d+)*\)?"
    r"|\b(19|20)\d\d\b",
    re.IGNORECASE,
)


def states_a_number(text: str) -> bool:
    """The sentence states a quantity: a digit left once references to figures, tables,
    sections, equations, the bibliography and years are taken out."""
    return bool(_NUMBER_S_RE.search(_REFERENCE_NUMBER_RE.sub(" ", text)))


def question_kinds(question: str) -> dict[str, float]:
    """The question's kind as features of its own, so that `definition`, `number` and `reason`
    weigh a sentence against others for the same kind of question, not against all sentences."""
    return {
        "q_number": float(bool(_NUMBER_Q_RE.search(question))),
        "q_why": float(bool(_WHY_Q_RE.search(question))),
        "q_definition": float(asks_what_is(question)),
    }
