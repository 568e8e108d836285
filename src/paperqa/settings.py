"""The one settings object: defaults, overridden by PAPERQA_* environment variables,
overridden by CLI flags (via `Settings.load(**overrides)`).

Every path the program writes is under `home` so that several corpora can live side
by side and tests never touch the checkout.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from .errors import UsageError

PACKAGE_DIR = Path(__file__).resolve().parent


def checkout_root() -> Path | None:
    """The source checkout when running from one (editable install), else None."""
    root = PACKAGE_DIR.parent.parent
    return root if (root / "pyproject.toml").is_file() and (root / "corpus").is_dir() else None


def _default_home() -> Path:
    root = checkout_root()
    return root if root is not None else Path.home() / ".paperqa"


def _bool(v: str) -> bool:
    return v.strip().lower() in {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class Settings:
    home: Path = field(default_factory=_default_home)
    # catalog
    lists_dir: Path | None = None  # default: home/corpus/lists, else the shipped lists
    papers_file: Path | None = None  # default: home/corpus/papers.toml, else the shipped one
    # download
    arxiv_api_url: str = "https://export.arxiv.org/api/query"
    arxiv_pdf_url: str = "https://arxiv.org/pdf"  # + /<id>v<N>
    request_interval: float = 3.0  # arXiv terms: one request every 3 s
    max_tries: int = 5
    timeout: float = 60.0
    max_pdf_mb: float = 100.0  # a bigger response is refused, not stored (PAPERQA_MAX_PDF_MB)
    # chunking
    chunk_words: int = 160  # all-MiniLM reads 256 word pieces; ~160 words fit
    chunk_overlap: int = 30
    # PDF text: pdfium (pypdfium2, >10x faster, the default) | pypdf (pure Python fallback)
    parser: str = "pdfium"
    # embedding / index
    embedder: str = (
        "use"  # use | minilm | e5 | hash | any sentence-transformers name or path (README: trade-off)
    )
    device: str = "cpu"
    # faiss (embedded default) | milvus (milvus-lite file index/milvus.db) | milvus-lite:/path/file.db
    # | milvus://host:19530 (a Milvus server or cluster shared by a group); see search/milvus.py
    index: str = "faiss"
    # answers
    engine: str = "extractive"  # extractive | llama | openai
    # passages retrieved for a question: what `search` lists and what an answer reads; None: the
    # number fitted on the tuning half's answers (search/ranker_params.json "k", fit_answers.py)
    k: int | None = None
    # None: decline by the fitted model (answer/decline_params.json, scripts/fit_decline.py);
    # a number: decline when the question's term coverage is under it (the plain rule)
    min_confidence: float | None = None
    llm_model: str = ""  # GGUF path for the llama engine; default: shipped Qwen if installed
    llm_ctx: int = 4096
    llm_threads: int = 2
    openai_base_url: str = "http://127.0.0.1:11434/v1"
    openai_model: str = "qwen2.5:1.5b"
    openai_api_key_env: str = "OPENAI_API_KEY"
    max_tokens: int = 400
    history: bool = True  # keep each question and answer in home/history.sqlite3 (PAPERQA_HISTORY)
    # web
    host: str = "127.0.0.1"
    port: int = 7860

    # --- derived paths (all under home) ---
    @property
    def corpus_dir(self) -> Path:
        return self.home / "corpus"

    @property
    def pdf_dir(self) -> Path:
        return self.corpus_dir / "pdfs"

    @property
    def manifest_file(self) -> Path:
        return self.corpus_dir / "manifest.json"

    @property
    def index_dir(self) -> Path:
        return self.home / "index"

    @property
    def cache_dir(self) -> Path:
        return self.home / "index" / "cache"

    @property
    def models_dir(self) -> Path:
        return self.home / "models"

    def resolved_lists_dir(self) -> Path:
        if self.lists_dir is not None:
            return self.lists_dir
        own = self.corpus_dir / "lists"
        if own.is_dir() and any(own.glob("*.md")):
            return own
        return _shipped("lists")

    def resolved_papers_file(self) -> Path:
        if self.papers_file is not None:
            return self.papers_file
        own = self.corpus_dir / "papers.toml"
        return own if own.is_file() else _shipped("papers.toml")

    @classmethod
    def load(cls, env: dict[str, str] | None = None, **overrides: Any) -> Settings:
        """Defaults < PAPERQA_<FIELD> environment variables < explicit overrides."""
        env = dict(os.environ if env is None else env)
        values: dict[str, Any] = {}
        for f in fields(cls):
            raw = env.get(f"PAPERQA_{f.name.upper()}")
            if raw is None or raw == "":
                continue
            try:
                values[f.name] = _convert(f.type, raw)
            except ValueError as exc:
                raise UsageError(
                    f"PAPERQA_{f.name.upper()}={raw!r} is not a valid {f.type}: fix or unset that variable"
                ) from exc
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)

    def __post_init__(self) -> None:
        """Paths given as strings (`Settings(home="~/papers")`) become absolute Paths."""
        for key in _PATH_FIELDS:
            value = getattr(self, key)
            if value is not None and not (isinstance(value, Path) and value.is_absolute()):
                object.__setattr__(self, key, Path(value).expanduser().resolve())

    def with_(self, **changes: Any) -> Settings:
        return replace(self, **{k: v for k, v in changes.items() if v is not None})


_PATH_FIELDS = ("home", "lists_dir", "papers_file")


def _convert(type_name: Any, raw: str) -> Any:
    t = str(type_name)
    if "bool" in t:
        return _bool(raw)
    if t.startswith("int"):
        return int(raw)
    if t.startswith("float"):
        return float(raw)
    if "Path" in t:
        return Path(raw)
    return raw


def _shipped(name: str) -> Path:
    """Lists and papers.toml shipped with the program (checkout or package data)."""
    root = checkout_root()
    if root is not None:
        return root / "corpus" / name
    return PACKAGE_DIR / "data" / name
