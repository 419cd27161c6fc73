"""The embedded backend: a bm25s index per corpus artifact, persisted in the workspace, loaded with mmap."""

from __future__ import annotations

import hashlib
import io
import json
import logging
import mmap
import multiprocessing
import os
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import zstandard

from services.retriever import kernels
from services.retriever.analyzer import Analyzer, AnalyzerSettings, dictionary_id, resolve_dictionary
from services.retriever.bm25 import boosted_scores, lucene_idf, norm_bytes, norm_inverse_table
from services.retriever.hits import Filters, SearchHit, stored_hit_class
from services.runtime import ArtifactStore, Document, FailedPrecondition, NotFound, read_corpus

logger = logging.getLogger(__name__)

INDEX_PREFIX = "indexes"
FORMAT = 2  # 2: tf, norms and idf beside the scores (exact boosted scores)
PARALLEL_MIN_DOCS = 256
DENSE_BUDGET = 64 << 20  # bytes of dense score rows an index keeps for its most frequent terms
_EMPTY = np.zeros(0, dtype=np.int64)  # for the search kernel: no ids to join, no required terms


def index_artifact(name: str) -> str:
    """The workspace artifact that holds the embedded index called name."""
    return f"{INDEX_PREFIX}/{name}"


@dataclass
class AnalyzedDoc:
    """What indexing needs from one document's analysis."""

    terms: list[str]  # scored terms (stop tags removed), with repeats
    length: int  # field length as Lucene's norms record it (overlapping tokens discounted)
    filter_terms: list[str]  # unique terms of the analysis without stop tags (theme/must filters)


class DocumentAnalyzer:
    """Analyzes once without stop tags and derives both the scored terms and the filter terms."""

    def __init__(self, settings: AnalyzerSettings) -> None:
        self.settings = settings
        self._all = Analyzer(
            AnalyzerSettings(settings.decompound_mode, frozenset(), settings.user_dictionary)
        )
        self._stop = settings.stop_tags

    def analyze(self, text: str) -> AnalyzedDoc:
        """Scored terms, norm length and filter terms of a text."""
        terms: list[str] = []
        positions: set[int] = set()
        seen: dict[str, None] = {}
        for token in self._all.analyze(text):
            seen.setdefault(token.term, None)
            if token.pos not in self._stop:
                terms.append(token.term)
                positions.add(token.position)
        return AnalyzedDoc(terms, len(positions), list(seen))

    def filter_terms(self, text: str) -> list[str]:
        """Unique terms of a text analyzed without stop tags (how theme and must words are read)."""
        return list(dict.fromkeys(t.term for t in self._all.analyze(text)))


_worker: DocumentAnalyzer | None = None


def _init_worker(settings_json: dict[str, Any]) -> None:
    global _worker
    _worker = DocumentAnalyzer(AnalyzerSettings.from_json(settings_json))


def _analyze_in_worker(text: str) -> tuple[list[str], int, list[str]]:
    assert _worker is not None
    doc = _worker.analyze(text)
    return doc.terms, doc.length, doc.filter_terms


def text_key(text: str) -> str:
    """Cache key of a document's text."""
    return hashlib.blake2b(text.encode("utf-8"), digest_size=16).hexdigest()


class TokenCache:
    """Analyses by text digest, so re-indexing does not re-analyze unchanged documents."""

    def __init__(self, entries: dict[str, AnalyzedDoc] | None = None) -> None:
        self.entries = entries or {}
        self.hits = 0

    @classmethod
    def load(cls, path: Path) -> TokenCache:
        """Read a cache file; a missing or unreadable one is an empty cache."""
        entries: dict[str, AnalyzedDoc] = {}
        try:
            with path.open("rb") as fh:
                raw = io.BufferedReader(zstandard.ZstdDecompressor().stream_reader(fh))
                for line in raw:
                    key, terms, length, filt = json.loads(line)
                    entries[key] = AnalyzedDoc(terms, length, filt)
        except FileNotFoundError:
            pass
        except (ValueError, zstandard.ZstdError) as exc:
            logger.warning("ignoring unreadable token cache %s: %s", path, exc)
            entries = {}
        return cls(entries)

    def save(self, path: Path, keys: Iterable[str]) -> None:
        """Write the entries of the given keys (those of the documents just indexed)."""
        with path.open("wb") as fh:
            writer = zstandard.ZstdCompressor(level=3).stream_writer(fh, closefd=False)
            for key in dict.fromkeys(keys):
                doc = self.entries[key]
                line = json.dumps([key, doc.terms, doc.length, doc.filter_terms], ensure_ascii=False)
                writer.write(line.encode("utf-8") + b"\n")
            writer.flush(zstandard.FLUSH_FRAME)
            writer.close()


