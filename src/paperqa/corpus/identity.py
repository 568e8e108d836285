"""Which paper a PDF is: its file name, its arXiv stamp, its title against the catalog's; and
whether a new copy may replace the one on hand.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, replace
from difflib import SequenceMatcher
from pathlib import Path

from ..catalog.lists import normalise_title
from ..records import ManifestEntry, Paper
from ..settings import Settings
from .manifest import entry_path, is_verified
from .params import CORPUS_PARAMS, CorpusParams
from .pdfcheck import PdfCheckError, PdfInfo, inspect_pdf
from .pdfread import PdfError, read_raw_pages

_ARXIV_NEW = r"\d{4}\.\d{4,5}"


_ARXIV_OLD = r"[a-z][a-z\-]+(?:\.[A-Z]{2})?/\d{7}"


_FILENAME_RE = re.compile(rf"(?<![\d.])({_ARXIV_NEW})(?:v(\d+))?(?![\d])", re.IGNORECASE)


# The stamp after removing all whitespace: arXiv:2305.14314v1[cs.LG]23May2023
_CATEGORY = r"\[[a-z\-]+(?:\.[a-z\-]+)?\]"


_STAMP_RES = (
    re.compile(rf"arXiv:({_ARXIV_NEW}|{_ARXIV_OLD})(?:v(\d+))?{_CATEGORY}", re.IGNORECASE),
    # pypdf sometimes emits the margin's pieces out of order: category (and date) first
    re.compile(
        rf"{_CATEGORY}(?:\d{{1,2}}[a-z]{{3}}\d{{4}})?arXiv:({_ARXIV_NEW}|{_ARXIV_OLD})(?:v(\d+))?", re.I
    ),
)


_CONNECTIVES = frozenset(
    {"a", "an", "and", "by", "for", "from", "in", "of", "on", "the", "to", "via", "with"}
)


_NOT_TITLE_RE = re.compile(
    r"^(journal of|proceedings|published as|preprint|arxiv|under review|accepted|workshop|copyright|"
    r"abstract|draft|technical report$|\d)",
    re.IGNORECASE,
)


_BAD_META_RE = re.compile(
    r"^(untitled|microsoft word|document\d*$|title$|paper$)|\.(docx?|tex|pdf|dvi|ps)$", re.I
)


# PDF text keeps a title's letters but not its spacing: compare on letters and digits only
squash = normalise_title


def title_variants(paper: Paper) -> list[str]:
    """Names a paper goes by: its title, its aliases, and the title without a nickname prefix."""
    out = [paper.title, *paper.aliases]
    head, sep, rest = paper.title.partition(":")
    if sep and rest.strip() and len(head.split()) <= 3:
        out.append(rest.strip())  # "GPT-1: Improving Language ..." -> "Improving Language ..."
    return out


def title_similarity(a: str, b: str) -> float:
    sa, sb = squash(a), squash(b)
    if not sa or not sb:
        return 0.0
    if sa == sb:
        return 1.0
    return round(SequenceMatcher(None, sa, sb, autojunk=False).ratio(), 3)


def catalog_title_score(title: str, paper: Paper) -> float:
    """How well a source's title (arXiv's, or a PDF's metadata) names this catalog paper."""
    return max(title_similarity(title, v) for v in title_variants(paper))


