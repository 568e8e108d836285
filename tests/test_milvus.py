"""The Milvus backend on its own terms: where PAPERQA_INDEX points, the same answers as FAISS,
clear errors, and the CLI end to end on a real milvus-lite file (no mocks, no server).

The shared behaviour tests (build, incremental rebuild, swap, filters, mismatches) run against
both backends in test_index.py.
"""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from paperqa.errors import PaperqaError
from paperqa.search import milvus_client as mc
from paperqa.search.hash_embedder import HashEmbedder
from paperqa.search.index import build_index, open_index
from paperqa.settings import Settings
from test_index import META, CountingEmbedder, make_chunks

ROOT = Path(__file__).resolve().parent.parent

QUERIES = [
    "frozen 4-bit quantized language model with low rank adapters",
    "QLoRA是如何节省显存的？",
    "哪篇论文完全基于注意力机制？",
    "masked language model objective",
    "trainable rank decomposition matrices",
    "attention recurrence convolution",
    "NF4是什么数据类型",
]


def test_index_spec_names_the_backend(tmp_path: Path) -> None:
    idx = tmp_path / "index"
    assert mc.parse_index_spec("faiss", idx) is None and mc.parse_index_spec(None, idx) is None
    lite = mc.parse_index_spec("milvus", idx)
    assert lite is not None and lite.lite_path == idx / "milvus.db" and lite.alias == "paperqa_live"
    own = mc.parse_index_spec(f"milvus-lite:{tmp_path}/x/team.db", idx)
    assert own is not None and own.lite_path == tmp_path / "x" / "team.db"
    server = mc.parse_index_spec("milvus://alice:s3cret@milvus.lab:19531/llmlist", idx)
    assert server is not None and server.uri == "http://milvus.lab:19531" and server.lite_path is None
    assert server.token == "alice:s3cret" and server.prefix == "llmlist" and server.alias == "llmlist_live"
    assert mc.parse_index_spec("milvus://milvus.lab", idx).uri == "http://milvus.lab:19530"
    for bad in ("elastic", "milvus://", "milvus://h:1/bad-name", "milvus-lite:"):
        with pytest.raises(mc.IndexConfigError, match="PAPERQA_INDEX") as err:
            mc.parse_index_spec(bad, idx)
        assert isinstance(err.value, PaperqaError)


@pytest.mark.slow  # a real milvus-lite server process
def test_milvus_answers_exactly_as_faiss(tmp_path: Path) -> None:
    """Same chunks, same vectors, same tokens: the same rows and scores from both stores."""
    opened = {}
    for backend in ("faiss", "milvus"):
        settings = Settings(home=tmp_path / backend, index=backend)
        build_index(make_chunks(), CountingEmbedder(), settings, meta=META)
        opened[backend] = open_index(settings, "hash:64")
    f, m = opened["faiss"], opened["milvus"]
    assert f.chunks == m.chunks and f.manifest["counts"] == m.manifest["counts"]
    e = HashEmbedder(64)
    for q in QUERIES:
        for allowed in (None, {"1706.03762", "1810.04805"}, {"2305.14314"}):
            for got, want in (
                (
                    m.search_dense(e.encode_query(q), 5, allowed),
                    f.search_dense(e.encode_query(q), 5, allowed),
                ),
                (m.search_bm25(q, 5, allowed), f.search_bm25(q, 5, allowed)),
            ):
                assert [r for r, _ in got] == [r for r, _ in want], q
                assert all(abs(a - b) < 1e-4 for (_, a), (_, b) in zip(got, want, strict=True)), q
    for token in ("qlora", "nf4", "注意力", "chocolate", "transformer"):
        assert m.has_term(token) == f.has_term(token), token


@pytest.mark.slow  # a real milvus-lite server process
def test_generations_are_collections_behind_one_alias(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path, index="milvus")
    target = mc.parse_index_spec("milvus", settings.index_dir)
    assert target is not None
    chunks = make_chunks()
    first = build_index(chunks, CountingEmbedder(), settings, meta=META)
    second = build_index(chunks[:4], CountingEmbedder(), settings, meta=META)
    assert second.from_index == 4 and second.embedded == 0  # vectors came from the live collection
    assert mc.live_collection(target) == target.collection(second.generation)
    assert mc.generations(target) == sorted(
        [target.collection(first.generation), target.collection(second.generation)]
    )
    third = build_index(chunks[:2], CountingEmbedder(), settings, meta=META)
    assert third.removed == (target.collection(first.generation),)
    manifest = mc.read_milvus_manifest(target)
    assert manifest is not None and manifest["generation"] == third.generation
    assert manifest["milvus"]["collection"] == target.collection(third.generation)
    assert manifest["backend"] == "milvus" and manifest["counts"]["chunks"] == 2


