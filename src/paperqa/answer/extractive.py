"""The default engine: no LLM, instant. Picks the few sentences that answer best and frames them.

Sentences are scored with BM25 against the question's terms (Chinese terms also through the
glossary), a sentence inherits its paper's name (a chunk about NF4 rarely repeats "QLoRA"), and
better-ranked passages get a small prior. Picking is MMR so that two near-identical sentences
(an abstract and its introduction often say the same thing) are not both shown. Only sentences
that stand verbatim in their page are used, so the quote under each citation is the very
sentence the answer used. The answer is framed as one ("QLoRA (2023) introduces ..."), and for a
Chinese question it leads with the reading list's own Chinese summary, then quotes the paper.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from ..keywords import tokenize
from ..records import Paper, Passage
from ..rerank import SECTION_KINDS, section_kind
from .base import PaperLookup, Source, paper_for, short_name
from .text import Term, collapse_ws, lite_stem, question_terms, stems, term_matches, tidy, word_set

_LOWER_FIRST = word_set(
    """The This These That Those It Its In To A An For By With Since Because However Therefore
    Thus Unlike Instead Each Both Such When While Using As Their Here Our We Most Many All First
    Second Third Finally Then Also Moreover Furthermore Additionally Specifically Note One Another
    Overall Recently More Given Although Compared Following Based After Before During Without Instead"""
)
_MATH_RE = re.compile(r"[=∈×≪≫≈∑∏√→←⊙≤≥]")
_PANEL_RE = re.compile(r"^\((left|right|top|bottom)\)", re.IGNORECASE)
_CAPTION_RE = re.compile(r"^(Figure|Fig\.|Table|Algorithm|\((left|right|top|bottom|a|b|c)\))", re.IGNORECASE)
# A bibliography marker used as a word ("such as [17] and [9]"): without it the sentence breaks.
_REF_AS_WORD_RE = re.compile(
    r"\b(as|see|in|by|of|and|or|from|to|like|following|with|use|uses|e\.g\.|cf\.)\s*\[\d"
)
_NOT_PROSE = ("•", "arxiv preprint", "arxiv:", "in proceedings", "proceedings of", "preprint", "©")
_LIST_Q_RE = re.compile(
    r"\bwhich (papers|works|articles|models)\b|\blist (the |all )?papers\b|\bwhat papers\b|"
    r"哪些论文|哪几篇|哪些文章|哪些工作",
    re.IGNORECASE,
)
_DEFINITION_Q_RE = re.compile(r"^\s*(what is|what are|what's|什么是)|是什么[？?]?\s*$", re.IGNORECASE)
_DEFINITION_S_RE = re.compile(r"\b(is an?|are|we (present|propose|introduce))\b", re.IGNORECASE)
_LIST_ITEM_RE = re.compile(r"^\s*\d{1,2}\s*[.、)]")
SENTENCE_PARAMS_FILE = Path(__file__).with_name("sentence_params.json")
_CJK_CHARS_RE = re.compile(r"[\u4e00-\u9fff]")
_NOISE_ZH = ("解读之一", "翻译之一", "代码地址")


@dataclass
class _Cand:
    source: Source
    index: int  # position among the source's sentences
    text: str
    page: int | None
    toks: list[str]
    rel: float = 0.0

    @property
    def zh(self) -> bool:
        """Reading-list text (Chinese, even a line of English terms in it) rather than the paper's."""
        return self.source.kind == "summary"


