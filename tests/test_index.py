"""The index: build, incremental rebuild, atomic swap, mismatch errors, filters.

Every behaviour test runs against both backends (the `settings` fixture): FAISS + bm25s files,
and Milvus (a real milvus-lite file, no server). FAISS-only file layout tests use `faiss_settings`.
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

import numpy as np
import pytest

from paperqa import __version__
from paperqa.records import Chunk
from paperqa.search import backend, faiss_store, milvus_client, vectors
from paperqa.search import index as index_mod
from paperqa.search import milvus as index_milvus
from paperqa.search.backend import IndexBusyError, IndexMismatchError, IndexMissingError
from paperqa.search.embedders import load_embedder
from paperqa.search.hash_embedder import HashEmbedder
from paperqa.search.index import build_index, open_index, read_manifest
from paperqa.settings import Settings

META = {"chunker": {"max_words": 160, "overlap_words": 30}, "catalog_hash": "cat123", "corpus_hash": "cor456"}


def make_chunks() -> list[Chunk]:
    def paper(pid: str, page: int, text: str) -> Chunk:
        return Chunk(
            chunk_id=f"{pid}:paper:{page}:0",
            paper_id=pid,
            kind="paper",
            text=text,
            page_start=page,
            page_end=page,
        )

    return [
        paper(
            "2305.14314",
            1,
            "QLoRA backpropagates gradients through a frozen, 4-bit quantized pretrained language model "
            "into Low Rank Adapters. It introduces 4-bit NormalFloat (NF4), double quantization and paged optimizers.",
        ),
        paper(
            "2305.14314",
            5,
            "Paged optimizers use NVIDIA unified memory to avoid memory spikes during checkpointing.",
        ),
        paper(
            "2106.09685",
            1,
            "LoRA freezes the pretrained model weights and injects trainable rank decomposition matrices "
            "into each layer of the Transformer architecture, reducing trainable parameters by 10,000 times.",
        ),
        paper(
            "1706.03762",
            2,
            "We propose the Transformer, a model architecture eschewing recurrence and instead relying "
            "entirely on an attention mechanism to draw global dependencies between input and output.",
        ),
        paper(
            "1810.04805",
            1,
            "BERT pre-trains deep bidirectional representations from unlabeled text with a masked language model objective.",
        ),
        Chunk(
            chunk_id="1706.03762:summary:0",
            paper_id="1706.03762",
            kind="summary",
            lang="zh",
            summary_index=0,
            text="Transformer：所有 LLM 的始祖。完全基于注意力机制，不再使用循环和卷积，可以同时看整个句子。",
        ),
        Chunk(
            chunk_id="1810.04805:summary:0",
            paper_id="1810.04805",
            kind="summary",
            lang="zh",
            summary_index=0,
            text="BERT：双向编码器，用遮蔽语言模型预训练，同时利用左右两侧的上下文。",
        ),
    ]


class CountingEmbedder(HashEmbedder):
    """Records every text it is asked to embed."""

    def __init__(self, dim: int = 64, fail_after: int | None = None, exc: type[BaseException] = RuntimeError):
        super().__init__(dim)
        self.seen: list[str] = []
        self.fail_after = fail_after
        self.exc = exc

    def encode_passages(self, texts: list[str], batch_size: int = 32, progress: bool = False) -> np.ndarray:
        if self.fail_after is not None and len(self.seen) + len(texts) > self.fail_after:
            raise self.exc("embedder failed mid-build")
        self.seen.extend(texts)
        return super().encode_passages(texts, batch_size, progress)


BACKENDS = ["faiss", pytest.param("milvus", marks=pytest.mark.slow)]  # milvus: a real milvus-lite process


@pytest.fixture(params=BACKENDS)
def settings(tmp_path: Path, request: pytest.FixtureRequest) -> Settings:
    """One data root per test, on each backend ("milvus" = a milvus-lite file under index/)."""
    return Settings(home=tmp_path, index=request.param)


@pytest.fixture
def faiss_settings(tmp_path: Path) -> Settings:
    return Settings(home=tmp_path)


def milvus_target(settings: Settings) -> milvus_client.MilvusTarget | None:
    return milvus_client.parse_index_spec(settings.index, settings.index_dir)


def build(chunks: list[Chunk], settings: Settings, embedder: HashEmbedder | None = None, **kw):
    return build_index(chunks, embedder or CountingEmbedder(), settings, meta=META, **kw)


def generations(settings: Settings) -> list[str]:
    """Generations present: directories (FAISS) or collections (Milvus)."""
    target = milvus_target(settings)
    if target is not None:
        return milvus_client.generations(target)
    return sorted(p.name for p in settings.index_dir.glob("gen-*"))


def current(settings: Settings) -> str | None:
    """What is live: CURRENT's content (FAISS) or the collection the alias names (Milvus)."""
    target = milvus_target(settings)
    if target is not None:
        return milvus_client.live_collection(target)
    return (settings.index_dir / "CURRENT").read_text()


