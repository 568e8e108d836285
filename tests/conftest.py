"""Shared test set-up: offline model hubs, and the small real index several test modules read.

The small index is the shipped reading lists (summary entries and title cards of every paper, no
PDFs) embedded with the model-free hash embedder. It is built once per session; each module that
asks for one gets its own copy, so one module's history or rebuilds never leak into another's.
"""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never reach the hub from tests
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from paperqa import Library, Settings


@pytest.fixture(scope="session")
def _small_index_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("small-index")
    stats = Library(Settings.load(env={}, home=home, embedder="hash", history=False)).build_index()
    assert stats["index"]["chunks"] > 200  # summary entries and title cards of 111 papers
    return home


@pytest.fixture(scope="session")
def small_index_home(
    _small_index_template: Path, tmp_path_factory: pytest.TempPathFactory
) -> Callable[[str], Path]:
    """`small_index_home(name)`: a fresh data root holding the small real index, and nothing else."""

    def copy(name: str) -> Path:
        home = tmp_path_factory.mktemp(name) / "home"
        shutil.copytree(_small_index_template, home)
        return home

    return copy
