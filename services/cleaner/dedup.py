"""Exact and near-duplicate detection: a hash of the normalized text, and MinHash LSH (datasketch)."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from datasketch import MinHash, MinHashLSH

SEED = 1
_MULT = np.uint64(0x9E3779B97F4A7C15)  # golden-ratio multiplier: spreads the rolling hash over 64 bits


def normalized_key(text: str) -> bytes:
    """Digest of the text with all whitespace removed and case folded: the exact-duplicate key."""
    return hashlib.blake2b("".join(text.split()).casefold().encode("utf-8"), digest_size=16).digest()


def shingle_hashes(text: str, size: int = 5) -> np.ndarray:
    """32-bit hashes of the `size`-character shingles of the text without whitespace (repeats kept:
    they cannot change a minimum, and dropping them costs more than it saves)."""
    compact = "".join(text.split())
    points = np.frombuffer(compact.encode("utf-32-le", "surrogatepass"), dtype=np.uint32).astype(np.uint64)
    if points.size == 0:
        return np.zeros(0, dtype=np.uint32)
    if points.size < size:
        size = int(points.size)
    # A polynomial hash per shingle, computed for all shingles at once (wrapping uint64 arithmetic),
    # instead of datasketch's sha1 per shingle in Python (the difference between ~1 ms and ~50 us a page).
    count = points.size - size + 1
    acc = points[:count].copy()
    for offset in range(1, size):
        acc *= np.uint64(1_000_003)
        acc += points[offset : offset + count]
    acc *= _MULT
    acc >>= np.uint64(32)
    return acc.astype(np.uint32)


_PERMUTATIONS: dict[int, np.ndarray] = {}


def _permutations(num_perm: int) -> np.ndarray:
    # datasketch draws the permutations from a seeded RandomState on every MinHash(); drawing them once
    # per process makes a signature several times cheaper and yields the same values.
    if num_perm not in _PERMUTATIONS:
        _PERMUTATIONS[num_perm] = MinHash(num_perm=num_perm, seed=SEED).permutations
    return _PERMUTATIONS[num_perm]


def signature(text: str, num_perm: int = 128, size: int = 5) -> np.ndarray:
    """The MinHash signature of a text's shingles: datasketch's affine32 permutations applied in numpy
    (the shingle hashes are mixed already), usable as `MinHash(hashvalues=..., scheme="affine32")`."""
    a, b = _permutations(num_perm)
    a = a.astype(np.uint32)[:, None]
    b = b.astype(np.uint32)[:, None]
    values = np.full(num_perm, np.iinfo(np.uint32).max, dtype=np.uint32)
    hashes = shingle_hashes(text, size)
    # (num_perm x shingles), reduced along the contiguous axis (several times faster than the other
    # layout), in blocks so that a very long document never needs the whole matrix at once.
    for start in range(0, hashes.size, 8192):
        block = np.multiply.outer(a[:, 0], hashes[start : start + 8192])
        block += b
        np.minimum(values, block.min(axis=1), out=values)
    return values


@dataclass
class Cluster:
    """Documents found to be duplicates of each other: the one kept (the longest) and those removed."""

    kind: str  # "exact" or "near"
    kept: int
    removed: list[int] = field(default_factory=list)


def exact_clusters(keys: Sequence[bytes], lengths: Sequence[int]) -> list[Cluster]:
    """Group equal keys; keep the longest of each group (the first on a tie)."""
    groups: dict[bytes, list[int]] = {}
    for index, key in enumerate(keys):
        groups.setdefault(key, []).append(index)
    return [_cluster("exact", members, lengths) for members in groups.values() if len(members) > 1]


def near_clusters(
    signatures: Sequence[np.ndarray], lengths: Sequence[int], *, threshold: float = 0.85, num_perm: int = 128
) -> list[Cluster]:
    """Near-duplicate groups by MinHash LSH; a candidate pair counts only if its estimated Jaccard
    similarity reaches the threshold. Keeps the longest of each group (the first on a tie)."""
    lsh = MinHashLSH(threshold=threshold, num_perm=num_perm)
    parent = list(range(len(signatures)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for index, values in enumerate(signatures):
        minhash = MinHash(
            num_perm=num_perm,
            seed=SEED,
            hashvalues=values,
            permutations=_permutations(num_perm),
            scheme="affine32",
        )
        for other in lsh.query(minhash):
            if float(np.mean(signatures[other] == values)) >= threshold:
                a, b = find(index), find(other)
                if a != b:
                    parent[max(a, b)] = min(a, b)
        lsh.insert(index, minhash, check_duplication=False)
    groups: dict[int, list[int]] = {}
    for index in range(len(signatures)):
        groups.setdefault(find(index), []).append(index)
    return [_cluster("near", members, lengths) for members in groups.values() if len(members) > 1]


def _cluster(kind: str, members: list[int], lengths: Sequence[int]) -> Cluster:
    kept = max(members, key=lambda i: (lengths[i], -i))
    return Cluster(kind, kept, [i for i in members if i != kept])
