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


def test_passages_read_default_to_the_fitted_number_and_a_setting_overrides_it(small_index_home):
    """k is a fitted parameter (search/ranker_params.json), not a constant: PAPERQA_K or -k wins."""
    from paperqa.search.rerank import RankerParams

    home = small_index_home("k-default")
    fitted = Library(Settings.load(env={}, home=home, embedder="hash", history=False))
    assert fitted.k == RankerParams.load().k
    assert len(fitted.search("low-rank adaptation of large language models")) == fitted.k
    chosen = Library(Settings.load(env={"PAPERQA_K": "3"}, home=home, embedder="hash", history=False))
    assert chosen.k == 3 and len(chosen.search("low-rank adaptation of large language models")) == 3
    assert len(chosen.search("low-rank adaptation", k=5)) == 5
