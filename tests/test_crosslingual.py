"""Chinese question terms borrow the papers' own English words through the multilingual embedder."""

import numpy as np
import pytest

from paperqa.answer.text import question_terms
from paperqa.search.crosslingual import CrossLingualParams, TermNeighbours, corpus_words, term_neighbours
from paperqa.search.embedders import load_embedder

WORDS = ["ratio", "hardware", "banana", "gradient", "optimizer", "river", "football", "memory"]


@pytest.fixture(scope="module")
def use():
    return load_embedder("use")


def test_a_chinese_term_finds_the_english_word_the_papers_use(use, tmp_path):
    params = CrossLingualParams(top=2, min_cos=0.5)
    nb = TermNeighbours(WORDS, use, tmp_path / "v.npy", params)
    assert "hardware" in nb.english_for("硬件")
    assert "optimizer" in nb.english_for("优化器")
    assert "banana" not in nb.english_for("梯度")
    # the vectors are kept for the next process, written whole
    again = TermNeighbours(WORDS, use, tmp_path / "v.npy", params)
    assert np.allclose(np.load(tmp_path / "v.npy"), again.vectors)


def test_question_terms_take_the_neighbours_for_chinese_terms_only(use, tmp_path):
    nb = TermNeighbours(WORDS, use, None, CrossLingualParams(top=1, min_cos=0.5))
    plain = {t.token: t.alts for t in question_terms("QLoRA 用什么硬件？")}
    expanded = {t.token: t.alts for t in question_terms("QLoRA 用什么硬件？", expand=nb.english_for)}
    assert "hardwar" in expanded["硬件"] or "hardware" in expanded["硬件"]
    assert expanded["qlora"] == plain["qlora"]  # a name is never translated


def test_vocabulary_is_the_corpus_words_not_stop_words_or_one_offs():
    words = corpus_words(
        ["The ratio of memory to memory, the ratio.", "Englishto once"], CrossLingualParams()
    )
    assert words == ["ratio", "memory"]


def test_no_neighbours_for_an_embedder_without_chinese(tmp_path):
    assert term_neighbours(load_embedder("hash"), lambda: ["text"], tmp_path, "g1") is None


def test_a_library_without_an_index_or_chinese_embedder_borrows_nothing(tmp_path):
    from paperqa import Library, Settings

    lib = Library(Settings(home=tmp_path, embedder="hash", history=False))
    assert lib.english_for("硬件") == ()
