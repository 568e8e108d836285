"""The Milvus index backend: the same chunks, vectors and BM25 keyword index as the FAISS default,
stored in Milvus, so a group can share one index (a server or cluster) and it can grow past
what one process holds.

Where it lives (`settings.index`, env PAPERQA_INDEX):

    milvus                     milvus-lite, a local file `index/milvus.db` (no server)
    milvus-lite:/path/file.db  milvus-lite at that file
    milvus://host:19530[/name] a Milvus server or cluster; `name` prefixes the collections
                               (default "paperqa"); milvus://user:password@host:19530 logs in

Layout (prefix "paperqa"):

    paperqa_gen_<utc>_<us>_<pid>  one collection per generation (immutable once built)
    paperqa_live                  alias naming the live generation (switched atomically at the end)
    paperqa_meta                  one row per generation: its manifest (JSON)

Each generation collection holds, per chunk: `row` (primary key = position in the chunk list,
so searches return rows directly), `record` (the Chunk as JSON), `key` (sha256 of the indexed
text, for incremental rebuilds), `vector` (unit vector, inner product; FLAT up to
index.HNSW_THRESHOLD rows, HNSW beyond, as with FAISS) and `tokens` -> `sparse`, Milvus's
own BM25 function.

Why `tokens` holds paperqa's tokens, not the raw text: Milvus has a jieba analyzer (milvus-lite
3.2 too), but paperqa's tokenizer (keywords.py) also keeps `GPT-3`/`LLM.int8()` whole, stems
plurals and drops stop words; feeding Milvus the same tokens as bm25s makes both backends rank
identically. milvus-lite has no whitespace tokenizer, so each token is written as a 13-letter
[a-z2-7] code (a hash of the token) that the standard analyzer keeps whole. BM25 scores are
divided by (k1 + 1) so they are on bm25s's scale (Milvus's formula has that factor, bm25s's not).

Opened index: the chunk records and the vectors of the generation are read once into memory
(a local copy; the reranker reads cosines from `vectors`), searches go to Milvus. The opened
index is bound to its collection, not the alias, so a build never changes it mid-answer; the
previous generation is kept, older ones are dropped (an index opened on a dropped one says so).
"""

from __future__ import annotations

import json
import time
from typing import Any

import numpy as np

from ..records import Chunk
from ..settings import Settings
from .backend import (
    BM25_B,
    BM25_K1,
    HNSW_EF_CONSTRUCTION,
    HNSW_EF_SEARCH,
    HNSW_M,
    HNSW_THRESHOLD,
    BuildOptions,
    BuildStats,
    PaperIndexError,
    build_stats,
    check_chunks,
    manifest_base,
    text_key,
)
from .embedders import Embedder
from .generations import (
    build_lock,
    new_generation_name,
)
from .milvus_client import (
    INSERT_BATCH,
    MAX_TEXT,
    IndexBackendError,
    MilvusTarget,
    call,
    encode_tokens,
    generations,
    live_collection,
    milvus_client,
    parse_index_spec,  # noqa: F401  (scripts/bench_scale.py parses PAPERQA_INDEX through here)
    read_manifest_of,
    read_rows,
)
from .vectors import gather_vectors

# --- build -------------------------------------------------------------------------------------


def _schema(client: Any, dim: int) -> Any:
    from pymilvus import DataType, Function, FunctionType  # late: optional [milvus] extra

    s = client.create_schema(auto_id=False, enable_dynamic_field=False)
    s.add_field("row", DataType.INT64, is_primary=True)
    s.add_field("chunk_id", DataType.VARCHAR, max_length=1024)
    s.add_field("paper_id", DataType.VARCHAR, max_length=256)
    s.add_field("key", DataType.VARCHAR, max_length=64)
    s.add_field("record", DataType.VARCHAR, max_length=MAX_TEXT)
    s.add_field(
        "tokens",
        DataType.VARCHAR,
        max_length=MAX_TEXT,
        enable_analyzer=True,
        analyzer_params={"tokenizer": "standard"},
    )
    s.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
    s.add_field("vector", DataType.FLOAT_VECTOR, dim=dim)
    s.add_function(
        Function(
            name="bm25",
            function_type=FunctionType.BM25,
            input_field_names=["tokens"],
            output_field_names=["sparse"],
        )
    )
    return s


