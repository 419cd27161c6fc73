"""Document filters: each says why it drops a document (the rule's name), so drops are counted by rule."""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from services.cleaner.options import CleanConfig

RULES = ("empty", "min_chars", "max_chars", "min_hangul_ratio", "min_sentences", "max_repetition")

# A sentence-like unit for the filters: text up to terminal punctuation followed by whitespace, or up to a
# line break. kss is far too slow for counting sentences over a whole corpus (it is used for
# SplitSentences and write_sentences); this is a cheap count that agrees with it on ordinary prose.
_UNIT_BREAK = re.compile(r"(?<=[.!?。…\"'”’])[ \t]+|\n")
# Units this short ("네.", "응.") repeat naturally in dialogue and do not count towards repetition.
MIN_REPEAT_UNIT = 10


@dataclass(frozen=True)
class Quality:
    """The figures the filters look at, for one cleaned text."""

    chars: int
    hangul_ratio: float
    sentences: int
    repetition: float


def hangul_ratio(text: str) -> float:
    """Share of the non-space characters that are Hangul (syllables or jamo)."""
    if not text:
        return 0.0
    points = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    spaces = np.count_nonzero((points == 32) | (points == 10) | (points == 9))
    visible = points.size - spaces
    if visible == 0:
        return 0.0
    hangul = np.count_nonzero(
        ((points >= 0xAC00) & (points <= 0xD7A3))
        | ((points >= 0x3131) & (points <= 0x318E))
        | ((points >= 0x1100) & (points <= 0x11FF))
    )
    return hangul / visible


def measure(text: str) -> Quality:
    """Length, Hangul ratio, sentence count and repetition (share of characters in repeated units)."""
    units = [u.strip() for u in _UNIT_BREAK.split(text)]
    units = [u for u in units if u]
    seen: set[str] = set()
    repeated = 0
    counted = 0
    for unit in units:
        if len(unit) < MIN_REPEAT_UNIT:
            continue
        counted += len(unit)
        if unit in seen:
            repeated += len(unit)
        else:
            seen.add(unit)
    return Quality(
        chars=len(text),
        hangul_ratio=hangul_ratio(text),
        sentences=len(units),
        repetition=repeated / counted if counted else 0.0,
    )


def verdict(quality: Quality, config: CleanConfig) -> str | None:
    """The first rule that drops the document, or None if it is kept."""
    if quality.chars == 0:
        return "empty"
    if quality.chars < config.min_chars:
        return "min_chars"
    if quality.chars > config.max_chars:
        return "max_chars"
    if quality.hangul_ratio < config.min_hangul_ratio:
        return "min_hangul_ratio"
    if quality.sentences < config.min_sentences:
        return "min_sentences"
    if quality.repetition > config.max_repetition:
        return "max_repetition"
    return None
