"""The compiled query kernels against a plain-Python reference: sums, filters, ties and top k."""

from __future__ import annotations

import random

import numpy as np
import pytest

from services.retriever import kernels


def random_postings(
    rng: random.Random, n_docs: int, n_terms: int, density: float
) -> list[tuple[list[int], list[float]]]:
    """Per term: ascending documents and float32 scores from a few values (so many ties)."""
    values = [np.float32(v) for v in (0.5, 0.75, 1.25, 2.0, 3.5)]
    out = []
    for _ in range(n_terms):
        docs = sorted(rng.sample(range(n_docs), max(1, int(n_docs * density * rng.random()))))
        out.append((docs, [float(rng.choice(values)) for _ in docs]))
    return out


def flat(
    postings: list[tuple[list[int], list[float]]],
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    indices = np.array([d for docs, _ in postings for d in docs], dtype=np.int32)
    scores = np.array([s for _, sc in postings for s in sc], dtype=np.float32)
    lengths = np.array([len(docs) for docs, _ in postings], dtype=np.int64)
    ends = np.cumsum(lengths)
    indices.flags.writeable = scores.flags.writeable = False  # as the index's memory maps
    return indices, scores, interleave(ends - lengths, ends)


def interleave(starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """[start0, end0, start1, end1, ...], the kernels' form of ranges."""
    ranges = np.empty(2 * len(starts), dtype=np.int64)
    ranges[0::2], ranges[1::2] = starts, ends
    return ranges


def search(postings, acc: np.ndarray, k: int, required: np.ndarray, required_ranges: np.ndarray):
    """kernels.search with fresh output buffers: (documents, scores, matched) as lists."""
    ids = [f"문서-{d}" for d in range(len(acc))]  # the index's ids, joined by the kernel
    id_bytes = np.frombuffer("".join(f"{i}\n" for i in ids).encode("utf-8"), dtype=np.uint8)
    id_starts = np.concatenate(([0], np.cumsum([len(f"{i}\n".encode()) for i in ids])))
    indices, scores, ranges = flat(postings)

    def run(dense_starts: np.ndarray, rows: np.ndarray) -> tuple[list[int], list[float], int, str]:
        out_docs, out_scores = np.empty(k, dtype=np.int32), np.empty(k, dtype=np.float32)
        out_ids = np.empty(k * 20, dtype=np.uint8)
        matched, nbytes = kernels.search(
            indices, scores, ranges, acc, required, required_ranges, out_docs, out_scores,
            id_bytes, id_starts, out_ids, dense_starts, rows,
        )  # fmt: skip
        n = min(k, matched)
        return out_docs[:n].tolist(), out_scores[:n].tolist(), matched, str(out_ids[:nbytes], "utf-8")

    docs, found_scores, matched, joined = run(
        np.zeros(0, dtype=np.int64), np.zeros((0, len(acc)), dtype=np.float32)
    )
    assert joined == "\n".join(ids[d] for d in docs)
    # The same with every other term as a dense row of scores over all documents: the same answer.
    rows = np.zeros((len(postings[::2]), len(acc)), dtype=np.float32)
    for row, (term_docs, term_scores) in enumerate(postings[::2]):
        rows[row, term_docs] = term_scores
    assert run(ranges[0::4], rows) == (docs, found_scores, matched, joined)
    return docs, found_scores, matched


def reference(postings, required: list[set[int]], k: int) -> tuple[list[int], list[float], int]:
    summed: dict[int, float] = {}
    for docs, scores in postings:
        for d, s in zip(docs, scores, strict=True):
            summed[d] = summed.get(d, 0.0) + float(np.float32(s))  # double sums, as Lucene
    kept = [(float(np.float32(s)), d) for d, s in summed.items() if all(d in r for r in required)]
    kept.sort(key=lambda x: (-x[0], x[1]))  # score descending, then the lower document first
    return [d for _, d in kept[:k]], [s for s, _ in kept[:k]], len(kept)


@pytest.mark.parametrize("density", [0.02, 0.3, 0.9])  # sparse, both paths, the dense scan
def test_search_matches_the_reference(density: float) -> None:
    rng = random.Random(int(density * 100))
    n_docs = 600
    acc = np.zeros(n_docs)
    for trial in range(40):
        postings = random_postings(rng, n_docs, rng.randint(1, 4), density)
        filters = [set(rng.sample(range(n_docs), n_docs // 2)) for _ in range(trial % 3)]
        required = np.array([d for f in filters for d in sorted(f)], dtype=np.int32)
        sizes = np.array([len(f) for f in filters], dtype=np.int64)
        required_ends = np.cumsum(sizes)
        k = rng.choice([1, 5, 100, 10_000])
        docs, scores, matched = search(
            postings, acc, k, required, interleave(required_ends - sizes, required_ends)
        )
        want_docs, want_scores, want_matched = reference(postings, filters, k)
        assert (docs, scores, matched) == (want_docs, want_scores, want_matched)
        assert not acc.any(), "the accumulator is left clean"


def test_accumulate_and_top_k_match_the_reference() -> None:
    rng = random.Random(7)
    acc = np.zeros(300)
    for _ in range(30):
        postings = random_postings(rng, 300, rng.randint(1, 3), 0.4)
        docs, scores = kernels.accumulate(*flat(postings), acc)
        assert not acc.any()
        want_docs, want_scores, _ = reference(postings, [], 10_000)
        assert dict(zip(docs.tolist(), scores.tolist(), strict=True)) == dict(
            zip(want_docs, want_scores, strict=True)
        )
        top_docs, top_scores = kernels.top_k(docs, scores, 7)
        assert (top_docs.tolist(), top_scores.tolist()) == (want_docs[:7], want_scores[:7])


def test_ties_at_the_cut_go_to_the_lower_documents() -> None:
    # Twenty documents with one score: the top 5 are the five lowest document numbers.
    postings = [(list(range(100, 120)), [1.5] * 20)]
    docs, scores, matched = search(postings, np.zeros(200), 5, np.zeros(0, np.int32), np.zeros(0, np.int64))
    assert docs == [100, 101, 102, 103, 104] and scores == [1.5] * 5 and matched == 20