def test_unreachable_server_is_one_clear_error(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path, index="milvus://127.0.0.1:9")
    t0 = time.perf_counter()
    with pytest.raises(
        mc.IndexBackendError, match=r"Cannot reach milvus at http://127.0.0.1:9.*PAPERQA_INDEX"
    ):
        open_index(settings)
    assert time.perf_counter() - t0 < 30


@pytest.mark.slow  # a real milvus-lite server process
def test_lite_file_held_by_another_process_is_one_clear_error(tmp_path: Path) -> None:
    db = tmp_path / "held.db"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from pymilvus import MilvusClient; MilvusClient(sys.argv[1]); "
            "print('ready', flush=True); time.sleep(60)",
            str(db),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ready"
        with pytest.raises(mc.IndexBackendError, match="another process holds it"):
            open_index(Settings(home=tmp_path, index=f"milvus-lite:{db}"))
    finally:
        holder.kill()
        holder.wait()


def paperqa(home: Path, *args: str, index: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PAPERQA_EMBEDDER": "hash", "PAPERQA_HOME": str(home), "HF_HUB_OFFLINE": "1"}
    env.pop("PAPERQA_INDEX", None)
    if index:
        env["PAPERQA_INDEX"] = index
    return subprocess.run(
        [sys.executable, "-m", "paperqa.app.cli", *args], capture_output=True, text=True, env=env, timeout=600
    )


@pytest.mark.slow  # a real milvus-lite server process
def test_cli_index_backend_milvus_end_to_end(tmp_path: Path) -> None:
    """`paperqa index --backend milvus` on the shipped corpus; search, ask and eval read it through
    PAPERQA_INDEX and give what the FAISS index gives (the held-out questions score the same)."""
    faiss_home, milvus_home = tmp_path / "f", tmp_path / "m"
    built = paperqa(milvus_home, "index", "--backend", "milvus", "--json")
    assert built.returncode == 0, built.stderr
    stats = json.loads(built.stdout)["index"]
    assert stats["backend"] == "milvus" and stats["chunks"] > 200 and stats["index_type"] == "milvus-FLAT"
    assert (milvus_home / "index" / "milvus.db").exists() and not (milvus_home / "index" / "CURRENT").exists()
    assert paperqa(faiss_home, "index", "--json").returncode == 0

    missing = paperqa(milvus_home, "search", "QLoRA", "--json")  # FAISS asked for: not built here
    assert missing.returncode == 2 and "PAPERQA_INDEX=milvus" in missing.stderr
    assert len(missing.stderr.strip().splitlines()) == 1  # one line, no pymilvus/grpc chatter

    q = "How does QLoRA save memory?"
    hits = {h: paperqa(h, "search", q, "-k", "5", "--json", index="milvus") for h in (milvus_home,)}
    hits[faiss_home] = paperqa(faiss_home, "search", q, "-k", "5", "--json")
    assert all(p.returncode == 0 for p in hits.values()), [p.stderr for p in hits.values()]
    got, want = (json.loads(hits[h].stdout) for h in (milvus_home, faiss_home))
    assert [h["chunk_id"] for h in got] == [h["chunk_id"] for h in want] and got[0][
        "paper_id"
    ] == "2305.14314"

    answer = paperqa(milvus_home, "ask", q, "--json", index="milvus")
    assert answer.returncode == 0, answer.stderr
    assert json.loads(answer.stdout)["citations"][0]["paper_id"] == "2305.14314"

    questions = ROOT / "eval" / "questions_list.jsonl"
    evals = [
        paperqa(milvus_home, "eval", str(questions), "--json", index="milvus"),
        paperqa(faiss_home, "eval", str(questions), "--json"),
    ]
    assert all(p.returncode == 0 for p in evals), [p.stderr[-300:] for p in evals]
    m, f = (json.loads(p.stdout) for p in evals)

    def quality(summary: dict) -> dict:  # the metrics, not the timings
        return {k: v for k, v in summary.items() if "_ms" not in k}

    assert quality(m["summary"]) == quality(f["summary"]) and m["summary"]["overall"]
    assert [r["retrieved"][:1] for r in m["results"]] == [r["retrieved"][:1] for r in f["results"]]
    # below the top, float ties (1e-7 apart) may order differently; nearly every list is identical
    same5 = sum(
        a["retrieved"][:5] == b["retrieved"][:5] for a, b in zip(m["results"], f["results"], strict=True)
    )
    assert same5 >= 0.95 * len(m["results"])
