"""Benchmark PDF parsing and chunking on a folder of PDFs.

Prints, per PDF and in total: pages, parse and chunk throughput (pages/second),
number of chunks, chunk size in words (min/p50/p90/max), and which share of the
chunk text is references, appendix, or junk.

Junk is measured independently of the cleaner, on the chunk text:
  print junk  - arXiv stamps, ligature glyphs, lone page-number lines, and running
                header/footer lines (lines that pypdf's raw text has among the first or
                last 2 lines of >= 40% of pages, digits allowed to vary, that reappear
                verbatim in a chunk beyond page 1, where the title often is the header);
  debris      - lines (paragraphs) of >= 20 characters of which under half are
                letters: formulas, table rows and figure labels, content that embeds
                badly but is not an artefact of printing.

    .venv/bin/python scripts/bench_ingest.py [FOLDER] [--json]
FOLDER defaults to $PAPERQA_TEST_PDFS, else ../shared/pdfs next to the checkout.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import sys
import time
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path

from paperqa.chunking import chunk_pages
from paperqa.pdftext import PdfError, pages_from_raw, read_raw_pages
from paperqa.records import Chunk

STAMP = re.compile(r"arXiv:\s*\d{4}\.\d{4,5}(?:v\d+)?\s*\[[\w.\-]+\]\s*\d{1,2}\s*[A-Z][a-z]{2}\s*\d{4}")
LIGATURE = re.compile("[\ufb00-\ufb06]")
PAGE_NUMBER_LINE = re.compile(r"(?m)^\d{1,3}$")


@dataclass
class Row:
    file: str
    pages: int = 0
    extract_s: float = 0.0  # pypdf text extraction
    clean_s: float = 0.0  # our cleaning and section tagging
    chunk_s: float = 0.0
    chunks: int = 0
    words_min: int = 0
    words_p50: int = 0
    words_p90: int = 0
    words_max: int = 0
    chars: int = 0
    references_share: float = 0.0
    appendix_share: float = 0.0
    print_junk_share: float = 0.0
    debris_share: float = 0.0
    error: str = ""


def percentile(values: list[int], q: float) -> int:
    if not values:
        return 0
    s = sorted(values)
    return s[min(len(s) - 1, max(0, math.ceil(q * len(s)) - 1))]


def raw_running_lines(raw_pages: list[str]) -> set[str]:
    """Lines near the top/bottom of >= 40% of pages in pypdf's raw text (digits vary)."""
    if len(raw_pages) < 3:
        return set()
    seen: Counter[str] = Counter()
    lines_by_key: dict[str, set[str]] = {}
    for raw in raw_pages:
        lines = [x.strip() for x in raw.split("\n") if x.strip()]
        keys = set()
        for line in lines[:2] + lines[-2:]:
            key = re.sub(r"\d+", "#", line)
            if len(key.strip("# ")) >= 4:
                keys.add(key)
                lines_by_key.setdefault(key, set()).add(line)
        seen.update(keys)
    need = max(2, math.ceil(0.4 * len(raw_pages)))
    return {line for key, c in seen.items() if c >= need for line in lines_by_key[key]}


def junk_chars(chunks: list[Chunk], running: set[str]) -> tuple[int, int]:
    """(print junk chars, debris chars) over the chunks."""
    printed = debris = 0
    for c in chunks:
        text = c.text
        printed += sum(len(m.group(0)) for m in STAMP.finditer(text))
        printed += len(LIGATURE.findall(text))
        printed += sum(len(m.group(0)) for m in PAGE_NUMBER_LINE.finditer(text))
        if c.page_end > 1:  # page 1 has the title, which is often also the running header
            printed += sum(len(line) * text.count(line) for line in running if len(line) >= 8)
        for line in text.split("\n"):
            chars = line.replace(" ", "")
            if len(chars) >= 20 and sum(ch.isalpha() for ch in chars) < 0.5 * len(chars):
                debris += len(line)
    return printed, debris


