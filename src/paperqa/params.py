"""Parameter dataclasses loaded from JSON, so that tuned numbers live in data files, not in code.

Why a helper: every tunable number of a stage (answer, search, ...) sits in a frozen dataclass whose defaults
are the shipped values; a JSON file next to the module may override some of them, and a key the
dataclass does not know is an error (a typo must not silently leave a default in place).
"""

from __future__ import annotations

import json
from dataclasses import fields
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")


def load_params(cls: type[T], path: Path | str) -> T:
    """An instance of the dataclass `cls` with the values of the JSON object in `path`."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a JSON object of {cls.__name__} fields")
    known = {f.name: f for f in fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(k for k in data if k not in known and not k.startswith("_"))
    if unknown:
        raise ValueError(f"{path}: unknown {cls.__name__} fields: {', '.join(unknown)}")
    values: dict[str, Any] = {
        k: tuple(v) if isinstance(v, list) and "tuple" in str(known[k].type) else v
        for k, v in data.items()
        if k in known
    }
    return cls(**values)


def dump_params(params: Any, path: Path | str) -> None:
    """Write a parameters dataclass as JSON (the inverse of `load_params`), e.g. after fitting."""
    data = {f.name: getattr(params, f.name) for f in fields(params)}
    Path(path).write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
