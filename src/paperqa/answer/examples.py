"""Printed examples: text a paper shows as a model's output or a prompt, not as its own claims.

A label ("Prompt:", an exemplar's "Q:"/"A:", "InstructGPT 175B completion:", "Processed input:")
opens a printed example, and the sentences after it, up to the next figure or table caption, are
the example's text: "Other theories propose that eating a sock may give the meditator ..." follows
"InstructGPT 175B completion:" in a body figure, where no appendix title gives it away. A passage
can start inside such an example, so where it starts is read from its page's text before it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from .text import collapse_ws, split_sentences

# "Question:"/"Answer:" are left out: BERT's appendix answers its own questions under them
EXAMPLE_LABEL_RE = re.compile(
    r"^(?:(?:Processed|Original) )?(?:Prompt|Completion|Input|Output|Target|Context|Response|Q|A)\s*:|"
    r"\bcompletion:",
    re.IGNORECASE,
)
# a caption, at the start or glued after a figure's own labels ("Model Output Figure 1: ...")
_CAPTION_RE = re.compile(r"^(?:Figure|Table|Fig\.)\s*\d+\s*[:.]|\b(?:Figure|Table|Fig\.)\s*\d+:")


def under_example_label(
    texts: Sequence[str], inside: bool = False, pages: Sequence[int | None] | None = None
) -> list[bool]:
    """For sentences in reading order: is each printed under an example label?
    `inside`: the first one continues an example opened before it. `pages`: each sentence's
    page; an example ends with its page (a figure's text is read with its own page)."""
    out: list[bool] = []
    for i, text in enumerate(texts):
        flat = collapse_ws(text)
        if _CAPTION_RE.search(flat) or (pages is not None and i > 0 and pages[i] != pages[i - 1]):
            inside = False
        labelled = bool(EXAMPLE_LABEL_RE.search(flat))
        out.append(inside or labelled)
        inside = inside or labelled
    return out


def starts_inside_example(page: str, first_sentence: str) -> bool:
    """Does the page's text before `first_sentence` leave an example open (a label, no caption
    after it)? False when the sentence is not found on the page."""
    flat_page, flat_first = collapse_ws(page), collapse_ws(first_sentence)
    at = flat_page.find(flat_first) if flat_first else -1
    if at <= 0:
        return False
    flags = under_example_label(split_sentences(flat_page[:at]))
    return bool(flags) and flags[-1]
