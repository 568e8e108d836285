"""From "[n]" markers to checked citations: the product's promise lives here.

The mechanism is PaperQA2's: the writer (an LLM or the extractive engine) cites opaque keys, the
numbers of the sources it was handed; code maps them to citations and strips every key it did not
hand out, so a model cannot cite a paper it never saw. Markers are renumbered in order of first
use, while streaming, so the deltas a user sees are the final text.

Quotes are never taken from the model: a quote is a sentence of the cited source that stands
verbatim in the page text (see `text.verbatim_in` for what verbatim means): the first one the
answer states whole with that citation (the extractive engine's lead), else the one closest to
what it said (a model's paraphrase). A source with no such sentence gets no quote.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from pathlib import Path

from ..catalog.lists import META_LABELS
from ..cjk import CJK_IDEOGRAPHS
from ..records import Citation, Paper, Passage, Quote, SummaryEntry
from .base import PaperLookup, Sentence, Source, paper_for
from .examples import starts_inside_example, under_example_label
from .headings import drop_heading
from .text import clip_quote, collapse_ws, sentence_spans, stems, verbatim_in

PageText = Callable[[str, int], str]
PdfPath = Callable[[str], "Path | None"]

_CLOSE = {"[": "]", "【": "】"}
_KEY_WORDS = r"(?:passages?|sources?|refs?|references?|段落|来源|文献|资料)"
_MARKER_BODY_RE = re.compile(
    rf"^\s*(?:{_KEY_WORDS}\s*)?\d{{1,3}}(?:\s*(?:,|，|;|；|、|-|–|and|&|\s)\s*(?:{_KEY_WORDS}\s*)?\d{{1,3}})*\s*$",
    re.IGNORECASE,
)
_MAX_MARKER = 40
_PUNCT = frozenset(".,;:!?)。，；：！？）")
_SEPARATORS = frozenset(",，、;；")


def _marker_numbers(body: str) -> list[int] | None:
    """Numbers a marker body cites ("1", "1, 3", "Passage 2", "2-4"), or None if it is no marker."""
    if not _MARKER_BODY_RE.match(body):
        return None
    nums: list[int] = []
    for a, b in re.findall(r"(\d{1,3})(?:\s*[-–]\s*(\d{1,3}))?", body):
        lo, hi = int(a), int(b or a)
        nums.extend(range(lo, hi + 1) if 0 <= hi - lo <= 5 else [lo, hi])
    return list(dict.fromkeys(nums))


class CitationMapper:
    """Rewrites [n] markers in streamed text: known numbers renumbered by first use, unknown dropped.

    Feed it deltas; it holds back only an open bracket (with the whitespace, or the comma after a
    citation, before it) until it knows whether it is a citation. "[1], [2]" becomes "[1][2]";
    text that is not a marker ("[CLS]", "[−1, 1]") passes unchanged.
    """

    def __init__(self, n_sources: int):
        self.n_sources = n_sources
        self.order: list[int] = []  # source numbers in order of first use
        self.dropped: list[int] = []
        self._held = ""  # whitespace (and a separator after a citation) not yet emitted
        self._marker: str | None = None
        self._after_drop = False  # an unknown marker was just dropped
        self._after_cite = False  # the last thing emitted was a citation
        self._sep = False  # _held has a comma that only separates two citations

    def feed(self, delta: str) -> str:
        out: list[str] = []
        for ch in delta:
            if self._marker is not None:
                self._marker += ch
                if ch == _CLOSE[self._marker[0]]:
                    out.append(self._resolve())
                elif ch == "\n" or len(self._marker) > _MAX_MARKER:
                    out.append(self._held + self._marker)
                    self._reset()
                continue
            if ch.isspace():
                if self._after_drop:  # "x [9] y": one space, not two
                    self._held, self._after_drop = "", False
                self._held += ch
            elif ch in _CLOSE:
                self._marker = ch
            elif ch in _SEPARATORS and self._after_cite and not self._sep:
                self._held += ch
                self._sep = True
            else:
                if self._after_drop and ch in _PUNCT:  # "memory [9]." -> "memory."
                    self._held = ""
                out.append(self._held + ch)
                self._reset()
        return "".join(out)

    def finish(self) -> str:
        """Flush what is held; trailing whitespace is dropped."""
        rest = (self._held + self._marker) if self._marker is not None else ""
        self._reset()
        return rest.rstrip()

    def _reset(self) -> None:
        self._held, self._marker = "", None
        self._after_drop = self._after_cite = self._sep = False

    def _resolve(self) -> str:
        marker, held, sep = self._marker or "", self._held, self._sep
        self._reset()
        nums = _marker_numbers(marker[1:-1])
        if nums is None:
            return held + marker
        keep = [n for n in nums if 1 <= n <= self.n_sources]
        self.dropped += [n for n in nums if n not in keep]
        if not keep:
            self._held, self._after_drop = held, True  # the space may still belong to what follows
            self._after_cite, self._sep = sep, sep
            return ""
        for n in keep:
            if n not in self.order:
                self.order.append(n)
        new = dict.fromkeys(self.order.index(n) + 1 for n in keep)
        self._after_cite = True
        return ("" if sep else held) + "".join(f"[{k}]" for k in new)


def map_citations(text: str, n_sources: int) -> tuple[str, list[int]]:
    """Whole-text form of `CitationMapper`: (rewritten text, source numbers in order of first use)."""
    mapper = CitationMapper(n_sources)
    out = mapper.feed(text) + mapper.finish()
    return out.strip(), mapper.order


# --- sources: sentences checked against the page text ----------------------------------

_META_LABELS = META_LABELS  # the reading lists' metadata fields (catalog/list_labels.json)
_LABEL_RE = re.compile(rf"^([{CJK_IDEOGRAPHS}]{{2,6}})[：:]\s*")


# What a list says about its own links, not about the paper ("……，这是其解读之一").
NOTE_PHRASES = ("解读之一", "翻译之一", "代码地址")
_CLAUSE_END_RE = re.compile(r"[,，;；。]")


def _without_note(sent: str) -> str:
    """The sentence before a trailing clause that only describes the list's link (a prefix, so
    still verbatim); "" when the note is all there is."""
    at = min((i for i in (sent.find(n) for n in NOTE_PHRASES) if i >= 0), default=-1)
    if at < 0:
        return sent
    cuts = [m.start() for m in _CLAUSE_END_RE.finditer(sent, 0, at)]
    return sent[: cuts[-1]].strip() if cuts else ""


def _summary_sentences(text: str, entry: SummaryEntry | None, paper: Paper) -> list[str]:
    """Sentences of a reading-list entry worth quoting: no title line, link or date field;
    a field label ("小学生摘要：") is cut off, which keeps the rest an exact substring. The
    list's own heading stays ("QLoRA：quantization+Lora 让我一张显卡就可 fine-tune LLM")."""
    skip = {
        collapse_ws(x).lower() for x in (paper.title, *(() if entry is None else (entry.title_as_listed,)))
    }
    out = []
    for s, e in sentence_spans(text):
        sent = text[s:e]
        m = _LABEL_RE.match(sent)
        if m:
            if m.group(1) in _META_LABELS:
                continue
            sent = sent[m.end() :]
        sent = _without_note(sent.strip())
        low = collapse_ws(sent).lower().strip("《》")
        if len(sent) < 6 or "http" in low or low in skip or any(low and low in k for k in skip):
            continue
        out.append(sent)
    return out


