"""Hybrid retrieval: dense (FAISS) + keyword (BM25), fused, with the summary entries as a bridge.

Questions come in English and Chinese; papers are English; the lists' summary entries are
Chinese. A Chinese question often hits a paper's Chinese summary entry through its words
(BM25 with jieba) while the English passages are out of reach; the bridge lifts a paper's
passages when its summary or abstract ranks well, so the answer can still cite pages.

The scoring core is pure functions over rank lists so it can be tuned by measurement
(`scripts/bench_retrieval.py`) without touching the index.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..cjk import CJK_IDEOGRAPHS
from ..params import load_params
from ..records import Chunk, Paper, Passage

FUSION_PARAMS_FILE = Path(__file__).with_name("fusion_params.json")


@dataclass(frozen=True)
class FusionParams:
    """How the first stage fuses its lists: set by measurement on the development questions, read
    from `fusion_params.json` when a fit wrote one. `scripts/fit_fusion.py` measures them on the
    tuning half and can fit them; its fit raised the stage's own objective on both halves but not
    the tuning half's answers (cited hit@1 0.938 -> 0.928), so none is shipped (eval/README.md)."""

    rrf_k: float = 60.0
    dense_weight: float = 1.0
    bm25_weight: float = 1.0
    crossing_weight: float = 1.0  # BM25 over a Chinese question's English words (crosslingual.py)
    bridge: float = 0.5  # share of a paper's best summary/abstract score passed to its passages
    references_weight: float = 0.3  # references are rarely the answer
    appendix_weight: float = 0.8
    depth: int = 60  # how many hits each retriever contributes
    named: float = 2.0  # a paper the question names (GPT-3, QLoRA) counts as first in two lists
    per_paper: int = 3  # passages of one paper before the others get a turn (0: no limit)
    fitted_on: dict[str, object] = field(default_factory=dict)  # what the fit saw, for the record

    @classmethod
    def load(cls, path: Path = FUSION_PARAMS_FILE) -> FusionParams:
        return load_params(cls, path) if path.is_file() else cls()

    def save(self, path: Path = FUSION_PARAMS_FILE) -> None:
        path.write_text(json.dumps(asdict(self), indent=2) + "\n", encoding="utf-8")


def rrf(rank_lists: Iterable[tuple[list[int], float]], k: float) -> dict[int, float]:
    """Weighted reciprocal rank fusion: sum of w / (k + rank) over the lists a row appears in."""
    scores: dict[int, float] = {}
    for rows, weight in rank_lists:
        for rank, row in enumerate(rows, 1):
            scores[row] = scores.get(row, 0.0) + weight / (k + rank)
    return scores


def fuse(
    chunks: list[Chunk],
    dense: list[int],
    bm25: list[int],
    params: FusionParams,
    named: frozenset[str] = frozenset(),
    crossing: list[int] | None = None,
    spread: Mapping[str, float] | None = None,
) -> list[tuple[int, float]]:
    """Rank chunk rows from the lists (dense, BM25 and, for a Chinese question, BM25 over its
    English words), with zone weights, named papers and the summary bridge. A named paper's lift
    shrinks by its name's `spread` (NameSpread): a name every paper writes says little."""
    lists = [
        (dense, params.dense_weight),
        (bm25, params.bm25_weight),
        (crossing or [], params.crossing_weight),
    ]
    scores = rrf(lists, params.rrf_k)
    if named:
        spread = spread or {}
        bonus = {pid: params.named * (1.0 - spread.get(pid, 0.0)) / (params.rrf_k + 1) for pid in named}
        for row, c in enumerate(chunks):  # a named paper's entry and abstract join even if unretrieved
            # its entry, its abstract card and its PDF's first page (where a paper says what it
            # is) join the candidates even when neither retriever found them
            opening = c.kind in ("summary", "abstract") or (c.kind == "paper" and c.page_start == 1)
            if c.paper_id in named and (row in scores or opening):
                scores[row] = scores.get(row, 0.0) + bonus[c.paper_id]
    best_bridge: dict[str, float] = {}
    for row, s in scores.items():
        c = chunks[row]
        if c.kind in ("summary", "abstract"):
            best_bridge[c.paper_id] = max(best_bridge.get(c.paper_id, 0.0), s)
    out: dict[int, float] = {}
    for row, s in scores.items():
        c = chunks[row]
        if c.zone == "references":
            s *= params.references_weight
        elif c.zone == "appendix":
            s *= params.appendix_weight
        if c.kind == "paper":
            s += params.bridge * best_bridge.get(c.paper_id, 0.0)
        out[row] = s
    return sorted(out.items(), key=lambda kv: (-kv[1], kv[0]))


def to_passage(
    chunk: Chunk, title: str, score: float, dense_rank: int, bm25_rank: int, similarity: float = 0.0
) -> Passage:
    return Passage(
        chunk_id=chunk.chunk_id,
        paper_id=chunk.paper_id,
        title=title,
        kind=chunk.kind,
        text=chunk.text,
        score=round(score, 6),
        page_start=chunk.page_start,
        page_end=chunk.page_end,
        section=chunk.section,
        zone=chunk.zone,
        dense_rank=dense_rank,
        bm25_rank=bm25_rank,
        summary_index=chunk.summary_index,
        similarity=round(similarity, 4),
    )


def ranked_papers(passages: Iterable[Passage]) -> list[str]:
    """Distinct paper_ids in the order their first passage ranks."""
    seen: dict[str, None] = {}
    for p in passages:
        seen.setdefault(p.paper_id, None)
    return list(seen)