class ExtractiveEngine:
    """Answers by quoting: 2-4 sentences from the retrieved passages, each cited."""

    name = "extractive"

    def __init__(self, mmr_lambda: float = 0.7, params: SentenceParams | None = None):
        self.mmr_lambda = mmr_lambda
        self.params = params if params is not None else SentenceParams.load()

    # --- sources -------------------------------------------------------------------
    def select(
        self, question: str, lang: str, passages: Sequence[Passage], catalog: PaperLookup
    ) -> list[Passage]:
        """All passages but references, plus the top papers' reading-list entries: always for a
        Chinese question, and for a paper known only by its abstract card (PDF not downloaded)."""
        chosen = [p for p in passages if p.zone != "references"] or list(passages)
        have = {p.paper_id for p in chosen if p.kind == "summary"}
        with_text = {p.paper_id for p in chosen if p.kind == "paper"}
        papers = list(dict.fromkeys(p.paper_id for p in chosen))[:2]
        for pid in papers:
            if pid in have or (lang != "zh" and pid in with_text):
                continue
            paper = paper_for(next(p for p in chosen if p.paper_id == pid), catalog)
            for i, entry in enumerate(paper.summaries):
                chosen.append(
                    Passage(
                        chunk_id=f"{pid}:summary:{i}",
                        paper_id=pid,
                        title=paper.title,
                        kind="summary",
                        text=entry.text,
                        score=0.0,
                        summary_index=i,
                    )
                )
        return chosen

    # --- answer --------------------------------------------------------------------
    def generate(self, question: str, lang: str, sources: Sequence[Source]) -> Iterator[str]:
        cands, terms, list_q = self.scored(question, lang, sources)
        en = [c for c in cands if not c.zh]
        zh = [c for c in cands if c.zh]
        if list_q:
            parts = self._compose_list(en, zh, lang)
        elif lang == "zh":
            parts = self._compose_zh(en, zh)
        else:
            parts = self._compose_en(cands, terms)
        sep = "" if lang == "zh" else " "
        for i, part in enumerate(parts):
            yield part if i == 0 else sep + part

    def scored(
        self, question: str, lang: str, sources: Sequence[Source]
    ) -> tuple[list[_Cand], list[Term], bool]:
        """The candidate sentences with their relevance set, the question's terms, and whether
        it asks for a list of papers. A Chinese or list question scores the paper sentences and
        the reading-list lines as two pools (each answer shows both); otherwise one pool."""
        terms = question_terms(question)
        list_q = bool(_LIST_Q_RE.search(question))
        if list_q:  # "which papers in the reading list": those words pick no paper
            terms = [t for t in terms if t.weight >= 1.0] or terms
        cands = _candidates(sources)
        if lang == "zh" or list_q:
            _score([c for c in cands if not c.zh], terms, question, self.params)
            _score([c for c in cands if c.zh], terms, question, self.params)
        else:
            _score(cands, terms, question, self.params)
        return cands, terms, list_q

    def _compose_en(self, cands: list[_Cand], terms: Sequence[Term]) -> list[str]:
        picked = _mmr(cands, self.params.en_sentences, self.mmr_lambda, self.params)
        picked = _with_named_papers(_lead_paper_first(picked, self.params.second_paper_share), cands, terms)
        out: list[str] = []
        seen_papers: list[str] = []
        for c in _grouped(picked):
            pid = c.source.paper.paper_id
            body = _display(c.text)
            if c.zh:
                lead = (
                    f"The reading list's summary of {_named(c, True)} says: "
                    if pid not in seen_papers
                    else ""
                )
                out.append(_cite(f"{lead}“{collapse_ws(c.text)}”", c))
            elif pid not in seen_papers:
                out.append(_cite(_lead_en(c, body, first=not seen_papers), c))
            else:
                out.append(_cite(_rewrite_we(body), c))
            if pid not in seen_papers:
                seen_papers.append(pid)
        return out

    def _compose_list(self, en: list[_Cand], zh: list[_Cand], lang: str) -> list[str]:
        """ "Which papers ...?": name each paper that answers, then a line of evidence for the best."""
        best: dict[str, _Cand] = {}
        for c in sorted(en + zh, key=lambda c: (c.zh != (lang == "zh"), -c.rel)):
            best.setdefault(c.source.paper.paper_id, c)
        ranked = sorted(best.values(), key=lambda c: -c.rel)
        if not ranked:
            return []
        top = ranked[0].rel
        # every retrieved paper with an on-topic sentence, in retrieval order: sentence scores
        # favour the paper that repeats the term most, retrieval judged the papers as wholes
        ranked = [c for c in ranked if c.rel >= 0.1 * top][:4] if top > 0 else ranked[:1]
        ranked.sort(key=lambda c: c.source.number)
        if lang == "zh":
            names = "、".join(
                f"《{c.source.paper.title}》{_note_zh(c.source.paper)}[{c.source.number}]" for c in ranked
            )
            out = [f"阅读清单中涉及这个问题的论文有：{names}。"]
            for c in ranked[:3]:
                body = _display_zh(c) if c.zh else f"论文原文写道：“{_display(c.text)}”"
                out.append(
                    _cite(f"《{short_name(c.source.paper)}》：{body}", c, zh=True, inside_quote=not c.zh)
                )
            return out
        names = ", ".join(f"{_named(c, True)} [{c.source.number}]" for c in ranked)
        out = [f"The papers in the reading list that address this are {names}."]
        for c in ranked[:3]:
            if c.zh:
                out.append(_cite(f"The reading list's summary of {_named(c)} says: “{_display(c.text)}”", c))
            else:
                out.append(_cite(_lead_en(c, _display(c.text), first=True), c))
        return out

    def _compose_zh(self, en: list[_Cand], zh: list[_Cand]) -> list[str]:
        prm = self.params
        picked_en = [c for c in _mmr(en, prm.zh_paper_sentences, self.mmr_lambda, prm) if c.rel > 0]
        top_zh = [c for c in _top(zh, prm.zh_summary_sentences) if c.rel > 0] or _top(zh, 1)
        rank: dict[str, int] = {}
        for c in en + zh:  # a paper ranks where retrieval first put it
            pid = c.source.paper.paper_id
            rank[pid] = min(rank.get(pid, c.source.number), c.source.number)
        order = sorted(
            dict.fromkeys(c.source.paper.paper_id for c in picked_en + top_zh), key=rank.__getitem__
        )
        if not order:
            return []
        best = {pid: max(c.rel for c in en + zh if c.source.paper.paper_id == pid) for pid in order}
        first_best = best[order[0]] or 1.0
        order = order[:1] + [pid for pid in order[1:2] if best[pid] >= prm.second_paper_share * first_best]
        out: list[str] = []
        for n, pid in enumerate(order):
            mine_zh = _top(
                [c for c in zh if c.source.paper.paper_id == pid], prm.zh_summary_sentences if n == 0 else 1
            )
            mine_en = [c for c in picked_en if c.source.paper.paper_id == pid][
                : prm.zh_paper_sentences if n == 0 else 1
            ]
            if not mine_zh and not mine_en:
                continue
            paper = (mine_zh or mine_en)[0].source.paper
            head = ("根据" if n == 0 else "另外，") + f"《{paper.title}》{_note_zh(paper)}"
            pieces: list[str] = []
            if mine_zh:
                zh_text = "".join(_cite(_display_zh(c), c, zh=True) for c in mine_zh)
                pieces.append(f"{head}，阅读清单的摘要写道：{zh_text}")
            for i, c in enumerate(mine_en):
                said = "论文原文写道" if i == 0 else "论文还写道"
                text = f"{said}：“{_display(c.text)}”"
                if not pieces:
                    text = f"{head}，{text}"
                pieces.append(_cite(text, c, zh=True, inside_quote=True))
            out.extend(pieces)
        return out


