"""Every path that builds llama.cpp builds a portable library (issue 8): a fresh machine with another
CPU (AVX-512, AMX) must not get instructions compiled for the machine the wheel was built on, and
pip's cache must not hand back a native wheel built earlier."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _recipes() -> list[str]:
    text = (ROOT / "Makefile").read_text(encoding="utf-8")
    return [ln.strip() for ln in text.replace("\\\n", " ").splitlines() if ln.startswith("\t")]


def test_every_make_recipe_that_installs_llama_cpp_builds_it_portable_without_pips_cache():
    make = (ROOT / "Makefile").read_text(encoding="utf-8")
    build = re.search(r"^LLAMA_BUILD\s*:?=\s*(.+)$", make, re.M)
    assert build and "-DGGML_NATIVE=OFF" in build.group(1) and "FORCE_CMAKE=1" in build.group(1)
    installs = [r for r in _recipes() if "pip" in r.lower() and re.search(r"\[llm|llama-cpp", r)]
    assert installs, "no recipe installs the LLM extras"
    for recipe in installs:
        assert "$(LLAMA_BUILD)" in recipe and "--no-cache-dir" in recipe, recipe


def test_docs_never_show_a_native_llama_cpp_build():
    for doc in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        for line in doc.read_text(encoding="utf-8").splitlines():
            if re.search(r"pip install[^\n]*llama", line):
                assert "GGML_NATIVE=OFF" in line, f"{doc.name}: {line}"
