"""The settings object as a user of the Python API builds it."""

from pathlib import Path

from paperqa import Library, Settings


def test_paths_given_as_strings_become_absolute_paths(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    s = Settings(home="data", lists_dir="~/lists")
    assert s.home == tmp_path / "data"
    assert s.index_dir == tmp_path / "data" / "index"
    assert s.lists_dir == Path.home() / "lists"
    assert Settings.load(env={"PAPERQA_HOME": "other"}).home == tmp_path / "other"


def test_a_library_on_a_string_home_reads_the_shipped_catalog(tmp_path):
    lib = Library(Settings(home=str(tmp_path), embedder="hash", history=False))
    assert lib.catalog.find("2305.14314").title.startswith("QLoRA")