def make_sources(
    passages: Sequence[Passage], catalog: PaperLookup | None, page_text: PageText
) -> list[Source]:
    """Number the passages and find, for each sentence, the page where it stands verbatim."""
    sources = []
    first: dict[str, int] = {}
    for i, passage in enumerate(passages, 1):
        paper = paper_for(passage, catalog)
        entry = None
        if passage.kind == "summary" and 0 <= passage.summary_index < len(paper.summaries):
            entry = paper.summaries[passage.summary_index]
        sentences = tuple(_checked_sentences(passage, paper, entry, page_text))
        rank = first.setdefault(passage.paper_id, i)
        sources.append(Source(i, passage, paper, sentences, entry, paper_rank=rank))
    return sources


def _checked_sentences(
    passage: Passage, paper: Paper, entry: SummaryEntry | None, page_text: PageText
) -> list[Sentence]:
    if passage.kind == "summary":
        against = entry.text if entry is not None else passage.text
        return [
            Sentence(s, 0 if verbatim_in(s, against) else None)
            for s in _summary_sentences(entry.text if entry is not None else passage.text, entry, paper)
        ]
    texts = [drop_heading(passage.text[a:b], passage.section) for a, b in sentence_spans(passage.text)]
    if passage.kind == "abstract":
        first = page_text(passage.paper_id, 1) or ""
        names = [collapse_ws(n).lower() for n in (paper.title, passage.title, *paper.aliases) if len(n) > 3]
        texts = [s for s in texts if not any(n in collapse_ws(s).lower() for n in names)]  # a title card
        return [Sentence(s, 1 if verbatim_in(s, first) else 0) for s in texts]
    start = passage.page_start or 1
    span = range(start, max(passage.page_end, start) + 1)
    flat = {
        p: collapse_ws(page_text(passage.paper_id, p) or "") for p in span
    }  # once per page, not per sentence
    found = [next((p for p, t in flat.items() if (q := collapse_ws(s)) and q in t), None) for s in texts]
    inside = bool(texts) and starts_inside_example(flat[start], texts[0])
    examples = under_example_label(texts, inside, found)
    return [Sentence(s, p, ex) for s, p, ex in zip(texts, found, examples, strict=True)]


