"""Query semantics shared by both backends: analysis, filters, RM3 expansion, snippets and export."""

from __future__ import annotations

import hashlib
import logging
import random
import re
import threading
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import repeat
from typing import Any, Protocol

from services.retriever.analyzer import Analyzer, AnalyzerSettings
from services.retriever.embedded import DocumentAnalyzer
from services.retriever.hits import Filters, SearchHit
from services.runtime import Document, InvalidArgument

logger = logging.getLogger(__name__)

MAX_K = 10_000
MAX_QUERY_CHARS = 2_000
SNIPPET_CHARS = 160
HIGHLIGHT = ("«", "»")


class SearchableIndex(Protocol):
    """What a backend's opened index offers the query layer."""

    settings: AnalyzerSettings

    def search_hits(
        self, weighted_terms: Sequence[tuple[str, float]], filters: Filters, k: int, *, with_text: bool = True
    ) -> tuple[list[SearchHit], int]:
        """Top k hits with score > 0 passing the filters, and the number that matched."""
        ...


@dataclass
class QueryOptions:
    """A sub-topic query's shape (mirrors supil.v1.QueryOptions)."""

    theme: str = ""
    must: list[str] = field(default_factory=list)
    must_not: list[str] = field(default_factory=list)
    rm3: bool = False
    rm3_feedback_docs: int = 10
    rm3_feedback_terms: int = 10
    rm3_original_weight: float = 0.5

    @classmethod
    def from_proto(cls, options: Any) -> QueryOptions:
        """From a supil.v1.QueryOptions message, validating the RM3 numbers."""
        out = cls(
            theme=options.theme.strip(),
            must=[m.strip() for m in options.must if m.strip()],
            must_not=[m.strip() for m in options.must_not if m.strip()],
            rm3=options.rm3,
        )
        if options.HasField("rm3_feedback_docs"):
            out.rm3_feedback_docs = options.rm3_feedback_docs
        if options.HasField("rm3_feedback_terms"):
            out.rm3_feedback_terms = options.rm3_feedback_terms
        if options.HasField("rm3_original_weight"):
            out.rm3_original_weight = options.rm3_original_weight
        if not 1 <= out.rm3_feedback_docs <= 1000:
            raise InvalidArgument(f"rm3_feedback_docs must be 1..1000, got {out.rm3_feedback_docs}")
        if not 1 <= out.rm3_feedback_terms <= 1000:
            raise InvalidArgument(f"rm3_feedback_terms must be 1..1000, got {out.rm3_feedback_terms}")
        if not 0.0 <= out.rm3_original_weight <= 1.0:
            raise InvalidArgument(f"rm3_original_weight must be in [0, 1], got {out.rm3_original_weight}")
        return out


def validate_k(k: int, default: int = 10) -> int:
    """k, or the default when 0; InvalidArgument for negative or absurdly large values."""
    if k == 0:
        return default
    if k < 0:
        raise InvalidArgument(f"k must be positive, got {k}")
    if k > MAX_K:
        raise InvalidArgument(f"k={k} is too large; at most {MAX_K} hits are returned")
    return k


class QueryPlanner:
    """Turns a query text and options into weighted terms and filters, with the index's analyzer."""

    def __init__(self, settings: AnalyzerSettings) -> None:
        self.settings = settings
        self.analyzer = Analyzer(settings)
        self.documents = DocumentAnalyzer(settings)

    def terms(self, query: str) -> list[tuple[str, float]]:
        """Query terms with their multiplicity as boost (a repeated word counts twice, as in Lucene)."""
        if not query.strip():
            raise InvalidArgument("query is empty; give a sub-topic such as '희망과 함께'")
        if len(query) > MAX_QUERY_CHARS:
            raise InvalidArgument(f"query is {len(query)} characters; at most {MAX_QUERY_CHARS}")
        terms = self.analyzer.terms(query)
        if not terms:
            raise InvalidArgument(
                f"query {query!r} has no searchable words after analysis "
                f"(every word is a stop tag: {sorted(self.settings.stop_tags)})"
            )
        if len(set(terms)) == len(terms):  # the common case: every term once
            return list(zip(terms, repeat(1.0)))
        return [(term, float(n)) for term, n in Counter(terms).items()]

    def filters(self, options: QueryOptions) -> Filters:
        """Theme and must words are required, must_not words excluded (all analyzed without stop tags)."""
        required: list[str] = []
        for word in ([options.theme] if options.theme else []) + options.must:
            terms = self.documents.filter_terms(word)
            if not terms:
                raise InvalidArgument(f"{word!r} has no searchable words after analysis")
            required.extend(terms)
        excluded = []
        for word in options.must_not:
            terms = self.documents.filter_terms(word)
            if not terms:
                raise InvalidArgument(f"must_not word {word!r} has no searchable words after analysis")
            excluded.append(terms)
        return Filters(list(dict.fromkeys(required)), excluded)


