"""The Nori-compatible analyzer: decompounding, stop tags, punctuation, Hanja, lowercase, user words."""

from __future__ import annotations

import pytest

from services.retriever.analyzer import NORI_DEFAULT_STOP_TAGS, Analyzer, AnalyzerSettings, resolve_dictionary
from services.runtime import ConfigError, InvalidArgument
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


DICTIONARIES = ["pypi", pytest.param(None, id="nori")]


def nori_dictionary_or_skip(dictionary: str | None) -> None:
    if dictionary is None and resolve_dictionary() is None:
        pytest.skip("Nori's dictionary is not built (python scripts/build_nori_dic.py)")


@pytest.mark.parametrize("dictionary", DICTIONARIES)
def test_offsets_survive_wide_whitespace_and_tabs(dictionary: str | None) -> None:
    nori_dictionary_or_skip(dictionary)
    text = "  가방을\u3000샀다.\u00a0그리고\t學校에\u2003갔다 "
    analyzer = Analyzer(AnalyzerSettings(decompound_mode="none"), dictionary=dictionary)
    tokens = analyzer.analyze(text)
    # 그리고 is MAJ (a stop tag); each token's offsets point at its own surface
    assert [text[t.start : t.end] for t in tokens] == ["가방", "샀", "學校", "갔"]
    assert [t.term for t in tokens] == ["가방", "샀", "학교", "갔"]


@pytest.mark.parametrize("dictionary", DICTIONARIES)
@pytest.mark.parametrize("mode", ["none", "discard", "mixed"])
def test_terms_fast_path_equals_the_analysis(dictionary: str | None, mode: str) -> None:
    nori_dictionary_or_skip(dictionary)
    analyzer = Analyzer(AnalyzerSettings(decompound_mode=mode), dictionary=dictionary)
    for text in [
        "가벼운 마음으로 學校에 갔다.\n\n그녀는  창밖을 바라보며 웃었다",
        "세종시에서 Hello World!",
        " \t ",
    ]:
        assert analyzer.terms(text) == [t.term for t in analyzer.analyze(text)]
        assert analyzer.terms(text) == analyzer.terms(text)  # from the cached plans, the same


def test_dictionary_choice_fails_fast(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    assert resolve_dictionary("pypi") is None
    with pytest.raises(FileNotFoundError, match=r"sys\.dic"):
        resolve_dictionary(tmp_path)
    monkeypatch.setenv("SUPIL_NORI_DICDIR", str(tmp_path / "missing"))
    with pytest.raises(ConfigError, match="SUPIL_NORI_DICDIR"):
        resolve_dictionary()


def test_marking_spaces_after_punctuation_takes_its_shortcut_exactly() -> None:
    """Short texts of letters, digits and spaces skip the marking regex; every mix of characters
    the regex cares about must come out as the regex alone would have it."""
    import random

    from services.retriever.analyzer import _PUNCT_SPACES_JOINED, PUNCT_SPACE, _mark_lines

    alphabet = [
        "가",
        "희",
        "a",
        "Z",
        "7",
        "²",
        "ª",
        "ᄀ",
        " ",
        " ",
        ".",
        "!",
        "“",
        "\u0301",
        "\u00a0",
        "-",
        "\t",
        "\n",
    ]
    rng = random.Random(5)
    shortcut = 0
    for _ in range(3000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 12)))
        lines = text.split("\n")
        joined = "\n".join(lines)
        expected = _PUNCT_SPACES_JOINED.sub(lambda m: PUNCT_SPACE * len(m.group()), joined)
        assert _mark_lines(lines) == expected, repr(text)
        shortcut += joined.replace(" ", "").isalnum()
    assert shortcut > 100  # the shortcut was taken, and often
    assert _mark_lines(["희망과 함께"]) == "희망과 함께"
    assert _mark_lines(["희망. 함께"]) == f"희망.{PUNCT_SPACE}함께"


def test_one_line_bounds_are_shared_and_read_only() -> None:
    from services.retriever.analyzer import _encode_joined

    data, bounds = _encode_joined("가방을 샀다")
    assert data == "가방을 샀다".encode() and bounds.tolist() == [0, len(data)]
    assert not bounds.flags.writeable  # shared by every line of that length: nobody may write it
    assert _encode_joined("나무를 봤다")[1] is bounds
    assert _encode_joined("가\x00방")[1].tolist() == [0, 3]  # a C string: it ends at the NUL
    assert _encode_joined("가\n방")[1].tolist() == [0, 3, 4, 7]
