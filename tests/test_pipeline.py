"""End to end through the CLI: add -> index -> search -> ask -> eval, on a data root of the test's own.

Fast tests use the hash embedder; the test marked slow runs the real default model.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from paperqa import Library, Settings
from paperqa.app.cli import app
from pdfgen import P, sample_spec, write_pdf

runner = CliRunner()


def cli(home: Path, *args: str, embedder: str = "hash"):
    env = {"PAPERQA_EMBEDDER": embedder, "PAPERQA_HOME": str(home)}
    return runner.invoke(app, list(args), env=env)


def paperqa(home: Path, *args: str, embedder: str = "hash") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PAPERQA_EMBEDDER": embedder, "PAPERQA_HOME": str(home), "HF_HUB_OFFLINE": "1"}
    return subprocess.run(
        [sys.executable, "-m", "paperqa.app.cli", *args], capture_output=True, text=True, env=env
    )


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    """A data root with the user's own generated paper (known text on known pages), indexed."""
    home = tmp_path_factory.mktemp("home")
    pdf = write_pdf(sample_spec(), tmp_path_factory.mktemp("in") / "zebra.pdf")
    added = cli(home, "add", str(pdf), "--json")
    assert added.exit_code == 0, added.output
    assert json.loads(added.output)[0]["paper_id"] is None  # not in the catalog: the user's own paper
    result = cli(home, "index", "--json")
    assert result.exit_code == 0, result.output
    return home


def test_index_reports_what_it_built_and_rebuild_is_incremental(built: Path):
    stats = json.loads(cli(built, "index", "--json").output)
    assert stats["ingest"]["cached"] and not stats["ingest"]["parsed"]  # text not parsed again
    assert stats["index"]["embedded"] == 0  # nothing re-embedded
    assert stats["index"]["chunks"] > 200  # PDF chunks + summary entries + titles of 111 papers


def test_search_json_gives_passages_with_provenance(built: Path):
    result = cli(built, "search", "zebra quantizer stores every weight in four bits", "-k", "5", "--json")
    assert result.exit_code == 0, result.output
    hits = json.loads(result.output)
    assert all(
        {"paper_id", "title", "page_start", "page_end", "section", "kind", "score", "text"} <= set(h)
        for h in hits
    )
    assert hits[0]["paper_id"].startswith("extra-") and hits[0]["kind"] == "paper"
    # the passage that states it is among the hits, with the page it is printed on
    # (which of the paper's passages comes first is the fitted ranker's call)
    (stating,) = [h for h in hits if "zebra quantizer stores every weight" in h["text"]]
    assert stating["paper_id"] == hits[0]["paper_id"] and stating["page_start"] <= 3 <= stating["page_end"]


def test_search_restricted_to_papers(built: Path):
    hits = json.loads(cli(built, "search", "memory", "--papers", "2305.14314", "--json").output)
    assert hits and {h["paper_id"] for h in hits} == {"2305.14314"}


def test_chinese_question_hits_the_summary_entry(built: Path):
    hits = json.loads(cli(built, "search", "QLoRA是如何节省显存的？", "-k", "3", "--json").output)
    assert hits[0]["paper_id"] == "2305.14314"


def test_ask_json_cites_page_with_verbatim_quote(built: Path):
    result = cli(built, "ask", "What does the zebra quantizer store in four bits?", "--json")
    assert result.exit_code == 0, result.output
    answer = json.loads(result.output)
    assert {"question", "answer", "language", "declined", "citations", "timings"} <= set(answer)
    assert answer["declined"] is False and answer["language"] == "en"
    cite = next(c for c in answer["citations"] if c["paper_id"].startswith("extra-"))
    assert 3 in cite["pages"]
    assert cite["quote"]["verbatim"] is True
    page3 = Library(Settings.load(home=built)).page_text(cite["paper_id"], cite["quote"]["page"])
    assert " ".join(cite["quote"]["text"].split()) in " ".join(page3.split())
    assert "#page=" in cite["pdf_url"]


def test_ask_declines_off_topic(built: Path):
    answer = json.loads(cli(built, "ask", "What is the best recipe for chocolate cake?", "--json").output)
    assert answer["declined"] is True
    assert "does not cover" in answer["answer"]


def test_eval_reports_per_question_and_summary(built: Path, tmp_path: Path):
    qfile = tmp_path / "q.jsonl"
    qfile.write_text(
        "\n".join(
            json.dumps(q, ensure_ascii=False)
            for q in [
                {
                    "id": "a",
                    "q": "How does QLoRA save memory?",
                    "lang": "en",
                    "expect": ["2305.14314"],
                    "nuggets": [["zebra crossing"]],
                },
                {
                    "id": "b",
                    "q": "QLoRA是如何节省显存的？",
                    "lang": "zh",
                    "expect": ["2305.14314"],
                    "nuggets": [["QLoRA"]],
                },
                {"id": "c", "q": "What is the best recipe for chocolate cake?", "lang": "en", "expect": []},
            ]
        ),
        encoding="utf-8",
    )
    report = json.loads(cli(built, "eval", str(qfile), "--json").output)
    assert [r["id"] for r in report["results"]] == ["a", "b", "c"]
    assert report["results"][0]["retrieved"][0] == "2305.14314"
    assert set(report["summary"]) >= {"overall", "en", "zh"}
    assert report["summary"]["overall"]["n"] == 2
    with_answers = json.loads(cli(built, "eval", str(qfile), "--answers", "--json").output)
    row = with_answers["results"][2]
    assert row["declined"] is True and row["cited"] == []
    assert with_answers["summary"]["unanswerable_declined"] == 1.0
    # the answer first: does the opening statement (up to its first citation) state a key fact?
    assert [r["first_states"] for r in with_answers["results"][:2]] == [False, True]
    assert with_answers["summary"]["overall"]["answer_first"] == 0.5


