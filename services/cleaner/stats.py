"""Corpus statistics for a clean job: counts per stage, rule and source, distributions, a length histogram."""

from __future__ import annotations

import io
import logging
from collections.abc import Sequence

import numpy as np

logger = logging.getLogger(__name__)

# The 2021 team's EDA found no document over 20,000 characters, which is why the essay is written section
# by section; the histogram marks the line and the statistics count the documents past it.
LONG_DOC_CHARS = 20_000
_PERCENTILES = (1, 5, 10, 25, 50, 75, 90, 95, 99)


def distribution(values: Sequence[float], bins: Sequence[float] | int = 20) -> dict:
    """count, min, max, mean, percentiles and a histogram (edges, counts) of a list of numbers."""
    data = np.asarray(values, dtype=float)
    if data.size == 0:
        return {"count": 0}
    counts, edges = np.histogram(data, bins=bins)
    return {
        "count": int(data.size),
        "min": float(data.min()),
        "max": float(data.max()),
        "mean": float(data.mean()),
        "percentiles": {
            f"p{p}": float(v) for p, v in zip(_PERCENTILES, np.percentile(data, _PERCENTILES), strict=True)
        },
        "histogram": {"edges": [float(e) for e in edges], "counts": [int(c) for c in counts]},
    }


def length_distribution(lengths: Sequence[int]) -> dict:
    """Distribution of document lengths in characters, with the count over 20,000 characters."""
    top = max([LONG_DOC_CHARS * 1.5, *lengths]) if lengths else LONG_DOC_CHARS
    bins = np.linspace(0, top, 41)
    result = distribution(lengths, bins)
    result["over_20000_chars"] = int(sum(1 for n in lengths if n > LONG_DOC_CHARS))
    return result


def length_histogram_png(input_lengths: Sequence[int], output_lengths: Sequence[int], title: str) -> bytes:
    """A PNG histogram of document lengths before and after cleaning, with the 20,000-character line."""
    import matplotlib

    matplotlib.use("Agg")  # no display in a service; Agg renders straight to bytes
    from matplotlib.figure import Figure

    figure = Figure(figsize=(9, 5), dpi=100)
    axes = figure.add_subplot()
    # One 50 MB dump must not squash every other bar into the first bin: the axis ends at the longest
    # kept document or the input's 99.5th percentile, and longer documents are counted in the last bin.
    top = max(
        [
            LONG_DOC_CHARS * 1.25,
            *output_lengths,
            float(np.percentile(input_lengths, 99.5)) if input_lengths else 0.0,
        ]
    )
    bins = np.linspace(0, top, 61)
    if input_lengths:
        clipped = np.minimum(np.asarray(input_lengths, dtype=float), top)
        axes.hist(clipped, bins=bins, alpha=0.45, label=f"input ({len(input_lengths):,} documents)")
    if output_lengths:
        axes.hist(output_lengths, bins=bins, alpha=0.75, label=f"kept ({len(output_lengths):,} documents)")
    over = sum(1 for n in output_lengths if n > LONG_DOC_CHARS)
    axes.axvline(LONG_DOC_CHARS, color="crimson", linestyle="--", linewidth=1.5)
    axes.annotate(
        f"20,000 characters: {over:,} kept document(s) longer\n(2021: none, so the essay is written by sections)",
        xy=(LONG_DOC_CHARS, 0.8),
        xycoords=("data", "axes fraction"),
        xytext=(6, 0),
        textcoords="offset points",
        color="crimson",
        fontsize=8,
        va="top",
    )
    axes.set_yscale("symlog")
    axes.set_xlabel(f"document length (characters; the last bin holds everything from {top:,.0f})")
    axes.set_ylabel("documents")
    axes.set_title(title)
    if input_lengths or output_lengths:
        axes.legend(loc="upper right", fontsize=8)
    figure.tight_layout()
    out = io.BytesIO()
    figure.savefig(out, format="png")
    return out.getvalue()
