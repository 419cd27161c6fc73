"""Each cleaning step before/after, the pipeline's order, and the three 2021 defects pinned."""

from __future__ import annotations

import importlib.util
import unicodedata
from pathlib import Path

import pytest

from services.cleaner import steps
from services.cleaner.steps import STEP_NAMES, Cleaner

REPO = Path(__file__).resolve().parents[2]


def _klue2021():
    spec = importlib.util.spec_from_file_location("klue2021", REPO / "bench" / "klue2021.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.preprocessing


NFD_HANGUL = unicodedata.normalize("NFD", "한글")

TABLE = [
    # step, before, after
    ("html_entities", "A &amp; B &lt;3 &#39;x&#39; &#x41;", "A & B <3 'x' A"),
    ("html_entities", "&amp;lt;p&amp;gt;", "<p>"),
    ("html_entities", "AT&T R&D &copy 그대로", "AT&T R&D &copy 그대로"),
    ("nfc", NFD_HANGUL, "한글"),
    ("nfc", "cafe\u0301", "café"),
    ("control_chars", "a\r\nb\rc\u2028d", "a\nb\nc\nd"),
    ("control_chars", "a\x00b\x1bc\x7fd\x9fe", "abcde"),
    ("control_chars", "탭\t그대로", "탭\t그대로"),
    ("bad_chars", "zero\u200bwidth\ufeff", "zerowidth"),
    ("bad_chars", "그래서…", "그래서 ... "),
    ("odd_spaces", "a\u3000b\u2009c\u2002d\xa0e", "a b c d e"),
    ("punctuation", "‘작은’ “큰” 3×4 1–2 a_b", "'작은' \"큰\" 3x4 1-2 a-b"),
    ("punctuation", "√2 ÷ π", " sqrt 2 / pi"),
    ("email", "연락처:abc.def@naver.com 으로", "연락처:[이메일] 으로"),
    ("email", "<me+tag@mail.co.kr>", "<[이메일]>"),
    ("email", "이메일 없음 @ 그대로", "이메일 없음 @ 그대로"),
    ("url", "https://brunch.co.kr/@abc/12 참고", "[웹주소] 참고"),
    ("url", "www.naver.com에서 보세요.", "[웹주소]에서 보세요."),
    ("url", "(http://a.b/c?d=1).", "([웹주소])."),
    ("url", "pic.twitter.com/abc 사진", "[웹주소] 사진"),
    ("url", "blog.naver.com/user/123 에", "[웹주소] 에"),
    ("url", "epic.games 그대로 node.js", "epic.games 그대로 node.js"),
    ("hashtags", "#일상 #에세이 오늘은 맑음", "  오늘은 맑음"),
    ("hashtags", "C# 과 ## 제목", "C# 과 ## 제목"),
    ("mentions", "@friend 와 함께 (@abc.def)", " 와 함께 ()"),
    ("mentions", "a@b 그대로", "a@b 그대로"),
    ("news_copyright", "본문이다.\n<저작권자 ⓒ 연합뉴스, 무단 전재-재배포 금지>", "본문이다.\n"),
    ("news_copyright", "본문\nⓒ 2021 홍길동 무단전재 금지\n끝", "본문\n끝"),
    ("photo_captions", "웃었다 (사진=연합뉴스) 그리고", "웃었다  그리고"),
    ("photo_captions", "[사진=홍길동 기자] 본문 (자료사진) 끝", " 본문  끝"),
    ("photo_captions", "(출처: 뉴스1) 본문 (이 괄호는 둔다)", " 본문 (이 괄호는 둔다)"),
    ("boilerplate", "구독하기\n본문 문단이다.\n작가의 이전글", "본문 문단이다."),
    ("repeat_normalize", "ㅋㅋㅋㅋㅋ 하하하하 좋아아아아", "ㅋㅋ 하하 좋아아"),
    ("repeat_normalize", "ㅋㅋㅋ 그대로", "ㅋㅋㅋ 그대로"),
    ("repeat_normalize", "10000원 2000년대 010-1111-2222 1111111", "10000원 2000년대 010-1111-2222 1111111"),
    ("spaces", "  첫 문단   이다. \n\n\n 둘째\t문단 \n", "첫 문단 이다.\n둘째 문단"),
    ("spaces", "하나\n둘", "하나\n둘"),
]


@pytest.mark.parametrize(("step", "before", "after"), TABLE)
def test_step_before_after(step: str, before: str, after: str) -> None:
    assert steps.STEPS[step](before) == after


def test_every_step_has_a_before_after_case() -> None:
    assert {row[0] for row in TABLE} == set(STEP_NAMES)


def test_a_step_with_nothing_to_do_returns_its_input() -> None:
    text = "아무것도 바꿀 것이 없는 문장이다."
    for name in STEP_NAMES:
        assert steps.STEPS[name](text) == text, name


def test_pipeline_reports_the_steps_that_changed_the_text() -> None:
    result = Cleaner().clean("#태그 안녕하세요ㅋㅋㅋㅋ  메일은 a@b.com 입니다\n\n\n다음 문단")
    assert result.text == "안녕하세요ㅋㅋ 메일은 [이메일] 입니다\n다음 문단"
    assert result.changed == ("email", "hashtags", "repeat_normalize", "spaces")


def test_only_the_chosen_steps_run_in_pipeline_order() -> None:
    cleaner = Cleaner(["spaces", "email"])
    assert cleaner.steps == ("email", "spaces")
    assert cleaner("#태그  a@b.com") == "#태그 [이메일]"


def test_unknown_step_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown cleaning step"):
        Cleaner(["nfc", "shout"])


def test_boilerplate_list_is_configurable_with_regexes() -> None:
    cleaner = Cleaner(["boilerplate"], boilerplate=["광고 문의", "re:^-{3,}$"])
    assert cleaner("본문\n광고 문의는 여기로\n---\n끝") == "본문\n끝"
    # A substring entry only removes a short line, not a paragraph that mentions it.
    long_line = (
        "이 문단은 광고 문의라는 말을 품고 있지만 " + "충분히 긴 본문이어서 지워지면 안 되는 문장이다. " * 3
    )
    assert cleaner(long_line) == long_line


# ---- the three 2021 defects (DESIGN.md), each shown in the 2021 function and fixed here --------------


def test_defect_1_repeat_normalize_no_longer_touches_digits() -> None:
    old = _klue2021()
    assert old("가격은 10000원이다") == "가격은 100원이다"  # the 2021 defect
    for text in ("가격은 10000원이다", "1111년", "전화 010-1111-2222", "2000년대"):
        assert Cleaner()(text) == text
    assert Cleaner()("ㅋㅋㅋㅋㅋ 하하하하") == "ㅋㅋ 하하"


def test_defect_2_paragraph_breaks_are_kept() -> None:
    old = _klue2021()
    text = "첫째 문단이다.\n\n둘째 문단이다.\n셋째 문단이다."
    assert "\n" not in old(text)  # the 2021 defect: the models never saw a paragraph
    assert Cleaner()(text) == "첫째 문단이다.\n둘째 문단이다.\n셋째 문단이다."


def test_defect_3_email_pattern_does_not_swallow_punctuation() -> None:
    old = _klue2021()
    # [a-zA-Z0-9+-_.] contains the range +-_, so ':', '<', '=' and '?' were eaten with the address.
    assert old("문의:me@a.com") == "문의[이메일]"
    assert old("x=<me@a.com>") == "[이메일]>"
    assert Cleaner()("문의:me@a.com") == "문의:[이메일]"
    assert Cleaner()("x=<me@a.com>") == "x=<[이메일]>"
