"""Drafting sections with tiny writers trained in this session: length, boundaries, seeds, guards, batching."""

from __future__ import annotations

from services.generator.drafter import Drafter, SectionTask
from services.generator.originality import OriginalityIndex
from services.generator.sampling import SamplingSettings
from services.generator.text import SentenceMemory, ends_sentence, rule_sentences, split_sentences
from services.generator.writers import WriterPool
from tests.generator.tiny_writer import MEMORIZED

PROMPT = "나는 오늘도 나에게 말을 건다."
SETTINGS = SamplingSettings(min_paragraph_chars=300, seed=7)


def draft(
    pool: WriterPool, name: str, target: int, settings: SamplingSettings = SETTINGS, prompt: str = PROMPT
):
    writer = pool.get(name)
    return Drafter(settings).draft([SectionTask(0, writer, prompt, target)])[0], writer


def test_section_lands_on_its_target_and_ends_with_a_sentence(tiny_store, tiny_pool) -> None:
    _store, names = tiny_store
    for target in (700, 1300):
        section, _ = draft(tiny_pool, names.full, target)
        assert abs(section.chars - target) <= 0.03 * target, (target, section.chars)
        assert len(section.paragraphs) == target // 300
        assert section.text.startswith(PROMPT)
        for paragraph in section.paragraphs:
            assert ends_sentence(paragraph.text), paragraph.text[-40:]
            assert ends_sentence(split_sentences(paragraph.text)[-1])
            assert "\n" not in paragraph.text and "\ufffd" not in paragraph.text


def test_same_seed_same_text_and_another_seed_differs(tiny_store, tiny_pool) -> None:
    _store, names = tiny_store
    first, _ = draft(tiny_pool, names.full, 500)
    again, _ = draft(WriterPool(tiny_store[0]), names.full, 500)  # a fresh load gives the same text
    other, _ = draft(tiny_pool, names.full, 500, SamplingSettings(min_paragraph_chars=300, seed=8))
    assert first.text == again.text
    assert first.text != other.text


def test_repeated_sentences_are_removed(tiny_store, tiny_pool) -> None:
    _store, names = tiny_store
    # Without a repetition penalty and cooled down, the tiny writer repeats itself; the guard must drop it.
    settings = SamplingSettings(min_paragraph_chars=300, repetition_penalty=1.0, temperature=0.5, seed=3)
    section, _ = draft(tiny_pool, names.full, 900, settings)
    assert section.metrics(tiny_pool.get(names.full).index)["dropped_sentences"] > 0
    memory = SentenceMemory()
    for sentence in rule_sentences(" ".join(p.text for p in section.paragraphs)):
        assert not memory.is_repeat(sentence), sentence
        memory.add(sentence)
    assert abs(section.chars - 900) <= 27


def test_memorizing_writer_is_caught_and_kept_under_the_span_limit(tiny_store, tiny_pool) -> None:
    _store, names = tiny_store
    prompt = MEMORIZED[0][:30]
    # Near-greedy sampling without a repetition penalty: the way a memorizing writer copies most.
    settings = SamplingSettings(
        min_paragraph_chars=300, max_copied_span=50, seed=11, temperature=0.5, repetition_penalty=1.0
    )
    section, writer = draft(tiny_pool, names.memorizer, 600, settings, prompt=prompt)
    # The unguarded writer copies: show it, so that this test can fail.
    unguarded = writer.index.report(MEMORIZED[0][:200])
    assert unguarded.longest_span > 50
    assert sum(p.resamples for p in section.paragraphs) > 0  # the guard caught copies and resampled
    exact = OriginalityIndex(MEMORIZED, n=12)
    for paragraph in section.paragraphs:
        assert exact.report(paragraph.text).longest_span <= 50
        assert paragraph.longest_copied_span <= 50
    metrics = section.metrics(writer.index)
    assert metrics["longest_copied_span"] <= 50
    assert metrics["overlap_ratio"] > 0.2  # it still writes in its training documents' words
    assert abs(section.chars - 600) <= 18


def test_lora_writers_share_one_base_and_are_batched(tiny_store) -> None:
    store, names = tiny_store
    pool = WriterPool(store)
    a, b = pool.get(names.lora), pool.get(names.lora2)
    assert pool.loads == 1 and a.group == b.group and a.adapter != b.adapter
    tasks = [SectionTask(0, a, PROMPT, 500), SectionTask(1, b, "창밖으로 비가 내렸다.", 400)]
    sections = Drafter(SETTINGS).draft(tasks)
    for section, target in zip(sections, (500, 400), strict=True):
        assert abs(section.chars - target) <= 0.03 * target
        assert ends_sentence(section.text)
    # Adapters differ, so the batched rows follow different weights.
    assert sections[0].text != sections[1].text


def test_memory_budget_evicts_the_least_recently_used_network(tiny_store) -> None:
    store, names = tiny_store
    pool = WriterPool(store, memory_budget_bytes=1)
    pool.get(names.full)
    pool.get(names.memorizer)
    assert pool.resident() == [f"full:{names.memorizer}"]
    pool.get(names.full)
    assert pool.resident() == [f"full:{names.full}"] and pool.loads == 3


def test_no_repeat_ngram_and_carry_options_are_honoured(tiny_store, tiny_pool) -> None:
    _store, names = tiny_store
    settings = SamplingSettings(
        min_paragraph_chars=200, no_repeat_ngram_size=3, carry_sentences=1, chunk_tokens=32, seed=5
    )
    section, _ = draft(tiny_pool, names.full, 450, settings)
    assert abs(section.chars - 450) <= 13
    assert section.rounds >= section.tokens / 32  # a chunk never runs past chunk_tokens