# --- candidates and scoring --------------------------------------------------------------


def _candidates(sources: Sequence[Source]) -> list[_Cand]:
    """Sentences worth showing: whole, mostly words (not a table or a formula), and verbatim in
    their page, so the quote is the sentence itself (if no page text is there to check at all,
    unchecked ones are used and their citations carry no quote)."""
    out: list[_Cand] = []
    unchecked: list[_Cand] = []  # used only when no page text can be checked at all
    for src in sources:
        for i, s in enumerate(src.sentences):
            if not _quotable(s.text, src.kind):
                continue
            cand = _Cand(src, i, s.text, s.page, [lite_stem(t) for t in tokenize(s.text)])
            (out if s.page is not None else unchecked).append(cand)
    return out or unchecked


def _quotable(text: str, kind: str) -> bool:
    flat = collapse_ws(text)
    if re.search(r"[\u4e00-\u9fff]", flat):
        fragment = flat[0] in "，,、；;：:。）)”"  # cut after a quoted question mark
        # a link label ("……的解读之一") says nothing; a line that goes on to say something does
        said = flat
        for n in _NOISE_ZH:
            said = said.replace(n, "")
        noisy = said != flat and len(_CJK_CHARS_RE.findall(said)) < 20
        return len(flat) >= 12 and not fragment and not noisy
    low = flat.lower()
    if not 40 <= len(flat) <= 450 or "http" in low or "@" in low or any(n in low for n in _NOT_PROSE):
        return False
    if _REF_AS_WORD_RE.search(flat) or re.search(r".\b(Figure|Table|Fig\.) \d+:", flat):
        return False  # a ref used as a word, or a caption glued to the text
    if _PANEL_RE.match(flat):
        return False  # "(right) Multi-Head Attention ...": a figure panel's caption
    words_ = flat.split()
    caps = sum(1 for w in words_[1:] if w[:1].isupper())
    if len(words_) >= 8 and caps > 0.45 * (len(words_) - 1):
        return False  # labels of a figure, or a title, read as one line
    lines = [ln for ln in text.splitlines() if ln.strip()]
    if len(lines) >= 4 and sum(map(len, lines)) / len(lines) < 30:
        return False  # a table read row by row
    if not (flat[0].isupper() or flat[0].isdigit() or flat[0] in '("“'):
        return False  # starts mid-sentence: the chunk cut it
    if kind == "paper" and flat[-1] not in '.!)"”:':
        return False  # cut off by the chunk, or a question (rhetorical questions answer nothing)
    chars = [c for c in flat if not c.isspace()]
    letters = sum(c.isalpha() for c in chars)
    words = flat.split()
    numeric = sum(1 for w in words if re.search(r"\d", w))
    return letters >= 0.65 * len(chars) and numeric <= 0.25 * len(words)


