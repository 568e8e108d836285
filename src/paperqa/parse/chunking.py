"""Pages -> retrievable chunks; plus one chunk per reading-list summary and one for
the abstract.

Paper chunks are sized for all-MiniLM-style embedders (256 word pieces, about 160
words), cut at sentence boundaries, overlap by whole sentences, and never span two
sections (so never body and references).

Offset convention. A paper's pages are read as one string, the page texts joined
with PAGE_JOIN ("\\n"). A chunk is a slice of that string, so

    chunk.text == pages[a].text[chunk.char_start:chunk.char_end]            (one page)
    chunk.text == pages[a].text[chunk.char_start:] + "\\n"
                  + "".join(p.text + "\\n" for p in pages[a + 1 : b])
                  + pages[b].text[:chunk.char_end]                          (a < b)

where pages[a].page == chunk.page_start and pages[b].page == chunk.page_end, and the
pages in between are those of the list given to `chunk_pages` (normally all pages of
the PDF). `span_text` computes exactly this. char_end is exclusive, as in slicing.
"""

from __future__ import annotations

import bisect
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

from ..records import Chunk, Page, Paper, SummaryEntry
from .params import PARSE_PARAMS, ParseParams
from .sections import sections

PAGE_JOIN = "\n"

# --- offsets ---------------------------------------------------------------------


def span_text(pages: Sequence[Page], page_start: int, char_start: int, page_end: int, char_end: int) -> str:
    """The text between two page offsets, by the convention in the module docstring."""
    index = {p.page: i for i, p in enumerate(pages)}
    a, b = index[page_start], index[page_end]
    if a == b:
        return pages[a].text[char_start:char_end]
    middle = "".join(p.text + PAGE_JOIN for p in pages[a + 1 : b])
    return pages[a].text[char_start:] + PAGE_JOIN + middle + pages[b].text[:char_end]


# --- sentences -------------------------------------------------------------------

_BOUNDARY = re.compile(r"[.!?][\"'”’)\]]*(?=\s+[\"'“‘(\[]?[A-Z0-9])")
# Words that end with a period without ending a sentence ("et al.", "Fig. 3", "Eq. 2").
_ABBREVIATIONS = frozenset(
    {"al", "fig", "figs", "eq", "eqs", "eqn", "sec", "secs", "tab", "ref", "refs", "no", "nos", "vs", "cf"}
    | {"resp", "approx", "appx", "app", "alg", "thm", "def", "lem", "prop", "dr", "mr", "mrs", "ms", "prof"}
    | {"st", "jr", "inc", "ltd", "co", "pp", "vol", "ch", "ed", "eds"}
)


def _is_abbreviation(text: str, dot: int) -> bool:
    """Is the period at `dot` part of an abbreviation ("et al.", "Fig.", "e.g.", "J.")?"""
    start = dot
    while start > 0 and not text[start - 1].isspace():
        start -= 1
    token = text[start : dot + 1].lstrip("([\"'“‘")
    if re.fullmatch(r"(?:[A-Za-z]\.)+", token):  # e.g. i.e. U.S. J.
        return True
    return token[:-1].lower() in _ABBREVIATIONS


def sentence_spans(text: str, start: int = 0, end: int | None = None) -> list[tuple[int, int]]:
    """(start, end) of the sentences in text[start:end], trimmed of whitespace.
    Boundaries: . ! ? followed by space and a capital or digit, except after an
    abbreviation; decimals ("0.37") never match because no space follows the dot."""
    end = len(text) if end is None else end
    cuts = [start]
    for m in _BOUNDARY.finditer(text, start, end):
        if text[m.start()] == "." and _is_abbreviation(text, m.start()):
            continue
        cuts.append(m.end())
    cuts.append(end)
    spans = []
    for a, b in zip(cuts, cuts[1:], strict=False):
        while a < b and text[a].isspace():
            a += 1
        while b > a and text[b - 1].isspace():
            b -= 1
        if b > a:
            spans.append((a, b))
    return spans


# --- units: sentences in document coordinates ----------------------------------------


@dataclass(frozen=True)
class _Unit:
    start: int  # offsets in the joined document
    end: int
    words: int
    heading: bool
    section: str
    zone: str


