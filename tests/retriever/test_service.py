"""The retriever over real gRPC on 127.0.0.1: Analyze, CreateIndexJob, Search, CreateExportJob, errors."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import grpc
import pytest

from services.runtime import ArtifactStore, ServiceServer, read_corpus, write_corpus
from supil.client import follow_job
from supil.v1 import jobs_pb2, retriever_pb2, retriever_pb2_grpc
from tests.retriever.conftest import labelled_documents

State = jobs_pb2.Job.State
Serve = Callable[..., tuple[ServiceServer, grpc.Channel]]


@pytest.fixture
def service(
    serve_service: Serve, tmp_path: Path
) -> tuple[retriever_pb2_grpc.RetrieverServiceStub, grpc.Channel, ArtifactStore]:
    store = ArtifactStore(tmp_path / "ws")
    write_corpus(store, "corpora/essays.jsonl.zst", labelled_documents())
    _, channel = serve_service("retriever", workspace=tmp_path / "ws")
    return retriever_pb2_grpc.RetrieverServiceStub(channel), channel, store


def build(stub, channel, index: str = "essays") -> jobs_pb2.Job:
    response = stub.CreateIndexJob(
        retriever_pb2.CreateIndexJobRequest(
            job_id=f"index-{index}", corpus="corpora/essays.jsonl.zst", index=index
        )
    )
    events: list[jobs_pb2.JobEvent] = []
    job = follow_job(channel, response.job.job_id, events.append)
    assert job.state == State.STATE_SUCCEEDED, job.error
    progress = [e for e in events if e.kind == jobs_pb2.JobEvent.KIND_PROGRESS]
    assert progress and progress[-1].job.progress.done == 24 and progress[-1].job.progress.unit == "documents"
    assert progress[-1].job.progress.counters["bytes"] > 0
    return job


def test_analyze_returns_tokens_with_pos_and_offsets(service) -> None:
    stub, _, _ = service
    response = stub.Analyze(retriever_pb2.AnalyzeRequest(text="가벼운 學校"))
    assert [(t.term, t.pos, t.start_offset, t.end_offset, t.pos_type) for t in response.tokens] == [
        ("가볍", "VA", 0, 3, "MORPHEME"),
        ("학교", "NNG", 4, 6, "MORPHEME"),
    ]


def test_index_search_and_export(service) -> None:
    stub, channel, store = service
    job = build(stub, channel)
    assert [o.role for o in job.outputs] == ["index"] and job.metrics["documents"] == 24

    found = stub.Search(retriever_pb2.SearchRequest(index="essays", query="바다 여행", k=3))
    assert len(found.hits) == 3 and found.total_hits >= 3
    assert all(h.id.startswith("sea-") and h.title and h.url and "«" in h.snippet for h in found.hits)

    export = stub.CreateExportJob(
        retriever_pb2.CreateExportJobRequest(
            job_id="export-family",
            index="essays",
            query="가족",
            options=retriever_pb2.QueryOptions(theme="함께"),
            valid_fraction=0.2,
            seed=3,
            output_prefix="sets/family",
        )
    )
    done = follow_job(channel, export.job.job_id)
    assert done.state == State.STATE_SUCCEEDED, done.error
    assert {o.name: o.role for o in done.outputs} == {
        "sets/family/train.jsonl.zst": "train",
        "sets/family/valid.jsonl.zst": "valid",
    }
    train = list(read_corpus(store, "sets/family/train.jsonl.zst"))
    valid = list(read_corpus(store, "sets/family/valid.jsonl.zst"))
    assert train and valid and not {d.id for d in train} & {d.id for d in valid}
    assert all("함께" in d.text and d.extra["score"] > 0 for d in train + valid)


@pytest.mark.parametrize(
    ("request_", "code", "words"),
    [
        (
            retriever_pb2.SearchRequest(index="essays", query="  "),
            grpc.StatusCode.INVALID_ARGUMENT,
            "query is empty",
        ),
        (
            retriever_pb2.SearchRequest(index="nope", query="희망"),
            grpc.StatusCode.NOT_FOUND,
            "index 'nope' not found",
        ),
        (
            retriever_pb2.SearchRequest(index="essays", query="희망", k=-1),
            grpc.StatusCode.INVALID_ARGUMENT,
            "k must be positive",
        ),
        (
            retriever_pb2.SearchRequest(index="essays", query="희망", k=10**7),
            grpc.StatusCode.INVALID_ARGUMENT,
            "too large",
        ),
        (
            retriever_pb2.SearchRequest(index="Bad Name", query="희망"),
            grpc.StatusCode.INVALID_ARGUMENT,
            "index name",
        ),
        (
            retriever_pb2.SearchRequest(index="essays", query="그리고 매우"),
            grpc.StatusCode.INVALID_ARGUMENT,
            "no searchable words",
        ),
    ],
)
def test_bad_searches_get_clear_errors(service, request_, code, words) -> None:
    stub, channel, _ = service
    build(stub, channel)
    with pytest.raises(grpc.RpcError) as caught:
        stub.Search(request_)
    assert caught.value.code() == code and words in caught.value.details()


def test_bad_jobs_are_refused_before_they_start(service) -> None:
    stub, _, _ = service
    with pytest.raises(grpc.RpcError) as caught:
        stub.CreateIndexJob(
            retriever_pb2.CreateIndexJobRequest(job_id="i", corpus="missing.jsonl.zst", index="x")
        )
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND
    with pytest.raises(grpc.RpcError) as caught:
        stub.CreateExportJob(retriever_pb2.CreateExportJobRequest(job_id="e", index="nope", query="희망"))
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND
    with pytest.raises(grpc.RpcError) as caught:
        stub.CreateIndexJob(
            retriever_pb2.CreateIndexJobRequest(
                job_id="i",
                corpus="corpora/essays.jsonl.zst",
                index="x",
                backend=retriever_pb2.BACKEND_ELASTICSEARCH,
            )
        )
    assert (
        caught.value.code() == grpc.StatusCode.FAILED_PRECONDITION
        and "SUPIL_ES_URL" in caught.value.details()
    )
    with pytest.raises(grpc.RpcError) as caught:
        stub.Analyze(retriever_pb2.AnalyzeRequest(text=""))
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
