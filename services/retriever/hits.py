"""What both backends hand the query layer: filters in, hits out (documents fetched on first use)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from services.runtime import Document


@dataclass
class Filters:
    """Required and excluded term groups, checked on the analysis without stop tags."""

    required: list[str]
    excluded: list[list[str]]


class DocumentSource(Protocol):
    """Where a hit's stored document is read from (an embedded index)."""

    def document(self, doc_index: int, *, with_text: bool = True) -> Document:
        """The stored document at that position."""
        ...


class SearchHit:
    """One hit, backend-independent: id and score at once, the stored document when first asked for.

    `SearchHit(document, score)` holds its document; the embedded backend instead passes the id,
    its index and the document's position (positionally: a query builds up to 10,000 hits and
    most callers read a few fields of some of them), and the document is read on first use."""

    __slots__ = ("_doc_index", "_document", "_source", "_with_text", "id", "score", "snippet")

    def __init__(
        self,
        document: Document | None,
        score: float,
        snippet: str = "",
        id: str | None = None,
        source: DocumentSource | None = None,
        doc_index: int = -1,
        with_text: bool = True,
    ) -> None:
        if document is None and (id is None or source is None):
            raise ValueError("a hit needs its document, or its id and the index that stores it")
        self._document = document
        self.id: str = document.id if id is None else id  # type: ignore[union-attr]
        self.score = score
        self.snippet = snippet
        self._source = source
        self._doc_index = doc_index
        self._with_text = with_text

    @property
    def document(self) -> Document:
        """The stored document (read once, on first access)."""
        if self._document is None:
            assert self._source is not None
            self._document = self._source.document(self._doc_index, with_text=self._with_text)
        return self._document

    def __repr__(self) -> str:
        return f"SearchHit(id={self.id!r}, score={self.score!r})"
