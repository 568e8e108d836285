"""The local history: every final answer kept (unless turned off), searchable, newest first.

Through `Library` and the CLI on a real small index of the shipped corpus (hash embedder) in a
data root of the test's own; the history is the SQLite file under that root.
"""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never reach the hub from tests

import json
import logging
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from typer.testing import CliRunner

from paperqa import Library, Settings
from paperqa.app.cli import app, run
from paperqa.errors import PaperqaError
from paperqa.keep.export import to_bibtex, to_markdown
from paperqa.keep.history import history_file, record_answer
from paperqa.records import Answer

QLORA_ID = "2305.14314"
runner = CliRunner()


@pytest.fixture(scope="module")
def built(small_index_home) -> Path:
    """A data root with an index and no history yet."""
    return small_index_home("history")


@pytest.fixture
def lib(built: Path) -> Library:
    """A Library on the built index with an empty history of its own."""
    history_file(Settings(home=built)).unlink(missing_ok=True)
    for extra in ("-wal", "-shm"):
        Path(str(history_file(Settings(home=built))) + extra).unlink(missing_ok=True)
    return Library(Settings.load(env={}, home=built, embedder="hash"))


def cli(home: Path, *args: str, **env: str):
    return runner.invoke(app, list(args), env={"PAPERQA_HOME": str(home), "PAPERQA_EMBEDDER": "hash", **env})


# --- recording ------------------------------------------------------------------------------


def test_each_answer_is_kept_and_listed_newest_first(lib):
    assert lib.history() == []
    assert not history_file(lib.settings).exists()  # reading never creates the file
    first = lib.ask("How does QLoRA save memory?")
    second = lib.ask("What is the best recipe for chocolate cake?")
    entries = lib.history()
    assert [e.question for e in entries] == [second.question, first.question]
    newest, oldest = entries
    assert newest.declined and not oldest.declined
    assert oldest.cited == tuple(dict.fromkeys(c.paper_id for c in first.citations))
    assert QLORA_ID in oldest.cited
    assert (oldest.engine, oldest.language, oldest.answer) == ("extractive", "en", first.answer)
    assert oldest.asked_at.endswith("+00:00") and newest.id > oldest.id
    assert history_file(lib.settings).parent == lib.settings.home


def test_the_kept_record_is_the_answer_as_shown_and_exports_the_same(lib):
    answer = lib.ask("QLoRA是如何节省显存的？")
    [entry] = lib.history()
    assert entry.record == answer
    assert isinstance(entry.record, Answer)
    assert to_markdown(entry.record, lib.catalog) == to_markdown(answer, lib.catalog)
    assert to_bibtex(entry.record, lib.catalog) == to_bibtex(answer, lib.catalog)


def test_streaming_keeps_the_final_answer_once(lib):
    items = list(lib.ask_stream("What is LoRA?"))
    assert isinstance(items[-1], Answer)
    assert [e.answer for e in lib.history()] == [items[-1].answer]


def test_history_off_keeps_nothing(built):
    history_file(Settings(home=built)).unlink(missing_ok=True)
    off = Library(Settings.load(env={"PAPERQA_HISTORY": "0"}, home=built, embedder="hash"))
    assert off.settings.history is False
    off.ask("What is LoRA?")
    assert not history_file(off.settings).exists()
    assert off.history() == []


def test_measurement_runs_are_not_kept(lib):
    lib.ask("What is LoRA?", record=False)
    assert lib.history() == []