@dataclass
class IndexProgress:
    """Counters reported while indexing."""

    documents: int = 0
    total: int = 0
    bytes: int = 0
    analyzed: int = 0
    cached: int = 0
    seconds: float = 0.0


def analyze_corpus(
    docs: Sequence[Document],
    settings: AnalyzerSettings,
    cache: TokenCache,
    *,
    workers: int = 1,
    on_progress: Callable[[IndexProgress], None] | None = None,
    check_cancelled: Callable[[], None] | None = None,
) -> tuple[list[AnalyzedDoc], IndexProgress]:
    """Analyze every document (cached ones are reused), in worker processes when it pays."""
    progress = IndexProgress(total=len(docs))
    started = time.monotonic()
    keys = [text_key(d.text) for d in docs]
    todo = [i for i, key in enumerate(keys) if key not in cache.entries]
    progress.cached = len(docs) - len(todo)
    cache.hits += progress.cached
    report_every = max(1, len(todo) // 50)

    def advance(i: int, result: AnalyzedDoc) -> None:
        cache.entries[keys[i]] = result
        progress.analyzed += 1
        progress.documents = progress.cached + progress.analyzed
        progress.bytes += len(docs[i].text.encode("utf-8"))
        if on_progress and progress.analyzed % report_every == 0:
            progress.seconds = time.monotonic() - started
            on_progress(progress)
        if check_cancelled and progress.analyzed % 64 == 0:
            check_cancelled()

    if workers > 1 and len(todo) >= PARALLEL_MIN_DOCS:
        ctx = multiprocessing.get_context("forkserver" if os.name == "posix" else "spawn")
        with ctx.Pool(workers, initializer=_init_worker, initargs=(settings.to_json(),)) as pool:
            texts = (docs[i].text for i in todo)
            for i, (terms, length, filt) in zip(
                todo, pool.imap(_analyze_in_worker, texts, chunksize=16), strict=True
            ):
                advance(i, AnalyzedDoc(terms, length, filt))
    else:
        analyzer = DocumentAnalyzer(settings)
        for i in todo:
            advance(i, analyzer.analyze(docs[i].text))
    progress.documents = len(docs)
    progress.seconds = time.monotonic() - started
    return [cache.entries[k] for k in keys], progress


def build_index_files(
    out: Path,
    docs: Sequence[Document],
    analyzed: Sequence[AnalyzedDoc],
    settings: AnalyzerSettings,
    k1: float,
    b: float,
    corpus: str,
) -> dict[str, Any]:
    """Write a bm25s index (scores as Lucene computes them), the filter postings and the doc store."""
    import bm25s

    vocab: dict[str, int] = {}
    rows: list[np.ndarray] = []
    cols: list[np.ndarray] = []
    tfs: list[np.ndarray] = []
    lengths = np.zeros(len(docs), dtype=np.int64)
    total_terms = 0
    for doc_index, doc in enumerate(analyzed):
        counts = Counter(doc.terms)
        total_terms += len(doc.terms)
        lengths[doc_index] = doc.length
        if not counts:
            continue
        ids = np.fromiter(
            (vocab.setdefault(t, len(vocab)) for t in counts), dtype=np.int64, count=len(counts)
        )
        rows.append(ids)
        cols.append(np.full(len(counts), doc_index, dtype=np.int64))
        tfs.append(np.fromiter(counts.values(), dtype=np.float32, count=len(counts)))
    term_ids = np.concatenate(rows) if rows else np.zeros(0, dtype=np.int64)
    doc_ids = np.concatenate(cols) if cols else np.zeros(0, dtype=np.int64)
    tf = np.concatenate(tfs) if tfs else np.zeros(0, dtype=np.float32)
    # Lucene's docCount counts documents with at least one term in the field.
    doc_count = int(np.count_nonzero(lengths)) or 1
    avgdl = float(np.float32(total_terms / doc_count)) if total_terms else 1.0
    order = np.lexsort((doc_ids, term_ids))
    term_ids, doc_ids, tf = term_ids[order], doc_ids[order], tf[order]
    doc_freq = np.bincount(term_ids, minlength=len(vocab))
    idf = lucene_idf(doc_freq, doc_count)
    norms = norm_bytes(lengths)
    data = boosted_scores(
        1.0, idf[term_ids], tf.astype(np.float32), norm_inverse_table(avgdl, k1, b)[norms][doc_ids]
    )
    indptr = np.zeros(len(vocab) + 1, dtype=np.int64)
    np.cumsum(doc_freq, out=indptr[1:])

    model = bm25s.BM25(k1=k1, b=b, method="lucene", idf_method="lucene")
    model.scores = {
        "data": data,
        "indices": doc_ids.astype(np.int32),
        "indptr": indptr,
        "num_docs": len(docs),
    }
    model.vocab_dict = vocab
    model.nonoccurrence_array = None  # lucene scoring has no non-occurrence term
    model.unique_token_ids_set = set(vocab.values())
    model.save(str(out / "bm25s"), show_progress=False)
    # What a boost other than 1 needs to score exactly as Lucene does (weight = boost * idf first).
    np.save(out / "postings_tf.npy", tf.astype(np.float32))
    np.save(out / "norms.npy", norms)
    np.save(out / "idf.npy", idf.astype(np.float32))

    # Filter postings: which documents contain each term of the analysis without stop tags.
    fvocab: dict[str, int] = {}
    frows: list[int] = []
    fcols: list[int] = []
    for doc_index, doc in enumerate(analyzed):
        for term in doc.filter_terms:
            frows.append(fvocab.setdefault(term, len(fvocab)))
            fcols.append(doc_index)
    fr = np.asarray(frows, dtype=np.int64)
    fc = np.asarray(fcols, dtype=np.int32)
    forder = np.lexsort((fc, fr))
    fr, fc = fr[forder], fc[forder]
    findptr = np.zeros(len(fvocab) + 1, dtype=np.int64)
    np.cumsum(np.bincount(fr, minlength=len(fvocab)), out=findptr[1:])
    np.save(out / "filter_indptr.npy", findptr)
    np.save(out / "filter_indices.npy", fc)
    (out / "filter_vocab.json").write_text(json.dumps(fvocab, ensure_ascii=False), encoding="utf-8")

    # The document store: metadata in one JSON Lines file, texts concatenated for mmap.
    offsets = np.zeros(len(docs) + 1, dtype=np.int64)
    with (out / "texts.bin").open("wb") as texts, (out / "docs.jsonl").open("w", encoding="utf-8") as meta:
        for i, doc in enumerate(docs):
            raw = doc.text.encode("utf-8")
            texts.write(raw)
            offsets[i + 1] = offsets[i] + len(raw)
            record = {"id": doc.id, "title": doc.title, "source": doc.source, "url": doc.url}
            record.update({"author": doc.author, "published": doc.published, "tags": doc.tags})
            meta.write(json.dumps(record, ensure_ascii=False) + "\n")
    np.save(out / "text_offsets.npy", offsets)
    info = {
        "format": FORMAT,
        "backend": "embedded",
        "corpus": corpus,
        "documents": len(docs),
        "doc_count": doc_count,
        "avgdl": avgdl,
        "vocabulary": len(vocab),
        "k1": k1,
        "b": b,
        "analyzer": settings.to_json(),
        "dictionary": dictionary_id(resolve_dictionary()),
    }
    (out / "index.json").write_text(json.dumps(info, ensure_ascii=False, indent=1), encoding="utf-8")
    return info


class EmbeddedIndex:
    """A loaded embedded index: memory-mapped scores and texts, in-memory vocabularies and metadata.

    A query reads only the postings of its terms: each posting already holds Lucene's float32 BM25
    score of its (term, document), since k1, b, idf and norms are fixed per index."""

    def __init__(self, path: Path) -> None:
        import bm25s

        self.path = path
        self.info = json.loads((path / "index.json").read_text(encoding="utf-8"))
        if self.info.get("format") != FORMAT:
            raise FailedPrecondition(f"index at {path} has format {self.info.get('format')}; re-index it")
        self.settings = AnalyzerSettings.from_json(self.info["analyzer"])
        built_with, now = self.info.get("dictionary"), dictionary_id(resolve_dictionary())
        if built_with != now:
            logger.warning(
                "index %s was analyzed with %s but queries are analyzed with %s: rebuild it "
                "(supil run --from index) for Nori-identical answers",
                path.name,
                built_with or "an older dictionary",
                now,
            )
        self.model = bm25s.BM25.load(str(path / "bm25s"), mmap=True)
        # Plain ndarray views of the memory maps: np.memmap's own indexing is several times slower.
        self._data = np.asarray(self.model.scores["data"])
        self._indices = np.asarray(self.model.scores["indices"])
        self._indptr = np.asarray(self.model.scores["indptr"])
        self._vocab: dict[str, int] = self.model.vocab_dict
        self.num_docs = int(self.model.scores["num_docs"])
        self._tf = np.load(path / "postings_tf.npy", mmap_mode="r")
        self._norms = np.load(path / "norms.npy")
        self._idf = np.load(path / "idf.npy")
        self._norm_inverse = norm_inverse_table(self.info["avgdl"], self.info["k1"], self.info["b"])
        self._dense_starts, self._dense = self._dense_rows()
        self._fvocab: dict[str, int] = json.loads((path / "filter_vocab.json").read_text(encoding="utf-8"))
        self._findptr = np.load(path / "filter_indptr.npy")
        self._findices = np.asarray(np.load(path / "filter_indices.npy", mmap_mode="r"))
        self._offsets = np.load(path / "text_offsets.npy", mmap_mode="r")
        self._texts: mmap.mmap | None = None
        if int(self._offsets[-1]):
            with (path / "texts.bin").open("rb") as fh:
                self._texts = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
        self._offsets_list = [int(x) for x in self._offsets]  # Python ints: slicing mmap wants them
        with (path / "docs.jsonl").open(encoding="utf-8") as fh:
            self.meta = [json.loads(line) for line in fh]
        self._set_ids([m["id"] for m in self.meta])
        self._local = threading.local()  # per-thread scratch space of match()
        self._hit = stored_hit_class(self.document)
        self._hit_without_text = stored_hit_class(self._document_without_text)

    def _dense_rows(self) -> tuple[np.ndarray, np.ndarray]:
        """The terms in at least half the documents (the most frequent first, within DENSE_BUDGET)
        as float32 score rows over all documents, for the search kernel: (where each term's
        postings start, ascending; the rows)."""
        df = np.diff(self._indptr)
        terms = np.flatnonzero(df * 2 >= max(self.num_docs, 1))
        terms = np.sort(
            terms[np.argsort(-df[terms], kind="stable")][: DENSE_BUDGET // (4 * max(self.num_docs, 1))]
        )
        rows = np.zeros((len(terms), self.num_docs), dtype=np.float32)
        for row, (start, end) in enumerate(
            zip(self._indptr[terms].tolist(), self._indptr[terms + 1].tolist(), strict=True)
        ):
            rows[row, self._indices[start:end]] = self._data[start:end]
        rows.flags.writeable = False
        return self._indptr[terms].astype(np.int64), rows

    def _set_ids(self, ids: list[str]) -> None:
        """Keep the documents' ids in one buffer, each followed by a newline, for the kernels to
        join (or as a list when an id holds a newline itself)."""
        self._ids: list[str] | None = None
        self._id_bytes = np.frombuffer("".join(f"{i}\n" for i in ids).encode("utf-8"), dtype=np.uint8)
        ends = np.flatnonzero(self._id_bytes == ord("\n")) + 1
        self._id_starts = np.concatenate(([0], ends))
        self._longest_id = int(np.diff(self._id_starts).max(initial=1))
        if len(ends) != len(ids):  # an id holds a newline: the kernels join nothing
            self._ids, self._id_bytes, self._id_starts = ids, self._id_bytes[:0], _EMPTY

    def _id_strings(self, docs: np.ndarray) -> list[str]:
        """The ids of documents (index numbers), in order."""
        if self._ids is not None:
            return list(map(self._ids.__getitem__, docs.tolist()))
        out = self._outputs(len(docs))[2]
        n = kernels.join_ids(docs, self._id_bytes, self._id_starts, out)
        return self._split_ids(out, n, len(docs))

    @staticmethod
    def _split_ids(out: np.ndarray, nbytes: int, count: int) -> list[str]:
        return str(out[:nbytes], "utf-8").split("\n") if count else []

    def _term_scores(self, tid: int, start: int, end: int, weight: float) -> np.ndarray:
        """One term's float32 scores over its postings, under a boost."""
        if weight == 1.0:
            return self._data[start:end]
        norm_inverse = self._norm_inverse[self._norms[self._indices[start:end]]]
        return boosted_scores(weight, self._idf[tid], self._tf[start:end], norm_inverse)

    def _postings(
        self, weighted_terms: Sequence[tuple[str, float]]
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The query's postings: (documents, float32 clause scores, ranges [start0, end0, start1, ...])."""
        parts = []
        for term, weight in weighted_terms:
            tid = self._vocab.get(term)
            if tid is None or not weight > 0:  # a non-positive boost scores nothing
                continue
            start, end = int(self._indptr[tid]), int(self._indptr[tid + 1])
            if end > start:
                parts.append((tid, start, end, weight))
        if all(weight == 1.0 for *_, weight in parts):
            # The stored scores are the clause scores: read them straight from the postings.
            ranges = np.array([bound for part in parts for bound in part[1:3]], dtype=np.int64)
            return self._indices, self._data, ranges
        indices = np.concatenate([self._indices[s:e] for _, s, e, _ in parts])
        scores = np.concatenate([self._term_scores(*part) for part in parts])
        ends = np.cumsum([e - s for _, s, e, _ in parts])
        ranges = np.empty(2 * len(parts), dtype=np.int64)
        ranges[0::2], ranges[1::2] = np.concatenate(([0], ends[:-1])), ends
        indices.flags.writeable = scores.flags.writeable = False  # as the memmaps: one compiled signature
        return indices, scores, ranges

    def _accumulator(self) -> np.ndarray:
        """This thread's float64 scratch space over all documents (all zero between queries)."""
        acc = getattr(self._local, "acc", None)
        if acc is None:
            acc = self._local.acc = np.zeros(self.num_docs, dtype=np.float64)
        return acc

    def match(self, weighted_terms: Sequence[tuple[str, float]]) -> tuple[np.ndarray, np.ndarray]:
        """Documents matching any term (ascending) and their float32 scores, all > 0.

        Lucene sums a document's clause scores in double and rounds the sum to float; in double a
        sum of a few float32 values is exact, so the order of the terms does not matter."""
        docs, scores = kernels.accumulate(*self._postings(weighted_terms), self._accumulator())
        order = np.argsort(docs, kind="stable")
        return docs[order], scores[order]

    def _filter_range(self, term: str) -> tuple[int, int]:
        """Where a filter term's documents lie in the filter postings (empty when it is unknown)."""
        tid = self._fvocab.get(term)
        if tid is None:
            return 0, 0
        return int(self._findptr[tid]), int(self._findptr[tid + 1])

    def _filter_posting(self, term: str) -> np.ndarray:
        start, end = self._filter_range(term)
        return self._findices[start:end]

    def contains(self, term: str, docs: np.ndarray) -> np.ndarray:
        """Which of the documents (any order) contain a term of the analysis without stop tags."""
        posting = self._filter_posting(term)
        if len(posting) == 0 or len(docs) == 0:
            return np.zeros(len(docs), dtype=bool)
        at = np.minimum(np.searchsorted(posting, docs), len(posting) - 1)
        return posting[at] == docs

    def _passing(self, filters: Filters, docs: np.ndarray) -> np.ndarray:
        keep = np.ones(len(docs), dtype=bool)
        for term in filters.required:
            keep &= self.contains(term, docs)
        for group in filters.excluded:
            hit = np.ones(len(docs), dtype=bool)
            for term in group:
                hit &= self.contains(term, docs)
            keep &= ~hit
        return keep

    def top(
        self, weighted_terms: Sequence[tuple[str, float]], filters: Filters, k: int
    ) -> tuple[np.ndarray, np.ndarray, int]:
        """Top k documents and float32 scores (score > 0, passing the filters), best first, and how
        many matched."""
        docs, scores, matched, _ = self._top(weighted_terms, filters, k)
        return docs.copy(), scores.copy(), matched  # the views are this thread's scratch space

    def _top(
        self, weighted_terms: Sequence[tuple[str, float]], filters: Filters, k: int, *, ids: bool = False
    ) -> tuple[np.ndarray, np.ndarray, int, list[str] | None]:
        """As top(), but the arrays may be views of scratch space that the next query reuses; with
        ids=True, the documents' ids too (else None)."""
        if filters.excluded:
            docs, scores = kernels.accumulate(*self._postings(weighted_terms), self._accumulator())
            if len(docs):
                keep = self._passing(filters, docs)
                docs, scores = docs[keep], scores[keep]
            docs.flags.writeable = scores.flags.writeable = False
            top_docs, top_scores = kernels.top_k(docs, scores, k)
            return top_docs, top_scores, len(docs), self._id_strings(top_docs) if ids else None
        # Summing, the required filter terms, the top k and their ids in one compiled pass.
        required = (
            np.array(
                [bound for term in filters.required for bound in self._filter_range(term)], dtype=np.int64
            )
            if filters.required
            else _EMPTY
        )
        out_docs, out_scores, out_ids = self._outputs(k)
        joined = ids and self._ids is None
        indices, scores, ranges = self._postings(weighted_terms)
        matched, nbytes = kernels.search(
            indices,
            scores,
            ranges,
            self._accumulator(),
            self._findices,
            required,
            out_docs,
            out_scores,
            self._id_bytes,
            self._id_starts if joined else _EMPTY,
            out_ids,
            self._dense_starts if indices is self._indices else _EMPTY,  # (not for boosted copies)
            self._dense,
        )
        n = min(k, matched)
        if not ids:
            return out_docs[:n], out_scores[:n], matched, None
        found = self._split_ids(out_ids, nbytes, n) if joined else self._id_strings(out_docs[:n])
        return out_docs[:n], out_scores[:n], matched, found

    def _outputs(self, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """This thread's buffers for a top k (documents, scores, joined ids)."""
        out = getattr(self._local, "out", None)
        if out is None or len(out[0]) < k:
            size = max(k, 1000)
            out = self._local.out = (
                np.empty(size, dtype=np.int32),
                np.empty(size, dtype=np.float32),
                np.empty(size * self._longest_id, dtype=np.uint8),
            )
        return out[0][:k], out[1][:k], out[2]

    def search(
        self, weighted_terms: Sequence[tuple[str, float]], filters: Filters, k: int
    ) -> tuple[list[tuple[int, float]], int]:
        """Top k (doc index, score) with score > 0 that pass the filters, and how many matched."""
        docs, scores, total = self.top(weighted_terms, filters, k)
        return list(zip(docs.tolist(), scores.tolist(), strict=True)), total

    def search_hits(
        self, weighted_terms: Sequence[tuple[str, float]], filters: Filters, k: int, *, with_text: bool = True
    ) -> tuple[list[SearchHit], int]:
        """Like search, as hits whose stored documents are read only when used (texts only if asked)."""
        docs, scores, total, ids = self._top(weighted_terms, filters, k, ids=True)
        hits = map(self._hit if with_text else self._hit_without_text, ids, scores.tolist(), docs.tolist())
        return list(hits), total

    def _document_without_text(self, doc_index: int) -> Document:
        return self.document(doc_index, with_text=False)

    def text(self, doc_index: int) -> str:
        """The full text of a document."""
        if self._texts is None:
            return ""
        start, end = self._offsets_list[doc_index], self._offsets_list[doc_index + 1]
        return self._texts[start:end].decode("utf-8")

    def document(self, doc_index: int, *, with_text: bool = True) -> Document:
        """A stored document, whole (or without its text)."""
        meta = self.meta[doc_index]
        return Document(
            id=meta["id"],
            text=self.text(doc_index) if with_text else "",
            url=meta["url"],
            source=meta["source"],
            title=meta["title"],
            author=meta.get("author", ""),
            published=meta.get("published", ""),
            tags=list(meta.get("tags", [])),
        )


class EmbeddedBackend:
    """Builds and serves embedded indexes under the workspace's indexes/ folder."""

    def __init__(self, store: ArtifactStore, *, workers: int = 1) -> None:
        self.store = store
        self.workers = workers
        self._loaded: dict[str, tuple[str, EmbeddedIndex]] = {}
        self._lock = threading.Lock()

    def exists(self, name: str) -> bool:
        """True if an embedded index of that name was built whole."""
        return self.store.exists(index_artifact(name))

    def open(self, name: str) -> EmbeddedIndex:
        """The loaded index (reloaded when the artifact was rebuilt); NotFound if there is none."""
        artifact = index_artifact(name)
        if not self.store.exists(artifact):
            raise NotFound(f"index {name!r} not found (build it with CreateIndexJob)")
        sha = self.store.entry(artifact).sha256
        with self._lock:
            cached = self._loaded.get(name)
            if cached is None or cached[0] != sha:
                cached = (sha, EmbeddedIndex(self.store.path(artifact)))
                self._loaded[name] = cached
            return cached[1]

    def build(
        self,
        name: str,
        corpus: str,
        settings: AnalyzerSettings,
        k1: float,
        b: float,
        *,
        job_id: str = "",
        on_progress: Callable[[IndexProgress], None] | None = None,
        check_cancelled: Callable[[], None] | None = None,
    ) -> tuple[Any, IndexProgress]:
        """Index a corpus artifact as `name`, reusing the previous index's token cache."""
        docs = list(read_corpus(self.store, corpus))
        if not docs:
            raise FailedPrecondition(f"corpus {corpus!r} has no documents to index")
        artifact = index_artifact(name)
        cache = TokenCache()
        if self.store.exists(artifact):
            old = self.store.path(artifact)
            try:
                old_info = json.loads((old / "index.json").read_text(encoding="utf-8"))
                # Cached tokens are only valid for the same settings and the same MeCab dictionary.
                same_dictionary = old_info.get("dictionary") == dictionary_id(resolve_dictionary())
                if AnalyzerSettings.from_json(old_info["analyzer"]) == settings and same_dictionary:
                    cache = TokenCache.load(old / "tokens.jsonl.zst")
                elif not same_dictionary:
                    logger.info("index %s was analyzed with another dictionary: analyzing everything", name)
            except (OSError, ValueError, KeyError) as exc:
                logger.warning("previous index %s unreadable, analyzing everything: %s", name, exc)
        analyzed, progress = analyze_corpus(
            docs,
            settings,
            cache,
            workers=self.workers,
            on_progress=on_progress,
            check_cancelled=check_cancelled,
        )
        if check_cancelled:
            check_cancelled()
        with self.store.open_dir(artifact, job_id=job_id, role="index") as out:
            info = build_index_files(out.path, docs, analyzed, settings, k1, b, corpus)
            info["analyzed"] = progress.analyzed
            info["cached"] = progress.cached
            cache.save(out.path / "tokens.jsonl.zst", (text_key(d.text) for d in docs))
            out.records = len(docs)
        assert out.entry is not None
        return out.entry, progress
