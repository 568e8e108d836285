"""Section headings and zones (body, references, appendix) in clean page text.

A heading is a line of its own in the clean text ("3.2 Double Quantization",
"Abstract", "References", "Appendix B Details", "A Hyperparameters"). Lines that only
look like headings are common (table rows, wrapped sentences), so a candidate counts
only if its number continues the numbering seen so far; that one rule removes most
false hits. Zones only move forward: body -> references -> appendix; a heading after
the reference list starts the appendix.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Sequence
from dataclasses import dataclass

from ..records import Page
from .params import PARSE_PARAMS, ParseParams

BODY, REFERENCES, APPENDIX = "body", "references", "appendix"


@dataclass(frozen=True)
class SectionSpan:
    """A section from `char_start` of `page` (1-based) up to the next span."""

    page: int
    char_start: int  # offset of the heading line in that page's Page.text
    title: str  # the heading as printed; "" before the first heading
    zone: str  # body | references | appendix


@dataclass(frozen=True)
class Heading:
    kind: str  # numbered | lettered | named
    number: tuple[int, ...]  # (3, 2) for "3.2"; letters count A=1 for "A.1" -> (1, 1)
    title: str  # the whole line, spaces collapsed
    name: str = ""  # named headings: abstract | references | appendix | acknowledgements
    says_appendix: bool = False  # "Appendix" or "Supplementary" is written in the line


_NUMBERED = re.compile(r"^(\d{1,2}(?:\.\d{1,2}){0,3})\.?\s+(\S.*)$")
_LETTERED = re.compile(
    r"^(?:Appendix\s+([A-H](?:\.\d{1,2}){0,3})[.:]?|([A-H](?:\.\d{1,2}){0,3})\.?)\s+(\S.*)$"
)
_NAMED = re.compile(
    r"^(?:\d{1,2}\.?\s+)?(abstract|references|bibliography|appendix|appendices|"
    r"supplementary materials?|acknowledge?ments?)\s*:?$",
    re.IGNORECASE,
)
_NAME_OF = {"bibliography": "references", "appendices": "appendix"}
_SMALL_WORDS = {
    "a",
    "an",
    "and",
    "as",
    "at",
    "by",
    "for",
    "from",
    "in",
    "of",
    "on",
    "or",
    "the",
    "to",
    "vs",
    "via",
    "with",
}


def _title_ok(title: str, prm: ParseParams) -> bool:
    """Looks like a heading title: short, mostly letters, no sentence punctuation."""
    words = title.split()
    if not words or len(words) > prm.title_max_words or len(title) > prm.title_max_chars:
        return False
    if (
        not title[0].isupper()
        or title.endswith((",", ";", ".", "=", "-"))
        or title.count(",") > prm.title_max_commas
    ):
        return False
    chars = title.replace(" ", "")
    if sum(c.isalpha() for c in chars) < prm.title_min_letters * len(chars):
        return False
    content = [w for w in words if w[0].isalpha() and w.lower() not in _SMALL_WORDS]
    capitalised = sum(w[0].isupper() for w in content)
    return len(words) <= prm.title_free_words or capitalised >= prm.title_capitalised * len(content)


def parse_heading(line: str, params: ParseParams = PARSE_PARAMS) -> Heading | None:
    """The heading this line would be, judged on the line alone (no context)."""
    line = " ".join(line.split())
    if not line or len(line) > params.heading_max_chars:
        return None
    says_appendix = bool(re.search(r"\b(appendix|appendices|supplementary)\b", line, re.IGNORECASE))
    m = _NAMED.match(line)
    if m:
        name = m.group(1).lower()
        name = _NAME_OF.get(name, name)
        if name.startswith("supplementary"):
            name = "appendix"
        if name.startswith("acknowledg"):
            name = "acknowledgements"
        return Heading("named", (), line, name, says_appendix)
    m = _NUMBERED.match(line)
    if m and _title_ok(m.group(2), params):
        number = tuple(int(x) for x in m.group(1).split("."))
        return Heading("numbered", number, line, says_appendix=says_appendix)
    m = _LETTERED.match(line)
    if m and _title_ok(m.group(3), params):
        letter, *rest = (m.group(1) or m.group(2)).split(".")
        number = (ord(letter) - ord("A") + 1, *(int(x) for x in rest))
        return Heading("lettered", number, line, says_appendix=says_appendix)
    return None


def is_heading_candidate(line: str, params: ParseParams = PARSE_PARAMS) -> bool:
    return parse_heading(line, params) is not None


def _continues(prev: tuple[int, ...] | None, new: tuple[int, ...]) -> bool:
    """Does `new` plausibly follow `prev` ("3.1" after "3", "4" after "3.2", ...)?
    One skipped number is tolerated, for a heading we failed to see."""
    if prev is None:
        return new[0] <= 2 and all(x == 1 for x in new[1:])
    k = 0
    while k < min(len(prev), len(new)) and prev[k] == new[k]:
        k += 1
    if k == len(new):  # same number again, or a parent of the current one
        return False
    if k == len(prev):  # a first child: 3 -> 3.1
        return all(x == 1 for x in new[k:])
    return 1 <= new[k] - prev[k] <= 2 and all(x == 1 for x in new[k + 1 :])


@dataclass
class _State:
    zone: str = BODY
    number: tuple[int, ...] | None = None
    letter: tuple[int, ...] | None = None

    def accept(self, h: Heading) -> bool:
        """Update state for a candidate heading; False if it is not taken as one."""
        if h.kind == "named":
            if h.name == "abstract" and (self.zone != BODY or self.number is not None):
                return False
            if h.name == "references":
                self.zone = REFERENCES
            elif h.name == "appendix" or self.zone == REFERENCES:
                self.zone = APPENDIX
            return True
        if h.kind == "numbered":
            if self.zone != BODY and not h.says_appendix and self.letter is None:
                # digits after the references: only an appendix that says so
                return False
            if self.letter is not None or not _continues(self.number, h.number):
                return False
            self.number = h.number
            if h.says_appendix or self.zone == REFERENCES:
                self.zone = APPENDIX
            return True
        # lettered: only in or after the references, or when the line says "Appendix"
        if self.zone == BODY and not h.says_appendix:
            return False
        if not _continues(self.letter, h.number) or (self.letter is None and h.number[0] != 1):
            return False
        self.letter = h.number
        self.zone = APPENDIX
        return True


def sections(pages: Sequence[Page], params: ParseParams = PARSE_PARAMS) -> list[SectionSpan]:
    """All sections of a paper in reading order; the first starts at the top of the
    first page with title "" (title page, before any heading)."""
    if not pages:
        return []
    spans = [SectionSpan(pages[0].page, 0, "", BODY)]
    state = _State()
    for page in pages:
        offset = 0
        for line in page.text.split("\n"):
            h = parse_heading(line, params)
            if h is not None and state.accept(h):
                span = SectionSpan(page.page, offset, h.title, state.zone)
                if (spans[-1].page, spans[-1].char_start) == (span.page, span.char_start):
                    spans[-1] = span
                else:
                    spans.append(span)
            offset += len(line) + 1
    return spans


def section_at(spans: Sequence[SectionSpan], page: int, offset: int) -> SectionSpan:
    """The section in force at character `offset` of page `page` (1-based)."""
    if not spans:
        raise ValueError("no sections")
    keys = [(s.page, s.char_start) for s in spans]
    i = bisect.bisect_right(keys, (page, offset)) - 1
    return spans[max(i, 0)]
