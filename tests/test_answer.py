"""Answer engines without a model: extractive answers, citations, verbatim quotes, declining,
the [n] mapping that an LLM's output goes through, and the engines' error messages."""

from __future__ import annotations

import json
import re
import socket
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import httpx
import pytest

from paperqa.answer import (
    DECLINE,
    DEFAULT_MIN_CONFIDENCE,
    EngineError,
    answer,
    answer_stream,
    confidence,
    detect_language,
    gguf,
    load_engine,
    map_citations,
    verbatim_in,
)
from paperqa.answer.citations import CitationMapper, make_sources, pdf_link
from paperqa.answer.openai_compat import OpenAIEngine
from paperqa.answer.prompt import LLMEngine, trim_passage
from paperqa.answer.sentences import SentenceParams
from paperqa.catalog.catalog import Catalog
from paperqa.records import Answer
from paperqa.settings import Settings
from test_answer_data import (
    LORA,
    LORA_ID,
    PAGES,
    QLORA,
    QLORA_ID,
    QLORA_SUMMARY,
    catalog,
    no_pdf,
    page_text,
    qlora_passages,
    summary_passage,
)

EN_Q = "How does QLoRA save memory?"
ZH_Q = "QLoRA是如何节省显存的？"
CAKE_Q = "What is the best recipe for chocolate cake?"
KIMI_Q = "Kimi K2的架构是什么？"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings.load(env={}, home=tmp_path)


def ask(question: str, settings: Settings, passages=None, **kw) -> Answer:
    return answer(
        question,
        qlora_passages() if passages is None else passages,
        catalog=kw.pop("catalog", None) or catalog(),
        settings=settings,
        page_text=kw.pop("page_text", page_text),
        pdf_path=kw.pop("pdf_path", no_pdf),
        **kw,
    )


def off_topic(passages):
    """What retrieval returns for a question the papers do not address: the same passages, far
    from it in meaning (the fitted decline model reads the cosine, not only the words)."""
    return [replace(p, similarity=0.05, score=0.2) for p in passages]


def markers(text: str) -> list[int]:
    return [int(n) for n in re.findall(r"\[(\d+)\]", text)]


def assert_quotes_verbatim(ans: Answer, pages: dict | None = None) -> None:
    pages = PAGES if pages is None else pages
    for c in ans.citations:
        if c.quote is None:
            continue
        assert c.quote.verbatim
        if c.kind == "summary":
            assert c.quote.page == 0 and c.pages == ()
            assert verbatim_in(c.quote.text, c.summaries[0].text)
        else:
            assert c.quote.page in c.pages
            assert verbatim_in(c.quote.text, pages[(c.paper_id, c.quote.page)])


def assert_numbered_by_first_use(ans: Answer) -> None:
    used = markers(ans.answer)
    assert used, ans.answer
    first_use = list(dict.fromkeys(used))
    assert first_use == list(range(1, len(ans.citations) + 1))
    assert [c.number for c in ans.citations] == first_use


# --- the extractive engine -------------------------------------------------------------


def test_extractive_answers_qlora_with_cited_pages_and_verbatim_quotes(settings):
    ans = ask(EN_Q, settings)
    assert not ans.declined and ans.language == "en" and ans.engine == "extractive"
    assert ans.answer.startswith("QLoRA (2023)") or ans.answer.startswith("According to QLoRA (2023)")
    assert "memory" in ans.answer
    sentences = [s for s in re.split(r"(?<=[.])\s+(?=[A-Z])", ans.answer) if s]
    assert 2 <= len(sentences) <= SentenceParams.load().en_sentences, ans.answer  # as long as fitted
    assert "[13]" not in ans.answer and "us- age" not in ans.answer  # bibliography refs and hyphens cleaned
    assert ans.citations[0].paper_id == QLORA_ID
    first = ans.citations[0]
    assert first.title == QLORA.title and first.version == 1 and first.year == 2023
    assert first.pages == (1,) and first.section == "Abstract"
    assert first.abs_url == "https://arxiv.org/abs/2305.14314v1"
    assert first.pdf_url == "https://arxiv.org/pdf/2305.14314v1#page=1"
    assert first.summaries == (QLORA_SUMMARY,)
    assert_quotes_verbatim(ans)
    assert_numbered_by_first_use(ans)


def test_local_pdf_link_opens_the_quoted_page(settings, tmp_path):
    pdf = tmp_path / "2305.14314v1.pdf"
    pdf.write_bytes(b"%PDF-1.4")
    ans = ask(EN_Q, settings, pdf_path=lambda pid: pdf if pid == QLORA_ID else None)
    c = ans.citations[0]
    assert c.pdf_url == pdf.resolve().as_uri() + f"#page={c.quote.page}"
    assert pdf_link(QLORA, 0, no_pdf) == "https://arxiv.org/pdf/2305.14314v1"


def test_chinese_question_gets_chinese_framing_and_the_reading_list_summary(settings):
    ans = ask(ZH_Q, settings)
    assert ans.language == "zh" and not ans.declined
    assert ans.answer.startswith("根据《QLoRA")
    assert "节省内存" in ans.answer  # from the reading list's entry
    assert "论文原文" in ans.answer  # then the paper, quoted in English
    kinds = [c.kind for c in ans.citations]
    assert "summary" in kinds and "paper" in kinds
    summary = next(c for c in ans.citations if c.kind == "summary")
    assert summary.pages == () and summary.quote is not None and summary.quote.page == 0
    assert summary.summaries[0] == QLORA_SUMMARY
    assert summary.pdf_url == "https://arxiv.org/pdf/2305.14314v1"  # no page for a summary
    assert_quotes_verbatim(ans)
    assert_numbered_by_first_use(ans)


