"""CreateTrainJob through a real gRPC server: a base, then writers a generator can load; errors."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import grpc
import pytest
import torch

from services.runtime import ArtifactStore, ServiceServer, write_corpus
from services.trainer import models
from supil.client import follow_job
from supil.v1 import jobs_pb2, trainer_pb2, trainer_pb2_grpc
from tests.trainer.conftest import make_documents, write_sets

Serve = Callable[..., tuple[ServiceServer, grpc.Channel]]
State = jobs_pb2.Job.State


def options(**values: object) -> trainer_pb2.TrainingOptions:
    return trainer_pb2.TrainingOptions(block_size=64, batch_size=4, **values)


def run_job(channel: grpc.Channel, request: trainer_pb2.CreateTrainJobRequest) -> tuple[jobs_pb2.Job, list]:
    stub = trainer_pb2_grpc.TrainerServiceStub(channel)
    stub.CreateTrainJob(request, timeout=30)
    events: list[jobs_pb2.JobEvent] = []
    job = follow_job(channel, request.job_id, events.append)
    return job, events


@pytest.fixture
def workspace(tmp_path: Path) -> ArtifactStore:
    store = ArtifactStore(tmp_path / "ws")
    write_corpus(store, "clean/corpus.jsonl.zst", make_documents(120, seed=7, prefix="c"))
    write_sets(store, "export/q1")
    return store


def test_pretrain_then_writers_a_generator_can_load(serve_service: Serve, workspace: ArtifactStore) -> None:
    _, channel = serve_service("trainer", workspace=workspace.root)
    pretrain = trainer_pb2.CreateTrainJobRequest(
        job_id="pretrain-1",
        stage=trainer_pb2.TRAIN_STAGE_PRETRAIN,
        base="tiny",
        train=["clean/corpus.jsonl.zst"],
        output="models/base",
        options=options(max_steps=12),
    )
    job, events = run_job(channel, pretrain)
    assert job.state == State.STATE_SUCCEEDED, job.error
    progress = [
        e for e in events if e.kind == jobs_pb2.JobEvent.KIND_PROGRESS and "loss" in e.job.progress.counters
    ]
    assert progress and progress[-1].job.progress.done == 12
    counters = progress[-1].job.progress.counters
    assert {"step", "epoch", "loss", "learning_rate", "tokens_per_second", "eta_seconds"} <= set(counters)
    base_dir = workspace.path("models/base")
    marker = json.loads((base_dir / "supil_model.json").read_text())
    assert marker["kind"] == "base" and marker["source"] == "tiny"
    assert (base_dir / "model.safetensors").exists() and (base_dir / "tokenizer.json").exists()
    assert {o.role for o in job.outputs} == {"base", "metrics", "loss_curve"}
    assert not workspace.path("models/base.work").exists()  # work files go once the job succeeds

    writer = trainer_pb2.CreateTrainJobRequest(
        job_id="writer-q1",
        stage=trainer_pb2.TRAIN_STAGE_WRITER,
        base="models/base",
        train=["export/q1/train.jsonl.zst"],
        valid=["export/q1/valid.jsonl.zst"],
        output="writers/q1",
        query="함께라는 것은",
        options=options(epochs=2, lora=trainer_pb2.LoraOptions(r=4)),
    )
    job, _ = run_job(channel, writer)
    assert job.state == State.STATE_SUCCEEDED, job.error
    folder = workspace.path("writers/q1")
    info = json.loads((folder / "supil_writer.json").read_text())
    assert info["kind"] == "lora" and info["base"] == "models/base" and info["query"] == "함께라는 것은"
    assert info["train"] == ["export/q1/train.jsonl.zst"] and info["valid"] == ["export/q1/valid.jsonl.zst"]
    metrics = json.loads(workspace.path("writers/q1.metrics.json").read_text())
    assert len(metrics["epochs"]) == 2 and metrics["summary"]["best_valid_perplexity"] > 1
    assert workspace.path("writers/q1.loss.png").read_bytes().startswith(b"\x89PNG")

    # What the generator does: base from supil_writer.json, adapter from the folder, then sample.
    from peft import PeftModel
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(folder))
    model = PeftModel.from_pretrained(models.load_base(workspace, info["base"]).model, str(folder)).eval()
    prompt = tokenizer("나는 오늘", return_tensors="pt")
    torch.manual_seed(0)
    out = model.generate(
        **prompt, max_new_tokens=8, do_sample=True, top_k=30, pad_token_id=tokenizer.eos_token_id
    )
    assert out.shape[1] > prompt["input_ids"].shape[1]

    # Continued pretraining of an existing model (here: the base just made) on the corpus.
    again = trainer_pb2.CreateTrainJobRequest(
        job_id="pretrain-2",
        stage=trainer_pb2.TRAIN_STAGE_PRETRAIN,
        base="models/base",
        train=["clean/corpus.jsonl.zst"],
        output="models/base2",
        options=options(max_steps=2),
    )
    job, _ = run_job(channel, again)
    assert job.state == State.STATE_SUCCEEDED, job.error
    assert json.loads(workspace.path("models/base2/supil_model.json").read_text())["source"] == "models/base"

    full = trainer_pb2.CreateTrainJobRequest(
        job_id="writer-q1-full",
        stage=trainer_pb2.TRAIN_STAGE_WRITER,
        base="models/base",
        train=["export/q1/train.jsonl.zst"],
        valid=["export/q1/valid.jsonl.zst"],
        output="writers/q1-full",
        query="함께라는 것은",
        options=options(max_steps=4, freeze_layers=2),
    )
    job, _ = run_job(channel, full)
    assert job.state == State.STATE_SUCCEEDED, job.error
    info = json.loads(workspace.path("writers/q1-full/supil_writer.json").read_text())
    assert info["kind"] == "full" and info["freeze_layers"] == 2
    from transformers import AutoModelForCausalLM

    AutoModelForCausalLM.from_pretrained(str(workspace.path("writers/q1-full")))


@pytest.mark.parametrize(
    ("change", "code", "text"),
    [
        ({"valid": ["clean/corpus.jsonl.zst"]}, grpc.StatusCode.INVALID_ARGUMENT, "overlap"),
        ({"train": ["export/missing.jsonl.zst"]}, grpc.StatusCode.NOT_FOUND, "missing"),
        (
            {"options": trainer_pb2.TrainingOptions(learning_rate=2.0)},
            grpc.StatusCode.INVALID_ARGUMENT,
            "learning_rate",
        ),
        (
            {"options": trainer_pb2.TrainingOptions(batch_size=0)},
            grpc.StatusCode.INVALID_ARGUMENT,
            "batch_size",
        ),
        ({"base": "tiny"}, grpc.StatusCode.FAILED_PRECONDITION, "PRETRAIN"),
        ({"base": "models/none"}, grpc.StatusCode.NOT_FOUND, "models/none"),
        ({"output": "../escape"}, grpc.StatusCode.INVALID_ARGUMENT, "output|'..'"),
        (
            {"options": trainer_pb2.TrainingOptions(freeze_layers=1, lora=trainer_pb2.LoraOptions(r=4))},
            grpc.StatusCode.INVALID_ARGUMENT,
            "either",
        ),
    ],
)
def test_bad_requests_are_refused_before_a_job_starts(
    serve_service: Serve,
    workspace: ArtifactStore,
    change: dict,
    code: grpc.StatusCode,
    text: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import re

    monkeypatch.setenv(
        "HF_HUB_OFFLINE", "1"
    )  # no network here; a name that is no artifact is no cached model
    _, channel = serve_service("trainer", workspace=workspace.root)
    write_corpus(workspace, "clean/copy.jsonl.zst", make_documents(5, seed=7, prefix="c"))
    fields = {
        "job_id": "bad",
        "stage": trainer_pb2.TRAIN_STAGE_WRITER,
        "train": ["clean/copy.jsonl.zst"],
        "output": "writers/bad",
    }
    fields.update(change)
    if "base" not in change:
        # a real base so that only the changed field is wrong
        from tests.trainer.conftest import save_base

        save_base(workspace, "models/b", models.train_tiny_tokenizer(["나는 오늘 함께 걸었다."] * 20, 300))
        fields["base"] = "models/b"
    if "valid" in change:
        fields["train"], fields["valid"] = ["clean/corpus.jsonl.zst"], ["clean/copy.jsonl.zst"]
    stub = trainer_pb2_grpc.TrainerServiceStub(channel)
    with pytest.raises(grpc.RpcError) as err:
        stub.CreateTrainJob(trainer_pb2.CreateTrainJobRequest(**fields), timeout=30)
    assert err.value.code() == code
    assert re.search(text, err.value.details())


def test_trainer_config_fails_fast_naming_the_variable() -> None:
    from services.runtime import ConfigError
    from services.trainer.server import TrainerConfig

    assert TrainerConfig.from_env({}) == TrainerConfig("auto", 0)
    assert TrainerConfig.from_env({"SUPIL_TRAINER_THREADS": "1", "SUPIL_TRAINER_DEVICE": "cpu"}).threads == 1
    with pytest.raises(ConfigError, match="SUPIL_TRAINER_DEVICE"):
        TrainerConfig.from_env({"SUPIL_TRAINER_DEVICE": "tpu"})
    with pytest.raises(ConfigError, match="SUPIL_TRAINER_THREADS"):
        TrainerConfig.from_env({"SUPIL_TRAINER_THREADS": "many"})


def test_a_cancelled_job_resubmitted_resumes_and_ends_like_an_uninterrupted_one(
    serve_service: Serve, workspace: ArtifactStore
) -> None:
    from supil.v1 import jobs_pb2_grpc

    _, channel = serve_service("trainer", workspace=workspace.root)
    stub = trainer_pb2_grpc.TrainerServiceStub(channel)
    jobs = jobs_pb2_grpc.JobServiceStub(channel)

    def request(job_id: str, output: str) -> trainer_pb2.CreateTrainJobRequest:
        return trainer_pb2.CreateTrainJobRequest(
            job_id=job_id,
            stage=trainer_pb2.TRAIN_STAGE_PRETRAIN,
            base="tiny",
            train=["clean/corpus.jsonl.zst"],
            output=output,
            options=options(max_steps=40, save_every_steps=5),
        )

    interrupted = request("pre-int", "models/int")
    stub.CreateTrainJob(interrupted, timeout=30)

    seen: list[int] = []

    def cancel_early(event: jobs_pb2.JobEvent) -> None:
        seen.append(event.sequence)
        if event.kind == jobs_pb2.JobEvent.KIND_PROGRESS and event.job.progress.done >= 1:
            jobs.CancelJob(jobs_pb2.CancelJobRequest(job_id="pre-int"), timeout=10)

    job = follow_job(channel, "pre-int", cancel_early)
    assert job.state == State.STATE_CANCELLED
    assert workspace.exists("models/int.work/checkpoint")  # saved on the way out
    stub.CreateTrainJob(interrupted, timeout=30)  # same job_id and request: attempt 2
    job = follow_job(channel, "pre-int", after_sequence=max(seen))
    assert job.state == State.STATE_SUCCEEDED and job.attempt == 2, job.error
    resumed = json.loads(workspace.path("models/int.metrics.json").read_text())
    assert resumed["summary"]["resumed_from_step"] > 0

    job, _ = run_job(channel, request("pre-whole", "models/whole"))
    assert job.state == State.STATE_SUCCEEDED, job.error
    whole = json.loads(workspace.path("models/whole.metrics.json").read_text())
    assert [s["step"] for s in resumed["steps"]] == list(range(1, 41))
    for got, want in zip(resumed["steps"], whole["steps"], strict=True):
        assert got["loss"] == pytest.approx(want["loss"], abs=1e-4)
    assert resumed["summary"]["best_valid_loss"] == pytest.approx(
        whole["summary"]["best_valid_loss"], abs=1e-4
    )
