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

import base64
import hashlib
import json
import logging
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, fields
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import numpy as np

from . import __version__
from . import index as _ix
from .embedders import Embedder, canonical_name, normalise_rows
from .keywords import tokenize
from .records import Chunk
from .settings import Settings

DEFAULT_PREFIX = "paperqa"
LITE_FILE = "milvus.db"
INSERT_BATCH = 2_000
READ_BATCH = 4_000
MAX_LIMIT = 16_384  # Milvus's largest top-k
MAX_TEXT = 65_535  # Milvus VARCHAR limit (bytes)
_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,40}$")


class IndexConfigError(_ix.PaperIndexError):
    """PAPERQA_INDEX names no backend this paperqa knows."""


class IndexBackendError(_ix.PaperIndexError):
    """Milvus cannot be reached, is locked by another process, or refused a request."""


class IndexGoneError(_ix.PaperIndexError):
    """The generation an opened index reads was dropped by later builds."""


@dataclass(frozen=True)
class MilvusTarget:
    """Where a Milvus index lives: a milvus-lite file or a server URI, and the collection prefix."""

    uri: str  # what MilvusClient gets: a .db path (milvus-lite) or http://host:port
    prefix: str = DEFAULT_PREFIX
    token: str = ""
    lite_path: Path | None = None  # set for milvus-lite

    @property
    def label(self) -> str:
        return f"milvus-lite:{self.lite_path}" if self.lite_path else f"milvus at {self.uri}"

    @property
    def alias(self) -> str:
        return f"{self.prefix}_live"

    @property
    def meta(self) -> str:
        return f"{self.prefix}_meta"

    def collection(self, gen: str) -> str:
        return f"{self.prefix}_{gen.replace('-', '_').replace('.', '_')}"


def parse_index_spec(spec: str | None, index_dir: Path) -> MilvusTarget | None:
    """`settings.index` -> None (FAISS) or the Milvus target; anything else is an IndexConfigError."""
    raw = (spec or "faiss").strip()
    low = raw.lower()
    if low == "faiss":
        return None
    if low in ("milvus", "milvus-lite"):
        return MilvusTarget(uri=str(index_dir / LITE_FILE), lite_path=index_dir / LITE_FILE)
    if low.startswith("milvus-lite:"):
        path = Path(raw.split(":", 1)[1]).expanduser()
        if not path.name:
            raise IndexConfigError(f"PAPERQA_INDEX={raw!r} names no file: use milvus-lite:/path/file.db")
        path = path.resolve()
        return MilvusTarget(uri=str(path), lite_path=path)
    if low.startswith("milvus://"):
        parts = urlsplit(raw)
        if not parts.hostname:
            raise IndexConfigError(f"PAPERQA_INDEX={raw!r} has no host: use milvus://host:19530")
        prefix = parts.path.strip("/") or DEFAULT_PREFIX
        if not _NAME_RE.match(prefix):
            raise IndexConfigError(
                f"PAPERQA_INDEX={raw!r}: collection prefix {prefix!r} must be letters, digits and "
                "underscores, starting with a letter (e.g. milvus://host:19530/paperqa)"
            )
        token = ""
        if parts.username:
            token = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
        return MilvusTarget(uri=f"http://{parts.hostname}:{parts.port or 19530}", prefix=prefix, token=token)
    raise IndexConfigError(
        f"PAPERQA_INDEX={raw!r} is not an index backend: use faiss, milvus (a local milvus-lite "
        "file), milvus-lite:/path/file.db or milvus://host:19530"
    )


# --- client and errors ------------------------------------------------------------------------

_CLIENTS: dict[tuple[str, str], Any] = {}


