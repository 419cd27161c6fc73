"""Lucene's norm quantization and BM25 arithmetic, reimplemented for the embedded index."""

from __future__ import annotations

import numpy as np

from services.retriever.bm25 import byte4_to_int, int_to_byte4, lucene_idf, lucene_scores


def test_small_lengths_are_exact_and_large_ones_round_down_monotonically() -> None:
    assert [byte4_to_int(int_to_byte4(n)) for n in range(25)] == list(range(25))
    decoded = [byte4_to_int(int_to_byte4(n)) for n in range(1, 100_000, 7)]
    assert all(d <= n for d, n in zip(decoded, range(1, 100_000, 7), strict=True))
    assert decoded == sorted(decoded)
    assert byte4_to_int(255) > 2_000_000_000


def test_scores_follow_lucene_formula() -> None:
    idf = lucene_idf(np.array([1, 10]), 100)
    assert np.isclose(idf[0], np.log(1 + (100 - 1 + 0.5) / 1.5), rtol=1e-6)
    score = lucene_scores(np.array([2.0]), np.array([10.0], dtype=np.float32), idf[:1], 10.0, 1.2, 0.75)
    assert np.isclose(score[0], idf[0] * 2 / (2 + 1.2), rtol=1e-6)
