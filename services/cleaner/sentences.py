"""Sentence splitting with kss, the backend always chosen explicitly ("fast" or "pecab")."""

from __future__ import annotations

import importlib
import logging
import threading
from dataclasses import dataclass
from types import ModuleType

logger = logging.getLogger(__name__)

BACKENDS = ("fast", "pecab")
_lock = threading.Lock()
_kss: ModuleType | None = None


@dataclass(frozen=True)
class Sentence:
    """One sentence and its character offsets [start, end) in the text it came from."""

    text: str
    start: int
    end: int


def _load_kss() -> ModuleType:
    # kss takes ~5-7 s to import (and pulls in pecab's tables only when that backend is first used), so it
    # is imported on the first split, not when the service starts. It needs no network and writes no cache.
    global _kss
    with _lock:
        if _kss is None:
            logger.info("importing kss (first sentence split in this process)")
            _kss = importlib.import_module("kss")
        return _kss


def split_sentences(text: str, backend: str = "fast") -> list[Sentence]:
    """Split text into sentences paragraph by paragraph (a `\\n` always ends a sentence), with offsets."""
    if backend not in BACKENDS:
        raise ValueError(f"unknown kss backend {backend!r} (use one of {', '.join(BACKENDS)})")
    kss = _load_kss()
    sentences: list[Sentence] = []
    offset = 0
    for paragraph in text.split("\n"):
        if paragraph.strip():
            # num_workers=1: kss otherwise starts a process pool on every call, which a server must not do.
            parts = kss.split_sentences(paragraph, backend=backend, num_workers=1)
            position = 0
            for part in parts:
                found = paragraph.find(part, position)
                if found < 0:  # kss changed the characters of this sentence; keep it, offsets approximate
                    found = position
                end = min(len(paragraph), found + len(part))
                sentences.append(Sentence(part, offset + found, offset + end))
                position = end
        offset += len(paragraph) + 1
    return sentences