class _Head:
    """The squashed head of page 1, prepared once and searched for many titles.

    `find` works on squashed text, so hyphenation, line breaks and odd spacing from pypdf do
    not matter; a fuzzy window around the best partial matches covers lost glyphs.
    """

    def __init__(self, text: str, params: CorpusParams):
        self.text = squash(text)[: params.head_chars]
        self.fuzzy_gate = params.fuzzy_gate
        self.grams = {self.text[i : i + 3] for i in range(len(self.text) - 2)}

    def find(self, t: str) -> tuple[float, int]:
        if len(t) < 4 or not self.text:
            return 0.0, -1
        pos = self.text.find(t)
        if pos >= 0:
            return 1.0, pos
        grams = [t[i : i + 3] for i in range(len(t) - 2)]
        if sum(g in self.grams for g in grams) < self.fuzzy_gate * len(grams):
            return 0.0, -1  # too little of the title is there for a fuzzy look to pay off
        sm = SequenceMatcher(None, autojunk=False)
        sm.set_seqs(t, self.text)
        best, best_pos = 0.0, -1
        starts = {max(0, b - a) for a, b, size in sm.get_matching_blocks() if size >= 4}
        for start in sorted(starts):
            for width in (len(t), len(t) + len(t) // 10):
                window = self.text[start : start + width]
                score = SequenceMatcher(None, t, window, autojunk=False).ratio()
                if score > best:
                    best, best_pos = score, start
        return round(best, 3), best_pos


def page_title_score(
    paper: Paper, info: PdfInfo, head: _Head | None = None, params: CorpusParams = CORPUS_PARAMS
) -> tuple[float, int]:
    """Best (score, position) of any of the paper's names on page 1 or in the metadata title."""
    head = head or _Head(info.first_page_text, params)
    best: tuple[float, int] = (0.0, -1)
    for v in title_variants(paper):
        sv = squash(v)
        if len(sv) < params.min_title_chars:
            continue
        score, pos = head.find(sv)
        if score > best[0] or (score == best[0] and 0 <= pos < best[1]):
            best = (score, pos)
        if info.meta_title:
            meta = title_similarity(v, info.meta_title)
            if meta > best[0]:
                best = (meta, 0)
    return best


def guess_title(info: PdfInfo) -> str:
    """A title for a PDF nobody catalogued: its metadata title, else page 1's first real line."""
    meta = " ".join(info.meta_title.split())
    if len(meta) >= 8 and len(meta.split()) >= 2 and not _BAD_META_RE.search(meta):
        return meta
    lines = [" ".join(line.split()) for line in info.first_page_text.splitlines()]
    for i, line in enumerate(lines[:40]):
        if not _substantial(line):
            continue
        title = line
        nxt = lines[i + 1] if i + 1 < len(lines) else ""
        last, first = title.split()[-1].lower(), (nxt.split() or [""])[0].lower()
        continues = title.endswith(("-", ":")) or last in _CONNECTIVES or first in _CONNECTIVES
        if nxt and continues and "@" not in nxt and len(title) + len(nxt) < 200:
            title = title[:-1] + nxt if title.endswith("-") else f"{title} {nxt}"
        return title
    return ""


def without_running_headers(path: Path, info: PdfInfo) -> PdfInfo:
    """Page 1 without the lines that recur on the next pages: a running header is not a title."""
    try:
        raw = read_raw_pages(path)
    except PdfError:
        return info

    def key(line: str) -> str:
        return re.sub(r"\d+", "#", " ".join(line.split()).lower())

    recurring = {key(line) for page in raw[1:3] for line in page.splitlines() if line.strip()}
    if not recurring:
        return info
    kept = [line for line in info.first_page_text.splitlines() if key(line) not in recurring]
    return replace(info, first_page_text="\n".join(kept))


def _substantial(line: str) -> bool:
    words = line.split()
    letters = sum(ch.isalpha() for ch in line)
    if len(words) < 2 or letters < 10 or letters < 0.6 * len(line.replace(" ", "")):
        return False
    return "@" not in line and not _NOT_TITLE_RE.match(line) and find_stamp(line) is None


def slugify(text: str, limit: int = 60) -> str:
    words = re.findall(r"[a-z0-9]+", unicodedata.normalize("NFKD", text).lower())
    slug = ""
    for w in words:
        if len(slug) + len(w) + 1 > limit:
            break
        slug = f"{slug}-{w}" if slug else w
    return slug


@dataclass(frozen=True)
class Match:
    paper: Paper | None
    matched_by: str  # filename | stamp | title | none
    version: int  # 0 when neither stamp nor file name says
    note: str = ""
    arxiv_id: str = ""  # id seen in the stamp or file name, even for a paper not in the catalog


def match_filename(path: Path, papers: list[Paper]) -> Match | None:
    stem = path.stem
    by_slug = {p.paper_id.lower(): p for p in papers}
    if stem.lower() in by_slug and not by_slug[stem.lower()].arxiv_id:
        return Match(by_slug[stem.lower()], "filename", 0)
    m = _FILENAME_RE.search(stem)
    if not m:
        return None
    by_arxiv = {p.arxiv_id: p for p in papers if p.arxiv_id}
    version = int(m.group(2) or 0)
    paper = by_arxiv.get(m.group(1))
    return Match(paper, "filename" if paper else "none", version, arxiv_id=m.group(1))


def find_stamp(text: str) -> tuple[str, int] | None:
    """(arXiv id, version or 0) from the margin stamp; pypdf may space it oddly or reverse it."""
    flat = "".join(text.split())
    for candidate in (flat, flat[::-1]):
        for pattern in _STAMP_RES:
            m = pattern.search(candidate)
            if m:
                return m.group(1), int(m.group(2) or 0)
    return None


def match_pdf(path: Path, info: PdfInfo, papers: list[Paper], params: CorpusParams = CORPUS_PARAMS) -> Match:
    """Match one verified PDF to a catalog paper: file name, then stamp, then title."""
    pdf_papers = [p for p in papers if p.kind == "paper"]
    by_name = match_filename(path, pdf_papers)
    stamp = find_stamp(info.first_page_text)
    if by_name is not None and by_name.paper is not None:
        if stamp is None or not by_name.paper.arxiv_id:
            return by_name
        if stamp[0] != by_name.paper.arxiv_id:
            return replace(
                by_name, note=f"the file name says {by_name.arxiv_id} but page 1 says arXiv:{stamp[0]}"
            )
        return replace(by_name, version=by_name.version or stamp[1])
    by_arxiv = {p.arxiv_id: p for p in pdf_papers if p.arxiv_id}
    if stamp and stamp[0] in by_arxiv:
        return Match(by_arxiv[stamp[0]], "stamp", stamp[1], arxiv_id=stamp[0])
    if stamp:  # the paper says which it is, and it is none of the catalog's: the user's own
        return Match(None, "none", stamp[1], arxiv_id=stamp[0])
    seen_id, seen_version = (by_name.arxiv_id, by_name.version) if by_name else ("", 0)
    head = _Head(info.first_page_text, params)
    ranked = sorted(
        ((page_title_score(p, info, head, params), p) for p in pdf_papers),
        key=lambda sp: (-sp[0][0], sp[0][1] if sp[0][1] >= 0 else 1 << 30, -len(sp[1].title)),
    )
    if ranked and ranked[0][0][0] >= params.text_match:
        paper = ranked[0][1]
        note = ""
        if seen_id and seen_id != paper.arxiv_id:
            note = f"the file name says {seen_id} but the catalog has {paper.arxiv_id or paper.pdf_url}"
        return Match(paper, "title", 0, note=note)
    return Match(None, "none", seen_version, arxiv_id=seen_id)


@dataclass(frozen=True)
class Identity:
    """What page 1 of a PDF says about whether it is a given catalog paper."""

    problem: str  # "" when the PDF is the paper
    title_score: float
    shown_title: str  # the catalog title when it matches, else what page 1 shows

    @property
    def ok(self) -> bool:
        return not self.problem


def check_identity(paper: Paper, info: PdfInfo, params: CorpusParams = CORPUS_PARAMS) -> Identity:
    """Is this PDF `paper`? Its arXiv stamp must name the paper's id, and page 1 its title.

    The source's word (arXiv metadata, a file name) is not enough: a mirror or a
    mislabelled file serves another paper's bytes under the right name.
    """
    score, _ = page_title_score(paper, info, params=params)
    stamp = find_stamp(info.first_page_text)
    if stamp and stamp[0] != paper.arxiv_id:
        shown = guess_title(info) or f"arXiv:{stamp[0]}"
        catalog = paper.arxiv_id or "not on arXiv"
        problem = f"page 1 says arXiv:{stamp[0]}, but '{paper.title}' is {catalog}"
        return Identity(problem, score, shown)
    if score < params.text_match:
        shown = guess_title(info)
        seen = f"it shows '{shown}'" if shown else "no title found"
        problem = f"page 1 does not show the catalog title '{paper.title}' ({seen}; score {score:.2f})"
        return Identity(problem, score, shown)
    return Identity("", score, paper.title)


def completeness_problem(new: PdfInfo, old: PdfInfo, params: CorpusParams = CORPUS_PARAMS) -> str:
    """Why `new` is less complete than the verified `old` copy; "" when it is at least as complete."""
    if new.pages < old.pages:
        return f"it has {_pages(new.pages)} where the verified copy has {old.pages}"
    for n, (now, before) in enumerate(zip(new.page_words, old.page_words, strict=False), 1):
        if before >= params.full_page_words and now < params.min_page_words:
            return f"its page {n} extracts {now} words where the verified copy's has {before}"
    total_new, total_old = sum(new.page_words), sum(old.page_words)
    if total_new < params.min_word_share * total_old:
        return f"it extracts {total_new} words where the verified copy extracts {total_old}"
    return ""


def _pages(n: int) -> str:
    return f"{n} page" if n == 1 else f"{n} pages"


def verified_copy(
    settings: Settings, old: ManifestEntry | None, params: CorpusParams = CORPUS_PARAMS
) -> PdfInfo | None:
    """The stored copy a new file must not make worse: verified, the right paper, still readable."""
    if old is None or not old.title_match or not is_verified(settings, old):
        return None
    try:
        return inspect_pdf(entry_path(settings, old), params)
    except PdfCheckError:
        return None


def replacement_problem(
    settings: Settings, old: ManifestEntry | None, info: PdfInfo, params: CorpusParams = CORPUS_PARAMS
) -> str:
    """Why a new verified file must not replace `old` (naming the stored file); "" when it may."""
    kept = verified_copy(settings, old, params)
    if kept is None or old is None:
        return ""
    problem = completeness_problem(info, kept, params)
    if not problem:
        return ""
    return f"{problem}; the verified copy {old.file} is kept (delete it first to replace it anyway)"
