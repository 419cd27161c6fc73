"""Properties of the whole default pipeline over generated text (hypothesis)."""

from __future__ import annotations

import os
import re
import unicodedata

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.cleaner.steps import EMAIL, URL, Cleaner

CLEANER = Cleaner()
SETTINGS = settings(
    max_examples=int(os.environ.get("SUPIL_HYPOTHESIS_EXAMPLES", "300")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)

# Text that looks like crawled Korean pages: Hangul, jamo, Latin, digits, punctuation, every kind of
# space and line break, entities, tags, mentions, e-mail addresses and URLs, plus arbitrary characters.
FRAGMENTS = st.sampled_from(
    [
        "가",
        "나",
        "ㅋ",
        "하",
        "a",
        "Z",
        "0",
        "7",
        " ",
        "  ",
        "\n",
        "\n\n",
        "\t",
        "\r\n",
        "\u3000",
        "\xa0",
        "\u200b",
        "…",
        ".",
        "@",
        "#",
        "&amp;",
        "&lt;",
        "“",
        "_",
        "×",
        "ⓒ",
        "(사진=연합뉴스)",
        "구독하기",
        "me@mail.com",
        "a.b@x.co.kr",
        "http://x.com/a?b=1",
        "www.naver.com",
        "pic.twitter.com/x",
        "#태그",
        "@친구",
        "\u0301",
        "\u1100\u1161",
        "ㅋㅋㅋㅋ",
        "1000",
    ]
)
MESSY = st.one_of(
    st.lists(st.one_of(FRAGMENTS, st.text(max_size=3)), max_size=40).map("".join),
    st.text(max_size=200),
)
EMAILS = st.from_regex(r"[a-z0-9][a-z0-9._+-]{0,10}@[a-z0-9]{1,8}\.(com|net|co\.kr)", fullmatch=True)
URLS = st.from_regex(r"(https?://|www\.)[a-z0-9]{1,8}\.(com|kr)(/[a-z0-9]{1,6}){0,2}", fullmatch=True)
PROSE = st.text(alphabet="가나다라마바사아자차카타파하ㅋㅎ .,!?\n", max_size=60)


@SETTINGS
@given(MESSY)
def test_never_raises_and_output_is_nfc(text: str) -> None:
    out = CLEANER(text)
    assert isinstance(out, str)
    assert unicodedata.is_normalized("NFC", out)
    out.encode("utf-8")  # no lone surrogates


@SETTINGS
@given(MESSY)
def test_idempotent(text: str) -> None:
    once = CLEANER(text)
    assert CLEANER(once) == once


@SETTINGS
@given(MESSY)
def test_paragraphs_are_separated_by_single_newlines(text: str) -> None:
    out = CLEANER(text)
    assert "\n\n" not in out
    assert out == out.strip()
    assert all(line == line.strip() and "  " not in line for line in out.split("\n"))


@SETTINGS
@given(PROSE, EMAILS, PROSE, URLS, PROSE)
def test_no_email_or_url_survives(a: str, mail: str, b: str, link: str, c: str) -> None:
    out = CLEANER(f"{a} {mail} {b} {link} {c}")
    assert EMAIL.search(out) is None and URL.search(out) is None
    assert mail not in out and link not in out
    assert "[이메일]" in out and "[웹주소]" in out


@SETTINGS
@given(MESSY)
def test_no_email_or_url_survives_in_messy_text(text: str) -> None:
    out = CLEANER(text)
    assert EMAIL.search(out) is None
    assert URL.search(out) is None


DIGITS_TEXT = st.lists(
    st.one_of(
        st.from_regex(r"[0-9]{1,8}", fullmatch=True),
        st.sampled_from(["원", "년대", "-", " ", "\n", "가", "ㅋㅋㅋㅋ", "."]),
    ),
    max_size=30,
).map("".join)


@SETTINGS
@given(DIGITS_TEXT)
def test_digit_runs_are_unchanged(text: str) -> None:
    assert re.findall(r"\d+", CLEANER(text)) == re.findall(r"\d+", text)


NO_SPACE_TEXT = st.text(alphabet="ㅋㅎ하가aZ_.!?\u3131é", max_size=40)


@SETTINGS
@given(NO_SPACE_TEXT)
def test_repeat_normalize_agrees_with_soynlp_where_there_are_no_digits(text: str) -> None:
    from soynlp.normalizer import repeat_normalize as soynlp_repeat_normalize

    from services.cleaner.steps import repeat_normalize

    assert repeat_normalize(text) == soynlp_repeat_normalize(text, num_repeats=2)
