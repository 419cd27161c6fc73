"""Ranking quality on a labelled set: mean average precision with and without RM3."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from services.retriever.search import QueryOptions, SearchableIndex, run_query


def average_precision(ranked: Sequence[str], relevant: set[str]) -> float:
    """Average precision of a ranking against the relevant ids (0 when none is relevant)."""
    if not relevant:
        return 0.0
    found = 0
    total = 0.0
    for rank, doc_id in enumerate(ranked, start=1):
        if doc_id in relevant:
            found += 1
            total += found / rank
    return total / len(relevant)


def mean_average_precision(
    index: SearchableIndex, queries: Sequence[dict[str, Any]], options: QueryOptions, k: int = 100
) -> float:
    """MAP@k of an index over labelled queries ({'query', 'relevant'})."""
    scores = []
    for item in queries:
        hits, _, _ = run_query(index, item["query"], options, k)
        scores.append(average_precision([h.document.id for h in hits], set(item["relevant"])))
    return sum(scores) / len(scores) if scores else 0.0
