"""Corpus artifacts: zstd JSON Lines round trip and bad lines."""

from __future__ import annotations

from pathlib import Path

import pytest
import zstandard

from services.runtime import ArtifactStore, Document, InvalidArgument, NotFound, read_corpus, write_corpus
from services.runtime.corpus import CorpusReadReport


def docs() -> list[Document]:
    return [
        Document(
            id="1", text="첫 문단이다.\n둘째 문단이다.", title="함께", author="가", tags=["수필", "함께"]
        ),
        Document(
            id="2",
            text="희망은 조용히 온다.",
            url="http://example.org/2",
            source="demo",
            extra={"score": 1.5},
        ),
    ]


def test_round_trip_keeps_paragraphs_and_extra_fields(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path)
    entry = write_corpus(store, "corpora/raw.jsonl.zst", docs(), job_id="crawl-1")
    assert entry.records == 2
    assert entry.role == "corpus"
    back = list(read_corpus(store, "corpora/raw.jsonl.zst"))
    assert back == docs()
    assert back[0].text.split("\n") == ["첫 문단이다.", "둘째 문단이다."]
    # Really zstd JSON Lines, readable by any tool.
    raw = zstandard.ZstdDecompressor().decompress(
        store.path("corpora/raw.jsonl.zst").read_bytes(), max_output_size=1 << 20
    )
    assert raw.decode().count("\n") == 2


def _write_raw(store: ArtifactStore, name: str, lines: list[bytes]) -> None:
    store.write_bytes(name, zstandard.ZstdCompressor().compress(b"\n".join(lines) + b"\n"))


def test_bad_lines_named_or_skipped(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path)
    good = docs()[0].to_json().encode()
    _write_raw(store, "c.jsonl.zst", [good, b"{not json", b'{"id": 3}', b"\xff\xfe bad utf-8", good])
    with pytest.raises(InvalidArgument, match="line 2"):
        list(read_corpus(store, "c.jsonl.zst"))
    report = CorpusReadReport()
    kept = list(read_corpus(store, "c.jsonl.zst", skip_bad=True, report=report))
    assert len(kept) == 2
    assert [n for n, _ in report.skipped] == [2, 3, 4]
    assert "'id'" in report.skipped[1][1]
    assert "UTF-8" in report.skipped[2][1]


def test_missing_and_not_zstd(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path)
    with pytest.raises(NotFound):
        list(read_corpus(store, "nope.jsonl.zst"))
    store.write_bytes("plain.jsonl", b'{"id": "1", "text": "x"}\n')
    with pytest.raises(InvalidArgument, match="zstd"):
        list(read_corpus(store, "plain.jsonl"))