def rm3_expand(
    planner: QueryPlanner,
    original: Sequence[tuple[str, float]],
    feedback: Sequence[tuple[Document, float]],
    options: QueryOptions,
) -> list[tuple[str, float]]:
    """RM3: mix the query with the terms most likely under the top hits' relevance model."""
    if not feedback:
        return list(original)
    model: Counter[str] = Counter()
    total_score = sum(score for _, score in feedback) or 1.0
    for doc, score in feedback:
        terms = planner.documents.analyze(doc.text).terms
        if not terms:
            continue
        weight = score / total_score
        for term, n in Counter(terms).items():
            model[term] += weight * n / len(terms)
    top = model.most_common(options.rm3_feedback_terms)
    top_total = sum(w for _, w in top) or 1.0
    original_total = sum(w for _, w in original) or 1.0
    mixed: Counter[str] = Counter()
    alpha = options.rm3_original_weight
    for term, w in original:
        mixed[term] += alpha * w / original_total
    for term, w in top:
        mixed[term] += (1 - alpha) * w / top_total
    return [(term, w) for term, w in mixed.items() if w > 0]


_PLANNERS: dict[AnalyzerSettings, QueryPlanner] = {}
_PLANNERS_LOCK = threading.Lock()


def planner_for(settings: AnalyzerSettings) -> QueryPlanner:
    """A shared planner per analysis (its analyzers keep one MeCab tagger per thread)."""
    with _PLANNERS_LOCK:
        planner = _PLANNERS.get(settings)
        if planner is None:
            planner = _PLANNERS[settings] = QueryPlanner(settings)
        return planner


def run_query(
    index: SearchableIndex, query: str, options: QueryOptions, k: int, *, with_text: bool = True
) -> tuple[list[SearchHit], int, QueryPlanner]:
    """Search an index with the shared semantics; returns hits (no snippets yet), the match count and the planner.

    A hit's document is read from the index when first used (with its text only if with_text)."""
    planner = planner_for(index.settings)
    terms = planner.terms(query)
    filters = planner.filters(options)
    if options.rm3:
        feedback, _ = index.search_hits(terms, filters, options.rm3_feedback_docs)
        terms = rm3_expand(planner, terms, [(hit.document, hit.score) for hit in feedback], options)
    hits, total = index.search_hits(terms, filters, k, with_text=with_text)
    return hits, total, planner


def snippet(analyzer: Analyzer, text: str, terms: set[str], width: int = SNIPPET_CHARS) -> str:
    """The paragraph window with the most query terms, matched words wrapped in « »."""
    best: tuple[int, int, str, list[tuple[int, int]]] | None = None
    for number, paragraph in enumerate(p for p in text.split("\n") if p.strip()):
        spans = [(t.start, t.end) for t in analyzer.analyze(paragraph) if t.term in terms]
        if spans and (best is None or len(set(spans)) > best[0]):
            best = (len(set(spans)), number, paragraph, spans)
    if best is None:
        first = text.strip().split("\n", 1)[0]
        return first[:width] + ("…" if len(first) > width else "")
    _, _, paragraph, spans = best
    spans = sorted(set(spans))
    start = max(0, min(spans[0][0] - width // 4, len(paragraph) - width))
    end = min(len(paragraph), start + width)
    out = []
    cursor = start
    for s, e in spans:
        if s < cursor or e > end:
            continue
        out.append(paragraph[cursor:s])
        out.append(f"{HIGHLIGHT[0]}{paragraph[s:e]}{HIGHLIGHT[1]}")
        cursor = e
    out.append(paragraph[cursor:end])
    return ("…" if start > 0 else "") + "".join(out) + ("…" if end < len(paragraph) else "")


def add_snippets(hits: Sequence[SearchHit], planner: QueryPlanner, query: str) -> None:
    """Fill in each hit's highlighted snippet."""
    terms = {t for t, _ in planner.terms(query)}
    for hit in hits:
        hit.snippet = snippet(planner.analyzer, hit.document.text, terms)


_SPACE = re.compile(r"\s+")


def content_key(text: str) -> str:
    """Digest of a text with whitespace normalized: the same essay crawled twice has one key."""
    return hashlib.blake2b(_SPACE.sub(" ", text).strip().encode("utf-8"), digest_size=16).hexdigest()


def split_export(
    hits: Sequence[SearchHit], valid_fraction: float, seed: int
) -> tuple[list[Document], list[Document], int]:
    """Deduplicate hits (by id and by text) and split them into disjoint train and valid sets."""
    seen_ids: set[str] = set()
    seen_texts: set[str] = set()
    unique: list[Document] = []
    for hit in hits:
        key = content_key(hit.document.text)
        if hit.document.id in seen_ids or key in seen_texts:
            continue
        seen_ids.add(hit.document.id)
        seen_texts.add(key)
        doc = hit.document
        doc.extra = {**doc.extra, "score": hit.score}
        unique.append(doc)
    duplicates = len(hits) - len(unique)
    shuffled = list(unique)
    random.Random(seed).shuffle(shuffled)
    n_valid = round(len(shuffled) * valid_fraction)
    if valid_fraction > 0 and n_valid == 0 and len(shuffled) >= 2:
        n_valid = 1
    valid_ids = {d.id for d in shuffled[:n_valid]}
    # Both sets keep rank order so the best matches come first.
    train = [d for d in unique if d.id not in valid_ids]
    valid = [d for d in unique if d.id in valid_ids]
    return train, valid, duplicates
