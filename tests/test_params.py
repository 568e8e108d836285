"""The stages' parameters objects: shipped defaults, loadable from a JSON file, passed in."""

from __future__ import annotations

import json
from dataclasses import asdict

import pytest

from paperqa.catalog.params import CATALOG_PARAMS, CatalogParams
from paperqa.corpus.params import CORPUS_PARAMS, CorpusParams
from paperqa.params import dump_params
from paperqa.parse.chunking import summary_chunks
from paperqa.parse.params import PARSE_PARAMS, ParseParams
from paperqa.records import Paper, SummaryEntry


@pytest.mark.parametrize(
    ("cls", "default"),
    [(CatalogParams, CATALOG_PARAMS), (CorpusParams, CORPUS_PARAMS), (ParseParams, PARSE_PARAMS)],
)
def test_params_round_trip_through_a_file_and_refuse_unknown_fields(tmp_path, cls, default):
    assert cls.load() == default == cls()
    path = tmp_path / "params.json"
    dump_params(default, path)
    assert cls.load(path) == default
    first = next(iter(asdict(default)))
    path.write_text(json.dumps({first: 7}), encoding="utf-8")
    assert getattr(cls.load(path), first) == 7  # the fields a file leaves out keep their values
    path.write_text(json.dumps({"no_such_knob": 1}), encoding="utf-8")
    with pytest.raises(ValueError, match="no_such_knob"):
        cls.load(path)


def test_a_stage_reads_the_params_it_is_given():
    entry = SummaryEntry(
        list_id="l", list_title="L", heading="h", title_as_listed="t", text="长" * 1000, line=1
    )
    paper = Paper("2305.14314", "QLoRA", summaries=(entry,))
    default = summary_chunks(paper)
    short = summary_chunks(paper, ParseParams(summary_chars=100))
    assert len(default[0].text) > 400 > len(short[0].text)
    assert len(short) > len(default)  # the rest of the entry in more, shorter chunks
