"""Corpora as zstd-compressed JSON Lines artifacts: one Document per line, paragraphs kept as '\n'."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import zstandard

from services.runtime.artifacts import ArtifactEntry, ArtifactStore
from services.runtime.errors import InvalidArgument

logger = logging.getLogger(__name__)

FIELDS = ("id", "url", "source", "title", "author", "published", "tags", "text")
ZSTD_LEVEL = 3


@dataclass
class Document:
    """One document of a corpus; extra holds any further keys (sentences, scores, ...)."""

    id: str
    text: str
    url: str = ""
    source: str = ""
    title: str = ""
    author: str = ""
    published: str = ""
    tags: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> str:
        """The document as one JSON line (without the newline)."""
        record = {name: getattr(self, name) for name in FIELDS}
        record.update(self.extra)
        return json.dumps(record, ensure_ascii=False, separators=(",", ":"))

    @classmethod
    def from_record(cls, record: Any) -> Document:
        """Build a document from a parsed JSON object, refusing missing or mistyped fields."""
        if not isinstance(record, dict):
            raise ValueError("a line is not a JSON object")
        for key in ("id", "text"):
            if not isinstance(record.get(key), str):
                raise ValueError(f"field {key!r} is missing or not a string")
        for key in ("url", "source", "title", "author", "published"):
            if not isinstance(record.get(key, ""), str):
                raise ValueError(f"field {key!r} is not a string")
        tags = record.get("tags", [])
        if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
            raise ValueError("field 'tags' is not a list of strings")
        extra = {k: v for k, v in record.items() if k not in FIELDS}
        return cls(
            id=record["id"],
            text=record["text"],
            url=record.get("url", ""),
            source=record.get("source", ""),
            title=record.get("title", ""),
            author=record.get("author", ""),
            published=record.get("published", ""),
            tags=list(tags),
            extra=extra,
        )


class CorpusWriter:
    """Streams documents into an open artifact file as zstd JSON Lines."""

    def __init__(self, raw: io.RawIOBase | io.BufferedIOBase | Any) -> None:
        self._stream = zstandard.ZstdCompressor(level=ZSTD_LEVEL).stream_writer(raw, closefd=False)
        self.count = 0

    def write(self, doc: Document) -> None:
        """Append one document."""
        self._stream.write(doc.to_json().encode("utf-8") + b"\n")
        self.count += 1

    def close(self) -> None:
        """Finish the zstd frame (the underlying file stays open)."""
        self._stream.flush(zstandard.FLUSH_FRAME)
        self._stream.close()


def write_corpus(
    store: ArtifactStore, name: str, docs: Iterable[Document], *, job_id: str = "", role: str = "corpus"
) -> ArtifactEntry:
    """Write documents as a corpus artifact, atomically, and return its manifest entry."""
    with store.open_file(name, job_id=job_id, role=role) as out:
        writer = CorpusWriter(out.fh)
        for doc in docs:
            writer.write(doc)
        writer.close()
        out.records = writer.count
    assert out.entry is not None
    return out.entry


@dataclass
class CorpusReadReport:
    """What reading a corpus skipped, line by line, when asked to skip bad lines."""

    read: int = 0
    skipped: list[tuple[int, str]] = field(default_factory=list)


def read_corpus(
    store: ArtifactStore, name: str, *, skip_bad: bool = False, report: CorpusReadReport | None = None
) -> Iterator[Document]:
    """Yield a corpus artifact's documents; a bad line raises InvalidArgument naming it, or is skipped."""
    entry = store.entry(name)  # NotFound for a missing or half-written artifact
    path = store.path(entry.name)
    report = report if report is not None else CorpusReadReport()
    with path.open("rb") as fh:
        try:
            raw = io.BufferedReader(zstandard.ZstdDecompressor().stream_reader(fh, read_across_frames=True))
            for number, line in enumerate(raw, start=1):
                if not line.strip():
                    continue
                try:
                    doc = Document.from_record(json.loads(line.decode("utf-8")))
                except ValueError as exc:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
                    reason = f"{name}: line {number}: {_short(exc)}"
                    if not skip_bad:
                        raise InvalidArgument(reason) from None
                    report.skipped.append((number, _short(exc)))
                    continue
                report.read += 1
                yield doc
        except zstandard.ZstdError as exc:
            raise InvalidArgument(f"{name}: not a zstd-compressed corpus ({exc})") from None


def _short(exc: ValueError) -> str:
    if isinstance(exc, UnicodeDecodeError):
        return f"invalid UTF-8 at byte {exc.start}"
    return str(exc)