def _dense_index(n: int) -> tuple[str, dict[str, Any]]:
    """FLAT (exact) up to the FAISS threshold, HNSW with the FAISS parameters beyond."""
    if n > HNSW_THRESHOLD:
        return "HNSW", {"M": HNSW_M, "efConstruction": HNSW_EF_CONSTRUCTION}
    return "FLAT", {}


def _create_generation(target: MilvusTarget, collection: str, dim: int, n: int) -> str:
    client = milvus_client(target)
    kind, params = _dense_index(n)
    ip = client.prepare_index_params()
    ip.add_index("vector", index_type=kind, metric_type="IP", params=params)
    ip.add_index(
        "sparse",
        index_type="SPARSE_INVERTED_INDEX",
        metric_type="BM25",
        params={"bm25_k1": BM25_K1, "bm25_b": BM25_B},
    )
    call(target, client.create_collection, collection, schema=_schema(client, dim), index_params=ip)
    return kind


def _insert_rows(target: MilvusTarget, collection: str, chunks: list[Chunk], vectors: np.ndarray) -> None:
    """Insert every chunk in batches, then flush (a crash before the alias switch leaves no trace)."""
    client = milvus_client(target)
    for start in range(0, len(chunks), INSERT_BATCH):
        batch = []
        for i in range(start, min(len(chunks), start + INSERT_BATCH)):
            c = chunks[i]
            record = json.dumps(c.to_dict(), ensure_ascii=False)
            tokens = encode_tokens(c.index_text)
            if len(record.encode("utf-8")) > MAX_TEXT or len(tokens) > MAX_TEXT:
                raise IndexBackendError(
                    f"Chunk {c.chunk_id} is too long for Milvus ({len(record)} characters); "
                    "lower PAPERQA_CHUNK_WORDS and rebuild with `paperqa index --full`."
                )
            batch.append(
                {
                    "row": i,
                    "chunk_id": c.chunk_id,
                    "paper_id": c.paper_id,
                    "key": text_key(c.index_text),
                    "record": record,
                    "tokens": tokens,
                    "vector": vectors[i].tolist(),
                }
            )
        call(target, client.insert, collection, batch)
    call(target, client.flush, collection)


def _write_meta(target: MilvusTarget, collection: str, manifest: dict[str, Any]) -> None:
    from pymilvus import DataType  # late: optional [milvus] extra

    client = milvus_client(target)
    if not call(target, client.has_collection, target.meta):
        s = client.create_schema(auto_id=False, enable_dynamic_field=False)
        s.add_field("collection", DataType.VARCHAR, is_primary=True, max_length=256)
        s.add_field("manifest", DataType.VARCHAR, max_length=MAX_TEXT)
        s.add_field("v", DataType.FLOAT_VECTOR, dim=2)  # Milvus wants a vector in every collection
        ip = client.prepare_index_params()
        ip.add_index("v", index_type="FLAT", metric_type="IP")
        call(target, client.create_collection, target.meta, schema=s, index_params=ip)
    text = json.dumps(manifest, ensure_ascii=False, default=str)
    call(target, client.upsert, target.meta, [{"collection": collection, "manifest": text, "v": [1.0, 0.0]}])
    call(target, client.flush, target.meta)


def _switch_alias(target: MilvusTarget, collection: str, had_live: bool) -> None:
    """The swap: one alias operation, so readers resolve the old generation or the new, never half."""
    client = milvus_client(target)
    if had_live:
        call(target, client.alter_alias, collection_name=collection, alias=target.alias)
    else:
        call(target, client.create_alias, collection_name=collection, alias=target.alias)


