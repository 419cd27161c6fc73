"""Small Korean test documents made from a fixed word list with a seeded generator."""

from __future__ import annotations

import random

WORDS = (
    "나는 오늘 아침 창문을 열고 바람을 맞았다 어머니의 목소리가 들려왔다 우리는 함께 길을 걸었다 "
    "작은 꽃이 피어 있었다 오래된 책장을 넘기며 생각에 잠겼다 시간이 천천히 흘러갔다 친구에게 편지를 "
    "썼다 비가 내리는 소리가 좋았다 마음이 조금 가벼워졌다 저녁 노을이 붉게 물들었다 기억 속의 골목은 "
    "여전히 따뜻했다 할머니는 감자를 삶아 주셨다 동생과 나는 마당에서 뛰어놀았다 겨울이 오면 눈이 "
    "쌓였다 봄이 되면 새싹이 돋았다 나는 그 시절을 그리워한다 사람들은 저마다의 이야기를 품고 산다"
).split()


def korean_doc(seed: int, sentences: int = 8, paragraphs: int = 2) -> str:
    """A document of `paragraphs` paragraphs of random Korean sentences (each ending in '다.')."""
    rng = random.Random(seed)
    out = []
    for _ in range(paragraphs):
        parts = []
        for _ in range(sentences):
            words = rng.sample(WORDS, rng.randint(4, 8))
            parts.append(" ".join(words) + "다.")
        out.append(" ".join(parts))
    return "\n".join(out)
