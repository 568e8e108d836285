"""Headings glued to a sentence by the PDF text: cut before the sentence is quoted, so what is left
is still an exact substring of the page (a verbatim quote) and reads as the sentence alone."""

from __future__ import annotations

import re

_HEADING_LINE_RE = re.compile(r"^\s*(?:\d+(?:\.\d+)*|[A-Z](?:\.\d+)+)\.?\s+[A-Z][^\n]{0,80}(?<![.,;:])\n")


_ABSTRACT_HEAD_RE = re.compile(r"^\s*(?:ABSTRACT|Abstract)\b[\s.:—–-]*(?=[A-Z])")


# up to two short lines with no sentence punctuation above a section's heading: its parent
# headings ("A QLoRA vs Standard Finetuning Experimental Setup Details" above "A.1 Hyperparameters")
_PARENT_LINES = r"\s*(?:[^\n.!?;:。！？；：]{1,120}\n\s*){0,2}"


# A paragraph's run-in heading, printed bold before its first sentence on the same line: "Data
# sets We introduced ...", "Departure to Latent Space Our approach ...". A capitalised "We"/"Our"
# after a few words with no punctuation between can only follow a heading.
_RUN_IN_HEAD_RE = re.compile(r"^[A-Z][\w&'’\-]*(?:[ \t]+[\w&'’\-]+){0,5}\s+(?=(?:We|Our)\s+[a-z])")


def drop_heading(sentence: str, section: str = "") -> str:
    """ "6 Results\n6.1 Machine Translation\nOn the WMT ..." -> "On the WMT ...": section
    headings (and an "Abstract" label) glued to the first sentence under them, and the heading
    of the passage's own `section` as the parser found it ("C Generations from LLaMA-65B", an
    appendix letter no pattern can tell from a sentence's "A"), and a paragraph's run-in heading.
    What is left is still an exact substring."""
    head = section.split()
    for _ in range(3):
        m = _HEADING_LINE_RE.match(sentence) or _ABSTRACT_HEAD_RE.match(sentence)
        if m is None and head:  # the section's own heading, maybe under its parent's lines
            m = re.match(_PARENT_LINES + r"\s+".join(map(re.escape, head)) + r"\s*\n", sentence)
        if m is None:
            m = _RUN_IN_HEAD_RE.match(sentence)
        if m is None or not sentence[m.end() :].strip():
            break
        sentence = sentence[m.end() :].lstrip()
    return sentence
