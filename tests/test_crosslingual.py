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


def test_question_terms_borrow_the_neighbours_for_chinese_terms_only(use, tmp_path):
    words = ["vram", "gpu", "banana", "river", "football"]
    nb = TermNeighbours(words, use, None, CrossLingualParams(top=2, min_cos=0.5))
    terms = {t.token: t for t in question_terms("QLoRA 如何节省显存？", expand=nb.english_for)}
    assert {"vram", "gpu"} & set(terms["显存"].borrowed)  # CC-CEDICT has no entry for 显存
    assert not {"vram", "gpu"} & set(terms["显存"].alts)  # borrowed words match English text only
    assert terms["qlora"].borrowed == ()  # a name is never translated
    plain = {t.token: t for t in question_terms("QLoRA 如何节省显存？")}
    assert plain["显存"].borrowed == () and plain["显存"].alts == terms["显存"].alts


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