def test_retrieved_summary_passage_is_cited_as_summary(settings):
    passages = [summary_passage(QLORA, 1), *qlora_passages()]
    ans = ask(ZH_Q, settings, passages=passages)
    assert ans.citations[0].kind == "summary" and ans.citations[0].paper_id == QLORA_ID
    assert_quotes_verbatim(ans)


def test_a_paper_known_only_by_its_list_entry_is_named_by_its_title(settings):
    """An English answer that quotes only a paper's reading-list entry (no PDF text of it) names
    the paper by its title, which says what it is about; a quoted paper keeps its short name."""
    ans = ask("What does LoRA do?", settings, passages=[summary_passage(LORA, 0)])
    assert "summary of “LoRA: Low-Rank Adaptation of Large Language Models” (2021)" in ans.answer
    untitled = replace(LORA, title="Adapting Large Language Models Cheaply")
    assert (
        "LoRA (“Adapting Large Language Models Cheaply”, 2021)"
        in ask(
            "What does LoRA do?",
            settings,
            passages=[summary_passage(untitled, 0)],
            catalog=Catalog(
                items=(QLORA, untitled),
                mentions=(),
                source_hash="t",
                papers_file=Path("p.toml"),
                list_files=(),
            ),
        ).answer
    )
    quoted = ask(EN_Q, settings)
    assert "Efficient Finetuning of Quantized LLMs" not in quoted.answer.split(" [")[0]


def test_a_sentence_not_verbatim_in_its_page_is_never_quoted(settings):
    # The extractor's page text differs from the chunk in one sentence ("memory" -> "memories"):
    # that sentence may not be quoted; every quote shown must stand in the page as it is.
    key = "QLORA introduces a number of innovations to save memory"
    pages = dict(PAGES)
    pages[(QLORA_ID, 1)] = pages[(QLORA_ID, 1)].replace(key, key.replace("memory", "memories"))
    ans = ask(EN_Q, settings, page_text=lambda pid, n: pages.get((pid, n), ""))
    assert not ans.declined
    assert all(not c.quote.text.startswith("QLORA introduces a number") for c in ans.citations if c.quote)
    assert_quotes_verbatim(ans, pages)


def test_without_page_text_citations_carry_no_quote(settings):
    ans = ask(EN_Q, settings, page_text=lambda pid, n: "")
    assert not ans.declined and ans.citations
    assert all(c.quote is None for c in ans.citations)


def test_answer_to_dict_is_the_json_of_ask(settings):
    ans = ask(ZH_Q, settings)
    data = json.loads(json.dumps(ans.to_dict(), ensure_ascii=False))
    assert set(data) >= {
        "question",
        "answer",
        "language",
        "declined",
        "citations",
        "timings",
        "engine",
        "closest",
    }
    assert data["citations"][0]["quote"]["text"]
    assert {"first_token_ms", "total_ms"} <= set(data["timings"])


def test_stream_yields_deltas_that_add_up_to_the_answer(settings):
    items = list(
        answer_stream(
            EN_Q, qlora_passages(), catalog=catalog(), settings=settings, page_text=page_text, pdf_path=no_pdf
        )
    )
    final = items[-1]
    assert isinstance(final, Answer)
    deltas = items[:-1]
    assert deltas and all(isinstance(d, str) for d in deltas)
    assert "".join(deltas) == final.answer


# --- declining -------------------------------------------------------------------------


class ExplodingEngine:
    """An engine that must never be asked: declining happens before any model is touched."""

    name = "llama"

    def select(self, *a, **k):
        raise AssertionError("engine called for a question that should be declined")

    def generate(self, *a, **k):
        raise AssertionError("engine called for a question that should be declined")


@pytest.mark.parametrize(("question", "lang"), [(CAKE_Q, "en"), (KIMI_Q, "zh")])
def test_out_of_scope_questions_are_declined_with_closest_papers_and_no_engine_call(settings, question, lang):
    ans = ask(question, settings, passages=off_topic(qlora_passages()), engine=ExplodingEngine())
    assert ans.declined and ans.language == lang
    assert ans.answer == DECLINE[lang]
    assert ans.citations == ()
    assert ans.closest == (QLORA_ID, LORA_ID)
    assert ans.engine == "llama"


def test_confidence_separates_answerable_from_unanswerable():
    ps = qlora_passages()
    cat = catalog()
    good = [
        confidence(q, ps, catalog=cat) for q in (EN_Q, ZH_Q, "What is the difference between LoRA and QLoRA?")
    ]
    bad = [confidence(q, ps, catalog=cat) for q in (CAKE_Q, KIMI_Q, "What is GraphRAG?")]
    assert min(good) > DEFAULT_MIN_CONFIDENCE > max(bad), (good, bad)
    assert confidence(EN_Q, []) == 0.0


# --- the Chinese <-> English bridge: CC-CEDICT, not a hand list --------------------------------

# Its words are in no hand-written list; the English page says "innovations ... without sacrificing
# performance", which only a dictionary connects to 牺牲 / 性能 / 创新.
CEDICT_Q = "不牺牲性能的创新有哪些？"


def test_a_chinese_question_meets_english_page_text_through_cedict(settings, monkeypatch):
    from paperqa.answer import text

    ps = [p for p in qlora_passages() if p.kind == "paper"]
    assert confidence(CEDICT_Q, ps, catalog=catalog()) > DEFAULT_MIN_CONFIDENCE
    ans = ask(CEDICT_Q, settings, passages=ps)
    assert not ans.declined and ans.citations[0].paper_id == QLORA_ID
    assert any(c.quote and "sacrificing" in c.quote.text for c in ans.citations), ans.answer
    monkeypatch.setattr(text, "english_for", lambda tok: ())  # without the dictionary: no bridge
    assert confidence(CEDICT_Q, ps, catalog=catalog()) < DEFAULT_MIN_CONFIDENCE


