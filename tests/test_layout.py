"""The package keeps its shape (issue 10): sizes, no import cycle, imports at the top, and imports
that follow the pipeline (catalog -> corpus -> parse -> search -> answer -> keep/evaluate -> app)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "check_layout.py"


@pytest.fixture(scope="module")
def check_layout() -> ModuleType:
    spec = importlib.util.spec_from_file_location("check_layout", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_layout_has_no_problems(check_layout: ModuleType):
    assert check_layout.check() == []


def test_an_import_against_the_pipeline_is_a_problem(check_layout: ModuleType):
    graph = {
        "paperqa.corpus.identity": {"paperqa.parse.pdftext", "paperqa.catalog.lists", "paperqa.records"},
        "paperqa.keep.export": {"paperqa.evaluate.run", "paperqa.corpus.manifest"},
        "paperqa.records": {"paperqa.search.keywords"},
        "paperqa.search.backend": {"paperqa"},  # the root, for __version__
        "paperqa.answer.ask": {"paperqa.library"},
        "paperqa.app.cli": {"paperqa.library", "paperqa.answer"},
    }
    problems = check_layout.direction(graph)
    assert len(problems) == 4, problems
    assert all("against the pipeline" in p for p in problems)
    assert any(
        "paperqa.corpus.identity (corpus) imports paperqa.parse.pdftext (parse)" in p for p in problems
    )
    assert any("paperqa.keep.export" in p for p in problems)  # siblings import neither other
    assert any("paperqa.records (shared)" in p for p in problems)
    assert any("paperqa.answer.ask" in p for p in problems)