def _client(target: MilvusTarget) -> Any:
    """One MilvusClient per target and process (milvus-lite: one in-process server per file)."""
    key = (target.uri, target.token)
    if key in _CLIENTS:
        return _CLIENTS[key]
    try:
        from pymilvus import MilvusClient
    except ImportError as exc:
        raise IndexBackendError(
            "The Milvus index backend needs pymilvus (and milvus-lite for a local file): "
            "pip install 'paperqa[milvus]', or set PAPERQA_INDEX=faiss"
        ) from exc
    if target.lite_path is not None:
        target.lite_path.parent.mkdir(parents=True, exist_ok=True)
    # both log failures with tracebacks at ERROR; each failure becomes one PaperqaError line instead
    for name in ("pymilvus", "milvus_lite"):
        logging.getLogger(name).setLevel(logging.CRITICAL)
    try:
        client = MilvusClient(uri=target.uri, token=target.token, timeout=10)
    except Exception as exc:
        raise _backend_error(target, exc) from exc
    _CLIENTS[key] = client
    return client


def _backend_error(target: MilvusTarget, exc: BaseException) -> IndexBackendError:
    """A one-line error naming the Milvus target and the way out."""
    msg = str(getattr(exc, "message", "") or exc)
    if target.lite_path is not None and "local milvus" in msg.lower():
        return IndexBackendError(
            f"Cannot open {target.label}: another process holds it (a running `paperqa serve`?). "
            "Stop that process, or share a Milvus server instead (PAPERQA_INDEX=milvus://host:19530)."
        )
    if "connect" in msg.lower() or "unavailable" in msg.lower():
        return IndexBackendError(
            f"Cannot reach {target.label}: {msg}. Start the server or fix PAPERQA_INDEX "
            "(PAPERQA_INDEX=faiss uses the local index)."
        )
    return IndexBackendError(
        f"{target.label} refused the request: {msg}. Rebuild with `paperqa index --full`."
    )


def _is_missing(exc: BaseException) -> bool:
    text = str(getattr(exc, "message", "") or exc).lower()
    return ("not found" in text or "not exist" in text or "can't find" in text) and (
        "collection" in text or "alias" in text
    )


def _call(target: MilvusTarget, fn: Any, *args: Any, **kwargs: Any) -> Any:
    """Run a client call; Milvus exceptions become IndexBackendError (KeyboardInterrupt passes)."""
    try:
        return fn(*args, **kwargs)
    except Exception as exc:
        if type(exc).__module__.startswith("pymilvus") or type(exc).__module__.startswith("grpc"):
            raise _backend_error(target, exc) from exc
        raise


def live_collection(target: MilvusTarget) -> str | None:
    """The collection the alias names, or None when nothing was built yet."""
    client = _client(target)
    if target.alias not in _call(target, client.list_aliases).get("aliases", []):
        return None  # asked first: describing a missing alias makes pymilvus log an error
    return str(_call(target, client.describe_alias, alias=target.alias)["collection_name"])


def generations(target: MilvusTarget) -> list[str]:
    """Generation collections present (live, previous, or left by an interrupted build), sorted."""
    names = _call(target, _client(target).list_collections)
    return sorted(n for n in names if n.startswith(f"{target.prefix}_{_ix.GEN_PREFIX.rstrip('-')}_"))


def _read_manifest_of(target: MilvusTarget, collection: str) -> dict[str, Any] | None:
    client = _client(target)
    if not _call(target, client.has_collection, target.meta):
        return None
    _call(target, client.load_collection, target.meta)  # collections start released in a new process
    rows = _call(
        target,
        client.query,
        target.meta,
        filter=f"collection == {json.dumps(collection)}",
        output_fields=["manifest"],
        limit=1,
    )
    return json.loads(rows[0]["manifest"]) if rows else None


def read_milvus_manifest(target: MilvusTarget) -> dict[str, Any] | None:
    """The live generation's manifest, or None (a milvus-lite file that does not exist is not created)."""
    if target.lite_path is not None and not target.lite_path.exists():
        return None
    live = live_collection(target)
    return None if live is None else _read_manifest_of(target, live)


# --- tokens ------------------------------------------------------------------------------------