def test_cedict_lookup_gives_translations_not_dictionary_notation():
    from paperqa.search.dictionary import DictionaryParams, chinese_for, english_for, glosses, params

    assert "attention" in english_for("注意力")
    assert {"quantize", "quantization"} <= set(english_for("量化"))
    assert "finetuning" in english_for("微调")  # "fine tuning", joined as a passage indexes it
    assert english_for("欧阳") == ()  # only a surname entry
    memory = english_for("记忆")  # ".../memory/CL:個|个[ge4]/": the classifier note is not a word
    assert "memory" in memory and not {"cl", "ge4", "个"} & set(memory)
    assert "document" not in english_for("上网")  # "(of a document etc) ...": parentheticals dropped
    assert english_for("的") == ()  # single characters have too many senses to translate
    assert "计算器" in chinese_for("calculator") and "量化" in chinese_for("quantization")
    p = params()
    assert p == DictionaryParams()  # dictionary_params.json and the dataclass agree
    heads = {g.head for g in glosses("打")} | {g.head for g in glosses("打开")}
    assert len(heads) > p.max_english  # a word with many senses ...
    for word in ("打开", "开", "上网", "生成"):
        fanned = {g.head for g in glosses(word)} & set(english_for(word))
        assert len(fanned) <= p.max_english  # ... fans out to at most max_english of them
    assert len(chinese_for("model")) <= p.max_chinese


def test_frame_words_come_from_the_modules_data_file():
    from paperqa.answer import text

    assert not hasattr(text, "GENERIC_TERMS")
    generic = text.generic_terms()
    assert {"paper", "explain", "介绍"} <= generic
    weights = {t.token: t.weight for t in text.question_terms("Explain the paper on QLoRA memory")}
    assert weights["explain"] < weights["memory"] < weights["qlora"]


def test_min_confidence_comes_from_the_call(settings):
    assert ask(EN_Q, settings, min_confidence=1.01).declined
    assert not ask(CAKE_Q, settings, min_confidence=0.0).declined


def test_no_passages_declines(settings):
    ans = ask(EN_Q, settings, passages=[])
    assert ans.declined and ans.closest == ()


# --- citation keys: the LLM cites numbers, code keeps only those it handed out ---------------


def test_map_citations_renumbers_by_first_use_and_drops_unknown_numbers():
    text, order = map_citations(
        "NF4 is optimal [2]. Paging avoids spikes [7][1]. Both save memory [2, 9].", 3
    )
    assert text == "NF4 is optimal [1]. Paging avoids spikes [2]. Both save memory [1]."
    assert order == [2, 1]


@pytest.mark.parametrize(
    ("raw", "expected", "order"),
    [
        ("a [1, 3] b", "a [1][2] b", [1, 3]),
        ("a [Passage 2] b", "a [1] b", [2]),
        ("a [2-3] b", "a [1][2] b", [2, 3]),
        ("a【2】b", "a[1]b", [2]),
        ("tokens [CLS] and [SEP] stay", "tokens [CLS] and [SEP] stay", []),
        ("the range [−1, 1] stays", "the range [−1, 1] stays", []),
        ("as in [28].", "as in.", []),
        ("optimizers. [1], [2], [3]", "optimizers. [1][2][3]", [1, 2, 3]),
        ("a [2], b and [9], c", "a [1], b and, c", [2]),
        ("x [1], [9].", "x [1].", [1]),
        ("unclosed [1", "unclosed [1", []),
    ],
)
def test_marker_forms(raw, expected, order):
    assert map_citations(raw, 3) == (expected, order)


def test_streamed_markers_split_across_deltas_map_the_same():
    raw = "QLoRA uses NF4 [2]. It pages optimizers [5]. Double quantization [1, 2] helps."
    whole, _ = map_citations(raw, 3)
    mapper = CitationMapper(3)
    pieces = [mapper.feed(ch) for ch in raw] + [mapper.finish()]
    assert (
        "".join(pieces)
        == whole
        == "QLoRA uses NF4 [1]. It pages optimizers. Double quantization [2][1] helps."
    )
    assert mapper.order == [2, 1] and mapper.dropped == [5]


class ScriptedLLM(LLMEngine):
    """A fake LLM: replays a fixed reply in chunks, as a streaming model would."""

    name = "scripted"

    def __init__(self, settings: Settings, chunks: list[str]):
        super().__init__(settings)
        self.chunks = chunks
        self.seen: list[list[dict[str, str]]] = []

    def complete(self, messages, max_tokens) -> Iterator[str]:
        self.seen.append(messages)
        yield from self.chunks


def test_llm_output_citations_map_to_the_given_passages_only(settings):
    llm = ScriptedLLM(
        settings,
        [
            "QLoRA freezes a 4-bit base model and pages optimizer states [",
            "3]. It also quantizes the quantization constants [9",
            "]. NF4 is optimal for normally distributed weights [1][3].",
        ],
    )
    items = list(
        answer_stream(
            EN_Q,
            qlora_passages(),
            catalog=catalog(),
            settings=settings,
            page_text=page_text,
            pdf_path=no_pdf,
            engine=llm,
        )
    )
    final = items[-1]
    assert isinstance(final, Answer) and final.engine == "scripted"
    assert "".join(i for i in items if isinstance(i, str)) == final.answer
    model_text, evidence = final.answer.split("\n\n", 1)
    assert model_text == (
        "QLoRA freezes a 4-bit base model and pages optimizer states [1]. "
        "It also quantizes the quantization constants. NF4 is optimal for normally distributed weights [2][1]."
    )
    # the model's answer is followed by the papers' own sentences, cited in the same numbering
    assert evidence.startswith("From the papers: ") and re.search(r"\[\d\]", evidence)
    given = {p.chunk_id for p in qlora_passages()}
    assert {c.paper_id for c in final.citations} == {QLORA_ID}
    assert [c.pages for c in final.citations[:2]] == [(5,), (1,)]  # passage 3 is page 5, passage 1 page 1
    assert all(c.quote is not None for c in final.citations)
    assert "Paged Optimizers" in final.citations[0].quote.text or "paged" in final.citations[0].quote.text
    assert_quotes_verbatim(final)
    assert given  # the prompt numbered the passages it was given, and nothing else
    prompt = llm.seen[0][1]["content"]
    assert "[1] QLoRA: Efficient Finetuning of Quantized LLMs, 2023 (p. 1)" in prompt
    assert "[13]" not in prompt and "[40, 62" not in prompt  # bibliography markers are not shown to the model


