"""Which sentences may be quoted at all: whole, mostly words (not a table row, a formula or a
figure's labels), and not a link label of the reading list. A quote is the very sentence the answer
uses, so a sentence that is not prose never leads an answer.
"""

from __future__ import annotations

import re

from ..cjk import CJK_IDEOGRAPHS
from ..search.keywords import EN_STOPWORDS
from .citations import NOTE_PHRASES
from .examples import EXAMPLE_LABEL_RE
from .text import collapse_ws

_PANEL_RE = re.compile(r"^\((left|right|top|bottom)\)", re.IGNORECASE)


# A bibliography marker used as a word ("such as [17] and [9]"): without it the sentence breaks.
_REF_AS_WORD_RE = re.compile(
    r"\b(as|see|in|by|of|and|or|from|to|like|following|with|use|uses|e\.g\.|cf\.)\s*\[\d"
)


# ... and an author footnote glued to a sentence's end by the page's text order
_NOT_PROSE = (
    "•", "arxiv preprint", "arxiv:", "in proceedings", "proceedings of", "preprint", "©",
    "equal contribution", "work performed while", "work done while", "corresponding author",
)  # fmt: skip


_CJK_CHARS_RE = re.compile(f"[{CJK_IDEOGRAPHS}]")

_WORD_RE = re.compile(r"[a-z]{2,}")  # not "d", "s": what is left of "d’un", "it’s"


# A number standing alone ("63.1", "48.3/24.2", "[58]", "15%"): a table's cell or a reference.
# "175B", "GPT-3" and "1.2TB" carry letters: they name a model or a quantity, which is what
# a "how much" sentence is made of.
_BARE_NUMBER_RE = re.compile(r"^[\[(]?[-+±~≈<>]?[\d.,:/%×]*\d[\d.,:/%×]*[\])]?[,.;:]?$")


# An appendix that prints a model's output ("F Model samples", "C Generations from LLaMA-65B",
# "Appendix A: Samples", "Input/Output Examples"): its sentences are what a model wrote, not what
# the paper claims ("eating a sock may give the meditator a new sensory experience").
_SAMPLES_RE = re.compile(r"\b(samples|generations|examples)\b", re.IGNORECASE)


def printed_output(section: str, zone: str) -> bool:
    """Is this passage an appendix of printed model output (samples, generations, examples)?"""
    return zone == "appendix" and bool(_SAMPLES_RE.search(section))


def quotable(text: str, kind: str) -> bool:
    flat = collapse_ws(text)
    if _CJK_CHARS_RE.search(flat) or (kind == "summary" and "、" in flat):
        fragment = flat[0] in "，,、；;：:。）)”"  # cut after a quoted question mark
        # a link label ("……的解读之一") says nothing; a line that goes on to say something does
        said = flat
        for n in NOTE_PHRASES:
            said = said.replace(n, "")
        noisy = said != flat and len(_CJK_CHARS_RE.findall(said)) < 20
        return len(flat) >= 12 and not fragment and not noisy
    low = flat.lower()
    if not 40 <= len(flat) <= 450 or "http" in low or "@" in low or any(n in low for n in _NOT_PROSE):
        return False
    if _REF_AS_WORD_RE.search(flat) or re.search(r".\b(Figure|Table|Fig\.) \d+:", flat):
        return False  # a ref used as a word, or a caption glued to the text
    if _PANEL_RE.match(flat):
        return False  # "(right) Multi-Head Attention ...": a figure panel's caption
    words_ = flat.split()
    caps = sum(1 for w in words_[1:] if w[:1].isupper())
    if len(words_) >= 8 and caps > 0.45 * (len(words_) - 1):
        return False  # labels of a figure, or a title, read as one line
    lines = [ln for ln in text.splitlines() if ln.strip()]
    if len(lines) >= 4 and sum(map(len, lines)) / len(lines) < 30:
        return False  # a table read row by row
    if not (flat[0].isupper() or flat[0].isdigit() or flat[0] in '("“'):
        return False  # starts mid-sentence: the chunk cut it
    if kind == "paper" and flat[-1] not in '.!)"”:':
        return False  # cut off by the chunk, or a question (rhetorical questions answer nothing)
    if EXAMPLE_LABEL_RE.search(flat):
        return False  # a printed example: "Prompt: ...", "Q: ...", "InstructGPT 175B completion: ..."
    if len(words_) >= 8 and not any(w in EN_STOPWORDS for w in _WORD_RE.findall(low)):
        return False  # no English function word: a title, a plan string, a sample in French
    chars = [c for c in flat if not c.isspace()]
    letters = sum(c.isalpha() for c in chars)
    numeric = sum(1 for w in words_ if _BARE_NUMBER_RE.match(w))
    return letters >= 0.65 * len(chars) and numeric <= 0.25 * len(words_)
