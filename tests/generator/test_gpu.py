"""Drafting with the writers on a GPU: runs where torch sees CUDA, skipped with the reason elsewhere."""

from __future__ import annotations

import pytest
import torch

from services.generator.drafter import Drafter, SectionTask
from services.generator.sampling import SamplingSettings
from services.generator.text import ends_sentence
from services.generator.writers import WriterPool

pytestmark = pytest.mark.skipif(
    not torch.cuda.is_available(), reason="no CUDA device: GPU drafting is checked where torch sees one"
)
SETTINGS = SamplingSettings(min_paragraph_chars=300, seed=7)


@pytest.mark.parametrize("kind", ["full", "lora"])
def test_writers_draft_on_the_gpu_on_length_and_reproducibly(tiny_store, kind: str) -> None:
    store, names = tiny_store
    name = names.full if kind == "full" else names.lora
    texts = []
    for _ in range(2):
        pool = WriterPool(store, device="cuda")
        writer = pool.get(name)
        assert writer.slot.device.type == "cuda"
        section = Drafter(SETTINGS).draft([SectionTask(0, writer, "나는 오늘도 나에게 말을 건다.", 900)])[0]
        assert abs(section.chars - 900) <= 27
        assert all(ends_sentence(p.text) for p in section.paragraphs)
        texts.append(section.text)
    assert texts[0] == texts[1]


def test_sections_batch_on_the_gpu(tiny_store) -> None:
    store, names = tiny_store
    pool = WriterPool(store, device="cuda")
    tasks = [SectionTask(i, pool.get(names.full), "나는 오늘도 나에게 말을 건다.", 600) for i in range(3)]
    sections = Drafter(SETTINGS).draft(tasks)
    assert [abs(s.chars - 600) <= 18 for s in sections] == [True] * 3
