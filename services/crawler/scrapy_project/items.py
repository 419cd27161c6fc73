"""The item the spider yields for each article page."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class EssayPage:
    """One article page as fetched and extracted; text keeps paragraphs as '\\n'."""

    url: str
    source: str
    text: str
    canonical_url: str = ""
    title: str = ""
    author: str = ""
    published: str = ""
    tags: list[str] = field(default_factory=list)
    fetched_at: str = ""  # ISO 8601, UTC
    status: int = 0
    content_hash: str = ""
