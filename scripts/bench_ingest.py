"""Benchmark PDF parsing and chunking on a folder of PDFs, for both parsers side by side.

Each PDF is parsed with PDFium (pypdfium2, the default) and with pypdf, in the same run.
Prints, per PDF and parser: extraction speed (pages/second), number of chunks, which
share of the chunk text is references, appendix, print junk and debris, and section
coverage (share of the chunk text under a heading, and how many headings were found);
then the totals per parser with clean/chunk throughput and chunk sizes in words
(min/p50/p90/max), and whether PDFium is at least as clean as pypdf.

Junk is measured independently of the cleaner, on the chunk text:
  print junk  - arXiv stamps, ligature glyphs, lone page-number lines, and running
                header/footer lines (lines that either parser's raw text has among the
                first or last 2 lines of >= 40% of pages, digits allowed to vary, that
                reappear verbatim in a chunk beyond page 1, where the title often is the
                header); the same lines are looked for in both parsers' chunks;
  debris      - lines (paragraphs) of >= 20 characters of which under half are
                letters: formulas, table rows and figure labels, content that embeds
                badly but is not an artefact of printing.

    .venv/bin/python scripts/bench_ingest.py [FOLDER] [--parser pdfium|pypdf] [--json]
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

from paperqa.parse.chunking import chunk_pages
from paperqa.parse.pdftext import PARSERS, PdfError, pages_from_raw, read_raw_pages, sections
from paperqa.records import Chunk

STAMP = re.compile(r"arXiv:\s*\d{4}\.\d{4,5}(?:v\d+)?\s*\[[\w.\-]+\]\s*\d{1,2}\s*[A-Z][a-z]{2}\s*\d{4}")
LIGATURE = re.compile("[\ufb00-\ufb06]")
PAGE_NUMBER_LINE = re.compile(r"(?m)^\d{1,3}$")


@dataclass
class Row:
    file: str
    parser: str = ""
    pages: int = 0
    extract_s: float = 0.0  # the parser's text extraction
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
    section_share: float = 0.0  # chunk text under a heading
    headings: int = 0  # section headings found
    error: str = ""


def percentile(values: list[int], q: float) -> int:
    if not values:
        return 0
    s = sorted(values)
    return s[min(len(s) - 1, max(0, math.ceil(q * len(s)) - 1))]


def raw_running_lines(raw_pages: list[str]) -> set[str]:
    """Lines near the top/bottom of >= 40% of pages in a parser's raw text (digits vary)."""
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


def bench_file(
    path: Path, parser: str, max_words: int, overlap_words: int, running: set[str] | None = None
) -> tuple[Row, list[int]]:
    """One PDF's row for one parser, and the word count of each of its chunks.
    `running`: the running header/footer lines to count as junk (default: this parser's)."""
    row = Row(file=path.name, parser=parser)
    try:
        t0 = time.perf_counter()
        raw = read_raw_pages(path, parser)
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
    printed, debris = junk_chars(chunks, raw_running_lines(raw) if running is None else running)
    row.pages, row.chunks, row.chars = len(pages), len(chunks), chars
    row.extract_s, row.clean_s, row.chunk_s = t1 - t0, t2 - t1, t3 - t2
    row.words_min, row.words_max = min(words, default=0), max(words, default=0)
    row.words_p50, row.words_p90 = percentile(words, 0.5), percentile(words, 0.9)
    row.references_share = sum(len(c.text) for c in chunks if c.zone == "references") / chars
    row.appendix_share = sum(len(c.text) for c in chunks if c.zone == "appendix") / chars
    row.print_junk_share, row.debris_share = printed / chars, debris / chars
    row.section_share = sum(len(c.text) for c in chunks if c.section) / chars
    row.headings = len([s for s in sections(pages) if s.title])
    return row, words


def running_lines(path: Path, parsers: list[str]) -> set[str]:
    """Running header/footer lines in any of the parsers' raw text, so that every parser's
    chunks are searched for the same junk (a parser that orders a header mid-page must
    not hide it from the measure)."""
    out: set[str] = set()
    for parser in parsers:
        try:
            out |= raw_running_lines(read_raw_pages(path, parser))
        except PdfError:
            continue
    return out


def total_row(rows: list[Row], all_words: list[int], parser: str = "") -> Row:
    ok = [r for r in rows if not r.error]
    chars = sum(r.chars for r in ok) or 1

    def share(attr: str) -> float:
        return sum(getattr(r, attr) * r.chars for r in ok) / chars

    return Row(
        file="TOTAL",
        parser=parser,
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
        section_share=share("section_share"),
        headings=sum(r.headings for r in ok),
        error=f"{len(rows) - len(ok)} failed" if len(ok) < len(rows) else "",
    )


def _rate(seconds: float, pages: int) -> str:
    return f"{pages / seconds:.0f}" if seconds > 0 else "-"