def _split_long(doc: str, a: int, b: int, max_words: int) -> list[tuple[int, int]]:
    """A sentence longer than max_words (tables, formulas) cut into even word runs."""
    tokens = [(m.start(), m.end()) for m in re.finditer(r"\S+", doc[a:b])]
    n = math.ceil(len(tokens) / max_words)
    size = math.ceil(len(tokens) / n)
    return [
        (a + tokens[i][0], a + tokens[min(i + size, len(tokens)) - 1][1]) for i in range(0, len(tokens), size)
    ]


def _segment_units(
    doc: str, seg: tuple[int, int], title: str, zone: str, joins: set[int], max_words: int
) -> list[_Unit]:
    """Sentences of one section: paragraphs split at newlines that are not page joins."""
    a, b = seg
    breaks = [m.start() for m in re.finditer("\n", doc[a:b]) if a + m.start() not in joins]
    units = []
    for pa, pb in zip([a, *[a + x + 1 for x in breaks]], [*[a + x for x in breaks], b], strict=True):
        if title and pa == a and " ".join(doc[pa:pb].split()) == title:
            units.append(_Unit(pa, pa + len(doc[pa:pb].rstrip()), len(title.split()), True, title, zone))
            continue
        for sa, sb in sentence_spans(doc, pa, pb):
            words = len(doc[sa:sb].split())
            pieces = _split_long(doc, sa, sb, max_words) if words > max_words else [(sa, sb)]
            for xa, xb in pieces:
                units.append(_Unit(xa, xb, len(doc[xa:xb].split()), False, title, zone))
    return units


def _pack(units: list[_Unit], max_words: int, overlap_words: int) -> list[list[_Unit]]:
    """Greedy runs of whole units up to max_words; the next run repeats the last
    sentences of the previous one (up to overlap_words) as long as they fit."""
    groups: list[list[_Unit]] = []
    i, n = 0, len(units)
    while i < n:
        j, words = i, 0
        while j < n and (j == i or words + units[j].words <= max_words):
            words += units[j].words
            j += 1
        groups.append(units[i:j])
        if j >= n:
            break
        k, back = j, 0
        while (
            k - 1 > i
            and not units[k - 1].heading
            and back + units[k - 1].words <= overlap_words
            and back + units[k - 1].words + units[j].words <= max_words
        ):
            back += units[k - 1].words
            k -= 1
        i = k
    return groups


# --- paper chunks --------------------------------------------------------------------


def chunk_pages(
    pages: list[Page], *, max_words: int = 160, overlap_words: int = 30, params: ParseParams = PARSE_PARAMS
) -> list[Chunk]:
    """Chunks of at most max_words words; see the module docstring for offsets."""
    if max_words < 1 or overlap_words < 0:
        raise ValueError("max_words must be >= 1 and overlap_words >= 0")
    if not pages:
        return []
    if len({p.paper_id for p in pages}) != 1:
        raise ValueError("chunk_pages takes the pages of one paper")
    if any(a.page >= b.page for a, b in zip(pages, pages[1:], strict=False)):
        raise ValueError("pages must be in increasing page order")
    paper_id = pages[0].paper_id
    doc = PAGE_JOIN.join(p.text for p in pages)
    starts = [0]
    for p in pages[:-1]:
        starts.append(starts[-1] + len(p.text) + len(PAGE_JOIN))
    joins = {s - 1 for s in starts[1:]}
    index = {p.page: i for i, p in enumerate(pages)}
    spans = sections(pages, params)
    bounds = [starts[index[s.page]] + s.char_start for s in spans] + [len(doc)]

    chunks: list[Chunk] = []
    carry: list[_Unit] = []
    for k, span in enumerate(spans):
        units = carry + _segment_units(
            doc, (bounds[k], bounds[k + 1]), span.title, span.zone, joins, max_words
        )
        last = k == len(spans) - 1
        if (
            not last
            and spans[k + 1].zone == span.zone
            and sum(u.words for u in units) < params.min_section_words
        ):
            carry = units  # a bare heading: keep it with the section that follows
            continue
        carry = []
        for group in _pack(units, max_words, overlap_words):
            chunks.append(_make_chunk(paper_id, pages, doc, starts, group))
    return chunks