def name_pattern(name: str) -> re.Pattern[str]:
    """A paper's name as a whole word: short all-capital names (BERT, OPT, SAM) case-sensitively."""
    flags = 0 if (len(name) <= 4 or name.isupper()) else re.IGNORECASE
    return re.compile(rf"(?<![A-Za-z0-9-]){re.escape(name)}(?![A-Za-z0-9]|-[A-Za-z0-9])", flags)


class NameSpread:
    """How common a paper's name is in the other papers' own text: "Transformer" is written in
    nearly every paper, "QLoRA" in none but its own. Why: a question that names a common one
    ("Transformers on Path-X", "preferred to 175B GPT-3") is as often about another paper that
    builds on or compares with it. The first stage lifts a named paper by (1 - spread), and the
    second stage reads the spread as a feature."""

    def __init__(self, chunks: Callable[[], Sequence[Chunk]]):
        self._chunks = chunks  # the live index's chunks: counted again when the index is rebuilt
        self._counted: Sequence[Chunk] | None = None
        self._texts: dict[str, list[str]] = {}  # the chunks' own strings, not copies
        self._seen: dict[tuple[str, str], float] = {}

    def __call__(self, name: str, paper_id: str) -> float:
        """Share of the other papers with text whose text mentions `name` (0 when there are none)."""
        chunks = self._chunks()
        if chunks is not self._counted:
            texts: dict[str, list[str]] = {}
            for c in chunks:
                if c.kind == "paper":
                    texts.setdefault(c.paper_id, []).append(c.text)
            self._texts, self._counted, self._seen = texts, chunks, {}
        key = (name, paper_id)
        if key not in self._seen:
            pattern = name_pattern(name)
            others = [parts for pid, parts in self._texts.items() if pid != paper_id]
            hits = sum(1 for parts in others if any(pattern.search(t) for t in parts))
            self._seen[key] = hits / len(others) if others else 0.0
        return self._seen[key]


class NameLinker:
    """Finds the papers a question names, by alias or short title ("GPT-3", "LLM.int8()", "QLoRA").

    Short all-capital names (BERT, OPT, SAM) match case-sensitively; a name never matches
    inside a longer word ("RAG" is not in "GraphRAG", "GPT" is not in "GPT-3").
    """

    def __init__(self, papers: Iterable[Paper]):
        self._patterns: list[tuple[re.Pattern[str], str]] = []
        for p in papers:
            names = {a for a in p.aliases if len(a) >= 2 and len(a) <= 40}
            head = p.title.split(":")[0].strip()
            if ":" in p.title and 2 <= len(head) <= 30 and len(head.split()) <= 3:
                names.add(head)
            if len(p.title.split()) >= 2:
                names.add(p.title)  # a question that quotes the title names the paper
            for name in names:
                if re.search(f"[{CJK_IDEOGRAPHS}]", name):
                    continue  # Chinese labels such as "RLHF原始论文" are list wording, not names
                self._patterns.append((name_pattern(name), p.paper_id))

    def __call__(self, question: str) -> frozenset[str]:
        return frozenset(pid for _, _, pid in self.spans(question))

    def spans(self, question: str) -> list[tuple[int, int, str]]:
        """(start, end, paper_id) of each name in the question, in order: where a name stands
        matters to a follow-up ("How much smaller is MobileSAM than it?" is about MobileSAM)."""
        hits = [
            (m.start(), m.end(), pid) for pattern, pid in self._patterns for m in pattern.finditer(question)
        ]
        # the longest name wins: "Vision Transformer" is ViT, not the Transformer
        return sorted(
            (a, b, pid)
            for a, b, pid in hits
            if not any(a2 <= a and b <= b2 and (b2 - a2) > (b - a) for a2, b2, _ in hits)
        )


def diversify(
    ranked: list[tuple[int, float]], chunks: list[Chunk], per_paper: int
) -> list[tuple[int, float]]:
    """Defer a paper's passages past its first `per_paper` behind the other papers' passages.

    The order in which papers first appear is unchanged (so are hit@k and MRR), but a list of
    k passages is no longer all one paper: "which papers ..." and comparisons see several.
    """
    if per_paper <= 0:
        return ranked
    seen: dict[str, int] = {}
    head: list[tuple[int, float]] = []
    tail: list[tuple[int, float]] = []
    for row, score in ranked:
        pid = chunks[row].paper_id
        seen[pid] = seen.get(pid, 0) + 1
        (head if seen[pid] <= per_paper else tail).append((row, score))
    return head + tail


_LIST_FRAME = re.compile(
    r"^\s*(?:which|what)\s+(?:papers?|works?|articles?)\s+(?:(?:in|on|of|from)\s+(?:the|this|my|our)?\s*"
    r"(?:reading\s+)?list\s+)?(?:are|is|do|does)?\s*(?:about|on|cover|covers|discuss|discusses|deal\s+with|propose|use)?\s*",
    re.IGNORECASE,
)
_LIST_FRAME_ZH = re.compile(
    r"^(?:阅读清单|清单|列表)?(?:中|里)?(?:有)?哪些(?:论文|文章|工作)(?:是)?(?:关于|讲|涉及|讨论|研究)?(?:了)?"
)


def search_query(question: str) -> str:
    """The topic of a "which papers in the reading list are about X?" question: X.

    The frame's words ("papers", "reading list") say nothing about the topic and match noise.
    Other questions are returned unchanged.
    """
    for frame in (_LIST_FRAME, _LIST_FRAME_ZH):
        m = frame.match(question)
        if m and m.end() > 0:
            rest = question[m.end() :].strip(" ?？。.")
            if len(rest) >= 2:
                return rest
    return question
