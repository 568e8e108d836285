"""`Library`: the small facade that wires the stages for users, the CLI, the UI and tests.

It holds what is slow to open (catalog, embedder, index, engines), each once, on first use and
never at import time; the stages do the work (`search/pipeline.py`, `answer/ask.py`, ...).
`k` everywhere: the number of passages wanted, 1 or more.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property
from pathlib import Path
from typing import Any

from .answer import load_engine
from .answer.ask import AskContext, ask_stream
from .answer.conversation import resolve
from .answer.text import clean_question
from .answer.vocabulary import Vocabulary
from .catalog.catalog import Catalog, load_catalog
from .corpus.download import download
from .corpus.localpdf import add_pdfs
from .corpus.manifest import ManifestCache
from .evaluate import run as evaluation
from .keep.history import keep_answer, search_history
from .parse.textstore import page_text
from .progress import SILENT, Progress
from .records import Paper
from .search import pipeline
from .search.crosslingual import LiveNeighbours
from .search.embedders import load_embedder
from .search.index import open_index, read_manifest
from .search.rerank import RankerParams
from .search.retrieve import FusionParams, NameLinker, NameSpread
from .search.topic import TopicMeter
from .settings import Settings


class Library:
    def __init__(self, settings: Settings | None = None, **overrides: Any):
        self.settings = settings.with_(**overrides) if settings else Settings.load(**overrides)
        self._manifest = ManifestCache(self.settings)  # re-read only when the file changes
        self._engines: dict[str, Any] = {}
        # a Chinese term -> the indexed papers' English words for it (search/crosslingual.py)
        self.english_for = LiveNeighbours(lambda: self.embedder, lambda: self.index, self.settings.cache_dir)
        self.on_topic = TopicMeter(lambda: self.embedder, lambda: self.index)  # a text -> near an entry?
        self.name_spread = NameSpread(lambda: self.index.chunks)  # how common a paper's name is

    @cached_property
    def catalog(self) -> Catalog:
        return load_catalog(self.settings)

    def paper(self, key: str) -> Paper:  # by arXiv id, alias or title
        return self.catalog.get(key)

    def status(self) -> dict[str, Any]:
        """What exists under the data root: PDFs, index. Cheap: reads manifests only."""
        return _status(self.settings, len(self.catalog.papers), list(self._manifest.get().values()))

    def pdf_path(self, paper_id: str) -> Path | None:
        """The local PDF of a paper, when it was downloaded or added."""
        entry = self._manifest.get().get(paper_id)
        path = self.settings.home / entry.file if entry is not None else None
        return path if path is not None and path.is_file() else None

    @property
    def pages_of(self) -> dict[str, int]:  # a passage's place in its paper is a ranking signal
        return {pid: e.pages for pid, e in self._manifest.get().items()}

    def download(self, only: list[str] | None = None, dry_run: bool = False, **kwargs: Any):
        return download(self.catalog.papers, self.settings, only=only, dry_run=dry_run, **kwargs)

    def add(self, paths: list[Path]):
        return add_pdfs(list(paths), self.catalog.papers, self.settings)

    @cached_property
    def embedder(self):
        return load_embedder(self.settings.embedder, device=self.settings.device)

    def build_index(self, full: bool = False, progress: Progress = SILENT) -> dict[str, Any]:
        """Parse what is new, chunk, embed what changed, and swap the new index in atomically."""
        built = pipeline.build(self.settings, self.catalog, self.embedder, full=full, progress=progress)
        self.reload()
        return built

    @cached_property
    def index(self):
        return open_index(self.settings, self.embedder.name)

    def reload(self) -> None:
        """Pick up a newly built index (a running server keeps the old one until asked)."""
        self.__dict__.pop("index", None)
        self.english_for.reset()

    @cached_property
    def name_linker(self) -> NameLinker:
        return NameLinker(self.catalog.papers)

    @cached_property
    def _stage_params(self) -> tuple[FusionParams, RankerParams]:
        return FusionParams.load(), RankerParams.load()  # the fused first stage, the second

    @property
    def k(self) -> int:  # passages a question reads: PAPERQA_K (or -k) when set, else the fitted number
        pipeline.check_k(self.settings.k, "PAPERQA_K")
        return self.settings.k or self._stage_params[1].k

    def search_context(self) -> pipeline.SearchContext:
        """What a search reads (index, embedder, fitted stages, ...): a fit swaps one part."""
        fields = (self.index, self.embedder, self.catalog, *self._stage_params, self.name_linker)
        return pipeline.SearchContext(*fields, lambda: self.pages_of, self.english_for, self.name_spread)

    def candidates(self, question: str, papers: list[str] | None = None):
        """First stage: dense and BM25 hits fused (markup and injected chat turns never reach it)."""
        return pipeline.candidates(self.search_context(), clean_question(question), papers)

    def rank_features(self, cand, head):
        return pipeline.rank_features(self.search_context(), cand, head)

    def search(
        self, question: str, k: int | None = None, papers: list[str] | None = None, mode: str = "fused"
    ):
        """The best `k` passages for a question (default `self.k`). mode: "fused" (the product: fusion,
        then the fitted second stage), "fused-only", or "dense" / "bm25" alone (measurement)."""
        k = self.k if k is None else k
        pipeline.check_k(k)
        return pipeline.search(self.search_context(), self.candidates(question, papers), k, mode)

    def page_text(self, paper_id: str, page: int) -> str:
        return page_text(self.settings, paper_id, page)

    def ask(self, question: str, engine: str | None = None, k: int | None = None, **kw: Any):
        """An Answer with citations, or a decline when the list does not cover it (options: `ask_stream`)."""
        *_, final = self.ask_stream(question, engine=engine, k=k, **kw)
        return final

    def ask_stream(
        self,
        question: str,
        engine: str | None = None,
        k: int | None = None,
        papers: list[str] | None = None,
        record: bool = True,
        history: Sequence[Any] = (),
    ):
        """Text deltas, then the final Answer from the `k` passages retrieved (kept in the history when
        `settings.history` is on; `record=False` for measurement). `history`: the conversation so
        far, oldest first (`Turn`s, (question, Answer) pairs or Answers); a follow-up is read against it."""
        pipeline.check_k(k)
        ctx = _ask_context(self, engine, record)
        yield from ask_stream(ctx, question, k or self.k, papers, history)

    def resolve(self, question: str, history: Sequence[Any], engine: str | None = None):
        """How `question` reads after `history` (a `Resolution`): the last paper written in, or LLM-condensed."""
        condense = getattr(self.engine(engine), "complete", None)
        known, linker = self.known_term, self.name_linker
        return resolve(question, history, linker=linker, catalog=self.catalog, known=known, condense=condense)

    def history(self, query: str | None = None, limit: int = 50) -> list:
        """Past questions and answers (HistoryEntry), newest first; `query` matches question and answer."""
        return search_history(self.settings, query, limit)

    @cached_property
    def _vocabulary(self) -> Vocabulary:
        return Vocabulary(self.catalog, lambda: self.index)

    def known_term(self, token: str) -> bool:  # in the catalog or the indexed text? (Vocabulary)
        return self._vocabulary.known(token)

    def engine(self, name: str | None = None):
        """Answer engines are loaded once per Library and name (an LLM loads slowly)."""
        name = name or self.settings.engine
        if name not in self._engines:
            self._engines[name] = load_engine(self.settings.with_(engine=name), self.english_for)
        return self._engines[name]

    def evaluate(
        self, questions_file: Path | list[Path], answers: bool = False, engine=None, k=None, mode="fused"
    ):
        """Metrics over question files (per language and split), from `k` passages a question (`self.k`)."""
        ask = (lambda q: self.ask(q, engine=engine, k=k, record=False)) if answers else None
        search = lambda q: self.search(q, k=k, mode=mode)  # noqa: E731
        return evaluation.evaluate_files(questions_file, search, ask)

    def evaluate_conversations(self, conversations_file: Path, engine: str | None = None) -> dict:
        """Follow-ups asked with their history and standalone, side by side (`run_conversations`)."""
        ask = lambda q, h: self.ask(q, engine=engine, record=False, history=h)  # noqa: E731
        return evaluation.evaluate_conversation_file(conversations_file, ask)


def _status(settings: Settings, papers: int, entries: list) -> dict[str, Any]:
    try:
        index_manifest = read_manifest(settings)
    except Exception:  # no index yet, or a broken one: status still answers
        index_manifest = None
    return {
        "home": str(settings.home),
        "papers": papers,
        "pdfs": len([e for e in entries if not e.extra]),
        "extra_pdfs": len([e for e in entries if e.extra]),
        "index": index_manifest,
    }


def _ask_context(lib: Library, engine: str | None, record: bool) -> AskContext:
    """The Library's opened pieces, as answering a question needs them."""
    settings = lib.settings
    keep = (lambda a: keep_answer(settings, a)) if record and settings.history else None
    return AskContext(
        settings,
        lib.catalog,
        lambda q, n, p: lib.search(q, k=n, papers=p),
        lib.page_text,
        lib.pdf_path,
        lib.engine(engine),
        lib.known_term,
        lib.on_topic,
        lambda q, h: lib.resolve(q, h, engine=engine),
        keep,
    )
