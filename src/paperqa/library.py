"""`Library`: the small facade that wires the stages for users, the CLI, the UI and tests.

Anything slow (catalog parse, model load, index open) happens once per Library, on
first use, never at import time.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property
from numbers import Integral
from pathlib import Path
from typing import Any

import numpy as np

from .catalog import Catalog, load_catalog
from .errors import UsageError
from .records import Paper
from .settings import Settings


class Library:
    def __init__(self, settings: Settings | None = None, **overrides: Any):
        self.settings = settings.with_(**overrides) if settings else Settings.load(**overrides)

    # --- catalog ---------------------------------------------------------
    @cached_property
    def catalog(self) -> Catalog:
        return load_catalog(self.settings)

    def paper(self, key: str) -> Paper:
        return self.catalog.get(key)

    # --- status ----------------------------------------------------------
    def status(self) -> dict[str, Any]:
        """What exists under the data root: PDFs, index. Cheap: reads manifests only."""
        from .manifest import load_manifest

        manifest = load_manifest(self.settings)
        index_manifest: dict[str, Any] | None = None
        try:
            from .index import read_manifest

            index_manifest = read_manifest(self.settings)
        except Exception:  # no index yet, or a broken one: status still answers
            index_manifest = None
        return {
            "home": str(self.settings.home),
            "papers": len(self.catalog.papers),
            "pdfs": len([e for e in manifest.values() if not e.extra]),
            "extra_pdfs": len([e for e in manifest.values() if e.extra]),
            "index": index_manifest,
        }

    # --- PDFs ------------------------------------------------------------
    def _manifest(self) -> dict:
        """The corpus manifest, re-read only when the file changes (answers ask per citation)."""
        from .manifest import load_manifest

        try:
            mtime = self.settings.manifest_file.stat().st_mtime_ns
        except OSError:
            mtime = 0
        cached = self.__dict__.get("_manifest_cache")
        if cached is None or cached[0] != mtime:
            cached = (mtime, load_manifest(self.settings))
            self.__dict__["_manifest_cache"] = cached
        return cached[1]

    def pdf_path(self, paper_id: str) -> Path | None:
        """The local PDF of a paper, when it was downloaded or added."""
        entry = self._manifest().get(paper_id)
        if entry is None:
            return None
        path = self.settings.home / entry.file
        return path if path.is_file() else None

    # --- download / add ----------------------------------------------------
    def download(self, only: list[str] | None = None, dry_run: bool = False, **kwargs: Any):
        from .download import download

        return download(self.catalog.papers, self.settings, only=only, dry_run=dry_run, **kwargs)

    def add(self, paths: list[Path]):
        from .localpdf import add_pdfs

        return add_pdfs(list(paths), self.catalog.papers, self.settings)

    # --- index -------------------------------------------------------------
    @cached_property
    def embedder(self):
        from .embedders import load_embedder

        return load_embedder(self.settings.embedder, device=self.settings.device)

    def build_index(self, full: bool = False, progress: bool = True, console: Any = None) -> dict[str, Any]:
        """Parse what is new, chunk, embed what changed, and swap the new index in atomically."""
        from .index import build_index
        from .ingest import collect_chunks

        chunk_settings = {
            "max_words": self.settings.chunk_words,
            "overlap_words": self.settings.chunk_overlap,
        }
        chunks, report = collect_chunks(self.settings, self.catalog, **chunk_settings)
        meta = {
            "chunker": chunk_settings,
            "catalog_hash": self.catalog.source_hash,
            "corpus_hash": _corpus_hash(self.settings),
        }
        stats = build_index(
            chunks, self.embedder, self.settings, meta=meta, full=full, progress=progress, console=console
        )
        self.__dict__.pop("index", None)
        return {"ingest": report.to_dict(), "index": _as_dict(stats)}

    @cached_property
    def index(self):
        from .index import open_index

        return open_index(self.settings, self.embedder.name)

    def reload(self) -> None:
        """Pick up a newly built index (a running server keeps the old one until asked)."""
        self.__dict__.pop("index", None)

    # --- search / ask ------------------------------------------------------
    def search(
        self, question: str, k: int = 10, papers: list[str] | None = None, mode: str = "fused"
    ) -> list:
        """Ranked passages for a question (English or Chinese).

        mode: "fused" (the product: fusion, then the fitted second stage), "fused-only" (fusion
        without the second stage), or "dense" / "bm25" alone (for measurement).
        """
        from .retrieve import diversify, to_passage

        _check_k(k)
        cand = self.candidates(question, papers)
        if cand is None:
            return []
        params = self.fusion
        idx = self.index
        if mode == "dense":
            fused = [(row, 1.0 / (params.rrf_k + r)) for r, row in enumerate(cand.dense, 1)]
        elif mode == "bm25":
            fused = [(row, 1.0 / (params.rrf_k + r)) for r, row in enumerate(cand.bm25, 1)]
        else:
            fused = cand.fused if mode == "fused-only" else self._rerank(cand)
            fused = diversify(fused, idx.chunks, params.per_paper)
        ranks_d = {row: i for i, row in enumerate(cand.dense, 1)}
        ranks_b = {row: i for i, row in enumerate(cand.bm25, 1)}
        q = np.asarray(cand.qvec, dtype=np.float32).reshape(-1)
        q = q / (float(np.linalg.norm(q)) or 1.0)
        out = []
        for row, score in fused[:k]:
            c = idx.chunks[row]
            p = self.catalog.find(c.paper_id)
            sim = float(idx.vectors[row] @ q)
            out.append(
                to_passage(
                    c, p.title if p else c.paper_id, score, ranks_d.get(row, 0), ranks_b.get(row, 0), sim
                )
            )
        return out

    def candidates(self, question: str, papers: list[str] | None = None):
        """First stage: dense and BM25 hits fused, with what the second stage needs to re-score them."""
        from .answer.text import clean_question
        from .rerank import Candidates
        from .retrieve import fuse, search_query

        question = clean_question(question)  # markup and injected chat turns never reach retrieval
        if not question:
            return None
        params = self.fusion
        idx = self.index
        allowed = (
            {self.catalog.get(p).paper_id if self.catalog.find(p) else p for p in papers} if papers else None
        )
        query = search_query(question)
        qvec = self.embedder.encode_query(query)
        dense = [row for row, _ in idx.search_dense(qvec, params.depth, allowed=allowed)]
        bm25 = [row for row, _ in idx.search_bm25(query, params.depth, allowed=allowed)]
        named = self.name_linker(question)
        fused = fuse(idx.chunks, dense, bm25, params, named=named)
        return Candidates(query, qvec, dense, bm25, named, fused)

    def _rerank(self, cand) -> list[tuple[int, float]]:
        """The fused head re-scored by the fitted second stage (see `rerank.py`)."""
        from .rerank import rerank

        params = self.ranker
        if not params.weights:
            return cand.fused
        head, tail = cand.fused[: params.depth], cand.fused[params.depth :]
        x = self.rank_features(cand, head)
        return rerank(head, x, params) + [(row, 0.0) for row, _ in tail]

    def rank_features(self, cand, head):
        from .rerank import features

        idx = self.index
        return features(cand, head, idx.chunks, idx.vectors, self.pages_of)

    @cached_property
    def ranker(self):
        from .rerank import RankerParams

        return RankerParams.load()

    @property
    def pages_of(self) -> dict[str, int]:
        """Page counts of the PDFs on hand (a passage's place in its paper is a ranking signal)."""
        return {pid: e.pages for pid, e in self._manifest().items()}

    @cached_property
    def fusion(self):
        from .retrieve import FusionParams

        return FusionParams()

    @cached_property
    def name_linker(self):
        from .retrieve import NameLinker

        return NameLinker(self.catalog.papers)

    def page_text(self, paper_id: str, page: int) -> str:
        from .textstore import page_text

        return page_text(self.settings, paper_id, page)

    def ask(
        self,
        question: str,
        engine: str | None = None,
        k: int | None = None,
        papers: list[str] | None = None,
        record: bool = True,
        history: Sequence[Any] = (),
    ):
        """An Answer with citations; declines when the reading list does not cover the question.

        `history`: the conversation so far, oldest first (`conversation.Turn`s, (question, Answer)
        pairs or Answers); a follow-up ("How much memory does it need?") is read against it."""
        *_, final = self.ask_stream(
            question, engine=engine, k=k, papers=papers, record=record, history=history
        )
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
        """Yields text deltas as they are produced, then the final Answer (kept in the history
        when `settings.history` is on; `record=False` for measurement runs such as eval).
        With `history`, a follow-up is resolved first (`resolve`) and the answer opens with how."""
        import time
        from dataclasses import replace

        from .answer import answer_stream

        _check_k(k)
        _check_k(self.settings.k, "PAPERQA_K")
        asked, note, language = question, None, None
        if history:
            resolution = self.resolve(question, history, engine=engine)
            question, note, language = resolution.standalone, resolution.note, resolution.language
            if note:
                note += "\n\n"
                yield note
        t0 = time.perf_counter()
        passages = self.search(question, k=(k or self.settings.k) * 2, papers=papers)
        retrieve_ms = (time.perf_counter() - t0) * 1000
        for item in answer_stream(
            question,
            passages,
            catalog=self.catalog,
            settings=self.settings,
            page_text=self.page_text,
            pdf_path=self.pdf_path,
            engine=self.engine(engine),
            known=self.known_term,
            language=language,
        ):
            if isinstance(item, str):
                yield item
            else:
                final = replace(item, timings={**item.timings, "retrieve_ms": round(retrieve_ms, 1)})
                if history:  # the record keeps the question as asked, the answer says how it was read
                    final = replace(final, question=asked, answer=(note or "") + final.answer)
                if record and self.settings.history:
                    self._record(final)  # before the yield: a caller may stop at the Answer
                yield final

    def resolve(self, question: str, history: Sequence[Any], engine: str | None = None):
        """How `question` reads after `history` (a `conversation.Resolution`): a follow-up gets the
        previous turn's paper written in (no LLM) or is condensed by the LLM engine."""
        from .conversation import resolve

        eng = self.engine(engine)
        return resolve(
            question,
            history,
            linker=self.name_linker,
            catalog=self.catalog,
            known=self.known_term,
            condense=getattr(eng, "complete", None),
        )

    def _record(self, answer) -> None:
        """One small insert into the history; a history that cannot be written never costs the answer."""
        import logging

        from .errors import PaperqaError
        from .history import record_answer

        try:
            record_answer(self.settings, answer)
        except PaperqaError as exc:
            logging.getLogger("paperqa").warning("not kept in the history: %s", exc)

    def history(self, query: str | None = None, limit: int = 50) -> list:
        """Past questions and answers (HistoryEntry), newest first; `query` matches question and answer."""
        from .history import search_history

        return search_history(self.settings, query, limit)

    # --- vocabulary: what the catalog and the indexed text mention (answer/confidence.py) ---
    @cached_property
    def _catalog_terms(self) -> frozenset[str]:
        from .keywords import tokenize

        names = [n for p in self.catalog.papers for n in (p.title, p.organisation, *p.aliases)]
        return frozenset(tokenize("\n".join(names)))

    def known_term(self, token: str) -> bool:
        """Is a token (as the index tokenizes it) in a catalog title, alias or organisation, or
        anywhere in the indexed text? A name that is neither is not covered by the list. A name of
        several words ("Tree of Thoughts", "Code Llama") must occur as a phrase: each of its
        words may be common while the thing it names is never mentioned."""
        if " " in token.strip():
            # never written together: still known when one of its words is rare here, since a
            # rare word names something specific the corpus does discuss ("CoNLL-2003 NER")
            from .answer.confidence import DECLINE_PARAMS

            rare = DECLINE_PARAMS.rare_word_count
            return self._phrases.mentions(token) or any(
                _name_like(w) and 0 < self._phrases.frequency(w, cap=rare) < rare for w in token.split()
            )
        return token in self._catalog_terms or self.index.has_term(token)

    @cached_property
    def _phrases(self):
        from .answer.text import PhraseIndex

        names = [n for p in self.catalog.papers for n in (p.title, p.organisation, *p.aliases)]
        return PhraseIndex([*names, *(c.text for c in self.index.chunks)])

    def engine(self, name: str | None = None):
        """Answer engines are loaded once per Library and name (an LLM loads slowly)."""
        from .answer import load_engine

        name = name or self.settings.engine
        cache = self.__dict__.setdefault("_engines", {})
        if name not in cache:
            cache[name] = load_engine(self.settings.with_(engine=name))
        return cache[name]

    # --- eval --------------------------------------------------------------
    def evaluate(
        self,
        questions_file: Path | list[Path],
        answers: bool = False,
        engine: str | None = None,
        k: int = 10,
        mode: str = "fused",
    ) -> dict:
        """Metrics over one or more question files (summaries per language and per split)."""
        from .eval import read_questions, run_eval

        files = questions_file if isinstance(questions_file, list | tuple) else [questions_file]
        questions = [q for f in files for q in read_questions(Path(f))]
        ask = (lambda q: self.ask(q, engine=engine, record=False)) if answers else None
        return run_eval(questions, lambda q: self.search(q, k=k, mode=mode), ask)

    def evaluate_conversations(self, conversations_file: Path, engine: str | None = None) -> dict:
        """Follow-up turns of each conversation asked with their history, and the same questions
        asked standalone: cited hit@1 and nugget recall side by side (`eval.run_conversations`)."""
        from .eval import read_conversations, run_conversations

        dialogs = read_conversations(Path(conversations_file))
        return run_conversations(dialogs, lambda q, h: self.ask(q, engine=engine, record=False, history=h))


def _name_like(word: str) -> bool:
    """An acronym or a coined name (WSJ, CoNLL-2003), not an ordinary word (Tree, Program)."""
    return (
        any(c.isdigit() for c in word)
        and any(c.isalpha() for c in word)
        or sum(c.isupper() for c in word) >= 2
    )


def _check_k(k: int | None, name: str = "k") -> None:
    """Refuse k < 1 up front: a negative k sliced from the end and 0 silently meant "default"."""
    if k is not None and (isinstance(k, bool) or not isinstance(k, Integral) or k < 1):
        raise UsageError(f"{name} must be a whole number of passages, 1 or more (got {k!r})")


def _corpus_hash(settings: Settings) -> str:
    import hashlib

    from .manifest import load_manifest

    h = hashlib.sha256()
    for pid, e in sorted(load_manifest(settings).items()):
        h.update(f"{pid}:{e.sha256}\n".encode())
    return h.hexdigest()[:16]


def _as_dict(obj: Any) -> Any:
    """A stats record as plain JSON values (paths as strings)."""
    from dataclasses import asdict, is_dataclass

    d = obj.to_dict() if hasattr(obj, "to_dict") else asdict(obj) if is_dataclass(obj) else obj
    return {k: str(v) if isinstance(v, Path) else v for k, v in d.items()} if isinstance(d, dict) else d
