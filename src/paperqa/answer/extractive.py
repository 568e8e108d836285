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

import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace

from ..records import Passage
from .base import NO_CONTEXT, Context, PaperLookup, Source, paper_for, short_name
from .definitions import definition_first
from .naming import card_line, named, note_zh, titled
from .sentences import (
    LIST_Q_RE,
    LOWER_FIRST,
    Cand,
    SentenceParams,
    candidates,
    items_of,
    mmr,
    name_stems,
    score_sentences,
    top_sentences,
    with_named_papers,
    without_items_shown,
)
from .text import Term, collapse_ws, question_terms, term_matches, tidy


class ExtractiveEngine:
    """Answers by quoting: 2-4 sentences from the retrieved passages, each cited."""

    name = "extractive"

    def __init__(
        self,
        mmr_lambda: float = 0.7,
        params: SentenceParams | None = None,
        neighbours: Callable[[str], tuple[str, ...]] | None = None,
    ):
        self.mmr_lambda = mmr_lambda
        self.params = params if params is not None else SentenceParams.load()
        self.neighbours = neighbours  # a Chinese term's English words in the papers (crosslingual.py)

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
    def generate(
        self, question: str, lang: str, sources: Sequence[Source], context: Context = NO_CONTEXT
    ) -> Iterator[str]:
        cands, terms, list_q = self.scored(question, lang, sources, context)
        parts: list[str] = []
        if list_q:
            parts = self._compose_list([c for c in cands if not c.zh], [c for c in cands if c.zh], lang)
        elif sources:
            # the question names the paper retrieval put first: other papers' sentences must name it too
            on_topic = _names_the_question(sources[0], terms)
            cands = [c for c in cands if on_topic(c)]
            en, zh = [c for c in cands if not c.zh], [c for c in cands if c.zh]
            if lang == "zh":
                parts = _compose_zh(en, zh, self.params, self.mmr_lambda, terms, question)
            else:
                parts = self._compose_en(cands, terms, question)
            lead = _uncandidated_lead(sources, cands)
            if lead is not None:
                parts = [card_line(lead, lang), *parts]
        sep = "" if lang == "zh" else " "
        for i, part in enumerate(parts):
            yield part if i == 0 else sep + part

    def scored(
        self, question: str, lang: str, sources: Sequence[Source], context: Context = NO_CONTEXT
    ) -> tuple[list[Cand], list[Term], bool]:
        """The candidate sentences with their relevance set, the question's terms, and whether
        it asks for a list of papers. A Chinese or list question scores the paper sentences and
        the reading-list lines as two pools (each answer shows both); otherwise one pool."""
        terms = question_terms(question, expand=self.neighbours)
        terms += _context_terms(terms, context, self.neighbours)
        list_q = bool(LIST_Q_RE.search(question))
        if list_q:  # "which papers in the reading list": those words pick no paper
            terms = [t for t in terms if t.weight >= 1.0] or terms
        cands = candidates(sources)
        if lang == "zh" or list_q:
            score_sentences([c for c in cands if not c.zh], terms, question, self.params)
            score_sentences([c for c in cands if c.zh], terms, question, self.params)
        else:
            score_sentences(cands, terms, question, self.params)
        return cands, terms, list_q

    def _compose_en(self, cands: list[Cand], terms: Sequence[Term], question: str) -> list[str]:
        prm = self.params
        picked = mmr(cands, prm.en_sentences, self.mmr_lambda, prm, max_summary=prm.en_summary_sentences)
        picked = with_named_papers(_lead_paper_first(picked, cands, prm.second_paper_share), cands, terms)
        picked = without_items_shown(definition_first(picked, cands, terms, question))
        out: list[str] = []
        seen_papers: list[str] = []
        for c in _grouped(picked):
            pid = c.source.paper.paper_id
            body = _display(c.text)
            if c.zh:
                # a paper the answer quotes none of its own sentences from is known by its title
                quoted = any(not p.zh and p.source.paper.paper_id == pid for p in picked)
                name = named(c, True) if quoted else titled(c)
                lead = f"The reading list's summary of {name} says: " if pid not in seen_papers else ""
                out.append(_cite(f"{lead}“{_display_zh(c)}”", c))
            elif pid not in seen_papers:
                out.append(_cite(_lead_en(c, body, first=not seen_papers), c))
            else:
                out.append(_cite(_rewrite_we(body), c))
            if pid not in seen_papers:
                seen_papers.append(pid)
        return out

    def _compose_list(self, en: list[Cand], zh: list[Cand], lang: str) -> list[str]:
        """ "Which papers ...?": name each paper that answers, then a line of evidence for the best."""
        best: dict[str, Cand] = {}
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
                f"《{c.source.paper.title}》{note_zh(c.source.paper)}[{c.source.number}]" for c in ranked
            )
            out = [f"阅读清单中涉及这个问题的论文有：{names}。"]
            for c in ranked[:3]:
                body = _display_zh(c) if c.zh else f"论文原文写道：“{_display(c.text)}”"
                out.append(
                    _cite(f"《{short_name(c.source.paper)}》：{body}", c, zh=True, inside_quote=not c.zh)
                )
            return out
        names = ", ".join(f"{named(c, True)} [{c.source.number}]" for c in ranked)
        out = [f"The papers in the reading list that address this are {names}."]
        for c in ranked[:3]:
            if c.zh:
                out.append(_cite(f"The reading list's summary of {named(c)} says: “{_display(c.text)}”", c))
            else:
                out.append(_cite(_lead_en(c, _display(c.text), first=True), c))
        return out


