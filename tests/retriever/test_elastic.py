"""The Elasticsearch backend: request bodies on a recording HTTP server, and a real cluster when given."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest

from services.retriever.analyzer import NORI_DEFAULT_STOP_TAGS, AnalyzerSettings
from services.retriever.config import RetrieverConfig
from services.retriever.elastic import index_body, search_body
from services.retriever.embedded import Filters
from services.retriever.retriever import Retriever
from services.retriever.search import QueryOptions
from services.runtime import ArtifactStore, write_corpus
from tests.retriever.conftest import labelled_documents


def test_index_body_configures_nori_like_the_embedded_analyzer() -> None:
    settings = AnalyzerSettings(decompound_mode="mixed", user_dictionary=("세종시 세종 시",))
    body = index_body(settings, 1.2, 0.75)
    index = body["settings"]["index"]
    assert index["similarity"]["default"] == {"type": "BM25", "k1": 1.2, "b": 0.75}
    assert (index["refresh_interval"], index["number_of_replicas"]) == ("-1", 0)
    analysis = index["analysis"]
    assert analysis["tokenizer"]["supil_nori_tokenizer"] == {
        "type": "nori_tokenizer",
        "decompound_mode": "mixed",
        "discard_punctuation": True,
        "user_dictionary_rules": ["세종시 세종 시"],
    }
    assert set(analysis["filter"]["supil_nori_pos"]["stoptags"]) == NORI_DEFAULT_STOP_TAGS
    assert analysis["analyzer"]["supil_nori"]["filter"] == ["supil_nori_pos", "nori_readingform", "lowercase"]
    text = body["mappings"]["properties"]["text"]
    assert text["analyzer"] == "supil_nori" and text["fields"]["all"]["analyzer"] == "supil_nori_all"


def test_search_body_scores_the_query_and_filters_the_rest() -> None:
    body = search_body([("희망", 2.0)], Filters(["함께"], [["편지"]]), 7)
    query = body["query"]["bool"]
    assert query["must"][0]["bool"]["should"] == [{"term": {"text": {"value": "희망", "boost": 2.0}}}]
    assert query["filter"] == [{"term": {"text.all": "함께"}}]
    assert query["must_not"] == [{"bool": {"filter": [{"term": {"text.all": "편지"}}]}}]
    assert body["size"] == 7 and body["track_total_hits"] is True
    # Ties in corpus order, as the embedded top-k keeps them.
    assert body["sort"] == [{"_score": "desc"}, {"ord": "asc"}]
    # A term without a positive boost scores nothing on the embedded index: it is not sent either.
    dropped = search_body([("희망", 1.0), ("내일", 0.0)], Filters([], []), 3)
    assert dropped["query"]["bool"]["must"][0]["bool"]["should"] == [
        {"term": {"text": {"value": "희망", "boost": 1.0}}}
    ]


class FakeCluster(BaseHTTPRequestHandler):
    """Just enough of Elasticsearch's REST API to record what the backend sends (the first bulk gets 429s)."""

    requests: ClassVar[list[tuple[str, str, Any]]] = []
    bulk_calls = 0

    def log_message(self, *args: object) -> None:
        pass

    def _reply(self, status: int, body: Any) -> None:
        raw = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("X-Elastic-Product", "Elasticsearch")
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(raw)

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length).decode() if length else ""
        path = self.path.split("?")[0]
        if path == "/_bulk":
            lines = [json.loads(line) for line in raw.splitlines() if line.strip()]
            FakeCluster.requests.append((self.command, path, lines))
            cls = type(self)
            cls.bulk_calls += 1
            status = 429 if cls.bulk_calls == 1 else 201
            items = [{"index": {"_id": a["index"]["_id"], "status": status}} for a in lines[::2]]
            for item in items:
                if status == 429:
                    item["index"]["error"] = {"type": "es_rejected_execution_exception", "reason": "busy"}
            self._reply(200, {"errors": status == 429, "items": items, "took": 1})
            return
        FakeCluster.requests.append((self.command, path, json.loads(raw) if raw else None))
        if path.startswith("/_alias/"):
            self._reply(404, {})
        elif path.endswith("/_search"):
            self._reply(200, {"hits": {"total": {"value": 0, "relation": "eq"}, "hits": []}})
        else:
            self._reply(200, {"acknowledged": True, "_shards": {"total": 1, "successful": 1, "failed": 0}})

    do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = _handle


@pytest.fixture
def fake_cluster() -> Iterator[str]:
    FakeCluster.requests = []
    FakeCluster.bulk_calls = 0
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeCluster)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_load_retries_429_and_restores_settings(fake_cluster: str, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr("services.retriever.elastic.INITIAL_BACKOFF_S", 0.01)
    store = ArtifactStore(tmp_path)
    write_corpus(store, "c.jsonl.zst", labelled_documents())
    config = RetrieverConfig(backend="elasticsearch", es_url=fake_cluster, workers=1)
    retriever = Retriever(store, config)
    entry, progress = retriever.backend_for("").build(
        "essays", "c.jsonl.zst", AnalyzerSettings(), 1.2, 0.75, job_id="j1"
    )
    assert progress.documents == 24 and entry.name == "indexes/essays"
    calls = [(m, p) for m, p, _ in FakeCluster.requests]
    create = next(body for m, p, body in FakeCluster.requests if m == "PUT" and p.count("/") == 1)
    assert create["settings"]["index"]["refresh_interval"] == "-1"
    assert create["settings"]["index"]["analysis"] == AnalyzerSettings().elasticsearch_analysis()
    bulks = [body for _, p, body in FakeCluster.requests if p == "/_bulk"]
    assert len(bulks) == 2 and len(bulks[1]) == 48  # all 24 documents retried after the 429s
    restore = next(body for m, p, body in FakeCluster.requests if p.endswith("/_settings"))
    assert restore == {"index": {"refresh_interval": None, "number_of_replicas": None}}
    paths = [p for _, p in calls]
    assert max(i for i, p in enumerate(paths) if p == "/_bulk") < paths.index(
        next(p for p in paths if p.endswith("/_settings"))
    )
    hits, total = retriever.search("essays", "희망", QueryOptions(theme="내일"), 5)
    assert (hits, total) == ([], 0)
    search = FakeCluster.requests[-1]
    assert search[1] == "/supil-essays/_search"
    assert search[2]["query"]["bool"]["filter"] == [{"term": {"text.all": "내일"}}]


@pytest.mark.skipif(
    not os.environ.get("SUPIL_ES_URL"), reason="SUPIL_ES_URL is not set (no Elasticsearch cluster)"
)
def test_real_cluster_agrees_with_the_embedded_backend(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path)
    write_corpus(store, "c.jsonl.zst", labelled_documents())
    retriever = Retriever(store, RetrieverConfig.from_env(os.environ))
    assert retriever.elastic is not None
    retriever.elastic.build("supil-test-es", "c.jsonl.zst", AnalyzerSettings(), 1.2, 0.75, job_id="t")
    retriever.embedded.build("supil-test-embedded", "c.jsonl.zst", AnalyzerSettings(), 1.2, 0.75)
    for query in ["희망", "가족", "바다 여행"]:
        on_es, total_es = retriever.search("supil-test-es", query, QueryOptions(), 10)
        local, total_local = retriever.search("supil-test-embedded", query, QueryOptions(), 10)
        assert total_es == total_local
        assert [h.document.id for h in on_es] == [h.document.id for h in local]
        assert [round(h.score, 4) for h in on_es] == [round(h.score, 4) for h in local]
        assert [h.snippet for h in on_es] == [h.snippet for h in local]
