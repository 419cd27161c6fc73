"""The originality guard: an index of a writer's training documents and copied-span measurement."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np

# Separates documents in the exact-check text; never produced by a tokenizer's decode of prose.
DOC_SEPARATOR = "\x00"
_MASK = (1 << 63) - 1


@dataclass(frozen=True)
class CopyReport:
    """How much of a text is copied from the training documents."""

    longest_span: int  # characters of the longest substring also found in a training document
    overlap_ratio: float  # share of the text's characters inside an n-gram shared with the documents


def _gram_hash(gram: str) -> int:
    # Python's str hash is salted per process; the index lives and dies with the process, so it is consistent.
    return hash(gram) & _MASK


class OriginalityIndex:
    """Character n-grams of a writer's training documents, for copied-span checks.

    Membership goes through a sorted numpy array of 63-bit n-gram hashes (8 bytes per n-gram);
    a candidate copied span is then confirmed with an exact substring search in the documents.
    """

    def __init__(self, documents: Iterable[str], n: int = 12) -> None:
        if n < 4:
            raise ValueError("n-gram size must be at least 4")
        self.n = n
        docs = [d for d in documents if d]
        self.documents = len(docs)
        self._text = DOC_SEPARATOR.join(docs)
        hashes = [_gram_hash(doc[i : i + n]) for doc in docs for i in range(max(0, len(doc) - n + 1))]
        self._hashes = np.unique(np.fromiter(hashes, dtype=np.int64, count=len(hashes)))

    @property
    def empty(self) -> bool:
        """True when the writer named no training documents (nothing to compare with)."""
        return self._hashes.size == 0

    def _contains(self, grams: list[str]) -> np.ndarray:
        if not grams or self.empty:
            return np.zeros(len(grams), dtype=bool)
        keys = np.fromiter((_gram_hash(g) for g in grams), dtype=np.int64, count=len(grams))
        pos = np.searchsorted(self._hashes, keys)
        pos[pos >= self._hashes.size] = 0
        return self._hashes[pos] == keys

    def gram_hits(self, text: str) -> np.ndarray:
        """For each n-gram start in text, whether that n-gram occurs in the training documents."""
        n = self.n
        return self._contains([text[i : i + n] for i in range(max(0, len(text) - n + 1))])

    def copied_suffix(self, text: str) -> int:
        """Length of the copied span that ends at the end of text (0 if its last n-gram is original)."""
        n = self.n
        if len(text) < n or self.empty:
            return 0
        run = 0
        # Walk back one n-gram at a time; stops at the first original one.
        for start in range(len(text) - n, -1, -1):
            if not self._contains([text[start : start + n]])[0]:
                break
            run += 1
        return run + n - 1 if run else 0

    def extends_copy(self, text: str, addition: str, limit: int, suffix: int) -> bool:
        """True if appending addition to text would make a copied span longer than limit.

        suffix is copied_suffix(text), passed in so the caller can compute it once per step.
        """
        n = self.n
        run_chars = suffix
        joined = text + addition
        for end in range(len(text) + 1, len(joined) + 1):
            if end < n:
                continue
            if self._contains([joined[end - n : end]])[0]:
                run_chars = run_chars + 1 if run_chars else n
                if run_chars > limit:
                    return True
            else:
                run_chars = 0
        return False

    def report(self, text: str) -> CopyReport:
        """Longest copied span (exact) and n-gram overlap ratio of text."""
        if not text or self.empty:
            return CopyReport(0, 0.0)
        hits = self.gram_hits(text)
        n = self.n
        covered = np.zeros(len(text), dtype=bool)
        longest = 0
        for i, j in _runs(hits):
            covered[i : j - 1 + n] = True
            longest = max(longest, self._exact_longest(text, i, j - 1 + n))
        return CopyReport(longest, float(covered.mean()))

    def exceeds(self, text: str, limit: int) -> bool:
        """True if text shares more than limit characters in a row with a training document.

        The same answer as report(text).longest_span > limit, for the guard that asks only that: a
        run of shared n-grams no longer than limit cannot hold such a span, and a longer one needs a
        single verbatim (limit + 1)-character window, so the search stops at the first.
        """
        if len(text) <= limit or self.empty:
            return False
        hits = self.gram_hits(text)
        n, size = self.n, max(limit + 1, self.n)
        for i, j in _runs(hits):
            end = j - 1 + n  # the run covers text[i:end]
            for lo in range(i, end - size + 1):
                if text[lo : lo + size] in self._text:
                    return True
        return False

    def _exact_longest(self, text: str, start: int, end: int) -> int:
        """Longest substring of text[start:end] found verbatim in the documents (n-gram runs can chain)."""
        if text[start:end] in self._text:
            return end - start
        best, lo = 0, start
        hi = lo + self.n
        while hi <= end:
            if text[lo:hi] in self._text:
                best = max(best, hi - lo)
                hi += 1
            else:
                lo += 1
                hi = max(hi, lo + best + 1)
        return best


def _runs(hits: Sequence[bool]) -> Iterator[tuple[int, int]]:
    """(start, end) of each run of consecutive true values in hits."""
    i, size = 0, len(hits)
    while i < size:
        if not hits[i]:
            i += 1
            continue
        j = i
        while j < size and hits[j]:
            j += 1
        yield i, j
        i = j