def test_concurrent_answers_are_all_kept(lib):
    answer = lib.ask("What is LoRA?", record=False)

    def keep(i: int) -> None:
        record_answer(lib.settings, Answer(f"question {i}", answer.answer, "en", False))

    threads = [threading.Thread(target=keep, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    entries = lib.history()
    assert sorted(e.question for e in entries) == sorted(f"question {i}" for i in range(8))
    assert len({e.id for e in entries}) == 8


def test_an_unwritable_history_never_costs_the_answer(lib, caplog):
    history_file(lib.settings).write_bytes(b"this is not a SQLite database, it is junk " * 100)
    with caplog.at_level(logging.WARNING, logger="paperqa"):
        answer = lib.ask("What is LoRA?")
    assert not answer.declined and answer.citations
    assert "not kept in the history" in caplog.text
    with pytest.raises(PaperqaError, match="history .* cannot be read"):
        lib.history()


# --- search -----------------------------------------------------------------------------------


def test_search_matches_question_and_answer_text_in_english_and_chinese(lib):
    lib.ask("How does QLoRA save memory?")
    lib.ask("QLoRA是如何节省显存的？")
    lib.ask("What is LoRA?")
    lib.ask("What is the best recipe for chocolate cake?")
    assert [e.question for e in lib.history("qlora")] == [
        "QLoRA是如何节省显存的？",
        "How does QLoRA save memory?",
    ]
    assert [e.question for e in lib.history("节省显存")] == ["QLoRA是如何节省显存的？"]
    assert [e.question for e in lib.history("does not cover")] == [
        "What is the best recipe for chocolate cake?"
    ]
    # every word must match (question or answer): "QLoRA memory" is only the English question
    assert [e.question for e in lib.history("QLoRA memory")] == ["How does QLoRA save memory?"]
    # LIKE wildcards in the query are literal characters
    for question, text in [
        ("w1", "costs 100% less"),
        ("w2", "costs 1000 less"),
        ("w3", "a_b"),
        ("w4", "axb"),
    ]:
        record_answer(lib.settings, Answer(question, text, "en", False))
    assert [e.question for e in lib.history("100%")] == ["w1"]
    assert [e.question for e in lib.history("a_b")] == ["w3"]
    assert len(lib.history(limit=2)) == 2
    with pytest.raises(PaperqaError, match="limit must be"):
        lib.history(limit=0)


# --- CLI --------------------------------------------------------------------------------------


def test_cli_history_json_lists_matching_entries(lib):
    home = lib.settings.home
    assert cli(home, "ask", "How does QLoRA save memory?").exit_code == 0
    assert (
        cli(home, "ask", "What is the best recipe for chocolate cake?", "--format", "markdown").exit_code == 0
    )
    result = cli(home, "history", "--json")
    assert result.exit_code == 0, result.output
    entries = json.loads(result.output)
    assert [e["question"] for e in entries] == [
        "What is the best recipe for chocolate cake?",
        "How does QLoRA save memory?",
    ]
    assert set(entries[0]) >= {"question", "asked_at", "engine", "cited", "declined", "answer"}
    assert entries[0]["declined"] is True and QLORA_ID in entries[1]["cited"]
    limited = json.loads(cli(home, "history", "QLoRA", "--json", "--limit", "1").output)
    assert [e["question"] for e in limited] == ["How does QLoRA save memory?"]


def test_cli_history_table_and_empty_search(lib):
    home = lib.settings.home
    assert "the history is empty" in cli(home, "history").output
    cli(home, "ask", "QLoRA是如何节省显存的？")
    table = cli(home, "history")
    assert table.exit_code == 0 and "QLoRA是如何节省显存的？" in table.output and QLORA_ID in table.output
    none = cli(home, "history", "zeppelin")
    assert none.exit_code == 0 and "nothing in the history matches 'zeppelin'" in none.output


def test_cli_history_says_when_it_is_off_and_bad_limit_is_usage_error(lib, capsys):
    result = cli(lib.settings.home, "history", PAPERQA_HISTORY="0")
    assert result.exit_code == 0 and "history is off" in result.output
    assert run(["history", "--limit", "0", "--home", str(lib.settings.home)]) == 2


def test_cli_history_on_a_broken_file_is_one_line_exit_2(lib, capsys):
    history_file(lib.settings).write_bytes(b"junk" * 1000)
    assert run(["history", "--home", str(lib.settings.home)]) == 2
    err = capsys.readouterr().err
    assert "cannot be read" in err and "Traceback" not in err


def test_real_paperqa_process_lists_the_history(lib):
    lib.ask("QLoRA是如何节省显存的？")
    exe = Path(sys.executable).parent / "paperqa"
    env = {**os.environ, "PAPERQA_HOME": str(lib.settings.home), "PAPERQA_EMBEDDER": "hash"}
    proc = subprocess.run(
        [str(exe), "history", "显存", "--json"], capture_output=True, text=True, env=env, timeout=300
    )
    assert proc.returncode == 0, proc.stderr
    [entry] = json.loads(proc.stdout)
    assert entry["question"] == "QLoRA是如何节省显存的？" and entry["cited"] == [QLORA_ID]
    # the file is a plain SQLite database under the data root
    with sqlite3.connect(history_file(lib.settings)) as conn:
        assert conn.execute("SELECT count(*) FROM answers").fetchone()[0] == 1