def answers(ix, e: HashEmbedder) -> list:
    return [
        ix.search_dense(e.encode_query("frozen 4-bit quantized model"), 3),
        ix.search_bm25("QLoRA是如何节省显存的？", 3),
        ix.search_bm25("masked language model", 3),
    ]


def test_build_writes_manifest_and_opens(settings: Settings) -> None:
    chunks = make_chunks()
    stats = build(chunks, settings, batch_size=3)
    assert stats.chunks == 7 and stats.papers == 4 and stats.embedded == 7 and stats.reused == 0
    assert stats.backend == settings.index
    target = milvus_target(settings)
    if target is None:
        assert stats.index_type == "IndexFlatIP"
        assert current(settings).strip() == stats.generation
    else:
        assert stats.index_type == "milvus-FLAT"
        assert current(settings) == target.collection(stats.generation)

    ix = open_index(settings, "hash:64")
    m = ix.manifest
    assert m["embedder"] == "hash:64" and m["dim"] == 64
    assert m["chunker"] == META["chunker"] and m["catalog_hash"] == "cat123" and m["corpus_hash"] == "cor456"
    assert m["counts"] == {"chunks": 7, "papers": 4, "by_kind": {"paper": 5, "summary": 2}}
    store = "faiss" if target is None else "milvus"
    assert m[store]["type"] == ("IndexFlatIP" if target is None else "FLAT")
    assert m["paperqa_version"] == __version__ and m["generation"] == ix.generation == stats.generation
    assert m["built_at"] and m["bm25"]["tokenizer"]
    assert read_manifest(settings) == m
    assert ix.chunks == chunks and ix.chunk(5) == chunks[5] and len(ix) == 7
    assert [c.chunk_id for c in ix.chunks].index("2106.09685:paper:1:0") == 2
    assert open_index(settings).embedder_name == "hash:64"  # no name: no check


def test_dense_and_bm25_rank_the_right_chunk(settings: Settings) -> None:
    build(make_chunks(), settings)
    ix, e = open_index(settings), HashEmbedder(64)
    top = ix.search_dense(e.encode_query("frozen 4-bit quantized language model with low rank adapters"), 3)
    assert ix.chunk(top[0][0]).chunk_id == "2305.14314:paper:1:0"
    assert all(a[1] >= b[1] for a, b in zip(top, top[1:], strict=False))
    hits = ix.search_bm25("masked language model objective", 5)
    assert ix.chunk(hits[0][0]).chunk_id == "1810.04805:paper:1:0"
    assert ix.search_bm25("chocolate cake recipe", 5) == []


def test_bm25_chinese_question_hits_chinese_summary(settings: Settings) -> None:
    build(make_chunks(), settings)
    ix = open_index(settings)
    hits = ix.search_bm25("哪篇论文完全基于注意力机制？", 3)
    assert ix.chunk(hits[0][0]).chunk_id == "1706.03762:summary:0"
    hits = ix.search_bm25("BERT为什么是双向的？", 3)
    assert {ix.chunk(r).chunk_id for r, _ in hits[:2]} == {"1810.04805:summary:0", "1810.04805:paper:1:0"}


