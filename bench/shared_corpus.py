"""Where the benchmarks find the shared Korean corpus, and its paragraphs to compose inputs from."""

from __future__ import annotations

import json
from pathlib import Path

DEFAULT_CORPUS = (
    Path(__file__).resolve().parent.parent.parent / "shared" / "corpus" / "koconovel" / "koconovel.jsonl"
)


def corpus_paragraphs(corpus: Path) -> list[str]:
    """Every non-empty paragraph of every work in a koconovel-style JSON Lines file, in order."""
    paragraphs: list[str] = []
    with corpus.open(encoding="utf-8") as fh:
        for line in fh:
            paragraphs.extend(p for p in json.loads(line)["text"].split("\n") if p.strip())
    return paragraphs
