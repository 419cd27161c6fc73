"""The text helpers and guards on their own: sentence ends, repeats, degeneracy, copied spans."""

from __future__ import annotations

from services.generator.originality import OriginalityIndex
from services.generator.text import (
    SentenceMemory,
    boundary_offsets,
    ends_sentence,
    hangul_share,
    loop_score,
    rule_sentences,
    split_sentences,
)

DOC = (
    "바닷가 작은 마을에는 등대지기 노인이 혼자 살고 있었는데 그는 매일 밤 불을 밝히며 먼바다로 떠난 아들을 기다렸다. "
    "마을 사람들은 그가 언젠가 지쳐 쓰러질 것이라고 수군거렸다."
)


def test_sentence_ends_and_rule_split() -> None:
    assert ends_sentence("나는 걸었다.")
    assert ends_sentence('그는 "괜찮아요?"')
    assert not ends_sentence("나는 걸었")
    text = "나는 걸었다. 비가 왔다! 그리고"
    assert rule_sentences(text) == ["나는 걸었다.", "비가 왔다!", "그리고"]
    assert boundary_offsets("가다. 나다.") == [3, 7]


def test_kss_splits_offline() -> None:
    assert split_sentences("나는 오늘도 걸었다. 비가 조용히 내렸다.") == [
        "나는 오늘도 걸었다.",
        "비가 조용히 내렸다.",
    ]


def test_exact_and_near_repeats_are_found() -> None:
    memory = SentenceMemory()
    memory.add("어머니는 부엌에서 조용히 노래를 불렀다.")
    assert memory.is_repeat("어머니는 부엌에서 조용히 노래를 불렀다.")
    assert memory.is_repeat("어머니는 부엌에서, 조용히 노래를 불렀다!")  # punctuation and spacing differ
    assert memory.is_repeat("어머니는 부엌에서 조용히 노래를 불렀지.")  # one ending changed
    assert not memory.is_repeat("아버지는 마당에서 새로운 아침을 기다렸다.")


def test_degenerate_text_is_measured() -> None:
    assert hangul_share("나는 걸었다.") == 1.0
    assert hangul_share("abc def ghi 나") < 0.5
    prose = " ".join(["바람이 분다. 나는 창가에서 오래된 편지를 읽었다. 그리고 강을 건너 바다로 갔다."] * 1)
    loop = "그리고 그리고 그리고 " * 40
    assert (
        loop_score(loop)
        > 0.8
        > loop_score(prose + " 어머니는 부엌에서 노래를 부르며 하루를 마무리했다. " * 2)
    )


def test_copied_span_is_measured_exactly() -> None:
    index = OriginalityIndex([DOC, "다른 문서는 짧다."], n=12)
    copied = "오늘 나는 " + DOC[10:80] + " 그리고 돌아왔다."
    report = index.report(copied)
    assert report.longest_span == 70
    assert 0.5 < report.overlap_ratio < 1.0
    original = index.report("아버지는 새벽마다 마당을 쓸며 노래를 불렀고 우리는 그 소리에 잠을 깼다.")
    assert original.longest_span == 0 and original.overlap_ratio == 0.0


def test_extending_a_copy_past_the_limit_is_detected() -> None:
    index = OriginalityIndex([DOC], n=12)
    text = DOC[:45]
    suffix = index.copied_suffix(text)
    assert suffix == 45
    assert index.extends_copy(text, DOC[45:50], 48, suffix)
    assert not index.extends_copy(text, "꽃", 48, suffix)


def test_span_limit_check_agrees_with_the_exact_report() -> None:
    import random

    from tests.generator.tiny_writer import documents

    docs = documents(12, seed=4)
    index = OriginalityIndex(docs, n=12)
    rng = random.Random(5)
    for _ in range(200):
        # Stitch pieces of the documents with original words, so that copied runs of every length occur.
        pieces = []
        for _ in range(rng.randint(1, 4)):
            doc = rng.choice(docs)
            start = rng.randrange(len(doc))
            pieces.append(doc[start : start + rng.randint(5, 90)])
            pieces.append(rng.choice(["", " 꽃이 피었다 ", "하늘", " 그러나 "]))
        text = "".join(pieces).replace("\n", " ")
        longest = index.report(text).longest_span
        for limit in (16, 30, 50):
            assert index.exceeds(text, limit) == (longest > limit), (text, limit, longest)
