#!/usr/bin/env python3
"""Check evaluation question files (JSONL) against the real PDFs and the catalog.

Usage: python eval/check_questions.py eval/questions_pdf.jsonl [more.jsonl ...]

For every question it checks the schema and that the answer key is grounded:

* single / compare: every nugget has at least one surface form without CJK
  characters that occurs in the text of at least one of the listed pages
  (1-based physical page numbers of the PDF files);
* list: every nugget has a form that occurs in the title or an alias of one of
  the expected papers in corpus/papers.toml, and every expected paper is named
  by some nugget;
* unanswerable: expect is empty (nuggets are optional).

Papers without a PDF in the PDF directory (answered from the reading lists)
may have empty pages; their nuggets cannot be grounded here and are counted as
"not grounded" in the summary (a warning if the paper does have a PDF). Conversation records ({"turns": [...]}) are
checked turn by turn: every turn that has "expect" is checked like a single
question.

Matching is case-insensitive and whitespace-insensitive, after NFKC
normalisation (which expands ligatures such as "fi"), straightening of curly
quotes, and joining of words hyphenated across line breaks (both the joined and
the unjoined text are searched).

PDFs are read from $PAPERQA_TEST_PDFS, or else from ../shared/pdfs relative to
the repository root. Page text is extracted once with pypdf and cached under
$TMPDIR/paperqa_eval_pages/. Prints every failure and exits 1 if there is any.
"""
from __future__ import annotations

import json
import os
import re
import sys
import tempfile
import tomllib
import unicodedata
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CATALOG = REPO / "corpus" / "papers.toml"
LANGS = {"en", "zh"}
KINDS = {"single", "compare", "list", "unanswerable"}
ID_RE = re.compile(r"^[a-z0-9][a-z0-9.\-]*$")
CJK_RE = re.compile(r"[\u3400-\u9fff\uf900-\ufaff\u3000-\u303f\uff00-\uffef]")
QUOTES = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"',
                        "\u2032": "'", "\u00b4": "'", "\u2212": "-", "\u2013": "-"})


def pdf_dir() -> Path:
    env = os.environ.get("PAPERQA_TEST_PDFS")
    return Path(env) if env else (REPO.parent / "shared" / "pdfs").resolve()


def squash(text: str) -> str:
    """NFKC, straight quotes, lowercase, drop all whitespace."""
    text = unicodedata.normalize("NFKC", text).translate(QUOTES).lower()
    return re.sub(r"\s+", "", text)


def page_variants(text: str) -> tuple[str, str]:
    text = unicodedata.normalize("NFKC", text)
    joined = re.sub(r"(\w)-[ \t]*\r?\n[ \t]*(\w)", r"\1\2", text)
    return squash(joined), squash(text)


def is_english(form: str) -> bool:
    return not CJK_RE.search(form)


class Pages:
    """Page texts of the PDFs, extracted once and cached on disk."""

    def __init__(self, directory: Path):
        self.directory = directory
        self.cache_dir = Path(tempfile.gettempdir()) / "paperqa_eval_pages"
        self.loaded: dict[str, list[tuple[str, str]] | None] = {}

    def pdf(self, paper_id: str) -> Path:
        return self.directory / f"{paper_id}.pdf"

    def get(self, paper_id: str) -> list[tuple[str, str]] | None:
        if paper_id not in self.loaded:
            self.loaded[paper_id] = self._load(paper_id)
        return self.loaded[paper_id]

    def _load(self, paper_id: str) -> list[tuple[str, str]] | None:
        path = self.pdf(paper_id)
        if not path.is_file():
            return None
        stat = path.stat()
        key = f"{paper_id}-{stat.st_size}-{int(stat.st_mtime)}.json"
        cached = self.cache_dir / key
        texts: list[str]
        if cached.is_file():
            texts = json.loads(cached.read_text(encoding="utf-8"))
        else:
            from pypdf import PdfReader  # imported lazily: only needed on a cache miss

            reader = PdfReader(str(path))
            texts = [(page.extract_text() or "") for page in reader.pages]
            self.cache_dir.mkdir(parents=True, exist_ok=True)
            tmp = cached.with_suffix(".tmp")
            tmp.write_text(json.dumps(texts, ensure_ascii=False), encoding="utf-8")
            tmp.replace(cached)
        return [page_variants(t) for t in texts]