def test_opening_with_another_embedder_is_refused_with_the_fix(built: Path):
    proc = paperqa(built, "search", "memory", embedder="hash:64")
    assert proc.returncode == 2
    assert "paperqa index --full --embedder" in proc.stderr and "Traceback" not in proc.stderr


def test_no_index_yet_is_a_clear_error(tmp_path: Path):
    proc = paperqa(tmp_path, "search", "memory")
    assert proc.returncode == 2 and "paperqa index" in proc.stderr and "Traceback" not in proc.stderr


def test_a_corrupt_pdf_is_skipped_and_the_rest_is_built(tmp_path: Path):
    (tmp_path / "in").mkdir()
    good = write_pdf(sample_spec(), tmp_path / "in" / "good.pdf")
    home = tmp_path / "home"
    lib = Library(Settings.load(home=home, embedder="hash"))
    lib.add([good])
    # a second paper of the user's own, whose file then rots on disk before indexing
    rot = write_pdf(
        sample_spec(
            pages=((P("Okapi Notes: A Second Paper About Giraffes"), P("Giraffes eat leaves. " * 20)),),
            header="",
        ),
        tmp_path / "in" / "okapi.pdf",
    )
    lib.add([rot])
    stored = [p for p in (home / "corpus" / "pdfs").glob("*.pdf") if "okapi" in p.name]
    assert stored, list((home / "corpus" / "pdfs").iterdir())
    stored[0].write_bytes(b"%PDF-1.4\n garbage that is not a PDF body")
    result = cli(home, "index", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert any("okapi" in f for f, _ in report["ingest"]["skipped"])
    assert report["ingest"]["parsed"]  # the good paper was built
    hits = json.loads(cli(home, "search", "zebra quantizer", "--json").output)
    assert hits and hits[0]["paper_id"].startswith("extra-zebra")


@pytest.mark.slow
def test_real_default_model_end_to_end(tmp_path: Path):
    """The shipped default embedder, loaded offline, answers the QLoRA question with a citation."""
    default = Settings().embedder
    home = tmp_path / "home"
    real = os.environ.get("PAPERQA_TEST_PDFS")
    if real and (Path(real) / "2305.14314.pdf").is_file():
        assert paperqa(home, "add", str(Path(real) / "2305.14314.pdf"), embedder=default).returncode == 0
    build = paperqa(home, "index", "--json", embedder=default)
    assert build.returncode == 0, build.stderr
    assert json.loads(build.stdout)["index"]["chunks"] > 200
    for question in ("How does QLoRA save memory?", "QLoRA是如何节省显存的？"):
        proc = paperqa(home, "ask", question, "--json", embedder=default)
        assert proc.returncode == 0, proc.stderr
        answer = json.loads(proc.stdout)
        assert not answer["declined"]
        assert answer["citations"][0]["paper_id"] == "2305.14314"
        assert answer["citations"][0]["summaries"], "the reading list's summary entry is cited"
        if real:
            assert any(c["pages"] and c["quote"]["verbatim"] for c in answer["citations"])


@pytest.mark.slow
def test_a_question_that_is_only_a_papers_name_is_answered_from_its_abstract(tmp_path: Path):
    """ "What is QLoRA?": every QLoRA passage repeats the name; the abstract says what it is."""
    real = os.environ.get("PAPERQA_TEST_PDFS")
    if not (real and (Path(real) / "2305.14314.pdf").is_file()):
        pytest.skip("2305.14314.pdf (QLoRA v1) not in PAPERQA_TEST_PDFS")
    home = tmp_path / "home"
    assert paperqa(home, "add", str(Path(real) / "2305.14314.pdf"), embedder="hash").returncode == 0
    assert paperqa(home, "index", embedder="hash").returncode == 0
    for question in ("What is QLoRA?", "QLoRA是什么？"):
        hits = json.loads(paperqa(home, "search", question, "--json", embedder="hash").stdout)
        assert hits[0]["paper_id"] == "2305.14314" and hits[0]["section"].lower() == "abstract", hits[0]
        assert hits[0]["page_start"] == 1
    # a question with more than the name is ranked as usual
    hits = json.loads(paperqa(home, "search", "QLoRA paged optimizers", "--json", embedder="hash").stdout)
    assert hits[0]["section"].lower() != "abstract" or "Paged" in hits[0]["text"]


def test_a_chinese_question_reaches_the_english_passage_through_its_words(built: Path):
    """No Chinese in the paper and a hash embedder: only the question's words in English
    (CC-CEDICT glosses, search/crosslingual.py) can lead keyword search to the page."""
    from paperqa.search.crosslingual import crossing_words

    question = "斑马量化器用几个比特存储每个权重？"
    english = crossing_words(question)
    assert any("zebra" in words for words in english) and any("weight" in words for words in english)
    hits = json.loads(cli(built, "search", question, "-k", "5", "--json").output)
    stating = [h for h in hits if "zebra quantizer stores every weight" in h["text"]]
    assert stating and stating[0]["page_start"] <= 3 <= stating[0]["page_end"]
