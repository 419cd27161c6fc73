"""The generator through gRPC: a draft job streams paragraphs and writes the drafts; bad requests are refused."""

from __future__ import annotations

import json

import grpc
import pytest

from services.generator.config import GeneratorSettings
from services.generator.server import create_server
from services.generator.text import ends_sentence
from supil.client import open_channel
from supil.v1 import generator_pb2, generator_pb2_grpc, jobs_pb2, jobs_pb2_grpc
from tests.conftest import loopback_config


@pytest.fixture
def generator(tiny_store, tiny_pool):
    store, names = tiny_store
    config = loopback_config("generator", store.root)
    server, port = create_server(config, store=store, settings=GeneratorSettings(), pool=tiny_pool)
    server.start()
    channel = open_channel(f"127.0.0.1:{port}")
    yield (
        generator_pb2_grpc.GeneratorServiceStub(channel),
        jobs_pb2_grpc.JobServiceStub(channel),
        store,
        names,
    )
    channel.close()
    server.stop(1.0)


def sampling(**values) -> generator_pb2.SamplingOptions:
    return generator_pb2.SamplingOptions(min_paragraph_chars=250, seed=9, **values)


def test_draft_job_streams_paragraphs_and_writes_the_drafts(generator) -> None:
    stub, jobs, store, names = generator
    request = generator_pb2.CreateDraftJobRequest(
        job_id="draft-1",
        output="drafts/demo.json",
        sampling=sampling(),
        sections=[
            generator_pb2.SectionSpec(
                title="하나", writer=names.lora, prompt="나는 오늘도 걸었다.", target_chars=600
            ),
            generator_pb2.SectionSpec(
                title="둘", writer=names.lora2, prompt="비가 내렸다.", target_chars=500
            ),
            generator_pb2.SectionSpec(title="셋", writer=names.full, prompt="바람이 분다.", target_chars=400),
        ],
    )
    job = stub.CreateDraftJob(request).job
    assert job.job_id == "draft-1"
    streamed = []
    final = None
    for response in jobs.WatchJob(jobs_pb2.WatchJobRequest(job_id="draft-1"), timeout=240):
        event = response.event
        if event.kind == jobs_pb2.JobEvent.KIND_RECORD:
            paragraph = generator_pb2.DraftParagraph()
            assert event.detail.Unpack(paragraph)
            streamed.append(paragraph)
        final = event.job
    assert final is not None and final.state == jobs_pb2.Job.STATE_SUCCEEDED, final.error
    drafts = json.loads(store.path("drafts/demo.json").read_text(encoding="utf-8"))
    assert drafts["format"] == "supil.drafts/1"
    assert [s["title"] for s in drafts["sections"]] == ["하나", "둘", "셋"]
    for section, target in zip(drafts["sections"], (600, 500, 400), strict=True):
        assert abs(section["chars"] - target) <= 0.03 * target
        assert section["metrics"]["longest_copied_span"] <= 50
        assert ends_sentence(section["text"])
        mine = [(p.paragraph_index, p.text) for p in streamed if p.section_index == section["index"]]
        assert mine == [(p["index"], p["text"]) for p in section["paragraphs"]]
    assert len(streamed) == drafts["totals"]["paragraphs"]
    assert abs(drafts["totals"]["length_error"]) <= 0.02
    assert any(o.name == "drafts/demo.json" and o.role == "drafts" for o in final.outputs)
    assert final.metrics["chars"] == drafts["totals"]["chars"]


def test_generate_paragraph_continues_a_text_once(generator) -> None:
    stub, _jobs, _store, names = generator
    response = stub.GenerateParagraph(
        generator_pb2.GenerateParagraphRequest(
            writer=names.full, text="나는 오늘도 나에게 말을 건다.", sampling=sampling(), target_chars=200
        )
    )
    assert abs(response.chars - 200) <= 6 and len(response.text) == response.chars
    assert ends_sentence(response.text) and "\n" not in response.text
    assert not response.text.startswith("나는 오늘도 나에게 말을 건다.")


@pytest.mark.parametrize(
    ("writer", "target", "options", "code"),
    [
        ("nobody/writer", 300, {}, grpc.StatusCode.NOT_FOUND),
        (None, 300, {"top_p": 0.0}, grpc.StatusCode.INVALID_ARGUMENT),
        (None, 300, {"top_p": 1.5}, grpc.StatusCode.INVALID_ARGUMENT),
        (None, 0, {}, grpc.StatusCode.INVALID_ARGUMENT),
        (None, 300, {"chunk_tokens": 4096}, grpc.StatusCode.INVALID_ARGUMENT),
        ("../escape", 300, {}, grpc.StatusCode.INVALID_ARGUMENT),
    ],
)
def test_bad_requests_are_refused(generator, writer, target, options, code) -> None:
    stub, _jobs, _store, names = generator
    writer = writer or names.full
    with pytest.raises(grpc.RpcError) as unary:
        stub.GenerateParagraph(
            generator_pb2.GenerateParagraphRequest(
                writer=writer, text="가.", sampling=sampling(**options), target_chars=target
            )
        )
    assert unary.value.code() == code
    with pytest.raises(grpc.RpcError) as job:
        stub.CreateDraftJob(
            generator_pb2.CreateDraftJobRequest(
                job_id="bad",
                output="drafts/bad.json",
                sampling=sampling(**options),
                sections=[
                    generator_pb2.SectionSpec(title="t", writer=writer, prompt="가.", target_chars=target)
                ],
            )
        )
    assert job.value.code() == code
    assert code != grpc.StatusCode.NOT_FOUND or "not found" in job.value.details()


def test_a_resubmitted_job_resumes_from_its_section_checkpoints(generator) -> None:
    stub, jobs, store, names = generator
    done = {
        "index": 0,
        "title": "하나",
        "writer": names.full,
        "prompt": "가.",
        "target_chars": 300,
        "chars": 11,
        "text": "이미 쓴 문단이다.",
        "paragraphs": [],
        "metrics": {"longest_copied_span": 0, "overlap_ratio": 0.0, "resamples": 0, "dropped_sentences": 0},
    }
    # What an earlier, interrupted attempt of this job left behind.
    store.write_bytes("drafts/resume.json.parts/resume-1/section-0.json", json.dumps(done).encode())
    request = generator_pb2.CreateDraftJobRequest(
        job_id="resume-1",
        output="drafts/resume.json",
        sampling=sampling(),
        sections=[
            generator_pb2.SectionSpec(title="하나", writer=names.full, prompt="가.", target_chars=300),
            generator_pb2.SectionSpec(title="둘", writer=names.full, prompt="바람이 분다.", target_chars=300),
        ],
    )
    stub.CreateDraftJob(request)
    events = list(jobs.WatchJob(jobs_pb2.WatchJobRequest(job_id="resume-1"), timeout=240))
    assert events[-1].event.job.state == jobs_pb2.Job.STATE_SUCCEEDED
    assert any("resuming: 1 of 2" in e.event.message for e in events)
    drafts = json.loads(store.path("drafts/resume.json").read_text(encoding="utf-8"))
    assert drafts["sections"][0]["text"] == "이미 쓴 문단이다."
    assert abs(drafts["sections"][1]["chars"] - 300) <= 9
    streamed = [e for e in events if e.event.kind == jobs_pb2.JobEvent.KIND_RECORD]
    assert streamed and all("section 1 " in e.event.message for e in streamed)
