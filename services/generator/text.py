"""Korean text helpers for drafting: sentence boundaries, kss splitting and the quality checks."""

from __future__ import annotations

import re
import threading
import zlib
from collections.abc import Callable

# A sentence ends with terminal punctuation, optionally followed by closing quotes or brackets.
TERMINALS = ".!?…。"
CLOSERS = "\"'”’)]」』"
SENTENCE_END = re.compile(rf"[{re.escape(TERMINALS)}][{re.escape(CLOSERS)}]*$")
# Boundaries inside a text: terminal punctuation (+ closers) followed by whitespace.
BOUNDARY = re.compile(rf"[{re.escape(TERMINALS)}][{re.escape(CLOSERS)}]*(?=\s)")
HANGUL = re.compile(r"[\uac00-\ud7a3]")
LETTER = re.compile(r"[^\W\d_]")

_kss_lock = threading.Lock()
_kss_split: Callable[[str], list[str]] | None = None


def ends_sentence(text: str) -> bool:
    """True if text ends with a complete sentence (terminal punctuation, then closers only)."""
    return bool(SENTENCE_END.search(text.rstrip()))


def boundary_offsets(text: str) -> list[int]:
    """Offsets just after each sentence end in text (including its very end if it ends one)."""
    offsets = [m.end() for m in BOUNDARY.finditer(text)]
    if ends_sentence(text):
        end = len(text.rstrip())
        if not offsets or offsets[-1] != end:
            offsets.append(end)
    return offsets


def split_sentences(text: str) -> list[str]:
    """Split text into sentences with kss (backend "fast", one worker), as the 2021 team did.

    kss is imported on first use: its import takes seconds and most calls never need it.
    """
    global _kss_split
    if not text.strip():
        return []
    with _kss_lock:
        if _kss_split is None:
            import kss

            def split(value: str) -> list[str]:
                return list(kss.split_sentences(value, backend="fast", num_workers=1))

            _kss_split = split
    return [s.strip() for s in _kss_split(text) if s.strip()]


def rule_sentences(text: str) -> list[str]:
    """Split text at terminal punctuation followed by whitespace (cheap, used inside the sampling loop)."""
    out, start = [], 0
    for end in boundary_offsets(text):
        piece = text[start:end].strip()
        if piece:
            out.append(piece)
        start = end
    tail = text[start:].strip()
    if tail:
        out.append(tail)
    return out


def hangul_share(text: str) -> float:
    """Share of Hangul syllables among the letters of text (1.0 for text without letters)."""
    letters = len(LETTER.findall(text))
    if letters == 0:
        return 1.0
    return len(HANGUL.findall(text)) / letters


def loop_score(text: str) -> float:
    """How repetitive text is: 1 - compressed/raw size ratio (a loop compresses far better than prose)."""
    raw = text.encode("utf-8")
    if len(raw) < 200:
        return 0.0
    return 1.0 - len(zlib.compress(raw, 9)) / len(raw)


def normalize_sentence(sentence: str) -> str:
    """The form sentences are compared in: letters and digits only, lower case."""
    return "".join(ch for ch in sentence.lower() if ch.isalnum())


def char_shingles(text: str, n: int = 3) -> set[str]:
    """Character n-grams of a normalized sentence (the whole of it when shorter than n)."""
    if len(text) <= n:
        return {text} if text else set()
    return {text[i : i + n] for i in range(len(text) - n + 1)}


class SentenceMemory:
    """Sentences already written in a section: finds exact and near repeats (character 3-gram Jaccard)."""

    def __init__(self, near_threshold: float = 0.8) -> None:
        self.near_threshold = near_threshold
        self._exact: set[str] = set()
        self._shingles: list[set[str]] = []
        # A sentence is compared with every sentence of its paragraph and section: normalize it once.
        self._keys: dict[str, tuple[str, set[str]]] = {}

    def key(self, sentence: str) -> tuple[str, set[str]]:
        """The normalized sentence and its character 3-grams (computed once per sentence)."""
        found = self._keys.get(sentence)
        if found is None:
            norm = normalize_sentence(sentence)
            found = self._keys[sentence] = (norm, char_shingles(norm))
        return found

    def _near(self, grams: set[str], other: set[str]) -> bool:
        """Character 3-gram Jaccard at or above the threshold."""
        union = len(grams | other)
        return bool(union) and len(grams & other) / union >= self.near_threshold

    def near_any(self, sentence: str, others: list[str]) -> bool:
        """True if sentence equals or nearly equals one of others."""
        norm, grams = self.key(sentence)
        if not norm:
            return False
        for other in others:
            other_norm, other_grams = self.key(other)
            if other_norm and (norm == other_norm or self._near(grams, other_grams)):
                return True
        return False

    def is_repeat(self, sentence: str) -> bool:
        """True if sentence repeats (exactly or nearly) one already remembered."""
        norm, grams = self.key(sentence)
        if not norm:
            return False
        if norm in self._exact:
            return True
        return any(self._near(grams, other) for other in self._shingles)

    def add(self, sentence: str) -> None:
        """Remember an accepted sentence."""
        norm, grams = self.key(sentence)
        if norm:
            self._exact.add(norm)
            self._shingles.append(grams)