def _context_terms(
    terms: Sequence[Term], context: Context, expand: Callable[[str], tuple[str, ...]] | None
) -> list[Term]:
    """A follow-up's previous question: its words the question lacks, counted at the context's weight."""
    if not context.text or context.weight <= 0:
        return []
    have = {t.token for t in terms}
    leaned = question_terms(context.text, expand=expand)
    return [replace(t, weight=t.weight * context.weight) for t in leaned if t.token not in have]


def _compose_zh(
    en: list[Cand],
    zh: list[Cand],
    prm: SentenceParams,
    mmr_lambda: float,
    terms: Sequence[Term],
    question: str,
) -> list[str]:
    """A Chinese answer: the reading list's Chinese summary first, then the paper's own words
    (the paper's words first when the list's lines say nothing of the question's topic)."""
    topic = [t for t in terms if not t.named and t.weight >= 1.0]
    picked_en = _picked(en, prm.zh_paper_sentences, mmr_lambda, prm, terms, question)
    top_zh = [
        c for c in top_sentences(zh, prm.zh_summary_sentences, prm.zh_summary_min_share) if c.rel > 0
    ] or top_sentences(zh, 1)
    rank = {c.source.paper.paper_id: _paper_rank(c) for c in en + zh}  # where retrieval put it
    if not en + zh:
        return []
    shown = [_retrieval_lead(en + zh)] + [c.source.paper.paper_id for c in picked_en + top_zh]
    order = sorted(dict.fromkeys(shown), key=rank.__getitem__)
    best = {pid: max(c.rel for c in en + zh if c.source.paper.paper_id == pid) for pid in order}
    first_best = best[order[0]] or 1.0
    order = order[:1] + [pid for pid in order[1:2] if best[pid] >= prm.second_paper_share * first_best]
    out: list[str] = []
    for n, pid in enumerate(order):
        mine_zh = without_items_shown(
            top_sentences(
                [c for c in zh if c.source.paper.paper_id == pid],
                prm.zh_summary_sentences if n == 0 else 1,
                prm.zh_summary_min_share,
            )
        )
        mine_en = [c for c in picked_en if c.source.paper.paper_id == pid][
            : prm.zh_paper_sentences if n == 0 else 1
        ]
        if not mine_zh and not mine_en:
            continue
        paper = (mine_zh or mine_en)[0].source.paper
        head = ("根据" if n == 0 else "另外，") + f"《{paper.title}》{note_zh(paper)}"
        listed: list[str] = []
        if mine_zh:
            listed.append(
                "阅读清单的摘要写道：" + "".join(_cite(_display_zh(c), c, zh=True) for c in mine_zh)
            )
        # one sentence of quotes, "；" between them: "论文原文写道：“A”[2]；“B”[3]。"
        quoted = [
            _cite(f"{'论文原文写道：' if i == 0 else ''}“{_display(c.text)}”", c, zh=True, inside_quote=True)
            for i, c in enumerate(mine_en)
        ]
        quoted = [q[:-1] + "；" for q in quoted[:-1]] + quoted[-1:]
        pieces = quoted + listed if _paper_first(mine_en, mine_zh, topic) else listed + quoted
        pieces[0] = f"{head}，{pieces[0]}"
        out.extend(pieces)
    return out


# --- ordering the picked sentences ---------------------------------------------------------


def _paper_first(mine_en: list[Cand], mine_zh: list[Cand], topic: Sequence[Term]) -> bool:
    """The answer first: the paper's own words lead when the list's lines only name the paper
    ("Transformer原始论文") and say nothing of what the question asks about it, or when one of its
    sentences states more of the question than any of the list's lines."""
    if not (mine_en and topic):
        return False
    said = any(term_matches(t, set(c.toks)) for c in mine_zh for t in topic)
    return not said or _covered(mine_en) > _covered(mine_zh)


def _covered(picked: list[Cand]) -> float:
    """The most of the question's topic words that one of these sentences states (by weight)."""
    return max((sum(c.covers.values()) for c in picked), default=0.0)


def _picked(
    pool: list[Cand], k: int, lam: float, prm: SentenceParams, terms: Sequence[Term], question: str
) -> list[Cand]:
    """MMR's k sentences that score at all, the definition first for a "What is X?"."""
    return definition_first([c for c in mmr(pool, k, lam, prm) if c.rel > 0], pool, terms, question)