def test_bm25_english_term_in_chinese_question_hits_english_chunk(settings: Settings) -> None:
    build(make_chunks(), settings)
    ix = open_index(settings)
    hits = ix.search_bm25("QLoRA是如何节省显存的？", 3)
    assert ix.chunk(hits[0][0]).chunk_id == "2305.14314:paper:1:0"
    hits = ix.search_bm25("NF4是什么数据类型", 3)
    assert ix.chunk(hits[0][0]).paper_id == "2305.14314"


def test_bm25_word_forms_meet(settings: Settings) -> None:
    """'quantizing'/'pretraining' find 'quantized'/'pretrained'; 'has_term' answers in the same forms."""
    build(make_chunks(), settings)
    ix = open_index(settings)
    hits = ix.search_bm25("quantizing a pretraining checkpoint", 3)
    assert ix.chunk(hits[0][0]).chunk_id == "2305.14314:paper:1:0"
    assert ix.has_term("quantizing") and ix.has_term("nf4") and not ix.has_term("chocolate")


def test_paper_filter(settings: Settings) -> None:
    build(make_chunks(), settings)
    ix, e = open_index(settings), HashEmbedder(64)
    q = e.encode_query("frozen 4-bit quantized model attention")
    allowed = {"1706.03762", "1810.04805"}
    dense = ix.search_dense(q, 10, allowed=allowed)
    assert len(dense) == 4 and {ix.chunk(r).paper_id for r, _ in dense} == allowed
    # exact scores within the subset equal the unfiltered ones
    full = dict(ix.search_dense(q, 10))
    assert all(abs(full[r] - s) < 1e-5 for r, s in dense)
    bm = ix.search_bm25("QLoRA attention", 10, allowed={"1706.03762"})
    assert bm and {ix.chunk(r).paper_id for r, _ in bm} == {"1706.03762"}
    assert ix.search_dense(q, 5, allowed={"no-such-paper"}) == []
    assert ix.search_bm25("QLoRA", 5, allowed=set()) == []


def test_incremental_rebuild_embeds_only_new_and_changed(settings: Settings) -> None:
    chunks = make_chunks()
    build(chunks, settings)
    changed = dataclasses.replace(chunks[1], text=chunks[1].text + " Changed.")
    added = Chunk(
        chunk_id="2005.11401:paper:1:0",
        paper_id="2005.11401",
        kind="paper",
        text="RAG combines a retriever with a seq2seq generator.",
    )
    e = CountingEmbedder()
    stats = build([chunks[0], changed, *chunks[2:], added], settings, e)
    assert sorted(e.seen) == sorted([changed.text, added.text])
    assert stats.embedded == 2 and stats.from_index == 6 and stats.reused == 6
    ix = open_index(settings)
    fresh = HashEmbedder(64).encode_passages([c.text for c in ix.chunks])
    assert np.allclose(ix.vectors, fresh, atol=1e-6)  # reused vectors are the right ones

    # full: ignores the index but the cache (model + content) still serves every vector
    e = CountingEmbedder()
    stats = build(chunks, settings, e, full=True)
    assert e.seen == [] and stats.from_cache == 7 and stats.from_index == 0
    # clear_cache: everything is embedded again
    e = CountingEmbedder()
    stats = build(chunks, settings, e, full=True, clear_cache=True)
    assert sorted(e.seen) == sorted(c.text for c in chunks)
    # the cache gone, the previous generation still supplies vectors
    vectors.clear_cache(settings)
    e = CountingEmbedder()
    stats = build(chunks, settings, e)
    assert e.seen == [] and stats.from_index == 7
    ix = open_index(settings)
    assert np.allclose(ix.vectors, HashEmbedder(64).encode_passages([c.text for c in chunks]), atol=1e-6)


