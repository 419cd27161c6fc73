"""One training job end to end: data, model, training, and the base/writer folder artifacts."""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import torch

from services.runtime import ArtifactStore, InvalidArgument, JobContext
from services.runtime.jobs import request_digest
from services.trainer import models
from services.trainer.data import check_disjoint, pack_sets, read_documents, split_holdout
from services.trainer.engine import Checkpoints, Hooks, Progress, TrainResult, TrainSettings, train
from services.trainer.metrics import loss_curve_png, metrics_record
from supil.v1 import trainer_pb2

logger = logging.getLogger(__name__)

PRETRAIN = trainer_pb2.TRAIN_STAGE_PRETRAIN
WRITER = trainer_pb2.TRAIN_STAGE_WRITER
PRECISION_NAMES = {
    trainer_pb2.PRECISION_UNSPECIFIED: "auto",
    trainer_pb2.PRECISION_AUTO: "auto",
    trainer_pb2.PRECISION_FP32: "fp32",
    trainer_pb2.PRECISION_BF16: "bf16",
    trainer_pb2.PRECISION_FP16: "fp16",
}


@dataclass
class WriterMode:
    """How a writer trains: LoRA settings, or the number of frozen lower blocks (None = half)."""

    lora: bool
    freeze_layers: int | None
    lora_r: int = 0
    lora_alpha: float = 0.0
    lora_dropout: float = 0.05
    lora_targets: tuple[str, ...] = ()
    lora_layers: tuple[int, ...] = ()


def default_learning_rate(stage: int, base: str, lora: bool) -> float:
    """The stage's default learning rate (see docs/trainer.md)."""
    if stage == PRETRAIN:
        return 1e-3 if base == "tiny" else 5e-5
    return 1e-3 if lora else 3e-4


def settings_from_request(request: trainer_pb2.CreateTrainJobRequest) -> TrainSettings:
    """TrainSettings from the request's options with stage defaults; InvalidArgument when bad."""
    o = request.options
    lora = o.HasField("lora")
    values: dict[str, Any] = {
        "epochs": o.epochs if o.HasField("epochs") else (1.0 if request.stage == PRETRAIN else 3.0),
        "max_steps": o.max_steps if o.HasField("max_steps") else None,
        "learning_rate": o.learning_rate
        if o.HasField("learning_rate")
        else default_learning_rate(request.stage, request.base, lora),
        "precision": PRECISION_NAMES.get(o.precision, "auto"),
        "gradient_checkpointing": o.gradient_checkpointing,
    }
    for name in (
        "batch_size",
        "gradient_accumulation",
        "block_size",
        "warmup_ratio",
        "weight_decay",
        "save_every_steps",
        "early_stopping_patience",
        "seed",
    ):
        if o.HasField(name):
            values[name] = getattr(o, name)
    return TrainSettings(**values).check()


def writer_mode(request: trainer_pb2.CreateTrainJobRequest) -> WriterMode:
    """The writer's training mode from the request (freeze_layers and lora are exclusive)."""
    o = request.options
    lora = o.HasField("lora")
    freeze = o.freeze_layers if o.HasField("freeze_layers") else None
    if lora and freeze is not None:
        raise InvalidArgument("choose either options.freeze_layers or options.lora, not both")
    if freeze is not None and freeze < 0:
        raise InvalidArgument(f"freeze_layers must not be negative, got {freeze}")
    if lora:
        if o.lora.r < 0 or o.lora.alpha < 0 or not 0 <= o.lora.dropout < 1:
            raise InvalidArgument("lora: r and alpha must not be negative and dropout must be in [0, 1)")
        return WriterMode(
            True,
            None,
            o.lora.r,
            o.lora.alpha,
            o.lora.dropout,
            tuple(o.lora.target_modules),
            tuple(o.lora.layers),
        )
    return WriterMode(False, freeze)


def _max_positions(model: Any) -> int | None:
    config = model.config
    for name in ("n_positions", "max_position_embeddings"):
        value = getattr(config, name, None)
        if isinstance(value, int):
            return value
    return None


