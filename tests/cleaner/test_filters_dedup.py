"""Filters (each drop named by its rule) and dedup (planted exact and near duplicates are found)."""

from __future__ import annotations

import random

import pytest

from services.cleaner.dedup import exact_clusters, near_clusters, normalized_key, signature
from services.cleaner.filters import hangul_ratio, measure, verdict
from services.cleaner.options import CleanConfig, config_from_options
from services.runtime import InvalidArgument
from supil.v1 import cleaner_pb2
from tests.cleaner.helpers import korean_doc

CONFIG = CleanConfig()


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        ("", "empty"),
        ("짧다.", "min_chars"),
        ("가나다. " * 30_000, "max_chars"),
        ("Mostly English words here. " * 10, "min_hangul_ratio"),
        ("문장 부호 없이 길게 이어지는 한 줄의 글 " * 10, "min_sentences"),
        ("같은 말을 되풀이하는 문장이다. " * 10, "max_repetition"),
        (korean_doc(1), None),
    ],
)
def test_each_filter_names_its_rule(text: str, rule: str | None) -> None:
    assert verdict(measure(text), CONFIG) == rule


def test_measures() -> None:
    assert hangul_ratio("한글 abc") == pytest.approx(2 / 5)
    assert hangul_ratio("ㅋㅋ 하하") == 1.0
    quality = measure("첫 문장이다. 둘째 문장이다!\n셋째 줄")
    assert quality.sentences == 3 and quality.chars == len("첫 문장이다. 둘째 문장이다!\n셋째 줄")
    # Short dialogue lines repeat naturally and do not count as repetition.
    assert measure("\n".join(['"응."', '"그래."'] * 10 + [korean_doc(3)])).repetition == 0.0


def test_options_from_the_request() -> None:
    config = config_from_options(
        cleaner_pb2.CleanOptions(
            min_chars=0, near_threshold=0.7, sentence_backend=cleaner_pb2.SENTENCE_BACKEND_PECAB
        )
    )
    assert (config.min_chars, config.near_threshold, config.sentence_backend) == (0, 0.7, "pecab")
    assert config.max_chars == CONFIG.max_chars and config.dedup_near
    with pytest.raises(InvalidArgument) as info:
        config_from_options(cleaner_pb2.CleanOptions(min_chars=500, max_chars=100, num_perm=2))
    assert "min_chars (500) is more than max_chars" in str(info.value) and "num_perm" in str(info.value)


def test_exact_duplicates_ignore_spacing_and_keep_the_longest() -> None:
    texts = ["가나다 라마", "가나다라마", "다른 글", "가 나 다 라 마"]
    clusters = exact_clusters([normalized_key(t) for t in texts], [len(t) for t in texts])
    assert len(clusters) == 1
    assert clusters[0].kept == 3 and sorted(clusters[0].removed) == [0, 1]


def test_planted_near_duplicates_are_found() -> None:
    rng = random.Random(7)
    originals = [korean_doc(seed, sentences=10) for seed in range(100)]
    texts = list(originals)
    planted = {}
    for source in (5, 17, 42, 80):
        words = originals[source].split(" ")
        words[rng.randrange(len(words))] = "바뀐말"  # one word changed
        planted[len(texts)] = source
        texts.append(" ".join(words))
    texts.append(originals[60] + " 한 문장이 덧붙었다.")
    planted[len(texts) - 1] = 60
    lengths = [len(t) for t in texts]
    clusters = near_clusters([signature(t) for t in texts], lengths, threshold=0.85)
    found = {frozenset([c.kept, *c.removed]) for c in clusters}
    assert found == {frozenset([copy, source]) for copy, source in planted.items()}
    for cluster in clusters:
        assert lengths[cluster.kept] == max(lengths[i] for i in [cluster.kept, *cluster.removed])


def test_unrelated_documents_are_not_clustered() -> None:
    texts = [korean_doc(seed) for seed in range(200)]
    assert near_clusters([signature(t) for t in texts], [len(t) for t in texts]) == []
