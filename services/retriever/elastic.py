"""The Elasticsearch backend: the same analysis (Nori), BM25 and query semantics on a cluster."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from services.retriever.analyzer import AnalyzerSettings
from services.retriever.embedded import IndexProgress, index_artifact
from services.retriever.hits import Filters, SearchHit
from services.runtime import ArtifactStore, Document, FailedPrecondition, read_corpus

logger = logging.getLogger(__name__)

CHUNK_DOCS = 500
CHUNK_BYTES = 10 * 1024 * 1024
MAX_RETRIES = 8
INITIAL_BACKOFF_S = 1.0
MAX_BACKOFF_S = 60.0


def index_body(settings: AnalyzerSettings, k1: float, b: float) -> dict[str, Any]:
    """Index settings and mappings: the embedded analyzer as a custom Nori analyzer, BM25 explicit."""
    return {
        "settings": {
            "index": {
                "number_of_shards": 1,  # one shard: document frequencies are global, as embedded
                "number_of_replicas": 0,  # during the load; restored after
                "refresh_interval": "-1",  # during the load; restored after
                "similarity": {"default": {"type": "BM25", "k1": k1, "b": b}},
                "analysis": settings.elasticsearch_analysis(),
            }
        },
        "mappings": {
            "dynamic": "strict",
            "properties": {
                "id": {"type": "keyword"},
                "ord": {"type": "integer"},
                "title": {"type": "text", "analyzer": "supil_nori"},
                "source": {"type": "keyword"},
                "url": {"type": "keyword", "index": False},
                "author": {"type": "keyword"},
                "published": {"type": "keyword"},
                "tags": {"type": "keyword"},
                "text": {
                    "type": "text",
                    "analyzer": "supil_nori",
                    "similarity": "default",
                    "fields": {"all": {"type": "text", "analyzer": "supil_nori_all"}},
                },
            },
        },
    }


RESTORED_SETTINGS = {"index": {"refresh_interval": None, "number_of_replicas": None}}


def search_body(weighted_terms: Sequence[tuple[str, float]], filters: Filters, k: int) -> dict[str, Any]:
    """The bool query both backends mean: any query term scores, filters required/excluded unscored."""
    # As embedded: a non-positive boost scores nothing, so such a term cannot make a hit.
    should = [
        {"term": {"text": {"value": term, "boost": weight}}} for term, weight in weighted_terms if weight > 0
    ]
    query: dict[str, Any] = {"must": [{"bool": {"should": should, "minimum_should_match": 1}}]}
    if filters.required:
        query["filter"] = [{"term": {"text.all": term}} for term in filters.required]
    if filters.excluded:
        query["must_not"] = [
            {"bool": {"filter": [{"term": {"text.all": term}} for term in group]}}
            for group in filters.excluded
        ]
    return {
        "query": {"bool": query},
        "size": k,
        "track_total_hits": True,
        # Ties in corpus order, as the embedded index (and Lucene within one shard) breaks them.
        "sort": [{"_score": "desc"}, {"ord": "asc"}],
    }


def bulk_actions(es_index: str, docs: Sequence[Document]) -> Iterator[dict[str, Any]]:
    """Bulk index actions for a corpus, ids kept."""
    for ord_, doc in enumerate(docs):
        yield {
            "_op_type": "index",
            "_index": es_index,
            "_id": doc.id,
            "_source": {
                "id": doc.id,
                "ord": ord_,
                "title": doc.title,
                "source": doc.source,
                "url": doc.url,
                "author": doc.author,
                "published": doc.published,
                "tags": doc.tags,
                "text": doc.text,
            },
        }


@dataclass
class ElasticIndex:
    """An index on the cluster, searched with the shared semantics."""

    client: Any
    es_index: str
    settings: AnalyzerSettings

    def search_hits(
        self, weighted_terms: Sequence[tuple[str, float]], filters: Filters, k: int, *, with_text: bool = True
    ) -> tuple[list[SearchHit], int]:
        """Top k hits and how many matched (texts only if asked)."""
        body = search_body(weighted_terms, filters, k)
        if not with_text:
            body["_source"] = {"excludes": ["text"]}
        response = self.client.search(index=self.es_index, **body)
        out = []
        for hit in response["hits"]["hits"]:
            src = hit["_source"]
            doc = Document(
                id=src["id"],
                text=src.get("text", ""),
                url=src.get("url", ""),
                source=src.get("source", ""),
                title=src.get("title", ""),
                author=src.get("author", ""),
                published=src.get("published", ""),
                tags=list(src.get("tags", [])),
            )
            out.append(SearchHit(doc, float(hit["_score"])))
        return out, int(response["hits"]["total"]["value"])


class ElasticBackend:
    """Builds indexes on a cluster and records each in the workspace (indexes/<name>/index.json)."""

    def __init__(
        self, store: ArtifactStore, client_factory: Callable[[], Any], prefix: str = "supil-"
    ) -> None:
        self.store = store
        self._client_factory = client_factory
        self._client: Any = None
        self.prefix = prefix

    @property
    def client(self) -> Any:
        """The Elasticsearch client, made on first use."""
        if self._client is None:
            self._client = self._client_factory()
        return self._client

    def open(self, name: str, info: dict[str, Any]) -> ElasticIndex:
        """The cluster index an index record names."""
        return ElasticIndex(self.client, info["es_alias"], AnalyzerSettings.from_json(info["analyzer"]))

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
        """Create a fresh cluster index, stream the corpus into it, then point the alias at it."""
        from elasticsearch import helpers

        docs = list(read_corpus(self.store, corpus))
        if not docs:
            raise FailedPrecondition(f"corpus {corpus!r} has no documents to index")
        alias = f"{self.prefix}{name}".lower()
        concrete = f"{alias}-{time.strftime('%Y%m%d%H%M%S')}-{job_id or 'x'}".lower()
        client = self.client
        client.indices.create(index=concrete, **index_body(settings, k1, b))
        progress = IndexProgress(total=len(docs))
        started = time.monotonic()
        chunks_bytes: list[int] = []
        sizes = {doc.id: len(doc.text.encode("utf-8")) for doc in docs}
        pending = 0
        pending_bytes = 0
        try:
            for ok, item in helpers.streaming_bulk(
                client,
                bulk_actions(concrete, docs),
                chunk_size=CHUNK_DOCS,
                max_chunk_bytes=CHUNK_BYTES,
                max_retries=MAX_RETRIES,  # 429s are retried with exponential backoff
                initial_backoff=INITIAL_BACKOFF_S,
                max_backoff=MAX_BACKOFF_S,
                # Per-document 429s come back as items, not exceptions: let the helper retry them.
                raise_on_error=False,
            ):
                if not ok:
                    raise FailedPrecondition(f"Elasticsearch refused a document: {json.dumps(item)[:300]}")
                size = sizes.get(next(iter(item.values())).get("_id", ""), 0)
                progress.analyzed += 1
                progress.documents += 1
                progress.bytes += size
                pending += 1
                pending_bytes += size
                if pending == CHUNK_DOCS:
                    chunks_bytes.append(pending_bytes)
                    pending = pending_bytes = 0
                    progress.seconds = time.monotonic() - started
                    if on_progress:
                        on_progress(progress)
                    if check_cancelled:
                        check_cancelled()
        except BaseException:
            client.indices.delete(index=concrete, ignore_unavailable=True)
            raise
        client.indices.put_settings(index=concrete, settings=RESTORED_SETTINGS)
        client.indices.refresh(index=concrete)
        old = []
        if client.indices.exists_alias(name=alias):
            old = list(client.indices.get_alias(name=alias).keys())
        actions = [{"remove": {"index": o, "alias": alias}} for o in old]
        actions.append({"add": {"index": concrete, "alias": alias}})
        client.indices.update_aliases(actions=actions)
        for o in old:
            client.indices.delete(index=o, ignore_unavailable=True)
        progress.documents = len(docs)
        progress.seconds = time.monotonic() - started
        info = {
            "format": 1,
            "backend": "elasticsearch",
            "corpus": corpus,
            "documents": len(docs),
            "es_alias": alias,
            "es_index": concrete,
            "k1": k1,
            "b": b,
            "analyzer": settings.to_json(),
            "chunk_docs": CHUNK_DOCS,
            "mean_chunk_bytes": (sum(chunks_bytes) / len(chunks_bytes)) if chunks_bytes else progress.bytes,
        }
        with self.store.open_dir(index_artifact(name), job_id=job_id, role="index") as out:
            (out.path / "index.json").write_text(json.dumps(info, indent=1), encoding="utf-8")
            out.records = len(docs)
        assert out.entry is not None
        return out.entry, progress