def run_train_job(
    ctx: JobContext, store: ArtifactStore, request: trainer_pb2.CreateTrainJobRequest, device: torch.device
) -> TrainResult:
    """Train what the request asks for and write its output folder, metrics JSON and loss curve."""
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # bars belong on a terminal, not in a service's JSON log
    settings = settings_from_request(request)
    stage_name = "pretrain" if request.stage == PRETRAIN else "writer"
    train_docs = read_documents(store, request.train)
    if request.valid:
        valid_docs = read_documents(store, request.valid)
        check_disjoint(train_docs, valid_docs)
    else:
        train_docs, valid_docs = split_holdout(train_docs)
        ctx.log(
            f"no valid set given: holding out {len(valid_docs)} of {len(train_docs) + len(valid_docs)} documents"
        )
    if not train_docs:
        raise InvalidArgument("the training artifacts hold no documents")

    checkpoints = Checkpoints(
        store, f"{request.output}.work", f"{ctx.job_id}:{request_digest(request)}", job_id=ctx.job_id
    )
    mode: WriterMode | None = None
    lora_used: dict[str, Any] | None = None
    if request.stage == PRETRAIN and request.base == "tiny":
        previous = checkpoints.folder()
        if previous is not None and (Path(previous) / "tokenizer.json").exists():
            from transformers import AutoTokenizer

            tokenizer = AutoTokenizer.from_pretrained(previous)  # the run's own tokenizer, for resume
        else:
            ctx.progress(message="training the tiny preset's ByteLevel BPE tokenizer")
            tokenizer = models.train_tiny_tokenizer(d.text for d in train_docs)
        # The preset's 256 positions grow to fit a longer block_size instead of refusing it.
        preset = replace(models.TINY, n_positions=max(models.TINY.n_positions, settings.block_size))
        model = models.tiny_model(tokenizer, preset, seed=settings.seed)
        base = models.LoadedBase(model, tokenizer, "tiny")
    else:
        base = models.load_base(store, request.base, trust_remote_code=request.trust_remote_code)
        model = base.model
        tokenizer = base.tokenizer
    checkpoints.extra_files = tokenizer.save_pretrained

    max_positions = _max_positions(model)
    if max_positions is not None and settings.block_size > max_positions:
        raise InvalidArgument(
            f"block_size {settings.block_size} exceeds the model's {max_positions} positions"
        )
    if request.stage == WRITER:
        mode = writer_mode(request)
        if mode.lora:
            lora_used = models.lora_settings(
                model,
                mode.lora_r,
                mode.lora_alpha,
                mode.lora_dropout,
                list(mode.lora_targets),
                list(mode.lora_layers),
            )
            # LoRA's A matrices start random: seed them, so the same request trains the same writer.
            torch.manual_seed(settings.seed)
            model = models.add_lora(model, lora_used)
        else:
            n_blocks = len(models.transformer_blocks(model))
            if mode.freeze_layers is None:
                mode.freeze_layers = n_blocks // 2  # the 2021 team froze the lower half
            models.freeze_lower_blocks(model, mode.freeze_layers)
    counts = models.parameter_counts(model)
    ctx.log(f"{stage_name}: {counts['trainable']:,} of {counts['total']:,} parameters train on {device}")

    packed = pack_sets(tokenizer, train_docs, valid_docs, settings.block_size)
    ctx.log(
        f"packed {packed.train_docs} train documents into {len(packed.train)} blocks of "
        f"{settings.block_size} tokens; {packed.valid_docs} valid documents into {len(packed.valid)}"
    )

    def report(p: Progress) -> None:
        ctx.progress(
            p.step,
            total=p.total_steps,
            unit="steps",
            message=f"epoch {p.epoch:.2f} step {p.step}/{p.total_steps} loss {p.loss:.4f}",
            counters={
                "step": p.step,
                "epoch": p.epoch,
                "loss": p.loss,
                "learning_rate": p.learning_rate,
                "tokens_per_second": p.tokens_per_second,
                "eta_seconds": p.eta_seconds,
            },
        )

    result = train(
        model,
        packed,
        settings,
        device=device,
        checkpoints=checkpoints,
        hooks=Hooks(progress=report, check_cancelled=ctx.check_cancelled),
    )
    if result.resumed_from_step:
        ctx.log(f"resumed from the checkpoint at step {result.resumed_from_step}")
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        torch.distributed.barrier()
        if torch.distributed.get_rank() != 0:
            return result  # rank 0 writes the outputs

    marker: dict[str, Any]
    if request.stage == PRETRAIN:
        role = "base"
        marker = {
            "kind": "base",
            "source": base.source,
            "model_type": model.config.model_type,
            "parameters": counts["total"],
            "block_size": settings.block_size,
            "train": list(request.train),
            "valid": list(request.valid),
            "job_id": ctx.job_id,
        }
        marker_name = models.MODEL_MARKER
    else:
        role = "writer"
        assert mode is not None
        marker = {
            "kind": "lora" if mode.lora else "full",
            "base": request.base,
            "query": request.query,
            "train": list(request.train),
            "valid": list(request.valid),
            "block_size": settings.block_size,
            "freeze_layers": mode.freeze_layers,
            "lora": lora_used,
            "job_id": ctx.job_id,
        }
        marker_name = models.WRITER_MARKER
    model.to("cpu")
    with store.open_dir(request.output, job_id=ctx.job_id, role=role) as out:
        model.save_pretrained(str(out.path))  # safetensors; peft saves only the adapter
        tokenizer.save_pretrained(str(out.path))
        (out.path / marker_name).write_text(
            json.dumps(marker, ensure_ascii=False, indent=1), encoding="utf-8"
        )
    assert out.entry is not None
    ctx.add_output(out.entry, role)

    record = metrics_record(stage_name, result, settings, counts, marker)
    metrics_entry = store.write_bytes(
        f"{request.output}.metrics.json",
        json.dumps(record, ensure_ascii=False, indent=1).encode("utf-8"),
        job_id=ctx.job_id,
        role="metrics",
    )
    ctx.add_output(metrics_entry, "metrics")
    png_entry = store.write_bytes(
        f"{request.output}.loss.png",
        loss_curve_png(result.history, stage_name),
        job_id=ctx.job_id,
        role="loss_curve",
    )
    ctx.add_output(png_entry, "loss_curve")
    ctx.set_metrics(**{k: v for k, v in record["summary"].items() if isinstance(v, int | float)})
    checkpoints.clear()
    return result


def settings_summary(settings: TrainSettings) -> dict[str, Any]:
    """The settings as plain data (for metrics and logs)."""
    return asdict(settings)