@lru_cache(maxsize=1 << 18)
def term_code(token: str) -> str:
    """A token as a 13-letter code Milvus's standard analyzer keeps whole (see module docstring)."""
    digest = hashlib.blake2b(token.encode("utf-8"), digest_size=8).digest()
    return base64.b32encode(digest).decode("ascii").rstrip("=").lower()


def encode_tokens(text: str) -> str:
    return " ".join(term_code(t) for t in tokenize(text))


# --- the open index ----------------------------------------------------------------------------


class MilvusIndex:
    """One opened generation in Milvus: chunks and vectors in memory, searches in Milvus."""

    def __init__(
        self,
        target: MilvusTarget,
        collection: str,
        manifest: dict[str, Any],
        chunks: list[Chunk],
        vectors: np.ndarray,
    ):
        self.target = target
        self.collection = collection
        self.manifest = manifest
        self.chunks = chunks
        self._vectors = vectors
        self._vectors.setflags(write=False)
        self._row_of = {c.chunk_id: i for i, c in enumerate(chunks)}
        self._papers = sorted({c.paper_id for c in chunks})
        self._terms: dict[str, bool] = {}
        info = manifest.get("milvus", {})
        self._search_params: dict[str, Any] = {"metric_type": "IP"}
        self._ef = int(info.get("ef_search", 0))
        self._k1 = float(manifest.get("bm25", {}).get("k1", _ix._BM25_K1))

    def __len__(self) -> int:
        return len(self.chunks)

    @property
    def path(self) -> str:
        return f"{self.target.label} (collection {self.collection})"

    @property
    def vectors(self) -> np.ndarray:
        """Unit vectors per row: a local copy read when the index was opened (read-only)."""
        return self._vectors

    @property
    def embedder_name(self) -> str:
        return str(self.manifest["embedder"])

    @property
    def dim(self) -> int:
        return int(self.manifest["dim"])

    @property
    def generation(self) -> str:
        return str(self.manifest["generation"])

    @property
    def paper_ids(self) -> list[str]:
        return list(self._papers)

    def chunk(self, i: int) -> Chunk:
        return self.chunks[i]

    def row_of(self, chunk_id: str) -> int | None:
        return self._row_of.get(chunk_id)

    def check_embedder(self, embedder: Embedder) -> None:
        if embedder.name != self.embedder_name or embedder.dim != self.dim:
            raise _ix._mismatch(
                self.path, self.manifest, f"{embedder.name} ({embedder.dim}-d)", embedder.name
            )

    def _search(self, data: Any, field: str, k: int, params: dict[str, Any], allowed: Any) -> list:
        expr = "" if allowed is None else f"paper_id in {json.dumps(sorted(allowed), ensure_ascii=False)}"
        try:
            res = _client(self.target).search(
                self.collection,
                data=[data],
                anns_field=field,
                limit=min(k, MAX_LIMIT),
                filter=expr,
                output_fields=["row"],
                search_params=params,
            )
        except Exception as exc:
            if _is_missing(exc):
                raise IndexGoneError(
                    f"Generation {self.generation} in {self.target.label} was dropped by newer builds. "
                    "Reopen the index (restart `paperqa serve`, or Library.reload())."
                ) from exc
            raise _backend_error(self.target, exc) from exc
        return list(res[0]) if res else []

    def search_dense(
        self, qvec: np.ndarray, k: int, allowed: set[str] | None = None
    ) -> list[tuple[int, float]]:
        """Top-k (row, cosine) for a query vector, optionally only within papers `allowed`."""
        q = normalise_rows(np.asarray(qvec, dtype=np.float32).reshape(-1))
        if q.shape[0] != self.dim:
            raise _ix._mismatch(self.path, self.manifest, f"a {q.shape[0]}-d query vector", None)
        if k <= 0 or not self.chunks or (allowed is not None and not allowed):
            return []
        params = dict(self._search_params)
        if self._ef:
            params["params"] = {"ef": max(self._ef, 2 * k)}
        hits = self._search(q.tolist(), "vector", min(k, len(self.chunks)), params, allowed)
        rows = np.asarray([h["row"] for h in hits], dtype=np.int64)
        scores = np.asarray([h["distance"] for h in hits], dtype=np.float32)
        return _ix._top_k(scores, rows, k)

    def search_bm25(self, query: str, k: int, allowed: set[str] | None = None) -> list[tuple[int, float]]:
        """Top-k (row, BM25 score on bm25s's scale) for a question in any language; scores > 0 only."""
        text = encode_tokens(query)
        if not text or k <= 0 or (allowed is not None and not allowed):
            return []
        hits = self._search(text, "sparse", k, {"metric_type": "BM25"}, allowed)
        rows = np.asarray([h["row"] for h in hits], dtype=np.int64)
        # milvus-lite reports -score as the distance, a Milvus server +score: BM25 is never negative
        scores = np.abs(np.asarray([h["distance"] for h in hits], dtype=np.float64)) / (self._k1 + 1.0)
        keep = scores > 0
        return _ix._top_k(scores[keep].astype(np.float32), rows[keep], k)

    def has_term(self, token: str) -> bool:
        """True when `token` occurs in some indexed chunk: a one-term BM25 search, remembered."""
        if token not in self._terms:
            hits = self._search(term_code(token), "sparse", 1, {"metric_type": "BM25"}, None)
            self._terms[token] = bool(hits)
        return self._terms[token]