def test_duplicate_texts_are_embedded_once(settings: Settings) -> None:
    a = Chunk(chunk_id="a", paper_id="p", kind="paper", text="same text")
    b = Chunk(chunk_id="b", paper_id="q", kind="paper", text="same text")
    e = CountingEmbedder()
    build([a, b], settings, e)
    assert e.seen == ["same text"]


def test_another_embedder_gets_its_own_vectors(settings: Settings) -> None:
    build(make_chunks(), settings)
    e = CountingEmbedder(dim=32)
    build(make_chunks(), settings, e)
    assert len(e.seen) == 7
    assert open_index(settings, "hash:32").dim == 32


@pytest.mark.parametrize("exc", [RuntimeError, KeyboardInterrupt])
def test_failed_embedding_keeps_old_index_and_leaves_nothing(
    settings: Settings, exc: type[BaseException]
) -> None:
    chunks = make_chunks()
    build(chunks, settings)
    before_gens = generations(settings)
    live = current(settings)
    expected = answers(open_index(settings), HashEmbedder(64))

    new = [dataclasses.replace(c, text=c.text + f" v2 {i}") for i, c in enumerate(chunks)]
    failing = CountingEmbedder(fail_after=3, exc=exc)
    with pytest.raises(exc):
        build(new, settings, failing, batch_size=2)
    assert generations(settings) == before_gens
    assert current(settings) == live
    assert answers(open_index(settings, "hash:64"), HashEmbedder(64)) == expected
    # what was embedded before the failure is cached: the next build resumes
    e = CountingEmbedder()
    build(new, settings, e)
    assert len(e.seen) == 7 - len(failing.seen) and len(failing.seen) == 2


# the step that writes the data, and the swap, on each backend
STEPS = {
    "faiss": (index_mod, ["write_bm25", "write_current"]),
    "milvus": (index_milvus, ["_insert_rows", "_switch_alias"]),
}


