"""The pure scoring core of retrieval: fusion, named papers, the summary bridge, diversity, list questions."""

from __future__ import annotations

import pytest

from paperqa.catalog.catalog import load_catalog
from paperqa.records import Chunk
from paperqa.search.retrieve import (
    FusionParams,
    NameLinker,
    NameSpread,
    diversify,
    fuse,
    rrf,
    search_query,
)
from paperqa.settings import Settings


def chunk(pid: str, kind: str = "paper", zone: str = "body", n: int = 0) -> Chunk:
    return Chunk(chunk_id=f"{pid}:{kind}:{n}", paper_id=pid, kind=kind, text="x", zone=zone)


@pytest.fixture(scope="module")
def linker() -> NameLinker:
    return NameLinker(load_catalog(Settings.load()).papers)


def test_rrf_sums_weighted_reciprocal_ranks():
    scores = rrf([([1, 2], 1.0), ([2, 3], 0.5)], k=60)
    assert scores[2] == pytest.approx(1 / 62 + 0.5 / 61)
    assert max(scores, key=scores.get) == 2  # found by both lists


def test_summary_bridge_lifts_the_papers_passages():
    chunks = [chunk("a", n=0), chunk("b", n=1), chunk("b", "summary", n=2)]
    # dense puts paper a first; BM25 only finds b's Chinese summary entry
    ranked = fuse(chunks, dense=[0, 1], bm25=[2], params=FusionParams(bridge=1.0))
    assert ranked[0][0] == 1  # b's PDF passage, lifted by its summary entry's BM25 hit
    no_bridge = fuse(chunks, dense=[0, 1], bm25=[2], params=FusionParams(bridge=0.0))
    assert chunks[no_bridge[0][0]].paper_id == "a"


def test_references_are_down_weighted_and_named_papers_lifted():
    chunks = [chunk("a", zone="references"), chunk("b", n=1)]
    ranked = fuse(chunks, dense=[0, 1], bm25=[0, 1], params=FusionParams())
    assert chunks[ranked[0][0]].paper_id == "b"
    chunks = [chunk("a"), chunk("b", n=1)]
    named = fuse(chunks, dense=[0, 1], bm25=[0, 1], params=FusionParams(), named=frozenset({"b"}))
    assert chunks[named[0][0]].paper_id == "b"


def test_a_named_paper_outranks_a_passage_first_in_both_lists():
    """ "What is grouped-query attention?" names GQA; BM25 finds its entry only third."""
    chunks = [chunk("flash", n=0), chunk("attn", n=1), chunk("gqa", "summary", n=2), chunk("gqa", n=3)]
    ranked = fuse(chunks, dense=[0, 1], bm25=[0, 1, 2], params=FusionParams(), named=frozenset({"gqa"}))
    assert (chunks[ranked[0][0]].paper_id, chunks[ranked[0][0]].kind) == ("gqa", "summary")
    assert 3 not in [r for r, _ in ranked]  # an unretrieved PDF passage carries no evidence


def test_a_named_papers_entry_joins_even_when_no_retriever_found_it():
    chunks = [chunk("flash", n=0), chunk("gqa", "summary", n=1)]
    ranked = fuse(chunks, dense=[0], bm25=[0], params=FusionParams(), named=frozenset({"gqa"}))
    assert 1 in [r for r, _ in ranked]


def test_a_name_every_paper_writes_lifts_its_paper_less():
    """ "Transformers on Path-X": the other papers all write "Transformer", none writes "QLoRA"."""
    texts = {
        "attn": "The Transformer.",
        "flash": "Transformers on Path-X.",
        "qlora": "QLoRA and a Transformer.",
    }
    chunks = [Chunk(chunk_id=f"{p}:0", paper_id=p, kind="paper", text=t) for p, t in texts.items()]
    spread = NameSpread(lambda: chunks)
    assert spread("Transformer", "attn") == 0.5  # "Transformers" is not the name as a whole word
    assert spread("QLoRA", "qlora") == 0.0
    assert spread("Transformer", "nowhere") == pytest.approx(2 / 3)

    # flash found first by both retrievers; the name lifts attn over it by as much as it is rare
    def attn_score(spread_of_attn: float) -> tuple[str, float]:
        ranked = fuse(
            chunks, [1, 0], [1, 0], FusionParams(), frozenset({"attn"}), spread={"attn": spread_of_attn}
        )
        return chunks[ranked[0][0]].paper_id, dict(ranked)[0]

    (first_rare, rare), (_, half), (first_everywhere, everywhere) = map(attn_score, (0.0, 0.5, 1.0))
    assert (first_rare, first_everywhere) == ("attn", "flash")
    assert rare > half > everywhere


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("What is in-context learning in GPT-3?", {"2005.14165"}),
        ("LLM.int8()为什么能让大模型在消费级显卡上运行？", {"2208.07339"}),
        ("What is GraphRAG?", {"2404.16130"}),  # not RAG inside GraphRAG
        ("What does Transformer-XL add?", {"1901.02860"}),  # not the Transformer
        ("How does the Vision Transformer split images?", {"2010.11929"}),  # longest name wins
        ("What is the difference between LoRA and QLoRA?", {"2106.09685", "2305.14314"}),
        ("What is the best recipe for chocolate cake?", set()),
    ],
)
def test_name_linker(linker: NameLinker, question: str, expected: set[str]):
    assert set(linker(question)) == expected


def test_diversify_keeps_first_appearances_and_defers_the_rest():
    chunks = [chunk("a", n=i) for i in range(5)] + [chunk("b", n=9)]
    ranked = [(i, 1.0 - i / 10) for i in range(6)]
    out = [chunks[r].paper_id for r, _ in diversify(ranked, chunks, per_paper=2)]
    assert out == ["a", "a", "b", "a", "a", "a"]
    assert diversify(ranked, chunks, per_paper=0) == ranked


@pytest.mark.parametrize(
    ("question", "query"),
    [
        ("Which papers in the reading list are about quantization?", "quantization"),
        ("What papers discuss RLHF?", "RLHF"),
        ("哪些论文讨论了量化？", "量化"),
        ("阅读清单中哪些论文是关于指令微调的？", "指令微调的"),
        ("How does QLoRA save memory?", "How does QLoRA save memory?"),
    ],
)
def test_search_query_drops_the_list_frame(question: str, query: str):
    assert search_query(question) == query
