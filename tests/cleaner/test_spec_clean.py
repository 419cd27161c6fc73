"""The essay spec's [clean] table: defaults equal the cleaner's, bad values are refused with their path."""

from __future__ import annotations

import dataclasses

import pytest

from services.cleaner.options import CleanConfig
from services.cleaner.steps import STEP_NAMES
from supil.spec import CLEAN_STEPS, Clean, SpecError, parse_spec

BASE = """
[essay]
name = "t"
title = "제목"
theme = "함께"
target_chars = 1000

[[sections]]
title = "하나"
query = "함께라는 것은"
prompt = "나는"
"""


def test_step_names_and_defaults_match_the_cleaner() -> None:
    assert CLEAN_STEPS == STEP_NAMES
    defaults = Clean()
    config = CleanConfig()
    for field in dataclasses.fields(CleanConfig):
        if hasattr(defaults, field.name) and field.name not in ("steps", "boilerplate"):
            assert getattr(defaults, field.name) == getattr(config, field.name), field.name


def test_clean_table_is_read() -> None:
    spec = parse_spec(
        BASE
        + """
[clean]
steps = ["nfc", "spaces"]
boilerplate = ["구독하기", "re:^광고"]
near_threshold = 0.9
sentence_backend = "pecab"
"""
    )
    assert spec.clean.steps == ["nfc", "spaces"]
    assert spec.clean.near_threshold == 0.9 and spec.clean.sentence_backend == "pecab"
    assert parse_spec(BASE).clean == Clean()


@pytest.mark.parametrize(
    ("table", "path"),
    [
        ('steps = ["nfc", "shout"]', "clean.steps"),
        ('boilerplate = ["re:("]', "clean.boilerplate"),
        ("near_threshold = 1.0", "clean.near_threshold"),
        ('sentence_backend = "mecab"', "clean.sentence_backend"),
        ("min_chars = 500\nmax_chars = 100", "clean"),
        ("typo = 1", "clean.typo"),
    ],
)
def test_bad_clean_values_are_refused(table: str, path: str) -> None:
    with pytest.raises(SpecError) as info:
        parse_spec(BASE + "\n[clean]\n" + table + "\n")
    assert path in [p for p, _ in info.value.problems]
