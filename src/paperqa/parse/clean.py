"""Turn the raw text pypdf gives per page into clean page text.

pypdf returns one string per page with a line per text row, in content-stream order.
That text carries print artefacts a reader never sees as content: ligature glyphs,
words split across line ends, running headers and footers, page numbers and the arXiv
stamp in the margin. `clean_pages` removes them and joins lines into paragraphs, one
paragraph per line of output, so that offsets into the clean text are what we cite.

Everything here is a pure function of the raw page strings, so it is testable
without a PDF.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter

from .params import PARSE_PARAMS, ParseParams
from .sections import is_heading_candidate

# --- characters ---------------------------------------------------------------

_LIGATURES = {
    "\ufb00": "ff",
    "\ufb01": "fi",
    "\ufb02": "fl",
    "\ufb03": "ffi",
    "\ufb04": "ffl",
    "\ufb05": "st",
    "\ufb06": "st",
}
# Hyphen look-alikes that should behave as "-" for dehyphenation; minus signs stay.
_HYPHENS = {"\u2010": "-", "\u2011": "-"}
# Invisible characters that only get in the way of matching words.
_DROP = {"\u00ad", "\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\ufffd"}
_NFKC_TAGS = ("<compat>", "<noBreak>", "<wide>", "<narrow>")
_ASCII_CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f\x7f]")


def _char_map(c: str) -> str:
    """Replacement for one non-ASCII character (NFKC only where it cannot hurt)."""
    if c in _LIGATURES:
        return _LIGATURES[c]
    if c in _HYPHENS:
        return _HYPHENS[c]
    if c in _DROP:
        return ""
    cat = unicodedata.category(c)
    if cat == "Cc":  # control characters: broken font encodings, never text
        return " " if c in "\t\n\r\x0b\x0c" else ""
    if cat == "Zs":
        return " "
    tag = unicodedata.decomposition(c).split(" ", 1)[0]
    math_alnum = 0x1D400 <= ord(c) <= 0x1D7FF  # 𝑥 𝐵 ... from math fonts
    if tag in _NFKC_TAGS or (tag == "<font>" and math_alnum):
        out = unicodedata.normalize("NFKC", c)
        # "´" -> " ́": a spacing accent would become a space plus combining mark.
        if any(unicodedata.combining(o) or o.isspace() for o in out):
            return c
        return out
    return c


def normalize_chars(text: str) -> str:
    """Ligatures to letters, odd spaces to plain spaces, control characters dropped."""
    if text.isascii():
        return _ASCII_CONTROL.sub(lambda m: " " if m.group(0) in "\t\r\x0b\x0c" else "", text)
    cache: dict[str, str] = {}
    out = []
    for c in text:
        if " " <= c < "\x7f" or c == "\n":
            out.append(c)
            continue
        if c not in cache:
            cache[c] = _char_map(c)
        out.append(cache[c])
    return "".join(out)


def tidy_spacing(line: str) -> str:
    """Collapse runs of spaces and drop spaces before closing punctuation."""
    line = re.sub(r"[ \t]+", " ", line).strip()
    line = re.sub(r" +([,;:!?)\]}])", r"\1", line)
    line = re.sub(r" +\.(?=\s|$)", ".", line)
    line = re.sub(r"([(\[{]) +", r"\1", line)
    return line


# --- the arXiv stamp ----------------------------------------------------------

_ARXIV_ID = r"(?:\d{4}\.\d{4,5}|[a-z\-]+(?:\.[A-Z]{2})?/\d{7})(?:v\d+)?"
_STAMP_COMPACT = re.compile(
    rf"arXiv:{_ARXIV_ID}\[[A-Za-z\-]+(?:\.[A-Za-z\-]+)?\]\d{{1,2}}[A-Z][a-z]{{2}}\d{{4}}"
)
_STAMP_SPACED = re.compile(
    rf"arXiv:\s*{_ARXIV_ID}\s*\[[A-Za-z\-]+(?:\.[A-Za-z\-]+)?\]\s*\d{{1,2}}\s*[A-Z][a-z]{{2}}\s*\d{{4}}"
)


def _compact(s: str) -> str:
    return re.sub(r"\s+", "", s)


def is_stamp(line: str) -> bool:
    """True for the arXiv margin stamp, also when letters come spaced out or reversed."""
    c = _compact(line)
    return bool(c) and (
        _STAMP_COMPACT.fullmatch(c) is not None or _STAMP_COMPACT.fullmatch(c[::-1]) is not None
    )


def strip_stamp(lines: list[str]) -> list[str]:
    """Remove the stamp: a whole line, a stamp glued into a line, or one split over a
    few consecutive lines (rotated text often comes out a word or a letter per line)."""
    out: list[str] = []
    for line in lines:
        if is_stamp(line):
            continue
        out.append(tidy_spacing(_STAMP_SPACED.sub(" ", line)) if "arXiv" in line else line)
    compact = "".join(_compact(x) for x in out)
    if "arXiv:" not in compact and ":viXra" not in compact:
        return [x for x in out if x]
    kept: list[str] = []
    i = 0
    while i < len(out):
        j = _stamp_run_end(out, i) if _may_start_stamp(out[i]) else 0
        if j:
            i = j
        else:
            kept.append(out[i])
            i += 1
    return [x for x in kept if x]


def _may_start_stamp(line: str) -> bool:
    """Cheap test: could a stamp split over lines start here (either reading order)?"""
    c = _compact(line)
    return 0 < len(c) <= 2 or "arX" in c or "viX" in c or re.fullmatch(r"\d{4}", c) is not None


def _stamp_run_end(lines: list[str], i: int, max_lines: int = 40) -> int:
    """End (exclusive) of a run of lines from i that together spell the stamp, or 0."""
    parts: list[str] = []
    for j in range(i, min(len(lines), i + max_lines)):
        parts.append(_compact(lines[j]))
        if sum(map(len, parts)) > 60:
            return 0
        if j > i and any(is_stamp(v) for v in ("".join(parts), "".join(reversed(parts)))):
            return j + 1
    return 0


# --- running headers, footers and page numbers -----------------------------------


def _edge_key(line: str) -> str:
    """Comparable form of an edge line: digits may vary (page numbers, years)."""
    return re.sub(r"\d+", "#", re.sub(r"\s+", " ", line.strip().lower()))


def _edges(lines: list[str], edge_lines: int) -> list[int]:
    """The lines at the top and at the bottom (`edge_lines` each) that may be a header or footer."""
    n = len(lines)
    return sorted(set(range(min(edge_lines, n))) | set(range(max(0, n - edge_lines), n)))


def _repeated_edge_keys(pages: list[list[str]], params: ParseParams) -> set[str]:
    """Edge lines that recur on many pages (>= 40%, at least 2; all pages if < 5)."""
    n, edge_lines = len(pages), params.edge_lines
    if n < 2:
        return set()
    need = max(2, math.ceil(params.edge_share * n)) if n >= params.edge_all_pages_under else n
    counts: Counter[str] = Counter()
    for lines in pages:
        counts.update({_edge_key(lines[i]) for i in _edges(lines, edge_lines) if lines[i].strip()})
    return {k for k, c in counts.items() if c >= need and k.strip("# ")}


_PAGE_NO = re.compile(r"^(?:page\s+)?[-–—]?\s*(\d{1,4})\s*[-–—]?(?:\s+of\s+\d{1,4})?$", re.IGNORECASE)


def _page_number_offset(pages: list[list[str]], edge_lines: int) -> int | None:
    """Printed number minus position, as most pages agree (None if no pattern)."""
    offsets: Counter[int] = Counter()
    for pos, lines in enumerate(pages, start=1):
        found = set()
        for i in _edges(lines, edge_lines):
            m = _PAGE_NO.match(lines[i].strip())
            if m:
                found.add(int(m.group(1)) - pos)
        offsets.update(found)
    if not offsets:
        return None
    off, count = offsets.most_common(1)[0]
    return off if count >= 2 or len(pages) == 1 else None


def strip_edges(pages: list[list[str]], params: ParseParams = PARSE_PARAMS) -> list[list[str]]:
    """Drop running headers/footers and page numbers from the top and bottom of pages."""
    keys = _repeated_edge_keys(pages, params)
    offset = _page_number_offset(pages, params.edge_lines)
    out = []
    for pos, lines in enumerate(pages, start=1):
        drop = set()
        for i in _edges(lines, params.edge_lines):
            line = lines[i].strip()
            if not line:
                continue
            if _edge_key(line) in keys:
                drop.add(i)
                continue
            m = _PAGE_NO.match(line)
            if m and offset is not None and int(m.group(1)) - pos == offset:
                drop.add(i)
        out.append([x for i, x in enumerate(lines) if i not in drop])
    return out


# --- words split across line ends --------------------------------------------------

_WORD = re.compile(r"[A-Za-z][A-Za-z'\-]*[A-Za-z]")


def vocabulary(pages: list[list[str]]) -> Counter[str]:
    """Lower-cased words of the document, not counting the pieces of words cut at a
    line end (the fragment before the hyphen and the continuation after it)."""
    vocab: Counter[str] = Counter()
    cut = False
    for lines in pages:
        for line in lines:
            words = _WORD.findall(line)
            if cut and words and line.startswith(words[0]):
                words = words[1:]
            cut = line.endswith("-")
            if cut and words and line[:-1].endswith(words[-1]):
                words = words[:-1]
            vocab.update(w.lower() for w in words)
    return vocab


# Word endings that are never words of their own in running text.
_SUFFIXES = {"able", "ible", "ing", "ings", "ized", "izing", "ised", "ising", "ness", "ment", "ments"}
_SUFFIXES |= {"tion", "tions", "sion", "sions", "ally", "ity", "ities", "less", "ful", "ive", "ively"}


def join_hyphenated(before: str, after: str, vocab: Counter[str]) -> bool:
    """Should `before-` at a line end and `after` on the next line become one word
    without the hyphen? Keep the hyphen for numbers, capitals, compounds
    (`state-of-the-`) and forms the document writes with a hyphen elsewhere."""
    m_b = re.search(r"([A-Za-z][A-Za-z'\-]*)-$", before)
    m_a = re.match(r"[A-Za-z][A-Za-z']*", after)
    if not m_b or not m_a:
        return False
    head, tail = m_b.group(1), m_a.group(0)
    if "-" in head:
        return False
    joined, hyphened = (head + tail).lower(), f"{head}-{tail}".lower()
    if tail[0].isupper():  # "Pre-Training", "GPT-Neo"; but "LAN-GUAGE" in all-caps titles
        return head.isupper() and tail.isupper() and vocab[joined] > vocab[hyphened]
    if vocab[joined] != vocab[hyphened]:
        return vocab[joined] > vocab[hyphened]
    # written neither way elsewhere: two real words ("longer-range") keep the hyphen
    words = len(head) >= 4 and len(tail) >= 4 and vocab[head.lower()] > 0 and vocab[tail.lower()] > 0
    return not words or tail.lower() in _SUFFIXES


# --- paragraphs -------------------------------------------------------------------

_SENT_END = re.compile(r"[.!?:][\"'”’)\]]*\d{0,2}$")
_BLOCK_START = re.compile(r"^(?:[•◦▪●∙*]\s|(?:Figure|Fig\.|Table|Algorithm)\s+\d+[.:]?\s)")
_REF_START = re.compile(r"^\[\d{1,3}\]\s")  # a reference entry, when the line before ends one


def _typical_length(lines: list[str]) -> float:
    lengths = sorted(len(x) for x in lines if len(x) >= 20)
    return lengths[int(0.8 * (len(lengths) - 1))] if lengths else 80.0


def join_lines(lines: list[str], vocab: Counter[str], params: ParseParams = PARSE_PARAMS) -> str:
    """Lines to paragraphs (one per output line): break at headings, list items,
    captions and short lines that end a sentence; repair line-end hyphenation."""
    typical = _typical_length(lines)
    paras: list[str] = []
    cur = prev_line = ""
    prev_heading = False
    for line in lines:
        heading = is_heading_candidate(line, params)
        new_block = (
            not cur
            or heading
            or prev_heading
            or _BLOCK_START.match(line) is not None
            or (_REF_START.match(line) is not None and _SENT_END.search(cur) is not None)
            or (_SENT_END.search(cur) is not None and len(prev_line) < 0.75 * typical)
        )
        if new_block:
            if cur:
                paras.append(cur)
            cur = line
        elif cur.endswith("-") and not cur.endswith("--"):
            cur = cur[:-1] + line if join_hyphenated(cur, line, vocab) else cur + line
        elif cur.endswith(("—", "/")):
            cur += line
        else:
            cur += " " + line
        prev_line, prev_heading = line, heading
    if cur:
        paras.append(cur)
    return "\n".join(paras)


# --- the whole document -------------------------------------------------------------


def clean_pages(raw_pages: list[str], params: ParseParams = PARSE_PARAMS) -> list[str]:
    """Clean text for each page, same length and order as the input."""
    pages = []
    for raw in raw_pages:
        lines = [tidy_spacing(x) for x in normalize_chars(raw).split("\n")]
        pages.append(strip_stamp([x for x in lines if x]))
    pages = strip_edges(pages, params)
    vocab = vocabulary(pages)
    join_across_pages(pages, vocab)
    return [join_lines(lines, vocab, params) for lines in pages]


def join_across_pages(pages: list[list[str]], vocab: Counter[str]) -> None:
    """A word hyphenated over a page break ("model-" | "ing ...") is made whole on the
    earlier page, so that it can be found; the next page loses the fragment."""
    for prev, nxt in zip(pages, pages[1:], strict=False):
        if not prev or not nxt or not prev[-1].endswith("-"):
            continue
        frag = re.match(r"[a-z][A-Za-z']*[^\s]*", nxt[0])
        if frag and join_hyphenated(prev[-1], nxt[0], vocab):
            prev[-1] = prev[-1][:-1] + frag.group(0)
            rest = nxt[0][frag.end() :].strip()
            if rest:
                nxt[0] = rest
            else:
                del nxt[0]
