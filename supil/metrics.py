"""Text metrics for drafted sections: repetition (rep-n) and diversity (distinct-n) over words."""

from __future__ import annotations

from collections.abc import Sequence


def words(text: str) -> list[str]:
    """Whitespace-separated words (Korean eojeol), the unit of the n-gram metrics."""
    return text.split()


def ngrams(tokens: Sequence[str], n: int) -> list[tuple[str, ...]]:
    """All n-grams of tokens, in order."""
    return [tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1)]


def distinct_n(text: str, n: int) -> float:
    """Unique n-grams / all n-grams (1.0 = no n-gram repeats; 0.0 for a text too short to have any)."""
    grams = ngrams(words(text), n)
    return len(set(grams)) / len(grams) if grams else 0.0


def rep_n(text: str, n: int) -> float:
    """Share of n-grams that repeat an earlier one (Welleck et al.'s rep-n): 0.0 = no repetition."""
    grams = ngrams(words(text), n)
    return 1.0 - len(set(grams)) / len(grams) if grams else 0.0


def section_metrics(text: str) -> dict[str, float]:
    """rep-2/3/4 and distinct-1/2 of one section's text."""
    return {
        "rep_2": rep_n(text, 2),
        "rep_3": rep_n(text, 3),
        "rep_4": rep_n(text, 4),
        "distinct_1": distinct_n(text, 1),
        "distinct_2": distinct_n(text, 2),
    }