def _make_chunk(
    paper_id: str, pages: Sequence[Page], doc: str, starts: list[int], group: list[_Unit]
) -> Chunk:
    a, b = group[0].start, group[-1].end
    pa = bisect.bisect_right(starts, a) - 1
    pb = bisect.bisect_right(starts, b - 1) - 1
    body = next((u for u in group if not u.heading), group[0])
    page_start, char_start = pages[pa].page, a - starts[pa]
    return Chunk(
        chunk_id=f"{paper_id}:p{page_start}:{char_start}",
        paper_id=paper_id,
        kind="paper",
        text=doc[a:b],
        page_start=page_start,
        page_end=pages[pb].page,
        section=body.section,
        zone=body.zone,
        char_start=char_start,
        char_end=b - starts[pb],
        lang="en",
    )


# --- summary and abstract chunks -------------------------------------------------------


def _squash(text: str) -> str:
    return " ".join(text.split())


def _trim(text: str, limit: int) -> str:
    """Cut to `limit` characters, at a sentence end if one is in the last 40%."""
    if len(text) <= limit:
        return text
    head = text[:limit]
    cut = max(head.rfind(c) for c in "。！？；.!?;")
    return head[: cut + 1] if cut >= 0.6 * limit else head.rstrip() + "…"


def _summary_body(entry: SummaryEntry) -> str:
    """Short labelled fields first (they lead the first chunk), long ones after; links
    are left out (they carry no meaning for the embedder)."""
    if not entry.fields:
        return _squash(entry.text)
    short, long = [], []
    for label, value in entry.fields:
        value = _squash(value)
        if not value or re.fullmatch(r"https?://\S+", value):
            continue
        (short if len(value) <= 60 else long).append(f"{label}：{value}")
    return "\n".join(short + long)


def _pieces(body: str, limit: int) -> list[str]:
    """The body in consecutive pieces of about `limit` characters, cut at sentence ends."""
    out = []
    rest = body.strip()
    while rest:
        piece = _trim(rest, limit)
        out.append(piece)
        rest = rest[len(piece.removesuffix("…")) :].strip()
    return out


def summary_chunks(paper: Paper, params: ParseParams = PARSE_PARAMS) -> list[Chunk]:
    """Per reading-list entry: title, list heading and the entry's first `params.summary_chars`
    characters (one embedding); a longer entry goes on in more chunks (title and the next
    piece), so that its later facts and names ("ALFWorld和WebShop ... 34%") are searchable too.
    All of an entry's chunks carry its `summary_index`: a citation quotes the whole entry."""
    out = []
    for i, entry in enumerate(paper.summaries):
        head = [paper.title]
        for extra in (entry.heading, entry.title_as_listed):
            if extra and _squash(extra) not in head:
                head.append(_squash(extra))
        pieces = _pieces(_summary_body(entry), params.summary_chars) or [""]
        for j, piece in enumerate(pieces):
            out.append(
                Chunk(
                    chunk_id=f"{paper.paper_id}:summary:{i}" + (f":{j + 1}" if j else ""),
                    paper_id=paper.paper_id,
                    kind="summary",
                    text="\n".join([*(head if j == 0 else head[:1]), piece]).strip(),
                    lang="zh",
                    summary_index=i,
                )
            )
    return out


def is_entry_head(chunk: Chunk) -> bool:
    """The first chunk of a summary entry (the one that says what the paper is)."""
    return chunk.kind == "summary" and ":" not in chunk.chunk_id.rpartition(":summary:")[2]


def abstract_chunk(paper: Paper, abstract: str) -> Chunk:
    """Title, aliases and abstract as one chunk; title and aliases alone when no
    abstract is known, so that a paper is findable by name even without text."""
    parts = [paper.title]
    if paper.aliases:
        parts.append("; ".join(paper.aliases))
    if abstract.strip():
        parts.append(_squash(abstract))
    return Chunk(
        chunk_id=f"{paper.paper_id}:abstract",
        paper_id=paper.paper_id,
        kind="abstract",
        text="\n".join(parts),
        lang="en",
    )
