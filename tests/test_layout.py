"""The package keeps its shape (issue 10): sizes, no import cycle, imports at the top."""

from __future__ import annotations

import importlib.util
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "check_layout.py"


def test_layout_has_no_problems():
    spec = importlib.util.spec_from_file_location("check_layout", SCRIPT)
    assert spec is not None and spec.loader is not None
    check_layout = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(check_layout)
    assert check_layout.check() == []