def bench_file(path: Path, max_words: int, overlap_words: int) -> tuple[Row, list[int]]:
    """One PDF's row, and the word count of each of its chunks."""
    row = Row(file=path.name)
    try:
        t0 = time.perf_counter()
        raw = read_raw_pages(path)
        t1 = time.perf_counter()
        pages = pages_from_raw(raw, path.stem, source=str(path))
        t2 = time.perf_counter()
    except PdfError as e:
        row.error = str(e)
        return row, []
    chunks = chunk_pages(pages, max_words=max_words, overlap_words=overlap_words)
    t3 = time.perf_counter()
    words = [len(c.text.split()) for c in chunks]
    chars = sum(len(c.text) for c in chunks) or 1
    printed, debris = junk_chars(chunks, raw_running_lines(raw))
    row.pages, row.chunks, row.chars = len(pages), len(chunks), chars
    row.extract_s, row.clean_s, row.chunk_s = t1 - t0, t2 - t1, t3 - t2
    row.words_min, row.words_max = min(words, default=0), max(words, default=0)
    row.words_p50, row.words_p90 = percentile(words, 0.5), percentile(words, 0.9)
    row.references_share = sum(len(c.text) for c in chunks if c.zone == "references") / chars
    row.appendix_share = sum(len(c.text) for c in chunks if c.zone == "appendix") / chars
    row.print_junk_share, row.debris_share = printed / chars, debris / chars
    return row, words


def total_row(rows: list[Row], all_words: list[int]) -> Row:
    ok = [r for r in rows if not r.error]
    chars = sum(r.chars for r in ok) or 1

    def share(attr: str) -> float:
        return sum(getattr(r, attr) * r.chars for r in ok) / chars

    return Row(
        file="TOTAL",
        pages=sum(r.pages for r in ok),
        extract_s=sum(r.extract_s for r in ok),
        clean_s=sum(r.clean_s for r in ok),
        chunk_s=sum(r.chunk_s for r in ok),
        chunks=sum(r.chunks for r in ok),
        words_min=min(all_words, default=0),
        words_p50=percentile(all_words, 0.5),
        words_p90=percentile(all_words, 0.9),
        words_max=max(all_words, default=0),
        chars=chars,
        references_share=share("references_share"),
        appendix_share=share("appendix_share"),
        print_junk_share=share("print_junk_share"),
        debris_share=share("debris_share"),
        error=f"{len(rows) - len(ok)} failed" if len(ok) < len(rows) else "",
    )


def print_table(rows: list[Row]) -> None:
    head = (
        f"{'file':<16}{'pages':>6}{'pdf p/s':>9}{'clean p/s':>10}{'chunk p/s':>10}{'chunks':>7}"
        f"{'min':>5}{'p50':>5}{'p90':>5}{'max':>5}{'refs':>7}{'appx':>7}{'junk':>8}{'debris':>8}"
    )
    print(head)
    print("-" * len(head))
    for r in rows:
        if r.error and r.file != "TOTAL":
            print(f"{r.file:<16}  ERROR {r.error}")
            continue

        def rate(seconds: float, pages: int = r.pages) -> str:
            return f"{pages / seconds:.0f}" if seconds > 0 else "-"

        print(
            f"{r.file:<16}{r.pages:>6}{rate(r.extract_s):>9}{rate(r.clean_s):>10}{rate(r.chunk_s):>10}"
            f"{r.chunks:>7}{r.words_min:>5}{r.words_p50:>5}{r.words_p90:>5}{r.words_max:>5}"
            f"{r.references_share:>7.1%}{r.appendix_share:>7.1%}{r.print_junk_share:>8.3%}{r.debris_share:>8.2%}"
        )


def default_folder() -> Path:
    env = os.environ.get("PAPERQA_TEST_PDFS")
    if env:
        return Path(env)
    return Path(__file__).resolve().parent.parent.parent / "shared" / "pdfs"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("folder", nargs="?", type=Path, default=None)
    ap.add_argument("--max-words", type=int, default=160)
    ap.add_argument("--overlap", type=int, default=30)
    ap.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = ap.parse_args(argv)
    folder = args.folder or default_folder()
    files = sorted(folder.glob("*.pdf"))
    if not files:
        print(f"no PDFs in {folder}", file=sys.stderr)
        return 2
    rows, all_words = [], []
    for path in files:
        row, words = bench_file(path, args.max_words, args.overlap)
        rows.append(row)
        all_words.extend(words)
    rows.append(total_row(rows, all_words))
    if args.json:
        print(json.dumps([asdict(r) for r in rows], indent=2))
    else:
        print_table(rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
