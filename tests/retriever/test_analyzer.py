"""The Nori-compatible analyzer: decompounding, stop tags, punctuation, Hanja, lowercase, user words."""

from __future__ import annotations

import pytest

from services.retriever.analyzer import NORI_DEFAULT_STOP_TAGS, Analyzer, AnalyzerSettings
from services.runtime import InvalidArgument
from supil.v1 import retriever_pb2


def terms(text: str, **settings: object) -> list[str]:
    return Analyzer(AnalyzerSettings(**settings)).terms(text)  # type: ignore[arg-type]


def test_default_chain_drops_particles_endings_and_punctuation() -> None:
    assert terms("가방을 샀다.") == ["가방", "사"]


def test_inflected_forms_follow_the_decompound_mode() -> None:
    assert terms("가벼운", decompound_mode="discard") == ["가볍"]
    assert terms("가벼운", decompound_mode="none") == ["가벼운"]
    mixed = Analyzer(AnalyzerSettings(decompound_mode="mixed")).analyze("가벼운")
    assert [(t.term, t.pos_type) for t in mixed] == [("가벼운", "INFLECT"), ("가볍", "MORPHEME")]
    assert mixed[0].position == mixed[1].position


def test_stop_tags_are_configurable() -> None:
    assert "함께" not in terms("희망과 함께")  # MAG is one of Nori's default stop tags
    assert terms("희망과 함께", stop_tags=NORI_DEFAULT_STOP_TAGS - {"MAG", "J"}) == ["희망", "과", "함께"]
    assert terms("희망과 함께", stop_tags=frozenset()) == ["희망", "과", "함께"]


def test_punctuation_is_discarded_even_without_stop_tags() -> None:
    assert terms("“희망”! …", stop_tags=frozenset()) == ["희망"]


def test_hanja_is_read_as_hangul_and_latin_lowercased() -> None:
    assert terms("學校 Hello") == ["학교", "hello"]


def test_offsets_point_at_the_surface_and_positions_skip_removed_tokens() -> None:
    text = "나는\n가방을 샀다"
    tokens = Analyzer().analyze(text)
    assert [(t.term, text[t.start : t.end]) for t in tokens] == [("나", "나"), ("가방", "가방"), ("사", "샀")]
    assert [t.position for t in tokens] == [0, 2, 4]


def test_user_dictionary_nouns_win_and_decompound() -> None:
    assert terms("수필봇이 왔다", user_dictionary=("수필봇",))[0] == "수필봇"
    assert terms("세종시에서", user_dictionary=("세종시 세종 시",)) == ["세종", "시"]
    assert terms("세종시에서", user_dictionary=("세종시 세종 시",), decompound_mode="none") == ["세종시"]


def test_bad_settings_are_refused_with_a_reason() -> None:
    with pytest.raises(InvalidArgument, match="decompound_mode"):
        AnalyzerSettings(decompound_mode="split")
    with pytest.raises(InvalidArgument, match="unknown stop tags"):
        AnalyzerSettings(stop_tags=frozenset({"XYZ"}))
    with pytest.raises(InvalidArgument, match="user dictionary rule"):
        AnalyzerSettings(user_dictionary=("세종시 세 종",))


def test_settings_from_proto_take_nori_defaults() -> None:
    settings = AnalyzerSettings.from_proto(retriever_pb2.AnalyzerOptions())
    assert settings == AnalyzerSettings()
    explicit = AnalyzerSettings.from_proto(
        retriever_pb2.AnalyzerOptions(decompound_mode=retriever_pb2.DECOMPOUND_MODE_MIXED, stop_tags_set=True)
    )
    assert explicit.decompound_mode == "mixed" and explicit.stop_tags == frozenset()
