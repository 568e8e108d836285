"""Generate test PDFs with fpdf2 whose text and page of every sentence are known.

A document is a list of pages, each a list of blocks (paragraphs or headings) that
are laid out on that page and nowhere else, so a test knows which page a sentence
is on. Line breaks are computed here, not by fpdf2, so that a word can be forced to
break across a line end: "trans~formers" prints "trans-" at the end of a line and
"formers" at the start of the next; "pre-~trained" breaks after its own hyphen.
`plain(text)` gives what a perfect parser should return for a block.

The print artefacts the parser must remove are switchable: a running header, a
footer with the page number, an arXiv stamp rotated in the left margin (or spelled
one character per text run), two-column layout, and ligature glyphs (U+FB01 ...),
which need a TTF with those glyphs (DejaVu); without one the ligatures are written
as plain letters and `LIGATURE_FONT` is None.
"""

from __future__ import annotations

import functools
import os
import re
from dataclasses import dataclass, replace
from pathlib import Path

from fpdf import FPDF

FONT_DIRS = (Path("/usr/share/fonts/truetype/dejavu"), Path("/usr/share/fonts/dejavu"))


def _find_font(name: str) -> Path | None:
    for d in FONT_DIRS:
        if (d / name).is_file():
            return d / name
    return None


LIGATURE_FONT = _find_font("DejaVuSerif.ttf")
LIGATURE_FONT_BOLD = _find_font("DejaVuSerif-Bold.ttf")
LIGATURES = {"ﬀ": "ff", "ﬁ": "fi", "ﬂ": "fl", "ﬃ": "ffi", "ﬄ": "ffl"}

PAGE_W, PAGE_H, MARGIN = 612.0, 792.0, 72.0  # US letter, points
FONT_SIZE, LEADING, HEADING_SIZE = 10.0, 13.0, 12.0
COLUMN_GAP = 24.0


@dataclass(frozen=True)
class Block:
    text: str
    heading: bool = False


@dataclass(frozen=True)
class DocSpec:
    pages: tuple[tuple[Block, ...], ...]
    columns: int = 1
    header: str = ""  # on every page, top
    footer: str = ""  # on every page, bottom left
    page_numbers: bool = True  # bottom right, same baseline as the footer
    stamp: str = ""  # page 1, left margin
    stamp_style: str = "rotated"  # rotated | chars (one text run per character)


def plain(text: str) -> str:
    """The text a perfect parser returns: break markers gone, ligatures as letters."""
    text = text.replace("-~", "-").replace("~", "")
    for lig, letters in LIGATURES.items():
        text = text.replace(lig, letters)
    return text


def _printable(text: str) -> str:
    if LIGATURE_FONT is None:
        for lig, letters in LIGATURES.items():
            text = text.replace(lig, letters)
    return text


class _Writer:
    def __init__(self, spec: DocSpec) -> None:
        self.spec = spec
        self.pdf = FPDF(unit="pt", format=(PAGE_W, PAGE_H))
        self.pdf.set_auto_page_break(False)
        self.pdf.set_margins(MARGIN, MARGIN)
        if LIGATURE_FONT is not None:
            self.pdf.add_font("Body", "", str(LIGATURE_FONT))
            self.pdf.add_font("Body", "B", str(LIGATURE_FONT_BOLD or LIGATURE_FONT))
            self.family = "Body"
        else:
            self.family = "Times"
        width = PAGE_W - 2 * MARGIN
        self.col_w = (width - COLUMN_GAP * (spec.columns - 1)) / spec.columns

    def font(self, bold: bool = False, size: float = FONT_SIZE) -> None:
        self.pdf.set_font(self.family, "B" if bold else "", size)

    def wrap(self, text: str, width: float) -> list[str]:
        """Greedy line breaking; "~" inside a word forces a hyphenated break there."""
        lines: list[str] = []
        cur = ""
        for word in _printable(text).split():
            pieces = word.split("~")
            for k, piece in enumerate(pieces):
                last = k == len(pieces) - 1
                shown = piece if last or piece.endswith("-") else piece + "-"
                trial = f"{cur} {shown}" if cur and k == 0 else cur + shown
                if cur and self.pdf.get_string_width(trial) > width:
                    lines.append(cur)
                    cur = shown
                else:
                    cur = trial
                if not last:  # the forced break
                    lines.append(cur)
                    cur = ""
        if cur:
            lines.append(cur)
        return lines

    def page(self, number: int, blocks: tuple[Block, ...]) -> None:
        spec, pdf = self.spec, self.pdf
        pdf.add_page()
        if spec.header:
            self.font(size=8)
            pdf.text(MARGIN, MARGIN / 2, _printable(spec.header))
        if spec.stamp and number == 1:
            self.stamp()
        top, bottom = MARGIN + LEADING, PAGE_H - MARGIN
        col, y = 0, top
        for block in blocks:
            size = HEADING_SIZE if block.heading else FONT_SIZE
            self.font(bold=block.heading, size=size)
            lines = self.wrap(block.text, self.col_w)
            if block.heading:
                y += LEADING / 2
            for line in lines:
                if y > bottom:
                    col, y = col + 1, top
                    if col >= spec.columns:
                        raise ValueError(f"page {number} overflows: {line!r}")
                pdf.text(MARGIN + col * (self.col_w + COLUMN_GAP), y, line)
                y += LEADING
            y += LEADING / 2
        self.font(size=8)
        foot_y = PAGE_H - MARGIN / 2
        if spec.footer:
            pdf.text(MARGIN, foot_y, _printable(spec.footer))
        if spec.page_numbers:
            pdf.text(PAGE_W - MARGIN, foot_y, str(number))

    def stamp(self) -> None:
        pdf, x, y = self.pdf, MARGIN / 2, PAGE_H - 2 * MARGIN
        self.font(size=18)
        if self.spec.stamp_style == "rotated":
            with pdf.rotation(90, x, y):
                pdf.text(x, y, self.spec.stamp)
        else:  # one run per character, going up the margin
            for i, c in enumerate(self.spec.stamp):
                if not c.isspace():
                    pdf.text(x, y - i * 11, c)


