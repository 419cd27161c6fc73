"""report.html: one self-contained page with the job's timings, corpus, retrieval, training and section metrics."""

from __future__ import annotations

import base64
import html
import io
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass
class SectionReport:
    """One drafted section and its measurements."""

    title: str
    query: str
    target_chars: int
    chars: int
    metrics: dict[str, float]
    longest_copied_span: int | None = None
    overlap_ratio: float | None = None


@dataclass
class ReportData:
    """Everything the page shows; absent parts are said to be absent, not faked."""

    title: str
    theme: str
    target_chars: int
    essay_chars: int
    stage_seconds: list[tuple[str, float, str]] = field(default_factory=list)  # (stage, seconds, state)
    corpus_stats: dict[str, Any] = field(default_factory=dict)
    length_histogram_png: bytes | None = None
    retrieval_scores: dict[str, list[float]] = field(default_factory=dict)  # query -> scores
    loss_curves: dict[str, dict[str, list[tuple[float, float]]]] = field(
        default_factory=dict
    )  # writer -> series
    sections: list[SectionReport] = field(default_factory=list)
    relevance: list[list[float]] = field(default_factory=list)  # [section][query]
    queries: list[str] = field(default_factory=list)


def _figure_png(fig: Any) -> bytes:
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    plt.close(fig)
    return buffer.getvalue()


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib import font_manager

    # Korean labels need a Hangul font; fall back to DejaVu (boxes) where none is installed.
    for name in ("NanumGothic", "Noto Sans CJK KR", "Noto Sans KR", "UnDotum", "Baekmuk Gulim"):
        if any(f.name == name for f in font_manager.fontManager.ttflist):
            plt.rcParams["font.family"] = name
            break
    return plt


def _img(png: bytes, alt: str) -> str:
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{base64.b64encode(png).decode()}">'


def timings_plot(stages: Sequence[tuple[str, float, str]]) -> bytes:
    """Horizontal bars: seconds per stage."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 0.35 * max(len(stages), 3) + 0.8))
    names = [s[0] for s in stages][::-1]
    seconds = [s[1] for s in stages][::-1]
    ax.barh(names, seconds, color="#4C72B0")
    ax.set_xlabel("seconds")
    ax.set_title("time per stage (last run)")
    return _figure_png(fig)


def scores_plot(scores: dict[str, list[float]]) -> bytes:
    """One histogram per query of the BM25 scores of the documents taken for it."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 3.5))
    for i, (_query, values) in enumerate(scores.items(), start=1):
        if values:
            ax.hist(values, bins=20, alpha=0.5, label=f"q{i} ({len(values)} docs)")
    ax.set_xlabel("BM25 score")
    ax.set_ylabel("documents")
    ax.set_title("retrieval scores per query")
    ax.legend(fontsize=8)
    return _figure_png(fig)


def loss_plot(curves: dict[str, dict[str, list[tuple[float, float]]]]) -> bytes:
    """Training and validation loss per writer."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 3.5))
    for writer, series in curves.items():
        for kind, points in series.items():
            if points:
                xs, ys = zip(*points, strict=True)
                ax.plot(
                    xs, ys, marker="o" if kind != "train" else None, markersize=3, label=f"{writer} {kind}"
                )
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.set_title("writer training")
    ax.legend(fontsize=7, ncol=2)
    return _figure_png(fig)


def relevance_plot(matrix: list[list[float]], queries: list[str]) -> bytes:
    """Heat map: BM25 score of each section (rows) against each query (columns)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(1.0 * len(queries) + 3, 0.5 * len(matrix) + 1.5))
    image = ax.imshow(matrix, cmap="viridis", aspect="auto")
    ax.set_xticks(range(len(queries)), [f"q{i + 1}" for i in range(len(queries))])
    ax.set_yticks(range(len(matrix)), [f"section {i + 1}" for i in range(len(matrix))])
    for r, row in enumerate(matrix):
        for c, value in enumerate(row):
            ax.text(c, r, f"{value:.1f}", ha="center", va="center", color="white", fontsize=8)
    fig.colorbar(image, ax=ax, label="BM25")
    ax.set_title("topic relevance: section vs query")
    return _figure_png(fig)