@pytest.mark.parametrize("step", [0, 1], ids=["data", "swap"])
def test_failure_while_writing_removes_partial_generation(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, step: int
) -> None:
    chunks = make_chunks()
    build(chunks, settings)
    before_gens = generations(settings)
    live = current(settings)
    expected = answers(open_index(settings), HashEmbedder(64))

    def boom(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    module, names = STEPS[settings.index]
    monkeypatch.setattr(module, names[step], boom)
    with pytest.raises(KeyboardInterrupt):
        build(chunks[:3], settings)
    assert generations(settings) == before_gens and current(settings) == live
    assert answers(open_index(settings), HashEmbedder(64)) == expected
    assert not list(settings.index_dir.glob(".CURRENT*"))


def test_opened_index_keeps_answering_after_swaps(settings: Settings) -> None:
    chunks = make_chunks()
    build(chunks, settings)
    old = open_index(settings)
    e = HashEmbedder(64)
    expected = answers(old, e)

    build(chunks[:2], settings)
    assert answers(old, e) == expected  # the swap does not change what an opened index answers
    build(chunks[:3], settings)
    build(chunks[:4], settings)
    assert len(generations(settings)) == 2  # the live one and the one before it
    assert len(old.chunks) == 7 and len(open_index(settings).chunks) == 4
    if milvus_target(settings) is None:
        assert not old.path.exists()  # pruned on disk...
        assert answers(old, e) == expected  # ...but the opened index still answers (all in memory)
    else:  # the collection was dropped: a clear error that says how to pick up the new one
        with pytest.raises(milvus_client.IndexGoneError, match="Reopen"):
            answers(old, e)


def test_mismatched_embedder_or_dimension_is_an_error(settings: Settings) -> None:
    build(make_chunks(), settings)
    with pytest.raises(IndexMismatchError) as err:
        open_index(settings, "minilm")
    msg = str(err.value)
    assert "hash:64" in msg and "64-d" in msg and "paperqa index --full --embedder minilm" in msg
    with pytest.raises(IndexMismatchError, match="hash:64"):
        open_index(settings, "hash:128")
    ix = open_index(settings, "hash:64")
    with pytest.raises(IndexMismatchError, match="128-d"):
        ix.search_dense(HashEmbedder(128).encode_query("attention"), 3)
    with pytest.raises(IndexMismatchError):
        ix.check_embedder(HashEmbedder(128))
    ix.check_embedder(HashEmbedder(64))


def test_changed_tokenizer_asks_for_rebuild(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    build(make_chunks(), settings)
    monkeypatch.setattr(backend, "TOKENIZER_VERSION", "kw-next")  # where both backends check it
    with pytest.raises(IndexMismatchError, match="paperqa index"):
        open_index(settings)


def test_missing_index_is_a_clear_error(settings: Settings) -> None:
    with pytest.raises(IndexMissingError, match="paperqa index"):
        open_index(settings, "hash:64")
    assert read_manifest(settings) is None
    if milvus_target(settings) is not None:
        assert not (settings.index_dir / "milvus.db").exists()  # looking does not create it
        return
    settings.index_dir.mkdir(parents=True)
    (settings.index_dir / "CURRENT").write_text("gen-gone\n")
    with pytest.raises(IndexMissingError, match="--full"):
        open_index(settings)


def test_bad_input_is_refused(settings: Settings) -> None:
    with pytest.raises(ValueError, match="no chunks"):
        build([], settings)
    c = make_chunks()[0]
    with pytest.raises(ValueError, match="Duplicate"):
        build([c, c], settings)


def test_hnsw_past_threshold(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    for module in (faiss_store, index_milvus):
        monkeypatch.setattr(module, "HNSW_THRESHOLD", 3)
    stats = build(make_chunks(), settings)
    ix, e = open_index(settings), HashEmbedder(64)
    if milvus_target(settings) is None:
        assert stats.index_type == "IndexHNSWFlat" and ix.manifest["faiss"]["type"] == "IndexHNSWFlat"
    else:
        assert stats.index_type == "milvus-HNSW" and ix.manifest["milvus"]["type"] == "HNSW"
    q = e.encode_query("frozen 4-bit quantized language model with low rank adapters")
    assert ix.chunk(ix.search_dense(q, 3)[0][0]).chunk_id == "2305.14314:paper:1:0"
    monkeypatch.setattr(faiss_store, "EXACT_SUBSET_MAX", 0)  # force faiss's ID selector path
    hits = ix.search_dense(q, 5, allowed={"1706.03762"})
    assert hits and {ix.chunk(r).paper_id for r, _ in hits} == {"1706.03762"}


@pytest.mark.skipif(os.name == "nt", reason="advisory lock is POSIX only")
def test_concurrent_build_is_refused(settings: Settings) -> None:
    import fcntl

    settings.index_dir.mkdir(parents=True)
    with open(settings.index_dir / ".build.lock", "a+") as f:
        fcntl.flock(f.fileno(), fcntl.LOCK_EX)
        with pytest.raises(IndexBusyError, match="Another build"):
            build(make_chunks(), settings)


def test_chunks_file_is_plain_json_lines(faiss_settings: Settings) -> None:
    stats = build(make_chunks(), faiss_settings)
    lines = (stats.path / "chunks.jsonl").read_text(encoding="utf-8").splitlines()
    assert json.loads(lines[5])["text"].startswith("Transformer：")  # readable, not \u-escaped
    assert "所有" in lines[5]


@pytest.mark.slow
def test_real_minilm_index_ranks_the_right_chunk(settings: Settings) -> None:
    e = load_embedder("minilm")
    build_index(make_chunks(), e, settings, meta=META)
    ix = open_index(settings, "minilm")
    assert ix.manifest["embedder"] == "minilm:all-MiniLM-L6-v2" and ix.dim == 384
    top = ix.search_dense(e.encode_query("Which model relies on attention instead of recurrent networks?"), 3)
    assert ix.chunk(top[0][0]).chunk_id == "1706.03762:paper:2:0"
    top = ix.search_dense(e.encode_query("How does QLoRA reduce memory when finetuning?"), 3)
    assert ix.chunk(top[0][0]).paper_id == "2305.14314"
