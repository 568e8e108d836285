"""The catalog: parsing both real lists, malformed input, merging, corrections, `catalog check`."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from paperqa.app.cli import app
from paperqa.catalog.catalog import load_catalog
from paperqa.catalog.lists import ListFormatError, read_list
from paperqa.settings import Settings, checkout_root

ROOT = checkout_root()
LISTS = ROOT / "corpus" / "lists"
LIST_ONE = LISTS / "llm-classic-papers-quick-read.md"
LIST_TWO = LISTS / "chatgpt-100-papers.md"
runner = CliRunner()


@pytest.fixture(scope="module")
def catalog():
    return load_catalog(Settings(home=ROOT))


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """A data root with its own copy of the lists and papers.toml, to edit freely."""
    (tmp_path / "corpus").mkdir()
    shutil.copytree(LISTS, tmp_path / "corpus" / "lists")
    shutil.copy(ROOT / "corpus" / "papers.toml", tmp_path / "corpus" / "papers.toml")
    return tmp_path


def run(*args: str, home: Path | None = None):
    argv = list(args) + (["--home", str(home)] if home else [])
    return runner.invoke(app, argv)


def test_list_one_has_31_sections_with_fields():
    mentions = read_list(LIST_ONE)
    assert len(mentions) == 31
    first = mentions[0]
    assert first.title == "Attention is all you need"
    assert dict(first.fields)["发布时间"] == "2017/06/12"
    assert first.link == "https://arxiv.org/pdf/1706.03762.pdf"
    # the summary entry is the whole section, figure shortcodes removed
    assert "小学生概括" in first.text and "{{<" not in first.text
    qlora = next(m for m in mentions if m.title.startswith("QLoRA"))
    assert "4-bit NormalFloat" in qlora.text and qlora.heading.startswith("QLoRA")


def test_list_two_has_102_entries_in_seven_parts(catalog):
    mentions = [mm.mention for mm in catalog.mentions if mm.mention.list_id == LIST_TWO.stem]
    assert len(mentions) == 102
    assert len({m.heading for m in mentions}) == 7
    titles = [m.title for m in mentions]
    # titles glued to the end of a note line by the scrape are split off
    assert "Efficient estimation of word representations in vector space" in titles
    assert "word2vec Parameter Learning Explained" in titles
    # two entries run together with no separator (BLOOM / GLM) are split with the curated titles
    assert any(t.startswith("GLM: General Language Model") for t in titles)
    # dashes inside notes do not start entries
    assert not any(t.lower().startswith(("flan palm", "openai", "wgan")) for t in titles)
    clip = next(m for m in mentions if m.title.startswith("CLIP"))
    assert "2021年1月" in clip.text


def test_114_distinct_items_111_papers(catalog):
    assert len(catalog.items) == 114
    assert len(catalog.papers) == 111
    kinds = sorted(p.kind for p in catalog.items if p.kind != "paper")
    assert kinds == ["blog", "repo", "unidentified"]
    assert all(mm.paper_id for mm in catalog.mentions)
    assert catalog.check() == []


def test_ids_are_bare_arxiv_ids_or_slugs(catalog):
    for p in catalog.papers:
        assert re.fullmatch(r"\d{4}\.\d{4,5}", p.paper_id) or p.paper_id in {"gpt1", "gpt2"}, p.paper_id
        assert p.year and p.title
        assert p.arxiv_id or p.pdf_url
    assert catalog.get("QLoRA").paper_id == "2305.14314"
    assert catalog.get("2305.14314v1").paper_id == "2305.14314"
    assert catalog.get("GPT-3").paper_id == "2005.14165"
    assert catalog.get("InstructGPT").paper_id == "2203.02155"


def test_mentions_merge_within_and_across_lists(catalog):
    t5 = catalog.get("1910.10683")  # list one once, list two twice (parts 1 and 6)
    assert [s.list_id for s in t5.summaries].count(LIST_TWO.stem) == 2
    assert [s.list_id for s in t5.summaries].count(LIST_ONE.stem) == 1
    gpt1 = catalog.get("gpt1")
    assert len(gpt1.summaries) == 3 and {s.list_id for s in gpt1.summaries} == {LIST_ONE.stem, LIST_TWO.stem}
    zero_shot = catalog.get("2205.11916")
    assert len(zero_shot.summaries) == 2  # "...Zero-Shot Reasoners" and the citation form


def test_corrections_are_recorded_and_shown(catalog):
    gpt1 = catalog.get("gpt1")
    link_fix = next(c for c in gpt1.corrections if c.field == "link")
    assert "1810.03993" in link_fix.listed and link_fix.evidence
    assert gpt1.pdf_url.startswith("https://") and not gpt1.arxiv_id
    dates = {p.paper_id: c for p in catalog.papers for c in p.corrections if c.field == "date"}
    assert {"2203.02155", "2305.20050", "2303.08774"} <= set(dates)
    result = run("catalog", "show", "gpt1", home=ROOT)
    assert result.exit_code == 0, result.output
    assert "1810.03993" in result.output and "correction" in result.output


def test_catalog_json_lists_111_papers_with_summaries():
    result = run("catalog", "--json", home=ROOT)
    assert result.exit_code == 0, result.output
    papers = json.loads(result.output)
    assert len(papers) == 111
    qlora = next(p for p in papers if p["paper_id"] == "2305.14314")
    assert qlora["year"] == 2023 and qlora["version"] >= 1
    assert qlora["summaries"][0]["list_id"] == LIST_ONE.stem
    assert "4-bit NormalFloat" in qlora["summaries"][0]["text"]
    assert all(p["summaries"] for p in papers)


def test_check_passes_on_shipped_lists():
    result = run("catalog", "check", home=ROOT)
    assert result.exit_code == 0, result.output
    assert "catalog OK" in result.output and "111 papers" in result.output


def test_check_fails_on_an_unmapped_entry(home: Path):
    lst = home / "corpus" / "lists" / LIST_TWO.name
    lst.write_text(
        lst.read_text(encoding="utf-8") + "\n-\nA Paper Nobody Curated Yet\n一些笔记\n", encoding="utf-8"
    )
    result = run("catalog", "check", "--json", home=home)
    assert result.exit_code == 1
    problems = json.loads(result.output)["problems"]
    assert any("A Paper Nobody Curated Yet" in p and "mapped to no paper" in p for p in problems)


def test_check_fails_on_an_unrecorded_date_mistake(home: Path):
    lst = home / "corpus" / "lists" / LIST_ONE.name
    text = lst.read_text(encoding="utf-8").replace("2023/05/23", "2021/01/01")  # QLoRA's date
    lst.write_text(text, encoding="utf-8")
    result = run("catalog", "check", home=home)
    assert result.exit_code == 1
    assert "2021/01/01" in result.output and "2305.14314" in result.output


def test_check_fails_on_duplicate_and_malformed_ids(home: Path):
    toml = home / "corpus" / "papers.toml"
    text = toml.read_text(encoding="utf-8")
    text += '\n[[paper]]\nid = "2305.14314"\narxiv = "2305.14314"\ntitle = "Dup"\nyear = 2023\n'
    text += '\n[[paper]]\nid = "Not A Slug"\ntitle = "No source"\nyear = 2020\n'
    toml.write_text(text, encoding="utf-8")
    result = run("catalog", "check", "--json", home=home)
    assert result.exit_code == 1
    problems = "\n".join(json.loads(result.output)["problems"])
    assert "'2305.14314' is used 2 times" in problems
    assert "neither an arXiv id nor a pdf_url" in problems


def test_an_edited_list_rebuilds_the_catalog(home: Path):
    """A new list in the same shape adds its mentions to the papers it names."""
    extra = home / "corpus" / "lists" / "my-list.md"
    extra.write_text(
        "## 我的笔记：QLoRA\n\n**论文名称**：《QLoRA: Efficient Finetuning of Quantized LLMs》\n\n"
        "**发布时间**：2023/05/23\n\n**小学生概括**：用4-bit量化和LoRA在一张显卡上微调。\n",
        encoding="utf-8",
    )
    cat = load_catalog(Settings(home=home))
    qlora = cat.get("2305.14314")
    assert any(s.list_id == "my-list" and "4-bit量化" in s.text for s in qlora.summaries)
    assert cat.check() == []


@pytest.mark.parametrize(
    ("content", "line", "words"),
    [
        ("## 只有标题\n\n**发布时间**：2020/01/01\n", 1, "no **论文名称**"),
        ("---\ntitle: x\n\n## A\n**论文名称**：《X》\n", 1, "never closed"),
        ("## A\n\n**论文名称**：《X》\n\n## B\nstray text before fields\n", 6, "text before the first"),
        ("just some text\nwith no structure\n", 1, "not a reading list"),
        ("第一部分 基础\n第二部分 空的\n", 1, "no entries"),
        ("", 1, "empty"),
    ],
)
def test_malformed_list_names_file_and_line(tmp_path: Path, content: str, line: int, words: str):
    bad = tmp_path / "bad.md"
    bad.write_text(content, encoding="utf-8")
    with pytest.raises(ListFormatError) as info:
        read_list(bad)
    assert str(info.value).startswith(f"{bad}:{line}:") and words in str(info.value)


def test_non_utf8_list_names_the_line(tmp_path: Path):
    bad = tmp_path / "latin1.md"
    bad.write_bytes("## A\n**论文名称**：《X》\n".encode() + "\n## caf\xe9\n".encode("latin-1"))
    with pytest.raises(ListFormatError, match=r"latin1.md:4: not UTF-8"):
        read_list(bad)


def test_malformed_list_in_cli_is_one_clear_line(home: Path):
    (home / "corpus" / "lists" / "broken.md").write_text("## 坏的\n\n**发布时间**：2020\n", encoding="utf-8")
    import subprocess
    import sys

    proc = subprocess.run(
        [sys.executable, "-m", "paperqa.app.cli", "catalog", "check", "--home", str(home)],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2
    assert "broken.md:1:" in proc.stderr and "Traceback" not in proc.stderr