_NUMBER_Q_RE = re.compile(r"\bhow (many|much|large|big|long)\b|多少|几个|多大|多长|多久", re.IGNORECASE)
_WHY_Q_RE = re.compile(r"\bwhy\b|为什么|为何", re.IGNORECASE)
_REASON_S_RE = re.compile(r"\b(because|since|due to|so that|in order to|allows?|enables?)\b", re.IGNORECASE)
_NUMBER_S_RE = re.compile(r"\d")


def sentence_feature_names() -> tuple[str, ...]:
    sections = tuple(f"sec_{k}" for k in SECTION_KINDS)
    return (
        "bm25",
        "coverage",
        "coverage_topic",
        "named_miss",
        "title_cov",
        "source_rank",
        "source_score",
        "position",
        "summary",
        "definition",
        "number",
        "reason",
        "caption",
        "math",
        "length",
        *sections,
    )


@dataclass(frozen=True)
class SentenceParams:
    """How sentences are chosen. `weights` is a logistic model over `sentence_feature_names()`,
    fitted on the tuning half by `scripts/fit_sentences.py`; the MMR thresholds say when a
    sentence is too weak or too repetitive to add after the first."""

    k1: float = 1.2  # BM25 term-frequency saturation (the usual value)
    b: float = 0.5  # BM25 length normalisation for paper sentences
    b_summary: float = 0.2  # reading-list lines are short: their length says little
    min_rel: float = 0.15  # a sentence below this share of the best one is not added
    min_rel_third: float = 0.3  # ... nor, as a third sentence, below this
    max_overlap: float = 0.6  # word overlap (Jaccard) over which a sentence repeats one picked
    en_sentences: int = 3  # sentences in an English answer
    zh_paper_sentences: int = 2  # sentences of the paper's own text in a Chinese answer
    zh_summary_sentences: int = 2  # reading-list lines leading a Chinese answer
    second_paper_share: float = 0.0  # a second paper joins a Chinese answer when its best sentence
    # scores at least this share of the first paper's best
    names: tuple[str, ...] = ()
    mean: tuple[float, ...] = ()
    scale: tuple[float, ...] = ()
    weights: tuple[float, ...] = ()
    bias: float = 0.0
    fitted_on: dict[str, object] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path = SENTENCE_PARAMS_FILE) -> SentenceParams:
        if not path.is_file():
            return cls()
        raw = json.loads(path.read_text(encoding="utf-8"))
        for key in ("names", "mean", "scale", "weights"):
            raw[key] = tuple(raw.get(key, ()))
        params = cls(**raw)
        if params.weights and params.names != sentence_feature_names():
            return cls(k1=params.k1, b=params.b, b_summary=params.b_summary)
        return params

    def save(self, path: Path = SENTENCE_PARAMS_FILE) -> None:
        path.write_text(json.dumps(asdict(self), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def sentence_features(
    cands: list[_Cand], terms: Sequence[Term], question: str, params: SentenceParams
) -> np.ndarray:
    """One row of `sentence_feature_names()` per candidate sentence, over this pool."""
    names = sentence_feature_names()
    if not cands:
        return np.zeros((0, len(names)), dtype=np.float32)
    name_sets = {id(c.source): _name_stems(c.source) for c in cands}
    total_w = sum(t.weight for t in terms) or 1.0
    title_cov = {
        k: sum(t.weight for t in terms if term_matches(t, v)) / total_w for k, v in name_sets.items()
    }
    avgdl = sum(len(c.toks) for c in cands) / len(cands) or 1.0
    tfs: list[dict[str, int]] = []
    for c in cands:
        joined = set(c.toks) | {a + b_ for a, b_ in zip(c.toks, c.toks[1:], strict=False)}
        tf: dict[str, int] = {}
        for t in terms:
            n = sum(1 for tok in c.toks if tok in t.alts) or (1 if any(a in joined for a in t.alts) else 0)
            if not n and t.named and term_matches(t, name_sets[id(c.source)]):
                n = 1  # a sentence of the QLoRA paper is about QLoRA even when it says "we"
            tf[t.token] = min(n, 1) if c.zh else n  # list notes repeat terms without saying more
        tfs.append(tf)
    df = {t.token: sum(1 for x in tfs if x[t.token]) for t in terms}
    named = [t for t in terms if t.named]
    topic = [t for t in terms if not t.named]
    topic_w = sum(t.weight for t in topic) or 1.0
    on_topic = [any(tf[t.token] for t in named) for tf in tfs]
    definition_q = bool(_DEFINITION_Q_RE.search(question))
    number_q = bool(_NUMBER_Q_RE.search(question))
    why_q = bool(_WHY_Q_RE.search(question))
    top_score = max((c.source.passage.score for c in cands), default=0.0) or 1.0
    rows = []
    for c, tf, hit in zip(cands, tfs, on_topic, strict=True):
        b = params.b_summary if c.zh else params.b
        bm25 = 0.0
        for t in terms:
            if tf[t.token]:
                idf = math.log(1 + (len(cands) - df[t.token] + 0.5) / (df[t.token] + 0.5))
                norm = (
                    tf[t.token]
                    * (params.k1 + 1)
                    / (tf[t.token] + params.k1 * (1 - b + b * len(c.toks) / avgdl))
                )
                bm25 += t.weight * idf * norm
        sec = section_kind(c.source.passage.kind, c.source.passage.section)
        values = {
            "bm25": bm25,
            "coverage": sum(t.weight for t in terms if tf[t.token]) / total_w,
            # what the question asks about the thing it names: its other words
            "coverage_topic": sum(t.weight for t in topic if tf[t.token]) / topic_w,
            "named_miss": float(bool(named) and any(on_topic) and not hit),
            "title_cov": title_cov[id(c.source)],
            "source_rank": 1.0 / c.source.number,
            "source_score": c.source.passage.score / top_score,
            "position": 1.0 / (1 + c.index),
            "summary": float(c.zh),
            "definition": float(definition_q and bool(_DEFINITION_S_RE.search(c.text))),
            "number": float(number_q and bool(_NUMBER_S_RE.search(c.text))),
            "reason": float(why_q and bool(_REASON_S_RE.search(c.text))),
            "caption": float(bool(_CAPTION_RE.match(c.text.lstrip()))),
            "math": float(len(_MATH_RE.findall(c.text)) >= 3),
            "length": min(len(c.text), 400) / 400,
            **{f"sec_{k}": float(sec == k) for k in SECTION_KINDS},
        }
        rows.append([values[n] for n in names])
    x = np.asarray(rows, dtype=np.float32)
    top = x[:, 0].max()
    if top > 0:
        x[:, 0] /= top  # BM25 is relative to this pool
    return x


def _score(cands: list[_Cand], terms: Sequence[Term], question: str, params: SentenceParams) -> None:
    """Each candidate's relevance: the fitted model's probability, or BM25 alone when unfitted."""
    if not cands:
        return
    x = sentence_features(cands, terms, question, params)
    if params.weights:
        z = ((x - np.asarray(params.mean)) / np.asarray(params.scale)) @ np.asarray(
            params.weights
        ) + params.bias
        rel = 1.0 / (1.0 + np.exp(-z))
    else:
        rel = x[:, 0]
    for c, r in zip(cands, rel, strict=True):
        c.rel = float(r)


def _sim(a: _Cand, b: _Cand) -> float:
    sa, sb = set(a.toks), set(b.toks)
    return len(sa & sb) / len(sa | sb) if sa and sb else 0.0


def _mmr(cands: list[_Cand], k: int, lam: float, params: SentenceParams) -> list[_Cand]:
    """Relevant and not repeating each other; weak sentences are left out rather than padded in."""
    if not cands:
        return []
    top = max(c.rel for c in cands)
    if top <= 0:
        return [min(cands, key=lambda c: (c.source.number, c.index))]
    picked: list[_Cand] = []
    pool = list(cands)
    while pool and len(picked) < k:

        def mmr(c: _Cand) -> float:
            red = max((_sim(c, p) for p in picked), default=0.0)
            return lam * c.rel / top - (1 - lam) * red

        best = max(pool, key=mmr)
        rel = best.rel / top
        if picked and (
            rel < params.min_rel
            or (rel < params.min_rel_third and len(picked) >= 2)
            or max(_sim(best, p) for p in picked) > params.max_overlap
        ):
            break
        picked.append(best)
        pool.remove(best)
    return picked


def _with_named_papers(picked: list[_Cand], cands: list[_Cand], terms: Sequence[Term]) -> list[_Cand]:
    """ "LoRA vs QLoRA": each paper the question names gets a sentence of its own, when we have one."""
    named = [t for t in terms if t.named]
    if len(named) < 2:
        return picked
    out = list(picked)
    for t in named:
        own = [c for c in cands if term_matches(t, _name_stems(c.source)) and c.rel > 0]
        if not own or any(c.source.paper.paper_id == own[0].source.paper.paper_id for c in out):
            continue
        best = max(own, key=lambda c: c.rel)
        if len(out) >= 3:
            out.pop()
        out.append(best)
    return out


def _name_stems(src: Source) -> set[str]:
    return stems(" ".join([src.paper.title, *src.paper.aliases]))


def _top(cands: list[_Cand], k: int) -> list[_Cand]:
    """Best k by relevance (ties: the source's own order), shown in their order in the source."""
    if not cands:
        return []
    ranked = sorted(cands, key=lambda c: (-c.rel, c.source.number, c.index))[:k]
    best = ranked[0].rel
    ranked = [c for c in ranked if c.rel >= 0.4 * best] if best > 0 else ranked[:1]
    return sorted(ranked, key=lambda c: (c.source.number, c.index))


def _lead_paper_first(picked: list[_Cand], second_share: float) -> list[_Cand]:
    """The paper retrieval ranked first leads the answer (its passages were judged as a whole,
    a sentence's score alone is noisier); another paper stays only when its best sentence is at
    least `second_share` as relevant as the lead paper's best."""
    if not picked:
        return picked
    first_source = {}
    for c in picked:
        pid = c.source.paper.paper_id
        first_source[pid] = min(first_source.get(pid, c.source.number), c.source.number)
    lead = min(first_source, key=first_source.__getitem__)
    lead_best = max(c.rel for c in picked if c.source.paper.paper_id == lead)
    keep = [c for c in picked if c.source.paper.paper_id == lead]
    keep += [c for c in picked if c.source.paper.paper_id != lead and c.rel >= second_share * lead_best]
    return keep


def _grouped(picked: list[_Cand]) -> list[_Cand]:
    """Keep each paper's sentences together, papers in order of their best sentence."""
    order = list(dict.fromkeys(c.source.paper.paper_id for c in picked))
    return [c for pid in order for c in picked if c.source.paper.paper_id == pid]


# --- wording -------------------------------------------------------------------------------


def _display(text: str) -> str:
    """The sentence as the answer shows it: hyphenation at line ends undone, [28]-style refs
    and a leading enumerator ("(2) ") gone. The quote under the citation stays verbatim."""
    return re.sub(r"^\(?[0-9a-z]\)\s+(?=[A-Z0-9])", "", tidy(text))


def _display_zh(c: _Cand) -> str:
    """A summary sentence; a lead-in ending in a colon brings its numbered items along."""
    text = collapse_ws(c.text)
    if text.endswith(("：", ":")):
        items = []
        for s in c.source.sentences[c.index + 1 : c.index + 5]:
            if not _LIST_ITEM_RE.match(s.text):
                break
            items.append(collapse_ws(s.text).rstrip("；;。"))
        if items:
            text += "；".join(items) + "。"
    return text


def _note_zh(paper: Paper) -> str:
    """（2023，University of Washington）: when and by whom, as the catalog has it."""
    parts = [str(paper.year)] if paper.year else []
    if paper.organisation:
        parts.append(paper.organisation)
    return f"（{'，'.join(parts)}）" if parts else ""


def _named(c: _Cand, full: bool = False) -> str:
    """ "QLoRA (2023)"; in full, the first time a paper is named: "QLoRA (2023, University of Washington)"."""
    paper = c.source.paper
    parts = [str(paper.year)] if paper.year else []
    if full and paper.organisation:
        parts.append(paper.organisation)
    return f"{short_name(paper)} ({', '.join(parts)})" if parts else short_name(paper)


def _rewrite_we(body: str) -> str:
    body = re.sub(r"^(In this (paper|work),? )?[Ww]e\b", "The authors", body)
    return re.sub(r"^Our\b", "Their", body)


def _lead_en(c: _Cand, body: str, first: bool) -> str:
    """ "QLoRA (2023) introduces ..." when the sentence names the paper, else "According to ..."."""
    body = _rewrite_we(body)
    name = short_name(c.source.paper)
    if body.lower().startswith(name.lower()) and c.source.paper.year:
        return f"{_named(c, first)}{body[len(name) :]}"
    first_word = body.split(" ", 1)[0].rstrip(",")
    intro = "According to" if first else "In"
    if first_word in _LOWER_FIRST or body.startswith("The authors"):
        return f"{intro} {_named(c, first)}, {body[0].lower()}{body[1:]}"
    return f"{intro} {_named(c, first)}: {body}"  # a name or term first: keep its capital


def _cite(text: str, c: _Cand, zh: bool = False, inside_quote: bool = False) -> str:
    """Append the marker before the sentence's closing punctuation: "... spikes [1]."."""
    marker = f"[{c.source.number}]"
    if inside_quote:
        return f"{text}{marker}。" if zh else f"{text} {marker}."
    m = re.search(r"[.。!?！？；;:：]+$", text)
    if m is None:
        return f"{text} {marker}." if not zh else f"{text}{marker}。"
    end = m.group()
    if end in (":", "：", ";", "；"):
        end = "。" if zh else "."
    return f"{text[: m.start()]} {marker}{end}" if not zh else f"{text[: m.start()]}{marker}{end}"