def _chunk_from_json(text: str) -> Chunk:
    names = {f.name for f in fields(Chunk)}
    return Chunk(**{k: v for k, v in json.loads(text).items() if k in names})


def _read_rows(target: MilvusTarget, collection: str, n: int, out_fields: list[str]) -> Iterator[list[dict]]:
    """Rows 0..n-1 in order, a batch at a time (rows are contiguous by construction), so a
    million rows never sit in memory as Python lists at once."""
    client = _client(target)
    for start in range(0, n, READ_BATCH):
        end = min(n, start + READ_BATCH)
        part = _call(
            target,
            client.query,
            collection,
            filter=f"row >= {start} and row < {end}",
            output_fields=out_fields,
            limit=end - start,
        )
        yield sorted(part, key=lambda r: r["row"])


def open_milvus_index(target: MilvusTarget, embedder_name: str | None = None) -> MilvusIndex:
    """Open the generation the alias names; same checks as the FAISS path."""
    absent = target.lite_path is not None and not target.lite_path.exists()
    live = None if absent else live_collection(target)
    if live is None:
        raise _ix.IndexMissingError(
            f"No index in {target.label}. Build it with `paperqa index --backend milvus` "
            "(or PAPERQA_INDEX set as now), after `paperqa fetch` has put the PDFs in place."
        )
    manifest = _read_manifest_of(target, live)
    if manifest is None:
        raise _ix.IndexMissingError(
            f"The index in {target.label} is incomplete (no manifest for {live}). "
            "Rebuild it with `paperqa index --full`."
        )
    where = f"{target.label} (collection {live})"
    if manifest.get("format") != _ix.INDEX_FORMAT:
        raise _ix.IndexMismatchError(
            f"The index in {where} has format {manifest.get('format')!r}; this paperqa ({__version__}) "
            f"reads format {_ix.INDEX_FORMAT}. Rebuild it with `paperqa index --full`."
        )
    if embedder_name is not None and canonical_name(embedder_name) != manifest.get("embedder"):
        raise _ix._mismatch(where, manifest, f"embedder '{canonical_name(embedder_name)}'", embedder_name)
    if manifest.get("bm25", {}).get("tokenizer") != _ix.TOKENIZER_VERSION:
        raise _ix.IndexMismatchError(
            f"The keyword index in {where} was built with tokenizer "
            f"{manifest.get('bm25', {}).get('tokenizer')!r}, this paperqa uses {_ix.TOKENIZER_VERSION!r}. "
            "Rebuild it with `paperqa index` (cached vectors are reused, so this is quick)."
        )
    client = _client(target)
    _call(target, client.load_collection, live)  # a restarted milvus-lite starts collections released
    n = int(manifest["counts"]["chunks"])
    chunks: list[Chunk] = []
    vectors = np.zeros((n, int(manifest["dim"])), dtype=np.float32)
    for batch in _read_rows(target, live, n, ["row", "record", "vector"]):
        for r in batch:
            if r["row"] != len(chunks):
                break
            vectors[len(chunks)] = r["vector"]
            chunks.append(_chunk_from_json(r["record"]))
    if len(chunks) != n:
        raise _ix.IndexMismatchError(
            f"The index in {where} is inconsistent (rows 0..{len(chunks)} of {n} chunks readable). "
            "Rebuild it with `paperqa index --full`."
        )
    return MilvusIndex(target, live, manifest, chunks, vectors)