def load_catalog() -> dict[str, list[str]]:
    data = tomllib.loads(CATALOG.read_text(encoding="utf-8"))
    names: dict[str, list[str]] = {}
    for entry in data.get("paper", []) + data.get("item", []):
        names[entry["id"]] = [entry["title"], *entry.get("aliases", [])]
    return names


def check_nuggets_shape(nuggets, err) -> bool:
    if not isinstance(nuggets, list) or not 1 <= len(nuggets) <= 4:
        err("nuggets must be a list of 1-4 nuggets")
        return False
    ok = True
    for i, nugget in enumerate(nuggets):
        if not isinstance(nugget, list) or not nugget or not all(
            isinstance(f, str) and f.strip() for f in nugget
        ):
            err(f"nugget {i} must be a non-empty list of non-empty strings")
            ok = False
        elif not any(is_english(f) for f in nugget):
            err(f"nugget {i} has no English (non-CJK) form: {nugget}")
            ok = False
    return ok


def check_record(q: dict, catalog, pages: Pages, seen: set, err, warn, stats) -> None:
    if "turns" not in q:
        check_question(q, catalog, pages, seen, err, warn, stats)
        return
    for field in ("id", "lang", "turns"):
        if field not in q:
            err(f"missing field {field!r}")
            return
    if q["id"] in seen:
        err("duplicate id")
    seen.add(q["id"])
    turns = q["turns"]
    if not isinstance(turns, list) or not turns:
        err("turns must be a non-empty list")
        return
    for i, turn in enumerate(turns):
        if not isinstance(turn, dict) or not isinstance(turn.get("q"), str):
            err(f"turn {i} needs a question 'q'")
            continue
        if "expect" in turn:
            pseudo = {"id": f"{q['id']}#turn{i}", "q": turn["q"], "lang": q["lang"],
                      "kind": turn.get("kind", "single"), **{k: turn[k] for k in
                      ("expect", "expect_set", "pages", "nuggets") if k in turn}}
            check_question(pseudo, catalog, pages, set(), err, warn, stats,
                           check_lang=False)