def write_pdf(spec: DocSpec, path: Path) -> Path:
    """Write `spec` as a PDF at `path` and return the path."""
    w = _Writer(spec)
    for number, blocks in enumerate(spec.pages, start=1):
        w.page(number, blocks)
    path = Path(path)
    w.pdf.output(str(path))
    return path


# --- the standard test paper -------------------------------------------------------

P = Block


def H(text: str) -> Block:
    return Block(text, heading=True)


# sentences whose page is asserted by the tests
ON_PAGE = {
    1: "We present zebra widgets, an eﬃcient ﬁnetuning approach for counting stripes on the ﬂy.",
    2: "Earlier widget counters stored every stripe twice, which wasted memory.",
    3: "The zebra quantizer stores every weight in exactly four bits.",
    4: "Across all seven benchmarks the zebra quantizer lost 0.37 points on average.",
    5: "The giraffe calibration of the appendix uses a neck length of 2.5 meters.",
    6: "Appendix widgets are evaluated on the okapi split only.",
}
REFERENCE_SENTENCE = "Stripe counting with large widgets. In Proc. of the Widget Workshop, pages 1-9, 2020."
HYPHENATED = {  # as written in the spec -> as a perfect parser returns it
    "trans~formers": "transformers",
    "quan~tization": "quantization",
    "pre-~trained": "pre-trained",
    "back~propagation": "backpropagation",
}


def _filler(topic: str, n: int) -> str:
    """n plain sentences about `topic`, different for every topic and index."""
    verbs = ("measures", "predicts", "compresses", "stores", "ranks", "counts", "scales")
    things = ("stripes", "weights", "gradients", "tokens", "widgets", "adapters", "blocks")
    out = []
    for i in range(n):
        v, t = verbs[(i + len(topic)) % len(verbs)], things[(i * 3 + len(topic)) % len(things)]
        out.append(f"The {topic} stage {i + 1} {v} the {t} of every layer with care.")
    return " ".join(out)


def sample_pages() -> tuple[tuple[Block, ...], ...]:
    return (
        (
            P("Zebra Widgets: Counting Stripes with Quantized Models"),
            P("Ann Author, Ben Writer and Cy Tester"),
            H("Abstract"),
            P(
                ON_PAGE[1] + " Zebra widgets use trans~formers with low precision weights, e.g. four bits, "
                "and match full precision results. " + _filler("abstract", 3)
            ),
            H("1 Introduction"),
            P(
                "Counting stripes is hard (see Fig. 3 and the work of Smith et al. on stripe counting). "
                + _filler("introduction", 10)
                + " Our method relies on quan~tization of every weight. "
                + _filler("motivation", 6)
            ),
        ),
        (
            P(_filler("related", 8) + " " + ON_PAGE[2]),
            H("2 Background"),
            P(
                "A pre-trained widget is the starting point of our method, and most pre-~trained widgets "
                "are large. " + _filler("background", 10)
            ),
            H("2.1 Block-wise Widgets"),
            P(_filler("blockwise", 8) + " Gradients flow by back~propagation through the frozen widget."),
        ),
        (
            H("3 Method"),
            P(_filler("method", 6) + " " + ON_PAGE[3] + " " + _filler("encoding", 5)),
            H("3.1 Double Widgets"),
            P("The ﬂoat oﬀset of each block is stored once. " + _filler("double", 10)),
        ),
        (
            H("4 Experiments"),
            P(_filler("experiment", 8) + " " + ON_PAGE[4] + " " + _filler("evaluation", 4)),
            H("5 Conclusion"),
            P(_filler("conclusion", 6)),
            H("References"),
            P("[1] A. Author and B. Writer. " + REFERENCE_SENTENCE),
            P(
                "[2] C. Tester, D. Reader, and E. Critic. Zebra models are all you need. arXiv preprint 2101.00001, 2021."
            ),
        ),
        (
            P("[3] F. Finder. Quantized stripes. Journal of Widgets, 12(3):45-67, 2019."),
            P("[4] G. Grader and H. Helper. Okapi splits for widget evaluation. In Proc. of Tests, 2022."),
            H("A Appendix: Extra Results"),
            P(ON_PAGE[5] + " " + _filler("appendix", 8)),
        ),
        (
            H("B More Details"),
            P(ON_PAGE[6] + " " + _filler("details", 10)),
        ),
    )