def test_llm_prompt_fits_the_budget_and_follows_the_question_language(settings):
    llm = ScriptedLLM(settings, ["x"])
    ps = qlora_passages()
    chosen = llm.select(ZH_Q, "zh", ps, catalog())
    assert 1 <= len(chosen) <= llm.max_passages
    messages = llm.messages(ZH_Q, "zh", make_sources(chosen, catalog(), page_text))
    assert "中文" in messages[0]["content"] and ZH_Q in messages[1]["content"]
    from paperqa.answer.text import estimate_tokens

    assert estimate_tokens(messages[0]["content"] + messages[1]["content"]) < llm.prompt_budget


def test_long_passages_are_trimmed_around_the_sentence_that_matches():
    text = " ".join(f"Sentence {i} talks about topic{i} with some filler words." for i in range(60))
    out = trim_passage(text, "What is topic30?", max_words=40)
    assert "topic30" in out and len(out.split()) <= 40
    assert trim_passage("Short [13] passage, us-\nage.", "q") == "Short passage, usage."


def test_llm_that_cites_nothing_gets_its_sources_attached(settings):
    llm = ScriptedLLM(
        settings, ["QLoRA uses Paged Optimizers with NVIDIA unified memory to avoid memory spikes."]
    )
    ans = ask(EN_Q, settings, engine=llm)
    assert not ans.declined and ans.citations
    model_text, evidence = ans.answer.split("\n\n", 1)
    assert model_text.endswith("[1]") or model_text.endswith("[1][2]")
    assert evidence.startswith("From the papers: ")  # its evidence follows all the same
    assert_numbered_by_first_use(ans)


def test_llm_refusal_despite_confident_retrieval_is_followed_by_the_passages(settings):
    """A small model's "does not cover" does not override retrieval that found the answer."""
    llm = ScriptedLLM(settings, ["The reading list does not cover this."])
    ans = ask(EN_Q, settings, engine=llm)
    assert not ans.declined and ans.citations and ans.citations[0].paper_id == QLORA_ID
    assert ans.answer.startswith("The reading list does not cover this.")
    assert "What the retrieved passages say:" in ans.answer
    assert_quotes_verbatim(ans)
    assert_numbered_by_first_use(ans)


def test_llm_is_not_called_and_answer_declines_when_retrieval_is_not_confident(settings):
    llm = ScriptedLLM(settings, ["QLoRA saves memory [1]."])
    ans = ask(
        "What is the best recipe for chocolate cake?",
        settings,
        passages=off_topic(qlora_passages()),
        engine=llm,
    )
    assert ans.declined and ans.citations == () and llm.seen == []


# --- engines: loading and their error messages -----------------------------------------------


def test_language_detection():
    assert detect_language(ZH_Q) == "zh" and detect_language(KIMI_Q) == "zh"
    assert detect_language(EN_Q) == "en" and detect_language("What is LLM.int8()?") == "en"


def test_verbatim_forgives_whitespace_only():
    page = "reduces memory us-\nage enough to finetune"
    assert verbatim_in("reduces memory us- age   enough", page)
    assert not verbatim_in("reduces memory usage enough", page)  # hyphenation is not whitespace
    assert not verbatim_in("Reduces memory us- age", page)  # nor is case
    assert not verbatim_in("", page)


def test_load_engine_by_name(settings):
    assert load_engine(settings).name == "extractive"
    assert load_engine(settings.with_(engine="openai")).name == "openai"
    assert load_engine(settings.with_(engine="llama")).name == "llama"  # lazy: no model loaded yet
    with pytest.raises(EngineError, match="extractive, llama or openai"):
        load_engine(settings.with_(engine="gpt5"))


def test_llama_engine_names_make_llm_when_no_model(settings, monkeypatch):
    with pytest.raises(EngineError, match="make llm"):
        gguf.resolve_model(settings.with_(llm_model=str(settings.home / "missing.gguf")))
    monkeypatch.setattr(gguf, "PART_MODULE", "paperqa_no_such_model_part{}")
    with pytest.raises(EngineError, match="make llm"):
        gguf.resolve_model(settings)
    assert not settings.models_dir.exists() or not any(settings.models_dir.iterdir())


def test_model_parts_are_assembled_atomically_and_checked(tmp_path):
    import hashlib

    parts = []
    for i, data in enumerate([b"GGUF" + b"a" * 1000, b"b" * 3000, b"c" * 10]):
        parts.append(tmp_path / f"part{i}.bin")
        parts[-1].write_bytes(data)
    whole = b"".join(p.read_bytes() for p in parts)
    target = tmp_path / "models" / "m.gguf"
    with pytest.raises(EngineError, match="make llm"):
        gguf.assemble(parts, target, "0" * 64)
    assert not target.exists() and list(target.parent.iterdir()) == []  # no half or wrong file left
    assert gguf.assemble(parts, target, hashlib.sha256(whole).hexdigest()) == target
    assert target.read_bytes() == whole


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_openai_engine_unreachable_says_where_and_how_to_start_one(settings):
    url = f"http://127.0.0.1:{_free_port()}/v1"
    engine = OpenAIEngine(settings.with_(openai_base_url=url, engine="openai"))
    with pytest.raises(EngineError) as err:
        ask(EN_Q, settings, engine=engine)
    msg = str(err.value)
    assert url in msg and "ollama serve" in msg and "llama_cpp.server" in msg