def _table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in headers)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(_fmt(c))}</td>" for c in row) + "</tr>" for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3f}" if abs(value) < 100 else f"{value:,.0f}"
    if isinstance(value, int):
        return f"{value:,}"
    return "—" if value is None else str(value)


def _flatten(stats: dict[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    rows: list[tuple[str, Any]] = []
    for key, value in stats.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            rows.extend(_flatten(value, f"{name}."))
        elif isinstance(value, int | float | str):
            rows.append((name, value))
    return rows


def render_report(data: ReportData) -> str:
    """The whole page as one HTML string (plots embedded as PNG data URLs)."""
    parts = [
        f"<h1>{html.escape(data.title)}</h1>",
        f"<p>theme <b>{html.escape(data.theme)}</b> · {data.essay_chars:,} characters written for a target of "
        f"{data.target_chars:,} ({(data.essay_chars - data.target_chars) / max(data.target_chars, 1):+.1%}) · "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}</p>",
        "<h2>Stages</h2>",
    ]
    if data.stage_seconds:
        parts.append(_table(("stage", "seconds", "state"), data.stage_seconds))
        parts.append(_img(timings_plot(data.stage_seconds), "time per stage"))
    parts.append("<h2>Corpus</h2>")
    if data.corpus_stats:
        rows = _flatten(data.corpus_stats)[:80]
        parts.append(_table(("statistic", "value"), rows))
    else:
        parts.append("<p>No corpus statistics were recorded.</p>")
    if data.length_histogram_png:
        parts.append(_img(data.length_histogram_png, "document length histogram"))
    parts.append("<h2>Retrieval</h2>")
    if data.retrieval_scores:
        parts.append(
            _table(
                ("#", "query", "documents", "min score", "max score"),
                [
                    (f"q{i}", q, len(v), min(v, default=0.0), max(v, default=0.0))
                    for i, (q, v) in enumerate(data.retrieval_scores.items(), start=1)
                ],
            )
        )
        parts.append(_img(scores_plot(data.retrieval_scores), "retrieval scores"))
    else:
        parts.append("<p>No retrieval scores were recorded.</p>")
    parts.append("<h2>Writers</h2>")
    if data.loss_curves:
        parts.append(_img(loss_plot(data.loss_curves), "loss curves"))
    else:
        parts.append("<p>No training curves were recorded.</p>")
    parts.append("<h2>Sections</h2>")
    headers = (
        "#",
        "title",
        "query",
        "chars",
        "target",
        "off by",
        "rep-2",
        "rep-3",
        "rep-4",
        "distinct-1",
        "distinct-2",
        "longest copied span",
        "overlap ratio",
    )
    rows = [
        (
            i,
            s.title,
            s.query,
            s.chars,
            s.target_chars,
            f"{(s.chars - s.target_chars) / max(s.target_chars, 1):+.1%}",
            s.metrics.get("rep_2"),
            s.metrics.get("rep_3"),
            s.metrics.get("rep_4"),
            s.metrics.get("distinct_1"),
            s.metrics.get("distinct_2"),
            s.longest_copied_span,
            s.overlap_ratio,
        )
        for i, s in enumerate(data.sections, start=1)
    ]
    parts.append(_table(headers, rows))
    if data.relevance and data.queries:
        parts.append("<h3>Topic relevance</h3>")
        parts.append(
            "<p>"
            + " · ".join(f"q{i}: {html.escape(q)}" for i, q in enumerate(data.queries, start=1))
            + "</p>"
        )
        parts.append(_img(relevance_plot(data.relevance, data.queries), "topic relevance"))
    style = (
        "body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#222}"
        "table{border-collapse:collapse;margin:1rem 0;font-size:.9rem}td,th{border:1px solid #ccc;padding:.25rem .5rem;text-align:right}"
        "td:nth-child(2),th:nth-child(2){text-align:left}img{max-width:100%;display:block;margin:1rem 0}"
    )
    return (
        f'<!doctype html><html lang="ko"><head><meta charset="utf-8"><title>{html.escape(data.title)} — supil report</title>'
        f"<style>{style}</style></head><body>{''.join(parts)}</body></html>"
    )
