"""rep-n and distinct-n on texts whose answers are known."""

from __future__ import annotations

import pytest

from supil.metrics import distinct_n, rep_n, section_metrics


def test_no_repetition() -> None:
    text = "나는 오늘 바다를 보러 갔다"
    assert rep_n(text, 2) == 0.0
    assert distinct_n(text, 1) == 1.0


def test_loop_is_all_repetition() -> None:
    text = " ".join(["함께 걷는 길"] * 10)
    # 30 words: 29 bigrams, 3 distinct ones
    assert rep_n(text, 2) == pytest.approx(1 - 3 / 29)
    assert distinct_n(text, 1) == pytest.approx(3 / 30)


def test_short_text() -> None:
    assert section_metrics("한")["rep_2"] == 0.0
    assert section_metrics("")["distinct_1"] == 0.0
