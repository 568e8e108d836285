"""Where a Milvus index lives (`PAPERQA_INDEX`), one client per target, errors that name the way out,
and the reads both the opened index and the build need.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, fields
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from ..records import Chunk
from .backend import (
    PaperIndexError,
)
from .generations import (
    GEN_PREFIX,
)
from .keywords import index_terms

DEFAULT_PREFIX = "paperqa"


LITE_FILE = "milvus.db"


INSERT_BATCH = 2_000


READ_BATCH = 4_000


MAX_LIMIT = 16_384  # Milvus's largest top-k


MAX_TEXT = 65_535  # Milvus VARCHAR limit (bytes)


_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,40}$")


class IndexConfigError(PaperIndexError):
    """PAPERQA_INDEX names no backend this paperqa knows."""


class IndexBackendError(PaperIndexError):
    """Milvus cannot be reached, is locked by another process, or refused a request."""


class IndexGoneError(PaperIndexError):
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


_CLIENTS: dict[tuple[str, str], Any] = {}


def milvus_client(target: MilvusTarget) -> Any:
    """One MilvusClient per target and process (milvus-lite: one in-process server per file)."""
    key = (target.uri, target.token)
    if key in _CLIENTS:
        return _CLIENTS[key]
    # gRPC's C core prints keepalive chatter ("too_many_pings") straight to stderr; failures still
    # arrive as exceptions, each reported as one line
    os.environ.setdefault("GRPC_VERBOSITY", "NONE")
    try:
        from pymilvus import MilvusClient  # late: optional [milvus] extra
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
        raise backend_error(target, exc) from exc
    _CLIENTS[key] = client
    return client


def backend_error(target: MilvusTarget, exc: BaseException) -> IndexBackendError:
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


def is_missing(exc: BaseException) -> bool:
    text = str(getattr(exc, "message", "") or exc).lower()
    return ("not found" in text or "not exist" in text or "can't find" in text) and (
        "collection" in text or "alias" in text
    )


def call(target: MilvusTarget, fn: Any, *args: Any, **kwargs: Any) -> Any:
    """Run a client call; Milvus exceptions become IndexBackendError (KeyboardInterrupt passes)."""
    try:
        return fn(*args, **kwargs)
    except Exception as exc:
        if type(exc).__module__.startswith("pymilvus") or type(exc).__module__.startswith("grpc"):
            raise backend_error(target, exc) from exc
        raise


def live_collection(target: MilvusTarget) -> str | None:
    """The collection the alias names, or None when nothing was built yet."""
    client = milvus_client(target)
    if target.alias not in call(target, client.list_aliases).get("aliases", []):
        return None  # asked first: describing a missing alias makes pymilvus log an error
    return str(call(target, client.describe_alias, alias=target.alias)["collection_name"])


def generations(target: MilvusTarget) -> list[str]:
    """Generation collections present (live, previous, or left by an interrupted build), sorted."""
    names = call(target, milvus_client(target).list_collections)
    return sorted(n for n in names if n.startswith(f"{target.prefix}_{GEN_PREFIX.rstrip('-')}_"))


def read_manifest_of(target: MilvusTarget, collection: str) -> dict[str, Any] | None:
    client = milvus_client(target)
    if not call(target, client.has_collection, target.meta):
        return None
    call(target, client.load_collection, target.meta)  # collections start released in a new process
    rows = call(
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
    return None if live is None else read_manifest_of(target, live)


@lru_cache(maxsize=1 << 18)
def term_code(token: str) -> str:
    """A token as a 13-letter code Milvus's standard analyzer keeps whole (see module docstring)."""
    digest = hashlib.blake2b(token.encode("utf-8"), digest_size=8).digest()
    return base64.b32encode(digest).decode("ascii").rstrip("=").lower()


def encode_tokens(text: str) -> str:
    return " ".join(term_code(t) for t in index_terms(text))


def chunk_from_json(text: str) -> Chunk:
    names = {f.name for f in fields(Chunk)}
    return Chunk(**{k: v for k, v in json.loads(text).items() if k in names})


def read_rows(target: MilvusTarget, collection: str, n: int, out_fields: list[str]) -> Iterator[list[dict]]:
    """Rows 0..n-1 in order, a batch at a time (rows are contiguous by construction), so a
    million rows never sit in memory as Python lists at once."""
    client = milvus_client(target)
    for start in range(0, n, READ_BATCH):
        end = min(n, start + READ_BATCH)
        part = call(
            target,
            client.query,
            collection,
            filter=f"row >= {start} and row < {end}",
            output_fields=out_fields,
            limit=end - start,
        )
        yield sorted(part, key=lambda r: r["row"])