def test_openai_engine_streams_server_sent_events(settings, monkeypatch):
    monkeypatch.setenv("PAPERQA_TEST_KEY", "sk-test")
    seen: dict = {}

    def handler(request: httpx.Request) -> httpx.Response:
        seen["url"] = str(request.url)
        seen["auth"] = request.headers.get("authorization")
        seen["body"] = json.loads(request.content)
        events = [
            {"choices": [{"delta": {"role": "assistant"}}]},
            {"choices": [{"delta": {"content": "QLoRA pages optimizer "}}]},
            {"choices": [{"delta": {"content": "states [3"}}]},
            {"choices": [{"delta": {"content": "] and uses NF4 [1]."}}]},
        ]
        body = "".join(f"data: {json.dumps(e)}\n\n" for e in events) + "data: [DONE]\n\n"
        return httpx.Response(200, text=body, headers={"content-type": "text/event-stream"})

    s = settings.with_(
        openai_base_url="http://llm.test/v1/", openai_model="qwen", openai_api_key_env="PAPERQA_TEST_KEY"
    )
    engine = OpenAIEngine(s, transport=httpx.MockTransport(handler))
    ans = ask(EN_Q, s, engine=engine)
    assert seen["url"] == "http://llm.test/v1/chat/completions"
    assert seen["auth"] == "Bearer sk-test"
    assert (
        seen["body"]["stream"] is True
        and seen["body"]["model"] == "qwen"
        and seen["body"]["temperature"] == 0
    )
    assert ans.answer.split("\n\n")[0] == "QLoRA pages optimizer states [1] and uses NF4 [2]."
    assert [c.pages for c in ans.citations[:2]] == [(5,), (1,)]


def test_openai_engine_http_error_is_reported(settings):
    engine = OpenAIEngine(
        settings.with_(openai_base_url="http://llm.test/v1"),
        transport=httpx.MockTransport(lambda r: httpx.Response(404, text='{"error": "model not found"}')),
    )
    with pytest.raises(EngineError, match="HTTP 404.*model not found"):
        ask(EN_Q, settings, engine=engine)


def test_a_chinese_answer_leads_with_the_paper_when_the_list_only_names_it(settings):
    """The answer first: the list's LoRA lines say what LoRA is like, not how its update is built."""
    passages = [p for p in qlora_passages() if p.paper_id == LORA_ID] + [
        summary_passage(catalog().get(LORA_ID), 2)
    ]
    ans = ask("LoRA 的更新矩阵是怎样分解的？", settings, passages=passages)
    assert ans.answer.startswith("根据《LoRA") and "论文原文写道" in ans.answer
    assert ans.answer.index("论文原文写道") < ans.answer.index("阅读清单的摘要写道")
    assert ans.citations[0].kind == "paper"
    # a question the list's own lines speak to still opens with them
    qlora = ask(ZH_Q, settings)
    assert qlora.answer.index("阅读清单的摘要写道") < qlora.answer.index("论文原文写道")


def test_a_chinese_answer_introduces_the_papers_quotes_once(settings):
    """Several quotes of the paper make one sentence, "；" between them, not a "论文还写道" each."""
    text = ask(ZH_Q, settings).answer
    quotes = re.findall(r"“[^”]+”\[\d+\]", text)
    assert len(quotes) >= 2, text
    assert text.count("论文原文写道：") == 1 and "论文还写道" not in text
    assert re.search(r"”\[\d+\]；“", text), text


def test_a_chinese_answer_leads_with_the_paper_when_its_sentence_states_more_of_the_question(settings):
    """The list's LoRA line shares a word with the question ("可以训练的部分"), the paper's sentence
    states what is frozen and what is trained: the one that states more leads."""
    passages = [p for p in qlora_passages() if p.paper_id == LORA_ID] + [
        summary_passage(catalog().get(LORA_ID), 2)
    ]

    def opens_with_paper(question: str) -> bool:
        text = ask(question, settings, passages=passages).answer
        return text.index("论文原文写道") < text.index("阅读清单的摘要写道")

    assert opens_with_paper("LoRA 训练时冻结哪些权重、只训练哪些矩阵？")
    assert not opens_with_paper(
        "LoRA 训练的部分是怎么加到原来模型的权重矩阵上的？"
    )  # the list's line says it


@pytest.mark.parametrize(
    ("sentence", "ok"),
    [
        ("On GPT-3 175B, we reduce the VRAM consumption during training from 1.2TB to 350GB.", True),
        (
            "When training a 65B-parameter model, our code processes around 380 tokens/sec/GPU on 2048 A100 GPU.",
            True,
        ),
        (
            "GPT-3 (PreEmbed) 3.2M 63.1 88.6 48.3/24.2/40.5 GPT-3 (PreLayer) 20.2M 70.1 89.5 50.8/27.3/43.5.",
            False,
        ),
        ("Then adds a small set of learnable Low-rank Adapter weights [28] ∗Equal contribution.", False),
    ],
)
def test_a_sentence_with_quantities_is_quotable_a_table_row_or_footnote_is_not(sentence, ok):
    from paperqa.answer.quotable import quotable

    assert quotable(sentence, "paper") is ok