def _drop_generation(target: MilvusTarget, collection: str) -> None:
    client = milvus_client(target)
    try:
        client.drop_collection(collection)
        if client.has_collection(target.meta):
            client.delete(target.meta, filter=f"collection == {json.dumps(collection)}")
    except Exception:  # best effort: the next build prunes what is left
        pass


def _vectors_from_collection(
    target: MilvusTarget, collection: str, embedder: Embedder
) -> dict[str, np.ndarray]:
    """key -> vector from the live generation when it was built with the same embedder, else {}."""
    try:
        manifest = read_manifest_of(target, collection)
        if manifest is None or (manifest.get("embedder"), manifest.get("dim")) != (
            embedder.name,
            embedder.dim,
        ):
            return {}
        call(target, milvus_client(target).load_collection, collection)
        out: dict[str, np.ndarray] = {}
        for batch in read_rows(
            target, collection, int(manifest["counts"]["chunks"]), ["row", "key", "vector"]
        ):
            out.update((r["key"], np.asarray(r["vector"], dtype=np.float32)) for r in batch)
    except PaperIndexError:
        return {}  # unreadable: fall back to the cache
    return out


def build_milvus_index(
    chunks: list[Chunk],
    embedder: Embedder,
    settings: Settings,
    target: MilvusTarget,
    opts: BuildOptions,
) -> BuildStats:
    """Build a new generation collection and switch the alias to it; same contract as index.build_index.

    On any exception (KeyboardInterrupt too) before the switch, the new collection is dropped and
    the live one keeps answering; embedded vectors stay in the local cache.
    """
    t0 = time.perf_counter()
    check_chunks(chunks)
    index_dir = settings.index_dir
    index_dir.mkdir(parents=True, exist_ok=True)
    with build_lock(index_dir):  # one build per machine; on a shared server, one builder per group
        old = live_collection(target)
        previous = (
            None if opts.full or old is None else (lambda: _vectors_from_collection(target, old, embedder))
        )
        vectors, *counts = gather_vectors(chunks, embedder, settings, previous, **opts.gathering())
        gen = new_generation_name()
        collection = target.collection(gen)
        switched = False
        try:
            kind = _create_generation(target, collection, embedder.dim, len(chunks))
            _insert_rows(target, collection, chunks, vectors)
            manifest = _manifest(target, collection, kind, chunks, embedder, opts.meta, gen, t0)
            _write_meta(target, collection, manifest)
            _switch_alias(target, collection, old is not None)
            switched = True
        except BaseException:
            if not switched and live_collection(target) != collection:
                _drop_generation(target, collection)
            raise
        removed = _prune(target, {collection} | ({old} if old else set()))
    path = target.lite_path or index_dir
    return build_stats(gen, path, chunks, tuple(counts), t0, f"milvus-{kind}", removed, "milvus")


def _manifest(
    target: MilvusTarget,
    collection: str,
    kind: str,
    chunks: list[Chunk],
    embedder: Embedder,
    meta: dict[str, Any],
    gen: str,
    t0: float,
) -> dict[str, Any]:
    info: dict[str, Any] = {
        "type": kind,
        "metric": "inner_product",
        "ntotal": len(chunks),
        "collection": collection,
        "alias": target.alias,
        "where": target.label,
    }
    if kind == "HNSW":
        info.update(m=HNSW_M, ef_construction=HNSW_EF_CONSTRUCTION, ef_search=HNSW_EF_SEARCH)
    manifest = manifest_base(chunks, embedder, meta, gen, time.perf_counter() - t0, "milvus", info, "milvus")
    manifest["backend"] = "milvus"
    return manifest


def _prune(target: MilvusTarget, keep: set[str]) -> tuple[str, ...]:
    """Drop the generations not in `keep` (the live one and the one before it)."""
    removed = []
    for name in generations(target):
        if name not in keep:
            _drop_generation(target, name)
            removed.append(name)
    return tuple(removed)