def _cells(r: Row) -> str:
    if r.error and r.file != "TOTAL":
        return f"{'ERROR ' + r.error[:48]:<54}"
    return (
        f"{_rate(r.extract_s, r.pages):>6}{r.chunks:>7}{r.references_share:>7.1%}{r.appendix_share:>7.1%}"
        f"{r.print_junk_share:>8.3%}{r.debris_share:>7.2%}{r.section_share:>7.1%}{r.headings:>5}"
    )


def print_table(by_parser: dict[str, list[Row]]) -> None:
    """Per PDF, the parsers side by side; then totals per parser with sizes and speeds."""
    parsers = list(by_parser)
    cell = f"{'p/s':>6}{'chunks':>7}{'refs':>7}{'appx':>7}{'junk':>8}{'debris':>7}{'sect':>7}{'hdgs':>5}"
    width = len(cell) + 3
    print(f"{'':<16}{'':>6}" + "".join(f" | {p:<{width - 3}}" for p in parsers))
    head = f"{'file':<16}{'pages':>6}" + "".join(f" | {cell}" for _ in parsers)
    print(head)
    print("-" * len(head))
    rows = list(zip(*by_parser.values(), strict=True))
    for i, group in enumerate(rows):
        if i == len(rows) - 1:
            print("-" * len(head))
        pages = next((r.pages for r in group if not r.error), 0)
        print(f"{group[0].file:<16}{pages:>6}" + "".join(f" | {_cells(r)}" for r in group))
    print()
    sub = (
        f"{'parser':<8}{'pages':>6}{'pdf p/s':>9}{'clean p/s':>10}{'chunk p/s':>10}{'chunks':>7}"
        f"{'min':>5}{'p50':>5}{'p90':>5}{'max':>5}{'failed':>8}"
    )
    print(sub)
    print("-" * len(sub))
    for parser, prs in by_parser.items():
        t = prs[-1]
        print(
            f"{parser:<8}{t.pages:>6}{_rate(t.extract_s, t.pages):>9}{_rate(t.clean_s, t.pages):>10}"
            f"{_rate(t.chunk_s, t.pages):>10}{t.chunks:>7}{t.words_min:>5}{t.words_p50:>5}{t.words_p90:>5}"
            f"{t.words_max:>5}{t.error or '0':>8}"
        )
    if set(parsers) == {"pdfium", "pypdf"}:
        print()
        print(verdict(by_parser["pdfium"], by_parser["pypdf"]))


def verdict(pdfium: list[Row], pypdf: list[Row]) -> str:
    """Is PDFium at least as clean as pypdf over all PDFs (the condition for its default)?
    Shares are compared as printed (junk 0.001%, debris 0.01%, coverage 0.1%): a few
    characters' difference in a measure is not a difference in cleanliness."""
    a, b = pdfium[-1], pypdf[-1]
    speed = (b.extract_s / a.extract_s) if a.extract_s > 0 else 0.0

    def failed(rows: list[Row]) -> int:
        return sum(1 for r in rows[:-1] if r.error)

    checks = {
        "print junk": round(a.print_junk_share, 5) <= round(b.print_junk_share, 5),
        "debris": round(a.debris_share, 4) <= round(b.debris_share, 4),
        "section coverage": round(a.section_share, 3) >= round(b.section_share, 3),
        "headings found": a.headings >= b.headings,
        "failed PDFs": failed(pdfium) <= failed(pypdf),
    }
    bad = [k for k, ok in checks.items() if not ok]
    clean = "at least as clean as pypdf" if not bad else f"less clean than pypdf in: {', '.join(bad)}"
    return f"pdfium extracts {speed:.1f}x faster than pypdf and is {clean}."


def default_folder() -> Path:
    env = os.environ.get("PAPERQA_TEST_PDFS")
    if env:
        return Path(env)
    return Path(__file__).resolve().parent.parent.parent / "shared" / "pdfs"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("folder", nargs="?", type=Path, default=None)
    ap.add_argument("--parser", choices=PARSERS, action="append", help="only this parser (repeatable)")
    ap.add_argument("--max-words", type=int, default=160)
    ap.add_argument("--overlap", type=int, default=30)
    ap.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = ap.parse_args(argv)
    folder = args.folder or default_folder()
    files = sorted(folder.glob("*.pdf"))
    if not files:
        print(f"no PDFs in {folder}", file=sys.stderr)
        return 2
    parsers = args.parser or list(PARSERS)
    by_parser: dict[str, list[Row]] = {p: [] for p in parsers}
    words: dict[str, list[int]] = {p: [] for p in parsers}
    for path in files:
        running = running_lines(path, parsers)
        for parser in parsers:
            row, w = bench_file(path, parser, args.max_words, args.overlap, running)
            by_parser[parser].append(row)
            words[parser].extend(w)
    for parser in parsers:
        by_parser[parser].append(total_row(by_parser[parser], words[parser], parser))
    if args.json:
        print(json.dumps({p: [asdict(r) for r in rows] for p, rows in by_parser.items()}, indent=2))
    else:
        print(f"{len(files)} PDFs in {folder}")
        print_table(by_parser)
    return 0


if __name__ == "__main__":
    sys.exit(main())
