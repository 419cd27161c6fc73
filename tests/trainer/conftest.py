"""Fixtures for trainer tests: a synthetic Korean corpus, a small tokenizer and small models."""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch

from services.runtime import ArtifactStore, Document, write_corpus
from services.trainer import models

WORDS = (
    "나는 너는 우리는 오늘 어제 내일 함께 혼자 길을 바다를 하늘을 꽃이 바람이 조용히 천천히 "
    "걸었다 보았다 웃었다 울었다 기억한다 생각했다 마음이 슬픔이 기쁨이 집으로 학교에서 밤에 아침에"
).split()
SMALL = models.TinyPreset(vocab_size=600, n_embd=64, n_layer=4, n_head=4, n_positions=128)


def make_documents(n: int, seed: int, prefix: str = "d") -> list[Document]:
    """n distinct documents of a few paragraphs of simple, learnable Korean sentences."""
    rng = random.Random(seed)
    docs = []
    for i in range(n):
        paragraphs = []
        for _ in range(rng.randint(2, 4)):
            sentences = []
            for _ in range(rng.randint(2, 4)):
                start = rng.randrange(len(WORDS) - 4)
                sentences.append(" ".join(WORDS[start : start + rng.randint(3, 5)]) + ".")
            paragraphs.append(" ".join(sentences))
        docs.append(Document(id=f"{prefix}{seed}-{i}", text="\n".join(paragraphs)))
    return docs


@pytest.fixture(scope="session", autouse=True)
def one_torch_thread() -> Iterator[None]:
    """Tiny matrices gain nothing from threads, and on busy shared cores spinning threads cost minutes."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def corpus_texts() -> list[str]:
    """Texts for training the shared test tokenizer."""
    return [d.text for d in make_documents(200, seed=99)]


@pytest.fixture(scope="session")
def small_tokenizer(corpus_texts: list[str]) -> Any:
    """A small ByteLevel BPE tokenizer trained like the tiny preset's."""
    return models.train_tiny_tokenizer(corpus_texts, vocab_size=SMALL.vocab_size)


@pytest.fixture
def store(tmp_path: Path) -> ArtifactStore:
    """A fresh workspace."""
    return ArtifactStore(tmp_path / "ws")


def save_base(store: ArtifactStore, name: str, tokenizer: Any, seed: int = 0) -> None:
    """A base checkpoint artifact (untrained small GPT-2) as the pretrain stage would write it."""
    model = models.tiny_model(tokenizer, SMALL, seed=seed)
    with store.open_dir(name, role="base") as out:
        model.save_pretrained(str(out.path))
        tokenizer.save_pretrained(str(out.path))
        (out.path / models.MODEL_MARKER).write_text('{"kind": "base", "source": "tiny"}', encoding="utf-8")


def write_sets(store: ArtifactStore, prefix: str, n_train: int = 40, n_valid: int = 6, seed: int = 1) -> None:
    """Disjoint train/valid corpus artifacts under prefix, as the retriever exports them."""
    write_corpus(store, f"{prefix}/train.jsonl.zst", make_documents(n_train, seed, "t"), role="train")
    write_corpus(store, f"{prefix}/valid.jsonl.zst", make_documents(n_valid, seed + 1000, "v"), role="valid")
