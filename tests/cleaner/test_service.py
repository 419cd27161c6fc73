"""The cleaner through its real gRPC server: a clean job over a small corpus, CleanText, SplitSentences, bad input."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import grpc
import pytest
import zstandard

from services.cleaner import pipeline
from services.cleaner.options import CleanConfig
from services.runtime import ArtifactStore, Document, ServiceServer, read_corpus, write_corpus
from supil.v1 import cleaner_pb2, cleaner_pb2_grpc, jobs_pb2
from tests.cleaner.helpers import korean_doc

Serve = Callable[..., tuple[ServiceServer, grpc.Channel]]

BIG_DOC_BYTES = 50 * 1024 * 1024


def _near_copy(text: str) -> str:
    """The same document with its last word reworded and a few words added: a longer near duplicate."""
    head, _, _ = text.rpartition(" ")
    return head + " 그리고 끝이 났다."


def small_corpus(store: ArtifactStore, name: str = "raw/corpus.jsonl.zst") -> dict[str, list[str]]:
    """Write a corpus with one document per outcome plus two bad lines; return the expected ids."""
    good = [Document(id=f"good-{i}", text=korean_doc(i), source="a" if i % 2 else "b") for i in range(1, 7)]
    docs = [
        *good,
        # the same text with other spacing: an exact duplicate of good-1, as long once cleaned (first kept)
        Document(id="dup-exact", text="  " + good[0].text.replace(" ", "  ") + "  ", source="a"),
        Document(id="dup-near", text=_near_copy(good[1].text), source="b"),
        Document(id="empty", text="", source="a"),
        Document(id="blank", text=" \n\u200b\n ", source="a"),
        Document(id="short", text="짧은 글이다.", source="a"),
        Document(id="english", text="This is an English page. " * 20, source="c"),
        Document(id="one-sentence", text="문장이 하나뿐인 아주 긴 글 " * 12 + "끝이다", source="c"),
        Document(id="repetitive", text="똑같은 문장이 계속해서 반복되는 글이다. " * 20, source="c"),
        Document(id="huge", text=("가나다라마바사 " * (BIG_DOC_BYTES // 22 + 1)), source="c"),
    ]
    cctx = zstandard.ZstdCompressor()
    lines = [d.to_json().encode("utf-8") for d in docs]
    lines.insert(3, b'{"id": "bad-utf8", "text": "\xff\xfe broken"}')
    lines.insert(5, b"{not json")
    with store.open_file(name, role="corpus") as out:
        out.fh.write(cctx.compress(b"\n".join(lines) + b"\n"))
        out.records = len(docs)
    return {
        "kept": ["good-1", "good-2", "good-3", "good-4", "good-5", "good-6"],
        "all": [d.id for d in docs],
    }


def _wait(server: ServiceServer, job_id: str) -> jobs_pb2.Job:
    job = server.runner.wait(job_id, timeout=120)
    assert job.state != jobs_pb2.Job.STATE_RUNNING, "the job did not finish in time"
    return job


def test_clean_job_over_a_small_corpus(serve_service: Serve, tmp_path: Path) -> None:
    workspace = tmp_path / "ws"
    store = ArtifactStore(workspace)
    small_corpus(store)
    server, channel = serve_service("cleaner", workspace=workspace)
    stub = cleaner_pb2_grpc.CleanerServiceStub(channel)
    response = stub.CreateCleanJob(
        cleaner_pb2.CreateCleanJobRequest(
            job_id="clean-1", input="raw/corpus.jsonl.zst", output="clean/corpus.jsonl.zst"
        )
    )
    assert response.job.job_id == "clean-1"
    job = _wait(server, "clean-1")
    assert job.state == jobs_pb2.Job.STATE_SUCCEEDED, job.error
    roles = {o.role: o.name for o in job.outputs}
    assert roles == {
        "corpus": "clean/corpus.jsonl.zst",
        "stats": "clean/corpus.stats.json",
        "histogram": "clean/corpus.lengths.png",
    }

    kept = list(read_corpus(store, "clean/corpus.jsonl.zst"))
    # good-1 and its exact copy tie in length, so the first stays; good-2's near copy is longer and stays.
    assert [d.id for d in kept] == ["good-1", "good-3", "good-4", "good-5", "good-6", "dup-near"]
    assert all("\n" in d.text for d in kept), "paragraph breaks survive cleaning"
    assert all("  " not in d.text for d in kept)

    stats = json.loads(store.path("clean/corpus.stats.json").read_text(encoding="utf-8"))
    assert stats["dropped"] == {
        "empty": 2,
        "min_chars": 1,
        "max_chars": 1,
        "min_hangul_ratio": 1,
        "min_sentences": 1,
        "max_repetition": 1,
        "error": 0,
        "invalid_line": 2,
        "exact_duplicate": 1,
        "near_duplicate": 1,
    }
    assert stats["stages"] == {
        "read": 15,
        "cleaned_and_filtered": 8,
        "exact_dedup": 7,
        "near_dedup": 6,
        "written": 6,
    }
    assert stats["clusters"]["exact"] == 1 and stats["clusters"]["near"] == 1
    listed = {c["kind"]: c for c in stats["clusters"]["listed"]}
    assert listed["exact"] == {"kind": "exact", "kept": "good-1", "removed": ["dup-exact"]}
    assert listed["near"] == {"kind": "near", "kept": "dup-near", "removed": ["good-2"]}
    assert stats["sources"]["c"] == {
        "read": 4,
        "kept": 0,
        "dropped": {"max_chars": 1, "max_repetition": 1, "min_hangul_ratio": 1, "min_sentences": 1},
    }
    assert stats["sources"]["a"]["kept"] + stats["sources"]["b"]["kept"] == 6
    assert [line["line"] for line in stats["invalid_lines"]] == [4, 6]
    assert stats["length_chars"]["input"]["over_20000_chars"] == 1
    assert stats["length_chars"]["kept"]["count"] == 6
    assert 0.5 < stats["hangul_ratio"]["percentiles"]["p50"] <= 1.0
    assert stats["steps_changed"]["spaces"] >= 1
    assert store.path("clean/corpus.lengths.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert job.metrics["kept"] == 6 and job.metrics["dropped_invalid_line"] == 2


def test_clean_job_refuses_bad_requests(serve_service: Serve, tmp_path: Path) -> None:
    workspace = tmp_path / "ws"
    small_corpus(ArtifactStore(workspace))
    _, channel = serve_service("cleaner", workspace=workspace)
    stub = cleaner_pb2_grpc.CleanerServiceStub(channel)
    cases = [
        (cleaner_pb2.CreateCleanJobRequest(job_id="j", input="missing.jsonl.zst", output="o"), "NOT_FOUND"),
        (cleaner_pb2.CreateCleanJobRequest(job_id="j", input="", output="o"), "INVALID_ARGUMENT"),
        (cleaner_pb2.CreateCleanJobRequest(job_id="j", input="../x", output="o"), "INVALID_ARGUMENT"),
        (
            cleaner_pb2.CreateCleanJobRequest(
                job_id="j", input="raw/corpus.jsonl.zst", output="raw/corpus.jsonl.zst"
            ),
            "INVALID_ARGUMENT",
        ),
        (
            cleaner_pb2.CreateCleanJobRequest(
                job_id="j",
                input="raw/corpus.jsonl.zst",
                output="o",
                options=cleaner_pb2.CleanOptions(steps=["nfc", "shout"], near_threshold=1.5),
            ),
            "INVALID_ARGUMENT",
        ),
    ]
    for request, code in cases:
        with pytest.raises(grpc.RpcError) as info:
            stub.CreateCleanJob(request)
        assert info.value.code().name == code, (request, info.value.details())
        assert "Traceback" not in info.value.details()


def test_write_sentences_beside_the_text(serve_service: Serve, tmp_path: Path) -> None:
    workspace = tmp_path / "ws"
    store = ArtifactStore(workspace)
    paragraphs = [
        "오늘은 날씨가 아주 맑았다. 나는 오랜 친구와 함께 공원에 갔다. 우리는 벤치에 앉아 오래 이야기를 나누었다.",
        "해가 지자 바람이 차가워졌다. 우리는 다음에 다시 만나자고 약속했다. 집으로 돌아오는 길은 따뜻했다.",
    ]
    write_corpus(store, "in.jsonl.zst", [Document(id="d1", text="\n".join(paragraphs))])
    server, channel = serve_service("cleaner", workspace=workspace)
    stub = cleaner_pb2_grpc.CleanerServiceStub(channel)
    stub.CreateCleanJob(
        cleaner_pb2.CreateCleanJobRequest(
            job_id="s1",
            input="in.jsonl.zst",
            output="out.jsonl.zst",
            options=cleaner_pb2.CleanOptions(write_sentences=True),
        )
    )
    job = _wait(server, "s1")
    assert job.state == jobs_pb2.Job.STATE_SUCCEEDED, job.error
    (doc,) = read_corpus(store, "out.jsonl.zst")
    assert doc.extra["sentences"] == [
        part if part.endswith(".") else part + "." for p in paragraphs for part in p.split(". ")
    ]


def test_clean_text(serve_service: Serve) -> None:
    _, channel = serve_service("cleaner")
    stub = cleaner_pb2_grpc.CleanerServiceStub(channel)
    response = stub.CleanText(cleaner_pb2.CleanTextRequest(text="#태그 좋아요ㅋㅋㅋㅋ  a@b.com\n\n10000원"))
    assert response.text == "좋아요ㅋㅋ [이메일]\n10000원"
    assert list(response.changed_steps) == ["email", "hashtags", "repeat_normalize", "spaces"]
    only = stub.CleanText(
        cleaner_pb2.CleanTextRequest(text="#태그  a@b.com", options=cleaner_pb2.CleanOptions(steps=["email"]))
    )
    assert only.text == "#태그  [이메일]"
    for request in (
        cleaner_pb2.CleanTextRequest(text=""),
        cleaner_pb2.CleanTextRequest(text="x", options=cleaner_pb2.CleanOptions(steps=["nope"])),
        cleaner_pb2.CleanTextRequest(text="x", options=cleaner_pb2.CleanOptions(boilerplate=["re:("])),
    ):
        with pytest.raises(grpc.RpcError) as info:
            stub.CleanText(request)
        assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT


@pytest.mark.parametrize(
    "backend", [cleaner_pb2.SENTENCE_BACKEND_UNSPECIFIED, cleaner_pb2.SENTENCE_BACKEND_PECAB]
)
def test_split_sentences(serve_service: Serve, backend: int) -> None:
    _, channel = serve_service("cleaner")
    stub = cleaner_pb2_grpc.CleanerServiceStub(channel)
    text = "나는 밥을 먹었다. 그리고 학교에 갔다.\n두 번째 문단이다."
    response = stub.SplitSentences(cleaner_pb2.SplitSentencesRequest(text=text, backend=backend))
    assert [s.text for s in response.sentences] == [
        "나는 밥을 먹었다.",
        "그리고 학교에 갔다.",
        "두 번째 문단이다.",
    ]
    for sentence in response.sentences:
        assert text[sentence.start : sentence.end] == sentence.text
    with pytest.raises(grpc.RpcError) as info:
        stub.SplitSentences(cleaner_pb2.SplitSentencesRequest(text=" \n "))
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_parallel_output_is_the_same_as_serial(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = ArtifactStore(tmp_path / "ws")
    docs = [Document(id=f"d{i}", text=korean_doc(i, sentences=4)) for i in range(300)]
    docs += [
        Document(id=f"copy{i}", text=korean_doc(i, sentences=4) + " 덧붙인 말이다.") for i in range(0, 300, 7)
    ]
    write_corpus(store, "in.jsonl.zst", docs)
    monkeypatch.setattr(pipeline, "MIN_DOCS_FOR_POOL", 0)
    monkeypatch.setattr(pipeline, "BATCH_DOCS", 16)
    serial = pipeline.clean_corpus(store, "in.jsonl.zst", "serial.jsonl.zst", CleanConfig(), workers=1)
    parallel = pipeline.clean_corpus(store, "in.jsonl.zst", "parallel.jsonl.zst", CleanConfig(), workers=2)
    assert store.path("serial.jsonl.zst").read_bytes() == store.path("parallel.jsonl.zst").read_bytes()
    assert serial.stats["dropped"] == parallel.stats["dropped"]
    assert serial.stats["dropped"]["near_duplicate"] == len(range(0, 300, 7))


def test_an_empty_corpus_gives_empty_outputs(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path / "ws")
    write_corpus(store, "in.jsonl.zst", [])
    report = pipeline.clean_corpus(store, "in.jsonl.zst", "out.jsonl.zst", CleanConfig())
    assert [role for _, role in report.outputs] == ["corpus", "stats", "histogram"]
    assert list(read_corpus(store, "out.jsonl.zst")) == []
    assert report.stats["stages"]["written"] == 0
