"""BM25 tokens: Chinese and English alike, technical terms kept matchable."""

from __future__ import annotations

import pytest

from paperqa.search import keywords
from paperqa.search.keywords import index_term, index_terms, s_stem, tokenize


def shared(a: str, b: str) -> set[str]:
    return set(tokenize(a)) & set(tokenize(b))


def test_english_term_inside_chinese_question_matches_english_text() -> None:
    toks = tokenize("QLoRA是如何节省显存的？")
    assert "qlora" in toks
    assert "qlora" in shared("QLoRA是如何节省显存的？", "QLoRA backpropagates through a frozen 4-bit model")


def test_chinese_words_are_segmented_and_stopwords_dropped() -> None:
    toks = tokenize("QLoRA是如何节省显存的？")
    assert {"节省", "显存"} <= set(toks)
    assert not {"是", "如何", "的", "？"} & set(toks)


def test_search_mode_finds_a_word_inside_a_longer_word() -> None:
    assert "注意力" in shared("什么是注意力？", "Transformer 完全基于自注意力机制")


@pytest.mark.parametrize(
    ("query", "doc"),
    [
        (
            "LLM.int8()为什么能让大模型在消费级显卡上运行？",
            "LLM.int8(): 8-bit Matrix Multiplication for Transformers",
        ),
        ("GPT3 的上下文学习", "GPT-3 shows strong in-context learning"),
        ("gpt 3 few-shot", "GPT-3 shows strong few-shot performance"),
        ("what is 4 bit quantization", "we quantize to 4-bit NormalFloat"),
        ("NF4 data type", "the 4-bit NormalFloat (NF4) data type"),
        ("ＱＬｏＲＡ", "QLoRA"),  # full-width letters typed with a Chinese IME
    ],
)
def test_technical_terms_match_across_spellings(query: str, doc: str) -> None:
    assert shared(query, doc)


def test_compound_terms_keep_whole_form_and_parts() -> None:
    toks = tokenize("LLM.int8() and GPT-3 in 4-bit; arXiv 2305.14314 at 0.37 bits")
    assert {"llmint8", "llm", "int8", "gpt3", "gpt", "3", "4bit", "bit", "2305.14314", "0.37"} <= set(toks)


def test_english_stopwords_single_letters_and_plurals() -> None:
    assert tokenize("What are the adapters of the LLMs, e.g. LoRA?") == ["adapter", "llm", "eg", "lora"]
    assert s_stem("queries") == "query"
    assert s_stem("bus") == "bus"  # "us" endings stay
    assert s_stem("class") == "class"
    assert tokenize("adapters", stem=False) == ["adapters"]
    assert tokenize("the model", stopwords=False) == ["the", "model"]


def test_index_terms_stem_english_words_and_keep_terms_whole() -> None:
    forms = {index_term(w) for w in ("quantize", "quantized", "quantizing", "quantization")}
    assert len(forms) == 1
    assert index_terms("GPT-3 uses NF4 and DPO with 节省显存") == [
        *tokenize("GPT-3"),
        "use",
        "nf4",
        "dpo",
        *tokenize("节省显存"),
    ]


def test_empty_and_punctuation_only() -> None:
    assert tokenize("") == []
    assert tokenize("？！。,.;") == []


def test_jieba_loads_quietly(capfd: pytest.CaptureFixture[str]) -> None:
    keywords.load_jieba.cache_clear()
    tokenize("大模型")
    captured = capfd.readouterr()
    assert "prefix dict" not in captured.err and captured.out == ""