def test_what_is_opens_with_the_sentence_that_defines_the_name(settings):
    """ "What is QLoRA?" opens with "We present QLORA, an efficient finetuning approach ...", even
    under a scorer (BM25 alone) that prefers shorter sentences which merely mention it."""
    from paperqa.answer.extractive import ExtractiveEngine

    engine = ExtractiveEngine(params=SentenceParams(en_sentences=4))
    ans = ask("What is QLoRA?", settings, engine=engine)
    first = re.split(r"\[\d+\]", ans.answer)[0]
    assert "an efficient finetuning approach" in first
    # not a definition question: the scorer's order stands
    other = ask("How much memory does QLoRA need for a 65B model?", settings, engine=engine)
    assert not re.split(r"\[\d+\]", other.answer)[0].endswith("finetuning approach that reduces memory")


@pytest.mark.parametrize(
    ("question", "subject"),
    [
        ("What is a chain of thought?", "chain of thought"),
        ("What is ensemble refinement in Med-PaLM 2?", "ensemble refinement"),
        ("What are latent diffusion models?", "latent diffusion models"),
        ("What is the minimum number of GPU hours a replication would take?", None),  # no short phrase
        ("How does QLoRA save memory?", None),
    ],
)
def test_what_is_knows_the_phrase_it_asks_about_when_it_is_no_name(question, subject):
    """ "What is a chain of thought?" names nothing: the sentence that defines the phrase leads,
    in the frames a paper defines things in, an appositive dash among them."""
    from paperqa.answer.definitions import asked_subject, defines_subject

    assert asked_subject(question) == subject
    if subject == "chain of thought":
        assert defines_subject(
            "We explore how generating a chain of thought—a series of steps—helps", subject
        )
        assert defines_subject("a simple method called chain-of-thought prompting", subject)
        assert not defines_subject("Chain of thought prompting improves arithmetic reasoning.", subject)


def test_a_model_caught_in_a_loop_is_cut_where_it_repeats_itself(settings):
    """A small model at temperature 0 may write the same sentence until the token limit: the answer
    keeps each sentence once, then the papers' own sentences follow as usual."""
    said = "QLoRA quantizes the base model to 4-bit NormalFloat [1]. It also pages optimizer states [2]. "
    loop = "QLoRA 和 LoRA 都是微调方法，但方法不同。"
    reply = said + "QLoRA quantizes the base model to 4-bit NormalFloat [1]. " * 6
    chunks = [reply[i : i + 7] for i in range(0, len(reply), 7)]
    ans = ask(EN_Q, settings, engine=ScriptedLLM(settings, chunks))
    model_text, evidence = ans.answer.split("\n\n", 1)
    assert model_text.count("4-bit NormalFloat") == 1 and "pages optimizer states" in model_text
    assert evidence.startswith("From the papers: ")
    zh = ask(ZH_Q, settings, engine=ScriptedLLM(settings, ["QLoRA 用 4 位量化节省显存[1]。", *[loop] * 8]))
    assert zh.answer.split("\n\n", 1)[0].count(loop) == 1
    # a sentence may repeat a short one ("Yes.") or begin like an earlier one and go on differently
    varied = "It uses LoRA [1]. It uses LoRA adapters on every layer [1]."
    text = ask(EN_Q, settings, engine=ScriptedLLM(settings, [varied])).answer.split("\n\n", 1)[0]
    assert "adapters on every layer" in text


def test_a_model_that_says_the_question_back_is_not_shown_as_answering(settings):
    """A small model may copy the question as its answer ("QLoRA是如何节省显存的？[1]"): that
    sentence is dropped with its markers; with nothing else said, the passages answer instead."""
    echo = ScriptedLLM(settings, [ZH_Q[:5], ZH_Q[5:], "[1]"])
    ans = ask(ZH_Q, settings, engine=echo)
    assert ZH_Q not in ans.answer and not ans.declined
    assert ans.answer.startswith("检索到的段落这样说：") and ans.citations
    # said back, then answered: the answer stays, without the question in front of it
    both = ScriptedLLM(settings, [EN_Q, " [1]\n", "QLoRA quantizes the base model to 4-bit NormalFloat [1]."])
    text = ask(EN_Q, settings, engine=both).answer.split("\n\n", 1)[0]
    assert text.strip().startswith("QLoRA quantizes the base model") and EN_Q not in text
    # an answer that only begins like the question is kept whole
    like = "How does QLoRA save memory? By 4-bit NormalFloat"[:18] + " work? It quantizes to 4 bits [1]."
    assert ask(EN_Q, settings, engine=ScriptedLLM(settings, [like])).answer.startswith("How does QLoRA")


@pytest.mark.parametrize(
    ("sentence", "states"),
    [
        ("We train for 300K steps on 8 GPUs.", True),
        ("It reaches 91.7% accuracy.", True),
        ("As shown in Figure 3, the loss falls [12].", False),
        ("See Table 2 and Section 4.1 for details.", False),
        ("In 2017, attention-only models [Vas+17] replaced recurrence.", False),
    ],
)
def test_a_number_question_favours_sentences_that_state_a_quantity_not_a_reference(sentence, states):
    from paperqa.answer.kinds import question_kinds, states_a_number

    assert states_a_number(sentence) is states
    assert question_kinds("How many GPUs were used?")["q_number"] == 1.0
    assert question_kinds("训练用了多少块 GPU？")["q_number"] == 1.0
    assert question_kinds("What is LoRA?")["q_number"] == 0.0


