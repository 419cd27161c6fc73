"""A clean job's work: clean, filter and deduplicate a corpus artifact in parallel, write it and its statistics."""

from __future__ import annotations

import json
import logging
import multiprocessing
import os
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from services.cleaner.dedup import Cluster, exact_clusters, near_clusters, normalized_key, signature
from services.cleaner.filters import RULES, measure, verdict
from services.cleaner.options import CleanConfig
from services.cleaner.sentences import split_sentences
from services.cleaner.stats import distribution, length_distribution, length_histogram_png
from services.cleaner.steps import Cleaner
from services.runtime import ArtifactEntry, ArtifactStore, Document
from services.runtime.corpus import CorpusReadReport, CorpusWriter, read_corpus

logger = logging.getLogger(__name__)

BATCH_DOCS = 256
BATCH_CHARS = 2_000_000
# Below this many documents a pool costs more (worker start-up) than it saves.
MIN_DOCS_FOR_POOL = 2_000
MAX_LISTED_CLUSTERS = 1_000
MAX_LISTED_BAD_LINES = 100
# A text this many times longer than max_chars cannot come under it by cleaning: drop it unread (a 50 MB
# document is counted, not cleaned).
HOPELESS_FACTOR = 4


@dataclass
class DocOutcome:
    """What a worker found for one document."""

    text: str
    changed: tuple[str, ...]
    rule: str | None
    chars: int
    hangul_ratio: float
    key: bytes = b""
    signature: np.ndarray | None = None
    error: str = ""


@dataclass
class CleanReport:
    """The result of cleaning a corpus: the statistics and the artifacts written (entry, role)."""

    stats: dict
    outputs: list[tuple[ArtifactEntry, str]] = field(default_factory=list)


_cleaners: dict[tuple, Cleaner] = {}


def _cleaner(config: CleanConfig) -> Cleaner:
    key = (config.steps, config.boilerplate)
    if key not in _cleaners:
        _cleaners[key] = Cleaner(config.steps, config.boilerplate)
    return _cleaners[key]


def process_text(text: str, config: CleanConfig) -> DocOutcome:
    """Clean one text, apply the filters, and (if kept) compute its dedup key and MinHash signature."""
    try:
        result = _cleaner(config).clean(text)
        quality = measure(result.text)
        rule = verdict(quality, config)
        outcome = DocOutcome(result.text, result.changed, rule, quality.chars, quality.hangul_ratio)
        if rule is None:
            if config.dedup_exact:
                outcome.key = normalized_key(result.text)
            if config.dedup_near:
                outcome.signature = signature(result.text, config.num_perm, config.shingle_size)
        else:
            outcome.text = ""  # dropped: don't ship the text back to the parent
        return outcome
    except Exception as exc:
        logger.exception("cleaning a document failed")
        return DocOutcome("", (), "error", 0, 0.0, error=f"{type(exc).__name__}: {exc}"[:200])


def process_batch(texts: list[str], config: CleanConfig) -> list[DocOutcome]:
    """process_text over a batch (the unit of work sent to a worker process)."""
    return [process_text(text, config) for text in texts]


def sentences_batch(texts: list[str], backend: str) -> list[list[str]]:
    """Sentences of each text (for write_sentences)."""
    return [[s.text for s in split_sentences(text, backend)] for text in texts]


def make_pool(workers: int) -> Executor | None:
    """A process pool of `workers` processes, or None for in-process work (workers <= 1)."""
    if workers <= 1:
        return None
    # spawn, not fork: the service process runs gRPC threads, which must not be forked.
    return ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"))


def ordered_map(
    pool: Executor | None, fn: Callable[..., Any], batches: Iterable[Any], *args: Any, window: int = 8
) -> Iterator[Any]:
    """fn(batch, *args) for each batch, results in input order, at most `window` batches in flight."""
    if pool is None:
        for batch in batches:
            yield fn(batch, *args)
        return
    pending: list[Future] = []
    for batch in batches:
        pending.append(pool.submit(fn, batch, *args))
        if len(pending) >= window:
            yield pending.pop(0).result()
    while pending:
        yield pending.pop(0).result()


