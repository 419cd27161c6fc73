"""What both backends hand the query layer: filters in, hits out (documents fetched on first use)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from services.runtime import Document


@dataclass
class Filters:
    """Required and excluded term groups, checked on the analysis without stop tags."""

    required: list[str]
    excluded: list[list[str]]


class SearchHit:
    """One hit, backend-independent: id and score at once, the stored document when first asked for.

    `SearchHit(document, score)` holds its document. The embedded backend builds `StoredHit`s
    instead: a query makes up to 10,000 hits and most callers read a few fields of some of them,
    so a stored hit keeps only the id, the score and how to read its document."""

    __slots__ = ("_doc_index", "_document", "_snippet", "id", "score")
    _load: Callable[[int], Document]  # a stored hit's class reads its documents with this

    def __init__(self, document: Document, score: float, snippet: str = "") -> None:
        self._document = document
        self.id: str = document.id
        self.score = score
        self._snippet = snippet

    @property
    def document(self) -> Document:
        """The document (read from its index once, on first access, for a stored hit)."""
        try:
            return self._document
        except AttributeError:  # a stored hit not read yet
            self._document = self._load(self._doc_index)
            return self._document

    @property
    def snippet(self) -> str:
        """The highlighted snippet ("" until the query layer adds one)."""
        try:
            return self._snippet
        except AttributeError:
            return ""

    @snippet.setter
    def snippet(self, value: str) -> None:
        self._snippet = value

    def __repr__(self) -> str:
        return f"SearchHit(id={self.id!r}, score={self.score!r})"


class StoredHit(SearchHit):
    """A hit whose document is read by its class's `_load(doc_index)` when first used: make the
    class with stored_hit_class(load), once per way of loading."""

    __slots__ = ()

    def __init__(self, id: str, score: float, doc_index: int) -> None:
        # Three fields only: building 100 hits is a visible part of a query's cost.
        self.id = id
        self.score = score
        self._doc_index = doc_index


def stored_hit_class(load: Callable[[int], Document]) -> type[StoredHit]:
    """A StoredHit class whose hits read their documents with load(doc_index)."""
    return type("StoredHit", (StoredHit,), {"__slots__": (), "_load": staticmethod(load)})