# --- citations -------------------------------------------------------------------------


def pdf_link(paper: Paper, page: int, pdf_path: PdfPath) -> str:
    """The PDF at a page: the local file when downloaded, else arXiv's (or the direct) PDF URL."""
    frag = f"#page={page}" if page > 0 else ""
    local = pdf_path(paper.paper_id)
    if local is not None:
        return Path(local).resolve().as_uri() + frag
    if paper.arxiv_id:
        vid = f"{paper.arxiv_id}v{paper.version}" if paper.version else paper.arxiv_id
        return f"https://arxiv.org/pdf/{vid}{frag}"
    return paper.pdf_url + frag if paper.pdf_url else ""


def _good_quote(s: Sentence) -> bool:
    return s.page is not None and len(collapse_ws(s.text)) >= 20


def pick_quote(source: Source, said: str | Sequence[str]) -> Quote | None:
    """The verbatim sentence of the source that the answer states first with its citation; when it
    states none whole (a model's paraphrase), the one closest to what it said."""
    candidates = [s for s in source.sentences if _good_quote(s)]
    if not candidates:
        return None
    parts = [said] if isinstance(said, str) else list(said)
    best = _stated_first(candidates, parts) or _closest(candidates, " ".join(parts))
    return Quote(text=clip_quote(best.text), page=int(best.page or 0), verbatim=True)


def _stated_first(candidates: list[Sentence], parts: list[str]) -> Sentence | None:
    """The first candidate whose every word a part of the answer says, parts in the answer's order
    (within a part, the one quoted first: a Chinese answer chains its quotes in one sentence)."""
    for part in parts:
        words, at = stems(part), collapse_ws(part)
        whole = [s for s in candidates if (have := stems(s.text)) and have <= words]
        if whole:
            return min(whole, key=lambda s: at.find(collapse_ws(s.text)) % (len(at) + 1))
    return None


def _closest(candidates: list[Sentence], said: str) -> Sentence:
    want = stems(said)

    def score(s: Sentence) -> float:
        have = stems(s.text)
        return len(have & want) / (len(have) ** 0.5 + 1.0)

    return max(candidates, key=score)  # first of equals: earlier sentences win ties


def _said_with(answer: str, number: int) -> list[str]:
    """The answer's sentences that carry citation [number], in order (the whole answer if none)."""
    tag = f"[{number}]"
    parts = [answer[a:b] for a, b in sentence_spans(answer) if tag in answer[a:b]]
    return parts or [answer]


def build_citations(
    sources: Sequence[Source], order: Sequence[int], answer: str, question: str, pdf_path: PdfPath
) -> tuple[Citation, ...]:
    """One citation per source used, numbered as the renumbered markers in `answer`."""
    out = []
    for new, old in enumerate(order, 1):
        src = sources[old - 1]
        p, paper = src.passage, src.paper
        quote = pick_quote(src, [*_said_with(answer, new), question])
        out.append(_citation(new, src, p, paper, quote, pdf_path))
    return tuple(out)


def _citation(
    number: int, src: Source, p: Passage, paper: Paper, quote: Quote | None, pdf_path: PdfPath
) -> Citation:
    summaries = paper.summaries
    if src.summary is not None:
        summaries = (src.summary, *(s for s in summaries if s != src.summary))
    if p.kind == "summary":
        pages: tuple[int, ...] = ()
        link_page = 0
    elif p.kind == "abstract":
        pages = (1,) if quote is not None and quote.page == 1 else ()
        link_page = pages[0] if pages else 0
    else:
        start = p.page_start or 1
        pages = tuple(range(start, max(p.page_end, start) + 1)) if p.page_start else ()
        link_page = quote.page if quote is not None and quote.page else (p.page_start or 0)
    return Citation(
        number=number,
        paper_id=paper.paper_id,
        title=paper.title,
        version=paper.version,
        year=paper.year,
        pages=pages,
        section=p.section,
        quote=quote,
        abs_url=paper.abs_url,
        pdf_url=pdf_link(paper, link_page, pdf_path),
        summaries=summaries,
        kind=p.kind,
    )