def test_the_passages_own_section_heading_is_not_quoted_as_part_of_its_first_sentence():
    """An appendix heading ("C Generations from LLaMA-65B") on its own line before the first
    sentence is cut, as numbered headings are; a sentence that merely starts with "A" is not."""
    from paperqa.answer.headings import drop_heading

    section = "C Generations from LLaMA-65B"
    assert drop_heading(f"{section}\nIn this section, we show examples.", section) == (
        "In this section, we show examples."
    )
    wrapped = "A new model that we train on\nlarge data works."
    assert drop_heading(wrapped, "A Appendix") == wrapped
    assert drop_heading(f"{section}\n", section) == f"{section}\n"  # nothing else: kept
    # its parent's heading line above it goes too; a sentence above it stays (nothing is cut)
    parent = "A QLoRA vs Standard Finetuning Experimental Setup Details\nA.1 Hyperparameters for QLORA\n"
    assert drop_heading(parent + "We do a search.", "A.1 Hyperparameters for QLORA") == "We do a search."
    kept = "We train on data.\nA.1 Hyperparameters for QLORA\nWe do a search."
    assert drop_heading(kept, "A.1 Hyperparameters for QLORA") == kept


@pytest.mark.parametrize(
    ("sentence", "left"),
    [
        ("Data sets We introduced the C4 corpus.", "We introduced the C4 corpus."),
        ("Departure to Latent Space Our approach starts here.", "Our approach starts here."),
        ("We train the model.", "We train the model."),
        ("In this work we study scaling.", "In this work we study scaling."),
        ("Unlike prior work, We do it.", "Unlike prior work, We do it."),  # punctuation: no heading
    ],
)
def test_a_paragraphs_run_in_heading_is_not_quoted_with_its_first_sentence(sentence, left):
    """A bold heading printed on the sentence's own line ("Data sets We introduced ...") goes;
    a capitalised "We" after a few words with no punctuation between can only follow one."""
    from paperqa.answer.headings import drop_heading

    assert drop_heading(sentence) == left


def test_an_english_answer_tells_the_papers_we_in_the_third_person(settings):
    """The answer speaks of the authors: "Our best model family, which we name Guanaco" reads
    "Their best model family, which they name Guanaco" mid-answer, as an opening "We" reads "The
    authors"; the pages still hold the verbatim sentence."""
    ans = ask("What is Guanaco and how does it compare to ChatGPT?", settings)
    assert "their best model family, which they name Guanaco" in ans.answer
    assert not re.search(r"\b(we|our|us)\b", ans.answer, re.IGNORECASE), ans.answer
    assert_quotes_verbatim(ans)


def test_an_appendix_of_printed_model_output_is_not_quoted_as_the_papers_claim(settings):
    """ "F Model samples", "C Generations from LLaMA-65B": what a model wrote, printed as an
    example, is not what the paper says. The same passage under an ordinary appendix heading is."""
    from dataclasses import replace

    first, *rest = qlora_passages()

    def quoted_pages(section: str) -> set[int]:
        moved = replace(first, section=section, zone="appendix")
        ans = ask(EN_Q, settings, passages=[moved, *rest])
        return {c.quote.page for c in ans.citations if c.quote is not None and c.paper_id == first.paper_id}

    assert first.page_start not in quoted_pages("F Model samples")
    assert first.page_start not in quoted_pages("C Generations from LLaMA-65B")
    assert first.page_start in quoted_pages("B Training details")


@pytest.mark.parametrize(
    "question",
    [
        "Which papers in the reading list are about memory-efficient fine-tuning?",
        "Which of the listed papers are about memory-efficient fine-tuning?",
        "哪些论文是关于节省显存的微调的？",
        "阅读清单里有哪些关于节省显存的微调的论文？",
    ],
)
def test_a_which_papers_question_is_answered_with_the_papers(settings, question):
    """ "Which papers ...?" in either language, however the words between are ordered, names the
    papers first, then a line of evidence for each."""
    ans = ask(question, settings)
    lead = (
        "阅读清单中涉及这个问题的论文有："
        if "？" in question
        else "The papers in the reading list that address this are"
    )
    assert ans.answer.startswith(lead), ans.answer
    assert "QLoRA" in ans.answer.split("。")[0].split(". ")[0]


FIGURE_PAGE = (
    "Our labelers prefer the outputs of the aligned model on most prompts.\n"
    "Prompt:\nWhy is it important to eat socks after meditating?\n"
    "GPT-3 175B completion: InstructGPT 175B completion:\n"
    "There is no clear answer to this question, but there are many theories about it.\n"
    "Other theories propose that eating a sock may give the meditator a new sensory experience.\n"
    "Model Output Figure 8: Examples of generalization of the aligned model.\n"
    "The aligned model follows instructions in languages it was rarely trained on.\n"
)


def test_the_text_printed_under_an_example_label_is_not_the_papers_claim() -> None:
    """A body figure prints a model's completion under its label; a passage that starts inside
    it (the label is earlier on the page) still knows, and the caption ends the example."""
    page = {(QLORA_ID, 16): FIGURE_PAGE}

    def text_of(paper_id: str, n: int) -> str:
        return page.get((paper_id, n), "")

    start = FIGURE_PAGE.index("There is no clear")
    passage = replace(qlora_passages()[0], text=FIGURE_PAGE[start:], page_start=16, page_end=16, section="")
    flags = {s.text.split()[0]: s.example for s in make_sources([passage], catalog(), text_of)[0].sentences}
    assert flags == {"There": True, "Other": True, "Model": False, "The": False}, flags
    whole = replace(passage, text=FIGURE_PAGE)
    flags = {s.text.split()[0]: s.example for s in make_sources([whole], catalog(), text_of)[0].sentences}
    assert flags["Our"] is False and flags["Other"] is True and flags["The"] is False, flags


