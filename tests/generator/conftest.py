"""Fixtures for the generator tests: tiny writers trained once per session in a shared workspace."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch

from services.generator.writers import WriterPool
from services.runtime import ArtifactStore
from tests.generator.tiny_writer import TinyWriters, build_tiny_writers


@pytest.fixture(autouse=True)
def one_torch_thread() -> Iterator[None]:
    """Tiny models run fastest on one thread, and the test machines are shared."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def tiny_store(tmp_path_factory: pytest.TempPathFactory) -> tuple[ArtifactStore, TinyWriters]:
    """A workspace holding a tiny base, full and LoRA writers, a memorizing writer and their corpora."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        store = ArtifactStore(tmp_path_factory.mktemp("generator-ws"))
        names = build_tiny_writers(store)
    finally:
        torch.set_num_threads(before)
    return store, names


@pytest.fixture(scope="session")
def tiny_pool(tiny_store: tuple[ArtifactStore, TinyWriters]) -> WriterPool:
    """One writer pool over the tiny workspace, shared by the tests that only read it."""
    return WriterPool(tiny_store[0])