def check_question(q: dict, catalog, pages: Pages, seen: set, err, warn, stats,
                   check_lang: bool = True) -> None:
    for field in ("id", "q", "lang", "kind"):
        if field not in q:
            err(f"missing field {field!r}")
            return
    qid = q["id"]
    if qid in seen:
        err("duplicate id")
    seen.add(qid)
    if q["kind"] == "unanswerable":
        if q.get("expect", []) != [] or q.get("expect_set", []) != []:
            err("unanswerable question must have an empty expect")
        return
    if "nuggets" not in q:
        err("missing field 'nuggets'")
        return
    if not isinstance(q["q"], str) or len(q["q"].strip()) < 4:
        err("question text too short")
    if q["lang"] not in LANGS:
        err(f"lang must be one of {sorted(LANGS)}")
    elif not check_lang:
        pass
    elif q["lang"] == "zh" and not CJK_RE.search(q["q"]):
        err("lang is zh but the question has no Chinese characters")
    elif q["lang"] == "en" and CJK_RE.search(q["q"]):
        err("lang is en but the question contains Chinese characters")
    kind = q["kind"]
    if kind not in KINDS:
        err(f"kind must be one of {sorted(KINDS)}")
        return

    if kind == "single":
        expected = q.get("expect")
        if not (isinstance(expected, list) and len(expected) == 1):
            err("single question needs expect with exactly one paper id")
            return
    else:
        expected = q.get("expect_set")
        minimum = 2
        if not (isinstance(expected, list) and len(expected) >= minimum
                and len(set(expected)) == len(expected)):
            err(f"{kind} question needs expect_set with >= {minimum} distinct paper ids")
            return
        if kind == "compare" and len(expected) != 2:
            err("compare question needs exactly two papers in expect_set")
    for pid in expected:
        if pid not in catalog:
            err(f"unknown paper id {pid!r} (not in papers.toml)")
            return

    page_map = q.get("pages", {})
    if not isinstance(page_map, dict):
        err("pages must be an object {paper_id: [page, ...]}")
        return
    for pid, nums in page_map.items():
        if pid not in expected:
            err(f"pages names {pid!r}, which is not an expected paper")
            continue
        if not isinstance(nums, list) or not nums or not all(
            isinstance(n, int) and not isinstance(n, bool) for n in nums
        ):
            err(f"pages[{pid!r}] must be a non-empty list of integers")
            continue
        texts = pages.get(pid)
        if texts is None:
            err(f"no PDF for {pid!r} in {pages.directory}")
            continue
        bad = [n for n in nums if not 1 <= n <= len(texts)]
        if bad:
            err(f"pages[{pid!r}] out of range 1..{len(texts)}: {bad}")

    if not check_nuggets_shape(q["nuggets"], err):
        return
    for nugget in q["nuggets"]:
        for form in nugget:
            sq = squash(form)
            if sq.isascii() and sq.isalpha() and len(sq) <= 2:
                warn(f"very short form {form!r} may match by accident")

    if kind == "list":
        names = {pid: [squash(n) for n in catalog[pid]] for pid in expected}
        covered = set()
        for i, nugget in enumerate(q["nuggets"]):
            hit = {pid for pid, ns in names.items()
                   for form in nugget if any(squash(form) in n for n in ns)}
            if not hit:
                err(f"list nugget {i} {nugget} matches no title/alias of the expected papers")
            covered |= hit
        missing = [pid for pid in expected if pid not in covered]
        if missing:
            err(f"expected papers not named by any nugget: {missing}")
        return

    # single / compare: grounded in the listed pages (papers with a PDF only)
    with_pdf = [pid for pid in expected if pages.get(pid) is not None]
    missing_pages = [pid for pid in with_pdf if pid not in page_map]
    if missing_pages:
        warn(f"no pages for {missing_pages} although a PDF exists: answer key not grounded")
    if not any(pid in page_map for pid in with_pdf):
        stats["ungrounded"] += 1
        return
    corpus: list[tuple[str, str]] = []
    for pid, nums in page_map.items():
        texts = pages.get(pid)
        if texts is None:
            return
        corpus.extend(texts[n - 1] for n in nums if 1 <= n <= len(texts))
    for i, nugget in enumerate(q["nuggets"]):
        forms = [squash(f) for f in nugget if is_english(f)]
        if not any(f in joined or f in raw for f in forms for joined, raw in corpus):
            err(f"nugget {i} {nugget}: no English form found on pages {page_map}")


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__)
        return 2
    directory = pdf_dir()
    if not directory.is_dir():
        print(f"PDF directory not found: {directory} (set PAPERQA_TEST_PDFS)")
        return 1
    catalog = load_catalog()
    pages = Pages(directory)
    failures = 0
    warnings = 0
    total = 0
    seen: set = set()
    stats = {"ungrounded": 0}
    for name in argv:
        path = Path(name)
        for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            total += 1
            where = f"{path.name}:{lineno}"
            try:
                q = json.loads(line)
            except json.JSONDecodeError as exc:
                print(f"FAIL {where}: invalid JSON: {exc}")
                failures += 1
                continue
            label = f"{where} [{q.get('id', '?')}]"

            def err(msg: str, label=label) -> None:
                nonlocal failures
                failures += 1
                print(f"FAIL {label}: {msg}")

            def warn(msg: str, label=label) -> None:
                nonlocal warnings
                warnings += 1
                print(f"warn {label}: {msg}")

            check_record(q, catalog, pages, seen, err, warn, stats)
    print(f"{total} records, {failures} failures, {warnings} warnings, "
          f"{stats['ungrounded']} not grounded in PDF pages")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