@pytest.mark.parametrize(
    ("sentence", "ok"),
    [
        ("La grenouille avance alors d’un pas rapide et aventureux dans les rues en pente.", False),
        (
            "Plan: find(apple), pick(apple), find(trash), put(apple), find(sponge), pick(sponge), find(table), put(sponge).",
            False,
        ),
        ("Score-based generative modeling through stochastic differential equations, 2021.", False),
        ("We train the model on eight GPUs for three days with a batch of 25,000 tokens.", True),
        ("Prompt: Write a short story about a frog who travels back in time to ancient Greece.", False),
        ("A: When you eat socks, you are tasting the essence of enlightenment and of the mind.", False),
        ("GPT-3 175B completion: The pumpkin will pull the cannonball in, and it will bounce.", False),
        ("Answer: Yes, BERTBASE achieves almost 1.0% additional accuracy on MNLI when trained longer.", True),
    ],
)
def test_a_printed_example_or_a_sentence_with_no_english_function_word_is_not_quoted(sentence, ok):
    """A paper's prose always has a "the", "of" or "we"; a sample in French, a robot's plan or a
    reference's title has none. An example printed under its label (a prompt, an exemplar's
    "A:", a model's completion) is not the paper's claim; BERT's own "Answer:" is."""
    from paperqa.answer.quotable import quotable

    assert quotable(sentence, "paper") is ok


def test_a_lettered_appendix_ends_a_sentence_and_an_initial_does_not():
    """ "... found in Appendix E. Double Quantization We introduce ...": E labels an appendix."""
    from paperqa.answer.text import split_sentences

    text = "Values are in Appendix E. Double Quantization We introduce DQ. Written by A. B. Jones."
    assert split_sentences(text) == [
        "Values are in Appendix E.",
        "Double Quantization We introduce DQ.",
        "Written by A. B. Jones.",
    ]


def test_the_highlighted_quote_is_the_sentence_the_answer_states_first_with_its_citation():
    """A passage across two pages, the answer stating a long sentence of page 7 first and a short
    one of page 8 after it: the citation's quote (what the reader's page view opens and highlights)
    is the one stated first; a paraphrase that states no sentence whole gets the closest one."""
    from paperqa.answer.base import Sentence, Source
    from paperqa.answer.citations import build_citations

    long7 = "We apply dropout to the output of each sub-layer, before it is added to the sub-layer input."
    short8 = "For the base model, we use a rate of 0.1."
    other = "Label smoothing hurts perplexity but improves accuracy and BLEU score."
    passage = qlora_passages()[0]
    src = Source(1, passage, QLORA, (Sentence(other, 7), Sentence(long7, 7), Sentence(short8, 8)))
    stated = "The authors apply dropout to the output of each sub-layer, before it is added to the sub-layer input [1]. For the base model, they use a rate of 0.1 [1]."
    (cited,) = build_citations([src], [1], stated, "Where is dropout applied, and at what rate?", no_pdf)
    assert cited.quote is not None and cited.quote.text == long7 and cited.quote.page == 7
    zh = f"论文原文写道：“{short8}”[1]；“{long7}”[1]。"
    (cited,) = build_citations([src], [1], zh, "dropout 率是多少？", no_pdf)
    assert cited.quote.text == short8 and cited.quote.page == 8  # the first quoted of one sentence
    paraphrase = "Smoothing the labels costs perplexity yet raises BLEU [1]."
    (cited,) = build_citations([src], [1], paraphrase, "What does label smoothing do?", no_pdf)
    assert cited.quote.text == other


def test_an_english_answer_shows_a_list_lead_in_with_its_numbered_items_once(settings):
    """A reading-list line ending in a colon ("QLoRA 引入了几项创新：") is shown with the numbered
    items after it, as a Chinese answer shows it, and an item is not quoted a second time on its own."""
    text = (
        "QLoRA 引入了几项创新，以节省显存 memory：\n1. 4-bit NormalFloat（NF4）数据类型；\n"
        "2. 双重量化 double quantization，量化量化常数；\n3. 分页优化器 paged optimizers，管理显存峰值。\n"
        "作者还训练了 Guanaco 模型。"
    )
    entry = replace(QLORA_SUMMARY, text=text)
    paper = replace(QLORA, summaries=(entry,))
    passage = replace(summary_passage(paper, 0), text=text)
    cat = Catalog(items=(paper,), mentions=(), source_hash="t", papers_file=Path("p.toml"), list_files=())
    ans = ask(
        "How does QLoRA save memory with double quantization?", settings, passages=[passage], catalog=cat
    )
    body = ans.answer
    assert "memory：1. 4-bit NormalFloat（NF4）数据类型；2. 双重量化" in body
    assert body.count("双重量化") == 1 and body.count("paged optimizers") == 1
    assert_quotes_verbatim(ans)


def test_what_is_opens_with_the_papers_first_definition_not_a_later_variant(settings):
    """A paper defines its method where it introduces it; a later section that proposes a variant
    ("we propose sharded QLoRA, whose ...") frames the name the same way but does not say what it is."""
    from test_answer_data import chunk

    variant = (
        "We extend QLORA to many devices: we propose sharded QLORA, whose memory footprint per "
        "device is smaller than QLORA by a factor proportional to the number of devices."
    )
    later = replace(
        chunk(QLORA, 5, "Double Quantization We", "additional memory savings.", 1, "3.3 Extension"),
        chunk_id=f"{QLORA_ID}:paper:9:0",
        text=variant,
        page_start=9,
        page_end=9,
    )
    first = chunk(
        QLORA, 1, "We present QLORA", "(c) Paged Optimizers to manage memory spikes.", 2, "Abstract"
    )
    pages = lambda pid, page: variant if (pid, page) == (QLORA_ID, 9) else page_text(pid, page)  # noqa: E731
    ans = ask("What is QLoRA?", settings, passages=[later, first], page_text=pages)
    lead = re.split(r"\[\d+\]", ans.answer)[0]
    assert "an efficient finetuning approach" in lead and "sharded" not in lead, ans.answer