def default_workers() -> int:
    """The cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def clean_corpus(
    store: ArtifactStore,
    input_name: str,
    output_name: str,
    config: CleanConfig,
    *,
    workers: int = 1,
    job_id: str = "",
    progress: Callable[[int, dict[str, float]], None] | None = None,
    check_cancelled: Callable[[], None] | None = None,
) -> CleanReport:
    """Clean, filter and deduplicate a corpus artifact; write the cleaned corpus, statistics and histogram.

    Output order is the input order whatever the number of workers. Bad lines, empty and oversized
    documents and documents whose cleaning fails are counted by rule, never fatal.
    """
    started = time.perf_counter()
    total_records = store.entry(input_name).records
    read_report = CorpusReadReport()
    documents: list[Document] = []  # kept so far (filters passed), in input order
    outcomes: list[DocOutcome] = []
    input_lengths: list[int] = []
    dropped: Counter[str] = Counter()
    changed_steps: Counter[str] = Counter()
    sources: dict[str, dict[str, Any]] = defaultdict(lambda: {"read": 0, "kept": 0, "dropped": Counter()})
    errors: list[dict[str, str]] = []
    source_of: list[str] = []  # source of each kept document, for per-source dedup counts
    bytes_in = 0
    done = 0
    hopeless = config.max_chars * HOPELESS_FACTOR

    def batches() -> Iterator[list[str]]:
        """Batches of texts to clean; documents settled without cleaning are counted on the way."""
        nonlocal bytes_in
        batch_docs: list[Document] = []
        chars = 0
        for doc in read_corpus(store, input_name, skip_bad=True, report=read_report):
            input_lengths.append(len(doc.text))
            bytes_in += len(doc.text)
            sources[doc.source]["read"] += 1
            if not doc.text.strip() or len(doc.text) > hopeless:
                rule = "empty" if not doc.text.strip() else "max_chars"
                dropped[rule] += 1
                sources[doc.source]["dropped"][rule] += 1
                continue
            batch_docs.append(doc)
            chars += len(doc.text)
            if len(batch_docs) >= BATCH_DOCS or chars >= BATCH_CHARS:
                pending_docs.append(batch_docs)
                yield [d.text for d in batch_docs]
                batch_docs, chars = [], 0
        if batch_docs:
            pending_docs.append(batch_docs)
            yield [d.text for d in batch_docs]

    pending_docs: list[list[Document]] = []
    pool = make_pool(workers if (total_records < 0 or total_records >= MIN_DOCS_FOR_POOL) else 1)
    try:
        for results in ordered_map(pool, process_batch, batches(), config, window=2 * max(1, workers)):
            batch_docs = pending_docs.pop(0)
            for doc, outcome in zip(batch_docs, results, strict=True):
                changed_steps.update(outcome.changed)
                if outcome.rule is not None:
                    dropped[outcome.rule] += 1
                    sources[doc.source]["dropped"][outcome.rule] += 1
                    if outcome.error and len(errors) < MAX_LISTED_BAD_LINES:
                        errors.append({"id": doc.id, "error": outcome.error})
                    continue
                documents.append(replace(doc, text=outcome.text))
                outcomes.append(outcome)
                source_of.append(doc.source)
            done += len(batch_docs)
            if check_cancelled is not None:
                check_cancelled()
            if progress is not None:
                progress(done, {"kept": len(documents), "dropped": sum(dropped.values())})
        dropped["invalid_line"] += len(read_report.skipped)
        after_filters = len(documents)

        # Dedup: exact first (cheap), then near duplicates among what is left.
        lengths = [len(d.text) for d in documents]
        clusters: list[tuple[Cluster, list[int]]] = []
        alive = list(range(len(documents)))
        if config.dedup_exact and alive:
            found = exact_clusters([outcomes[i].key for i in alive], [lengths[i] for i in alive])
            alive, removed = _apply(alive, found, clusters)
            dropped["exact_duplicate"] += removed
        after_exact = len(alive)
        if config.dedup_near and alive:
            found = near_clusters(
                [outcomes[i].signature for i in alive],  # type: ignore[misc]
                [lengths[i] for i in alive],
                threshold=config.near_threshold,
                num_perm=config.num_perm,
            )
            alive, removed = _apply(alive, found, clusters)
            dropped["near_duplicate"] += removed
        after_near = len(alive)
        for cluster, members in clusters:
            for i in cluster.removed:
                sources[documents[members[i]].source]["dropped"][f"{cluster.kind}_duplicate"] += 1
        final = [documents[i] for i in alive]
        if check_cancelled is not None:
            check_cancelled()

        if config.write_sentences and final:
            texts = [d.text for d in final]
            groups = [texts[i : i + BATCH_DOCS] for i in range(0, len(texts), BATCH_DOCS)]
            sentence_pool = pool if len(final) >= MIN_DOCS_FOR_POOL else None
            position = 0
            for result in ordered_map(sentence_pool, sentences_batch, groups, config.sentence_backend):
                for sentences in result:
                    final[position].extra = {**final[position].extra, "sentences": sentences}
                    position += 1
                if check_cancelled is not None:
                    check_cancelled()
    finally:
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)

    outputs: list[tuple[ArtifactEntry, str]] = []
    with store.open_file(output_name, job_id=job_id, role="corpus") as out:
        writer = CorpusWriter(out.fh)
        for doc in final:
            writer.write(doc)
            sources[doc.source]["kept"] += 1
        writer.close()
        out.records = writer.count
    assert out.entry is not None
    outputs.append((out.entry, "corpus"))

    output_lengths = [len(d.text) for d in final]
    kept_ratios = [outcomes[i].hangul_ratio for i in alive]
    stats = {
        "input": input_name,
        "output": output_name,
        "options": config.as_dict(),
        "workers": workers,
        "seconds": round(time.perf_counter() - started, 3),
        "input_chars": bytes_in,
        "stages": {
            "read": read_report.read,
            "cleaned_and_filtered": after_filters,
            "exact_dedup": after_exact,
            "near_dedup": after_near,
            "written": len(final),
        },
        "dropped": {rule: dropped.get(rule, 0) for rule in (*RULES, "error", "invalid_line")}
        | {
            "exact_duplicate": dropped.get("exact_duplicate", 0),
            "near_duplicate": dropped.get("near_duplicate", 0),
        },
        "steps_changed": {name: changed_steps.get(name, 0) for name in config.steps},
        "sources": {
            name: {"read": s["read"], "kept": s["kept"], "dropped": dict(sorted(s["dropped"].items()))}
            for name, s in sorted(sources.items())
        },
        "length_chars": {
            "input": length_distribution(input_lengths),
            "kept": length_distribution(output_lengths),
        },
        "hangul_ratio": distribution(kept_ratios, bins=np.linspace(0, 1, 21)),
        "clusters": {
            "exact": sum(1 for c, _ in clusters if c.kind == "exact"),
            "near": sum(1 for c, _ in clusters if c.kind == "near"),
            "listed": [
                {
                    "kind": c.kind,
                    "kept": documents[members[c.kept]].id,
                    "removed": [documents[members[i]].id for i in c.removed],
                }
                for c, members in clusters[:MAX_LISTED_CLUSTERS]
            ],
        },
        "invalid_lines": [{"line": n, "reason": r} for n, r in read_report.skipped[:MAX_LISTED_BAD_LINES]],
        "errors": errors,
    }
    base = artifact_base(output_name)
    stats_entry = store.write_bytes(
        f"{base}.stats.json",
        json.dumps(stats, ensure_ascii=False, indent=1).encode("utf-8"),
        job_id=job_id,
        role="stats",
    )
    outputs.append((stats_entry, "stats"))
    try:
        png = length_histogram_png(input_lengths, output_lengths, f"{input_name} -> {output_name}")
    except Exception:
        logger.exception("could not draw the length histogram")
    else:
        outputs.append(
            (store.write_bytes(f"{base}.lengths.png", png, job_id=job_id, role="histogram"), "histogram")
        )
    return CleanReport(stats, outputs)


def artifact_base(output_name: str) -> str:
    """The output name without its corpus suffix: statistics go beside it as <base>.stats.json."""
    for suffix in (".jsonl.zst", ".jsonl.zstd", ".zst", ".jsonl"):
        if output_name.endswith(suffix) and len(output_name) > len(suffix):
            return output_name[: -len(suffix)]
    return output_name


def _apply(
    alive: list[int], found: list[Cluster], clusters: list[tuple[Cluster, list[int]]]
) -> tuple[list[int], int]:
    """Drop each cluster's removed members from alive (indices into alive); record the clusters."""
    removed: set[int] = set()
    for cluster in found:
        clusters.append((cluster, alive))
        removed.update(alive[i] for i in cluster.removed)
    return [i for i in alive if i not in removed], len(removed)
