"""Records that cross stage boundaries.

Every stage takes these in and gives these out; nothing passes raw dicts between
stages. They are frozen so that a record handed to the next stage cannot change
under it. `to_dict()` gives the JSON shape used by `--json` and the manifests.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


def _plain(obj: Any) -> Any:
    """asdict() keeps tuples; JSON wants lists."""
    if isinstance(obj, dict):
        return {k: _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    return obj


class _Record:
    def to_dict(self) -> dict[str, Any]:
        return _plain(asdict(self))  # type: ignore[call-overload]


# --- catalog ---------------------------------------------------------------


@dataclass(frozen=True)
class SummaryEntry(_Record):
    """What one reading list says about one paper: the text an answer cites."""

    list_id: str  # file stem of the list, e.g. "llm-classic-papers-quick-read"
    list_title: str  # human name of the list
    heading: str  # section heading (list one) or part heading (list two)
    title_as_listed: str  # the title exactly as the list writes it
    text: str  # the whole entry: fields (list one) or notes (list two)
    line: int  # 1-based line in the list file where the entry starts
    link: str = ""  # a link the list gives for the paper, if any
    fields: tuple[tuple[str, str], ...] = ()  # labelled fields (list one)

    def field(self, *labels: str) -> str:
        for name, value in self.fields:
            if name in labels:
                return value
        return ""


@dataclass(frozen=True)
class Correction(_Record):
    """A mistake in a reading list, what is right instead, and why we believe it."""

    list_id: str
    field: str  # "link", "date", "note", "organisation", ...
    listed: str  # what the list says
    correct: str  # what is right
    evidence: str


@dataclass(frozen=True)
class Paper(_Record):
    """One catalog item: a paper (or, with kind != "paper", a blog post, repo, ...)."""

    paper_id: str  # bare arXiv id ("2305.14314") or a slug ("gpt1")
    title: str
    kind: str = "paper"  # paper | blog | repo | unidentified
    arxiv_id: str = ""
    version: int = 0  # arXiv version whose page numbers we cite
    pdf_url: str = ""  # direct PDF URL where the paper is not on arXiv
    url: str = ""  # landing page (blog, repo)
    year: int = 0
    published: str = ""  # YYYY-MM-DD (or YYYY-MM) of first public release
    organisation: str = ""
    aliases: tuple[str, ...] = ()
    summaries: tuple[SummaryEntry, ...] = ()
    corrections: tuple[Correction, ...] = ()
    note: str = ""

    @property
    def versioned_id(self) -> str:
        return f"{self.arxiv_id}v{self.version}" if self.arxiv_id else self.paper_id

    @property
    def abs_url(self) -> str:
        if self.arxiv_id:
            return f"https://arxiv.org/abs/{self.versioned_id}"
        return self.url or self.pdf_url

    @property
    def source_pdf_url(self) -> str:
        """Where the PDF comes from: arXiv built from id+version, else the direct URL."""
        if self.arxiv_id:
            return f"https://arxiv.org/pdf/{self.versioned_id}"
        return self.pdf_url

    def to_dict(self) -> dict[str, Any]:
        d = super().to_dict()
        d["abs_url"] = self.abs_url
        d["source_pdf_url"] = self.source_pdf_url
        return d


# --- ingestion -------------------------------------------------------------


@dataclass(frozen=True)
class ManifestEntry(_Record):
    """One verified PDF in the corpus; written only after the file is in place."""

    paper_id: str  # catalog id, or "extra-<slug>" for the user's own paper
    file: str  # path relative to the data root
    version: int
    bytes: int
    sha256: str
    pages: int
    fetched_at: str  # ISO 8601 UTC
    source: str  # URL or local path it came from
    title: str  # title as the source gives it (arXiv metadata or PDF)
    catalog_title: str = ""
    title_match: bool = True  # False flags a wrong link
    title_score: float = 1.0
    matched_by: str = ""  # how `add` matched it: filename | stamp | title | none
    abstract: str = ""  # from arXiv metadata when downloaded
    extra: bool = False  # a paper that is not in the catalog
    authors: tuple[str, ...] = ()  # from arXiv metadata when downloaded (BibTeX export)

    def __post_init__(self) -> None:
        object.__setattr__(self, "authors", tuple(self.authors))  # the JSON manifest gives a list


@dataclass(frozen=True)
class Page(_Record):
    """Clean text of one PDF page; page is 1-based as PDF viewers number pages."""

    paper_id: str
    page: int
    text: str
    section: str = ""  # section in force at the top of the page
    zone: str = "body"  # body | references | appendix


@dataclass(frozen=True)
class Chunk(_Record):
    """A retrievable unit with enough provenance to quote it and open the page."""

    chunk_id: str  # stable: paper_id:kind:page_start:char_start (or summary index)
    paper_id: str
    kind: str  # paper | summary | abstract
    text: str
    page_start: int = 0  # 1-based; 0 for summary/abstract chunks
    page_end: int = 0
    section: str = ""
    zone: str = "body"  # body | references | appendix
    char_start: int = 0  # offset into page_start's Page.text
    char_end: int = 0  # offset into page_end's Page.text (exclusive)
    lang: str = "en"  # en | zh
    summary_index: int = -1  # index into Paper.summaries for kind == "summary"
    context: str = ""  # paper title, aliases, section: indexed with the text, never quoted

    @property
    def index_text(self) -> str:
        """What the embedder and BM25 see: context first, so a passage knows its paper."""
        return f"{self.context}\n{self.text}" if self.context else self.text


# --- retrieval and answers -------------------------------------------------


@dataclass(frozen=True)
class Passage(_Record):
    """A ranked search hit."""

    chunk_id: str
    paper_id: str
    title: str
    kind: str
    text: str
    score: float
    page_start: int = 0
    page_end: int = 0
    section: str = ""
    zone: str = "body"
    dense_rank: int = 0  # 1-based rank in each list; 0 = not retrieved there
    bm25_rank: int = 0
    summary_index: int = -1
    similarity: float = 0.0  # cosine of the passage's vector and the question's (meaning, not words)


@dataclass(frozen=True)
class Quote(_Record):
    text: str
    page: int
    verbatim: bool  # checked against the page text by code


@dataclass(frozen=True)
class Citation(_Record):
    number: int
    paper_id: str
    title: str
    version: int
    year: int
    pages: tuple[int, ...]
    section: str
    quote: Quote | None
    abs_url: str
    pdf_url: str  # with #page=N
    summaries: tuple[SummaryEntry, ...] = ()
    kind: str = "paper"


@dataclass(frozen=True)
class Answer(_Record):
    question: str
    answer: str
    language: str
    declined: bool
    citations: tuple[Citation, ...] = ()
    closest: tuple[str, ...] = ()  # paper_ids offered when declined
    engine: str = "extractive"
    timings: dict[str, float] = field(default_factory=dict)
    unknown: tuple[str, ...] = ()  # names the question used that the reading list never mentions
