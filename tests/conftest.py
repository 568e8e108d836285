"""Shared test set-up: offline model hubs, the small real index several test modules read, the
generated sample paper parsed by each PDF parser, and the web app module.

The small index is the shipped reading lists (summary entries and title cards of every paper, no
PDFs) embedded with the model-free hash embedder. It is built once per session; each module that
asks for one gets its own copy, so one module's history or rebuilds never leak into another's.
The sample paper is written and parsed once per session and parser (the page and chunk tests
read it, never change it).
"""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never reach the hub from tests
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import shutil
import socket
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

import pdfgen
from paperqa import Library, Settings
from paperqa.app.web import load_app_module
from paperqa.parse.pdftext import PARSERS, parse_pdf
from paperqa.records import Page


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


@pytest.fixture(scope="session", params=PARSERS)
def parser(request: pytest.FixtureRequest) -> str:
    """Every page and chunk test runs with both parsers: page attribution must not depend on it."""
    return request.param


@pytest.fixture(scope="session", params=[1, 2], ids=["one-column", "two-column"])
def sample(
    request: pytest.FixtureRequest, parser: str, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Any, list[Page]]:
    """(spec, parsed pages) of the generated sample paper, one- or two-column, by `parser`."""
    spec = pdfgen.sample_spec(columns=request.param)
    path = pdfgen.write_pdf(spec, tmp_path_factory.mktemp("pdf") / f"zebra{request.param}.pdf")
    return spec, parse_pdf(path, "zebra", parser)


@pytest.fixture(scope="session")
def ui() -> ModuleType:
    """The web app module (ui/app.py), imported once per process."""
    return load_app_module()


@pytest.fixture(scope="session")
def free_port() -> Callable[[], int]:
    """`free_port()`: a TCP port on 127.0.0.1 that nothing listens on, for a server under test."""

    def pick() -> int:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind(("127.0.0.1", 0))
            return int(s.getsockname()[1])

    return pick