def _lead_paper_first(picked: list[Cand], cands: list[Cand], second_share: float) -> list[Cand]:
    """The paper retrieval ranked first leads the answer (its passages were judged as a whole,
    a sentence's score alone is noisier), with its best sentence even when none of its sentences
    won a place (a paper known only by its list entry scores low against an English question).
    Another paper stays only when its best sentence is at least `second_share` as relevant as the
    lead paper's best."""
    if not cands:
        return picked
    lead = _retrieval_lead(cands)
    keep = [c for c in picked if c.source.paper.paper_id == lead]
    if not keep:
        mine = [c for c in cands if c.source.paper.paper_id == lead]
        keep = [max(mine, key=lambda c: (c.rel, not c.zh, -c.source.number, -c.index))]
    lead_best = max(c.rel for c in keep)
    keep += [c for c in picked if c.source.paper.paper_id != lead and c.rel >= second_share * lead_best]
    return keep


def _names_the_question(first: Source, terms: Sequence[Term]) -> Callable[[Cand], bool]:
    """A test for the sentences of papers other than the one retrieval ranked first: when the
    question names that paper, such a sentence must mention one of the question's names itself
    (a sentence of another paper that never mentions it answers something else)."""
    named = [t for t in terms if t.named]
    if not named or not any(term_matches(t, name_stems(first)) for t in named):
        return lambda c: True
    lead = first.paper.paper_id
    return lambda c: c.source.paper.paper_id == lead or any(term_matches(t, set(c.toks)) for t in named)


def _uncandidated_lead(sources: Sequence[Source], cands: list[Cand]) -> Source | None:
    """The source retrieval ranked first, when its paper has no sentence to show (a paper known
    only by its catalog card and a list entry that is only its title): the answer still opens
    with it, from the catalog, rather than with a paper that merely mentions it."""
    if not sources:
        return None
    first = sources[0]
    if any(c.source.paper.paper_id == first.paper.paper_id for c in cands):
        return None
    return first


def _retrieval_lead(cands: list[Cand]) -> str:
    """The paper retrieval ranked best among those with a sentence to show. A paper ranks where
    its first passage does (its reading-list entry, appended after the passages, ranks with it)."""
    return min(cands, key=lambda c: _paper_rank(c)).source.paper.paper_id


def _paper_rank(c: Cand) -> int:
    return c.source.paper_rank if c.source.paper_rank >= 0 else c.source.number


def _grouped(picked: list[Cand]) -> list[Cand]:
    """Keep each paper's sentences together, papers in order of their best sentence."""
    order = list(dict.fromkeys(c.source.paper.paper_id for c in picked))
    return [c for pid in order for c in picked if c.source.paper.paper_id == pid]


# --- wording -------------------------------------------------------------------------------


def _display(text: str) -> str:
    """The sentence as the answer shows it: hyphenation at line ends undone, [28]-style refs
    and a leading enumerator ("(2) ") gone. The quote under the citation stays verbatim."""
    return re.sub(r"^\(?[0-9a-z]\)\s+(?=[A-Z0-9])", "", tidy(text))


def _display_zh(c: Cand) -> str:
    """A summary sentence; a lead-in ending in a colon brings its numbered items along."""
    text = collapse_ws(c.text)
    items = [collapse_ws(c.source.sentences[i].text).rstrip("；;。") for i in items_of(c)]
    return text + "；".join(items) + "。" if items else text


def _rewrite_we(body: str) -> str:
    """The paper's "we" told in the third person, as the answer speaks of the authors ("The
    authors find ... their code ..."); the citation keeps the verbatim quote."""
    body = re.sub(r"^(In this (paper|work),? )?[Ww]e\b", "The authors", body)
    body = re.sub(r"^Our\b", "Their", body)
    return _OUR_RE.sub(lambda m: _THEIR[m.group()], body)


_THEIR = {"we": "they", "our": "their", "ours": "theirs", "ourselves": "themselves", "us": "them"}
_OUR_RE = re.compile(r"\b(?:we|our|ours|ourselves|us)\b")


def _lead_en(c: Cand, body: str, first: bool) -> str:
    """ "QLoRA (2023) introduces ..." when the sentence names the paper, else "According to ..."."""
    body = _rewrite_we(body)
    name = short_name(c.source.paper)
    if body.lower().startswith(name.lower()) and c.source.paper.year:
        return f"{named(c, first)}{body[len(name) :]}"
    first_word = body.split(" ", 1)[0].rstrip(",")
    intro = "According to" if first else "In"
    if first_word in LOWER_FIRST or body.startswith("The authors"):
        return f"{intro} {named(c, first)}, {body[0].lower()}{body[1:]}"
    return f"{intro} {named(c, first)}: {body}"  # a name or term first: keep its capital


def _cite(text: str, c: Cand, zh: bool = False, inside_quote: bool = False) -> str:
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