SECTIONS_ON_PAGE = {  # section in force at the top of each page
    1: "",
    2: "1 Introduction",
    3: "3 Method",
    4: "4 Experiments",
    5: "References",
    6: "B More Details",
}
ZONE_ON_PAGE = {1: "body", 2: "body", 3: "body", 4: "body", 5: "references", 6: "appendix"}
HEADER = "Author, Writer and Tester 2024 - Zebra Widgets"
FOOTER = "Workshop on Document Tests 2024"
STAMP = "arXiv:2401.00001v1 [cs.CL] 5 Jan 2024"


def sample_spec(columns: int = 1, **changes: object) -> DocSpec:
    """The standard test paper: header, footer, page numbers and a rotated stamp."""
    spec = DocSpec(pages=sample_pages(), columns=columns, header=HEADER, footer=FOOTER, stamp=STAMP)
    return replace(spec, **changes) if changes else spec


def words_of(text: str) -> str:
    """Whitespace-normalised text, for comparing without caring about line joins."""
    return " ".join(text.split())


def page_plain(spec: DocSpec, page: int) -> str:
    """What page `page` (1-based) should read after cleaning, whitespace-normalised."""
    return words_of(" ".join(plain(b.text) for b in spec.pages[page - 1]))


# --- PDFs that must be refused -------------------------------------------------------


def write_image_only(path: Path) -> Path:
    """A page with a picture of text and no text layer (like a scan)."""
    from PIL import Image, ImageDraw

    img = Image.new("RGB", (600, 200), "white")
    ImageDraw.Draw(img).text((20, 80), "A scanned page without any text layer at all.", fill="black")
    pdf = FPDF(unit="pt", format=(PAGE_W, PAGE_H))
    pdf.add_page()
    pdf.image(img, x=MARGIN, y=MARGIN, w=PAGE_W - 2 * MARGIN)
    pdf.output(str(path))
    return Path(path)


def write_encrypted(path: Path, user_password: str = "secret") -> Path:
    from fpdf.enums import EncryptionMethod

    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("Helvetica", size=12)
    pdf.multi_cell(0, 8, "This text is locked behind a password and long enough to count as text. " * 3)
    pdf.set_encryption(
        owner_password="owner", user_password=user_password, encryption_method=EncryptionMethod.RC4
    )
    pdf.output(str(path))
    return Path(path)


def write_empty(path: Path) -> Path:
    """A well-formed PDF with zero pages."""
    from pypdf import PdfWriter

    with open(path, "wb") as f:
        PdfWriter().write(f)
    return Path(path)


def write_corrupt(path: Path) -> Path:
    Path(path).write_bytes(b"%PDF-1.7\n" + re.sub(rb"\s", b"", bytes(range(256))) * 20)
    return Path(path)


def zero_page_content(path: Path, page: int) -> Path:
    """Overwrite the content stream of `page` (1-based) with zero bytes, in place.

    Like a download whose middle was never written: the size, the header, every object
    offset and %%EOF are intact, so the file opens, but that page has no text left.
    """
    from pypdf import PdfReader

    path = Path(path)
    reader = PdfReader(path)
    ref = reader.pages[page - 1].get_object().raw_get("/Contents")
    offset = reader.xref[ref.generation][ref.idnum]
    data = bytearray(path.read_bytes())
    start = data.index(b"stream", offset) + len(b"stream")
    start += 2 if data[start : start + 2] == b"\r\n" else 1
    end = data.index(b"endstream", start)
    data[start:end] = bytes(end - start)
    path.write_bytes(bytes(data))
    return path


# --- real PDFs (PAPERQA_TEST_PDFS) ---------------------------------------------------------


def real_pdf_folder() -> Path | None:
    """The folder of real paper PDFs the tests may use, or None."""
    folder = os.environ.get("PAPERQA_TEST_PDFS")
    return Path(folder) if folder and Path(folder).is_dir() else None


@functools.lru_cache(maxsize=2)
def parsed_real_pdfs(folder: Path, parser: str | None = None) -> dict[str, list]:
    """{file stem: pages} for every PDF in folder, parsed once per test session and parser."""
    from paperqa.parse.pdftext import parse_pdf

    return {p.stem: parse_pdf(p, p.stem, parser) for p in sorted(folder.glob("*.pdf"))}
