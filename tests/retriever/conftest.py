"""Retriever fixtures: the labelled essay corpus written to a workspace, and an index built on it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from services.retriever.analyzer import AnalyzerSettings
from services.retriever.config import RetrieverConfig
from services.retriever.retriever import Retriever
from services.runtime import ArtifactStore, Document, write_corpus

DATA = Path(__file__).parent / "data"
SHARED_CORPUS = (
    Path(__file__).resolve().parents[2].parent / "shared" / "corpus" / "koconovel" / "koconovel.jsonl"
)


def labelled() -> dict:
    """The labelled set (documents with topics, queries with relevant ids)."""
    return json.loads((DATA / "labelled.json").read_text(encoding="utf-8"))


def labelled_documents() -> list[Document]:
    """The labelled set's documents as corpus Documents."""
    return [
        Document(
            id=d["id"],
            text=d["text"],
            title=d["title"],
            source="fixture",
            url=f"http://example.test/{d['id']}",
        )
        for d in labelled()["documents"]
    ]


def shared_paragraphs(limit: int | None = None) -> list[str]:
    """Paragraphs of the shared corpus (skips the test when it is absent)."""
    if not SHARED_CORPUS.exists():
        pytest.skip(f"shared corpus not found at {SHARED_CORPUS}")
    out = []
    with SHARED_CORPUS.open(encoding="utf-8") as fh:
        for line in fh:
            out.extend(p for p in json.loads(line)["text"].split("\n") if p.strip())
    return out[:limit] if limit else out


@pytest.fixture(scope="module")
def indexed(tmp_path_factory: pytest.TempPathFactory) -> tuple[ArtifactStore, Retriever]:
    """A workspace with the labelled corpus indexed as 'essays' (embedded)."""
    store = ArtifactStore(tmp_path_factory.mktemp("ws"))
    write_corpus(store, "corpora/essays.jsonl.zst", labelled_documents())
    retriever = Retriever(store, RetrieverConfig(workers=1))
    retriever.embedded.build("essays", "corpora/essays.jsonl.zst", AnalyzerSettings(), 1.2, 0.75)
    return store, retriever