# --- build -------------------------------------------------------------------------------------


def _schema(client: Any, dim: int) -> Any:
    from pymilvus import DataType, Function, FunctionType

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
    if n > _ix.HNSW_THRESHOLD:
        return "HNSW", {"M": _ix.HNSW_M, "efConstruction": _ix.HNSW_EF_CONSTRUCTION}
    return "FLAT", {}


def _create_generation(target: MilvusTarget, collection: str, dim: int, n: int) -> str:
    client = _client(target)
    kind, params = _dense_index(n)
    ip = client.prepare_index_params()
    ip.add_index("vector", index_type=kind, metric_type="IP", params=params)
    ip.add_index(
        "sparse",
        index_type="SPARSE_INVERTED_INDEX",
        metric_type="BM25",
        params={"bm25_k1": _ix._BM25_K1, "bm25_b": _ix._BM25_B},
    )
    _call(target, client.create_collection, collection, schema=_schema(client, dim), index_params=ip)
    return kind


def _insert_rows(target: MilvusTarget, collection: str, chunks: list[Chunk], vectors: np.ndarray) -> None:
    """Insert every chunk in batches, then flush (a crash before the alias switch leaves no trace)."""
    client = _client(target)
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
                    "key": _ix.text_key(c.index_text),
                    "record": record,
                    "tokens": tokens,
                    "vector": vectors[i].tolist(),
                }
            )
        _call(target, client.insert, collection, batch)
    _call(target, client.flush, collection)


def _write_meta(target: MilvusTarget, collection: str, manifest: dict[str, Any]) -> None:
    from pymilvus import DataType

    client = _client(target)
    if not _call(target, client.has_collection, target.meta):
        s = client.create_schema(auto_id=False, enable_dynamic_field=False)
        s.add_field("collection", DataType.VARCHAR, is_primary=True, max_length=256)
        s.add_field("manifest", DataType.VARCHAR, max_length=MAX_TEXT)
        s.add_field("v", DataType.FLOAT_VECTOR, dim=2)  # Milvus wants a vector in every collection
        ip = client.prepare_index_params()
        ip.add_index("v", index_type="FLAT", metric_type="IP")
        _call(target, client.create_collection, target.meta, schema=s, index_params=ip)
    text = json.dumps(manifest, ensure_ascii=False, default=str)
    _call(target, client.upsert, target.meta, [{"collection": collection, "manifest": text, "v": [1.0, 0.0]}])
    _call(target, client.flush, target.meta)


def _switch_alias(target: MilvusTarget, collection: str, had_live: bool) -> None:
    """The swap: one alias operation, so readers resolve the old generation or the new, never half."""
    client = _client(target)
    if had_live:
        _call(target, client.alter_alias, collection_name=collection, alias=target.alias)
    else:
        _call(target, client.create_alias, collection_name=collection, alias=target.alias)


def _drop_generation(target: MilvusTarget, collection: str) -> None:
    client = _client(target)
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
        manifest = _read_manifest_of(target, collection)
        if manifest is None or (manifest.get("embedder"), manifest.get("dim")) != (
            embedder.name,
            embedder.dim,
        ):
            return {}
        _call(target, _client(target).load_collection, collection)
        out: dict[str, np.ndarray] = {}
        for batch in _read_rows(
            target, collection, int(manifest["counts"]["chunks"]), ["row", "key", "vector"]
        ):
            out.update((r["key"], np.asarray(r["vector"], dtype=np.float32)) for r in batch)
    except _ix.PaperIndexError:
        return {}  # unreadable: fall back to the cache
    return out


def build_milvus_index(
    chunks: list[Chunk],
    embedder: Embedder,
    settings: Settings,
    target: MilvusTarget,
    *,
    meta: dict[str, Any],
    full: bool = False,
    progress: bool = True,
    console: Any = None,
    clear_cache: bool = False,
    batch_size: int = 32,
) -> _ix.BuildStats:
    """Build a new generation collection and switch the alias to it; same contract as index.build_index.

    On any exception (KeyboardInterrupt too) before the switch, the new collection is dropped and
    the live one keeps answering; embedded vectors stay in the local cache.
    """
    t0 = time.perf_counter()
    _ix._check_chunks(chunks)
    index_dir = settings.index_dir
    index_dir.mkdir(parents=True, exist_ok=True)
    with _ix._build_lock(index_dir):  # one build per machine; on a shared server, one builder per group
        old = live_collection(target)
        previous = None
        if not full and old is not None:
            previous = lambda: _vectors_from_collection(target, old, embedder)  # noqa: E731
        vectors, embedded, from_cache, from_index = _ix._gather_vectors(
            chunks,
            embedder,
            settings,
            previous,
            clear_cache=clear_cache,
            progress=progress,
            console=console,
            batch_size=batch_size,
        )
        gen = _ix._new_generation_name()
        collection = target.collection(gen)
        switched = False
        try:
            kind = _create_generation(target, collection, embedder.dim, len(chunks))
            _insert_rows(target, collection, chunks, vectors)
            info: dict[str, Any] = {
                "type": kind,
                "metric": "inner_product",
                "ntotal": len(chunks),
                "collection": collection,
                "alias": target.alias,
                "where": target.label,
            }
            if kind == "HNSW":
                info.update(
                    m=_ix.HNSW_M, ef_construction=_ix.HNSW_EF_CONSTRUCTION, ef_search=_ix.HNSW_EF_SEARCH
                )
            manifest = _ix._manifest_base(
                chunks, embedder, meta, gen, time.perf_counter() - t0, "milvus", info, "milvus"
            )
            manifest["backend"] = "milvus"
            _write_meta(target, collection, manifest)
            _switch_alias(target, collection, old is not None)
            switched = True
        except BaseException:
            if not switched and live_collection(target) != collection:
                _drop_generation(target, collection)
            raise
        keep = {collection} | ({old} if old else set())
        removed = []
        for name in generations(target):
            if name not in keep:
                _drop_generation(target, name)
                removed.append(name)
    return _ix.BuildStats(
        generation=gen,
        path=target.lite_path or index_dir,
        chunks=len(chunks),
        papers=len({c.paper_id for c in chunks}),
        embedded=embedded,
        from_cache=from_cache,
        from_index=from_index,
        reused=from_cache + from_index,
        seconds=round(time.perf_counter() - t0, 3),
        index_type=f"milvus-{kind}",
        removed=tuple(removed),
        backend="milvus",
    )


__all__ = [
    "IndexBackendError",
    "IndexConfigError",
    "IndexGoneError",
    "MilvusIndex",
    "MilvusTarget",
    "build_milvus_index",
    "generations",
    "open_milvus_index",
    "parse_index_spec",
    "read_milvus_manifest",
]
