"""The training loop: exact gradient accumulation, mixed precision, evaluation, checkpoints and resume."""

from __future__ import annotations

import contextlib
import io
import json
import logging
import math
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

import torch
from safetensors.torch import load_file, save_file
from torch import nn

from services.runtime import ArtifactStore, InvalidArgument, JobCancelled, NotFound, ResourceExhausted
from services.trainer.data import Packed
from services.trainer.prefix import FrozenPrefix

logger = logging.getLogger(__name__)

SCHEDULES = ("cosine", "linear", "constant")
PRECISIONS = ("auto", "fp32", "bf16", "fp16")


@dataclass
class TrainSettings:
    """Hyper-parameters of one training run (checked by check())."""

    epochs: float = 3.0  # may be fractional; ignored when max_steps is set
    max_steps: int | None = None  # optimizer steps
    learning_rate: float = 5e-4
    batch_size: int = 8  # blocks per micro-batch (per process)
    gradient_accumulation: int = 1  # micro-batches per optimizer step
    block_size: int = 128
    warmup_ratio: float = 0.05  # of the optimizer steps, linear warm-up
    weight_decay: float = 0.01  # on matrices only, never on norms and biases
    schedule: str = "cosine"  # after warm-up
    precision: str = "auto"  # bf16 where supported, fp16 + loss scaling on other GPUs, fp32 on CPU
    gradient_checkpointing: bool = False
    save_every_steps: int = 200  # also at every epoch end
    early_stopping_patience: int = 2  # epochs without a better valid loss; 0 turns it off
    # CPU memory for the frozen lower blocks' outputs, kept so those blocks run once per block of
    # text rather than once per epoch (services/trainer/prefix.py); 0 turns the cache off.
    frozen_cache_mb: int = 4096
    seed: int = 42
    max_grad_norm: float = 1.0

    def check(self) -> TrainSettings:
        """Raise InvalidArgument naming the first bad value; return self."""
        rules = [
            ("epochs", self.epochs > 0 and self.epochs <= 1000, "must be in (0, 1000]"),
            ("max_steps", self.max_steps is None or self.max_steps > 0, "must be positive"),
            ("learning_rate", 0 < self.learning_rate < 1, "must be in (0, 1)"),
            ("batch_size", 1 <= self.batch_size <= 4096, "must be 1..4096"),
            ("gradient_accumulation", 1 <= self.gradient_accumulation <= 4096, "must be 1..4096"),
            ("block_size", 8 <= self.block_size <= 131072, "must be 8..131072"),
            ("warmup_ratio", 0 <= self.warmup_ratio < 1, "must be in [0, 1)"),
            ("weight_decay", 0 <= self.weight_decay < 1, "must be in [0, 1)"),
            ("schedule", self.schedule in SCHEDULES, f"must be one of {', '.join(SCHEDULES)}"),
            ("precision", self.precision in PRECISIONS, f"must be one of {', '.join(PRECISIONS)}"),
            ("save_every_steps", self.save_every_steps >= 1, "must be at least 1"),
            ("early_stopping_patience", self.early_stopping_patience >= 0, "must not be negative"),
            ("frozen_cache_mb", 0 <= self.frozen_cache_mb <= 2**24, "must be 0..16777216 (MB)"),
            ("seed", 0 <= self.seed < 2**63, "must be in [0, 2^63)"),
            ("max_grad_norm", self.max_grad_norm > 0, "must be positive"),
        ]
        for name, ok, rule in rules:
            if not ok:
                raise InvalidArgument(f"{name} {rule}, got {getattr(self, name)!r}")
        return self


@dataclass
class Plan:
    """How many micro-batches and optimizer steps a run has, and where epochs and steps fall."""

    per_epoch: int  # micro-batches per epoch
    accumulation: int
    total_micro: int

    @classmethod
    def make(cls, n_blocks: int, batch: int, world: int, settings: TrainSettings) -> Plan:
        """The plan for n_blocks training blocks; refuses data smaller than one global micro-batch."""
        per_epoch = n_blocks // (batch * world)
        if per_epoch == 0:
            raise InvalidArgument(
                f"the training data packs into {n_blocks} blocks, fewer than one batch of "
                f"{batch * world}; lower batch_size or block_size, or give more data"
            )
        acc = settings.gradient_accumulation
        steps_per_epoch = math.ceil(per_epoch / acc)
        if settings.max_steps:
            full, rem = divmod(settings.max_steps, steps_per_epoch)
            total = full * per_epoch + min(rem * acc, per_epoch)
        else:
            total = max(1, round(settings.epochs * per_epoch))
        return cls(per_epoch, acc, total)

    def group(self, micro: int) -> tuple[int, int]:
        """(first micro-batch, size) of the accumulation group holding global micro-batch `micro`.

        Groups restart at every epoch; an epoch's (or the run's) last group may be shorter.
        """
        epoch, idx = divmod(micro, self.per_epoch)
        first = idx - idx % self.accumulation
        end = min(first + self.accumulation, self.per_epoch, self.total_micro - epoch * self.per_epoch)
        return epoch * self.per_epoch + first, end - first

    @property
    def total_steps(self) -> int:
        """Optimizer steps in the whole run."""
        full, rem = divmod(self.total_micro, self.per_epoch)
        return full * math.ceil(self.per_epoch / self.accumulation) + math.ceil(rem / self.accumulation)


@dataclass
class History:
    """Everything measured so far; saved in checkpoints so a resumed run reports the whole run."""

    steps: list[dict[str, float]] = field(default_factory=list)
    epochs: list[dict[str, float]] = field(default_factory=list)
    best_valid_loss: float | None = None
    best_epoch: int | None = None
    bad_epochs: int = 0
    stopped_early: bool = False
    tokens: int = 0


@dataclass
class Progress:
    """One progress report: after an optimizer step."""

    step: int
    total_steps: int
    epoch: float
    loss: float
    learning_rate: float
    tokens_per_second: float
    eta_seconds: float


@dataclass
class Hooks:
    """Optional callbacks from the loop (progress, cancellation, a test's view of each step)."""

    progress: Callable[[Progress], None] | None = None
    check_cancelled: Callable[[], None] | None = None
    after_step: Callable[[int, int], None] | None = None  # (step, micro-batches so far)
    after_micro: Callable[[int], None] | None = None  # (global micro-batch index)


def choose_precision(precision: str, device: torch.device) -> tuple[torch.dtype | None, Any]:
    """(autocast dtype or None for fp32, GradScaler or None) for a precision on a device."""
    if device.type == "cuda":
        if precision in ("auto", "bf16") and torch.cuda.is_bf16_supported():
            return torch.bfloat16, None
        if precision == "bf16":
            raise InvalidArgument("precision bf16: this GPU does not support bf16; use fp16 or auto")
        if precision in ("auto", "fp16"):
            # fp16 gradients underflow without loss scaling (the 2021 run's defect).
            return torch.float16, torch.amp.GradScaler("cuda")
        return None, None
    if precision == "fp16":
        raise InvalidArgument("precision fp16 needs a CUDA GPU; on CPU use auto (fp32) or bf16")
    if precision == "bf16":
        return torch.bfloat16, None
    return None, None


def oom_advice(exc: BaseException) -> ResourceExhausted:
    """The RESOURCE_EXHAUSTED error for an out-of-memory failure, with what to change."""
    first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
    return ResourceExhausted(
        f"out of memory while training ({first}); try: freeze more lower layers (freeze_layers), "
        "LoRA adapters (lora), gradient_checkpointing, a smaller block_size or batch_size "
        "(raise gradient_accumulation to keep the effective batch)"
    )


@contextlib.contextmanager
def oom_guard() -> Iterator[None]:
    """Turn torch/CUDA/host out-of-memory errors into ResourceExhausted with advice."""
    try:
        yield
    except (torch.OutOfMemoryError, MemoryError) as exc:
        raise oom_advice(exc) from None


def trainable_state(model: nn.Module) -> dict[str, torch.Tensor]:
    """The parameters that train (adapters, upper blocks, ...), as contiguous CPU tensors."""
    return {n: p.detach().to("cpu").contiguous() for n, p in model.named_parameters() if p.requires_grad}


def rng_state() -> dict[str, Any]:
    """Torch RNG state (CPU and every GPU): dropout draws continue exactly after a resume."""
    state: dict[str, Any] = {"cpu": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore what rng_state() captured."""
    torch.set_rng_state(state["cpu"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


class Checkpoints:
    """Resume state and best weights as folder artifacts under one prefix in the artifact store.

    `<prefix>/checkpoint`: trainable weights (safetensors), optimizer/scheduler/scaler/RNG state,
    data position and history (state.pt), the settings and the fingerprint of the run (run.json),
    plus any extra files (the tiny tokenizer). `<prefix>/best`: the best weights so far.
    """

    def __init__(
        self,
        store: ArtifactStore,
        prefix: str,
        fingerprint: str,
        *,
        job_id: str = "",
        extra_files: Callable[[str], None] | None = None,
    ) -> None:
        self.store = store
        self.prefix = prefix
        self.fingerprint = fingerprint
        self.job_id = job_id
        self.extra_files = extra_files
        self.saves = 0

    @property
    def checkpoint_name(self) -> str:
        """Artifact name of the resume checkpoint."""
        return f"{self.prefix}/checkpoint"

    @property
    def best_name(self) -> str:
        """Artifact name of the best weights."""
        return f"{self.prefix}/best"

    def save(self, model: nn.Module, state: dict[str, Any], settings: TrainSettings) -> None:
        """Replace the checkpoint atomically."""
        with self.store.open_dir(self.checkpoint_name, job_id=self.job_id, role="checkpoint") as out:
            save_file(trainable_state(model), str(out.path / "trainable.safetensors"))
            buffer = io.BytesIO()
            torch.save(state, buffer)
            (out.path / "state.pt").write_bytes(buffer.getvalue())
            run = {"fingerprint": self.fingerprint, "settings": asdict(settings), "micro": state["micro"]}
            (out.path / "run.json").write_text(json.dumps(run, indent=1), encoding="utf-8")
            if self.extra_files is not None:
                self.extra_files(str(out.path))
        self.saves += 1

    def load(self) -> tuple[dict[str, torch.Tensor], dict[str, Any]] | None:
        """(trainable weights, state) of a checkpoint made by this same run, or None."""
        if not self.store.exists(self.checkpoint_name):
            return None
        path = self.store.path(self.checkpoint_name)
        run = json.loads((path / "run.json").read_text(encoding="utf-8"))
        if run.get("fingerprint") != self.fingerprint:
            logger.info("checkpoint %s is from another run; starting afresh", self.checkpoint_name)
            return None
        state = torch.load(path / "state.pt", weights_only=True)
        return load_file(str(path / "trainable.safetensors")), state

    def folder(self) -> str | None:
        """Filesystem path of an existing checkpoint (for extra files), else None."""
        return str(self.store.path(self.checkpoint_name)) if self.store.exists(self.checkpoint_name) else None

    def save_best(self, model: nn.Module) -> None:
        """Replace the best weights."""
        with self.store.open_dir(self.best_name, job_id=self.job_id, role="best") as out:
            save_file(trainable_state(model), str(out.path / "trainable.safetensors"))

    def load_best(self) -> dict[str, torch.Tensor]:
        """The best weights saved by save_best."""
        if not self.store.exists(self.best_name):
            raise NotFound(f"best weights {self.best_name!r} are missing")
        return load_file(str(self.store.path(self.best_name) / "trainable.safetensors"))

    def clear(self) -> None:
        """Remove the checkpoint and best weights (after a successful run)."""
        for name in (self.checkpoint_name, self.best_name):
            if self.store.exists(name):
                self.store.remove(name)
        with contextlib.suppress(OSError):  # only if nothing else lives there
            self.store.path(self.prefix).rmdir()


@dataclass
class TrainResult:
    """What a finished run measured."""

    history: History
    plan: Plan
    steps: int
    seconds: float
    tokens_per_second: float
    resumed_from_step: int
    best_restored: bool


def load_trainable(model: nn.Module, tensors: dict[str, torch.Tensor]) -> None:
    """Copy saved trainable weights into model, refusing any that do not belong to it."""
    result = model.load_state_dict(tensors, strict=False)
    if result.unexpected_keys:
        raise InvalidArgument(f"checkpoint weights do not fit the model: {result.unexpected_keys[:3]}")


def distributed() -> tuple[int, int]:
    """(rank, world size) under torchrun/accelerate launch; (0, 1) otherwise."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1 and torch.distributed.is_available():
        if not torch.distributed.is_initialized():
            backend = "nccl" if torch.cuda.is_available() else "gloo"
            torch.distributed.init_process_group(backend)
        return torch.distributed.get_rank(), world
    return 0, 1


IGNORE_INDEX = -100


class _NextTokenCrossEntropy(torch.autograd.Function):
    """Mean cross-entropy of (N, V) logits against N targets (IGNORE_INDEX skipped).

    The same value and gradient as F.cross_entropy, computed with less memory traffic: the forward
    keeps only the log-probabilities, and the backward turns that buffer into the gradient in place
    (softmax - one-hot), instead of zero-filling an (N, V) gradient for nll_loss and running
    log_softmax's backward over another. On the tiny preset the (N, 8000) output layer is most of a
    step, so this takes 6-10% off every training step (docs/trainer.md).
    """

    @staticmethod
    def forward(ctx: Any, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        logp = torch.log_softmax(logits, dim=-1)
        keep = targets != IGNORE_INDEX
        safe = targets.masked_fill(~keep, 0)
        count = keep.sum().clamp_min(1)
        picked = logp.gather(1, safe.unsqueeze(1)).squeeze(1)
        loss = -picked.masked_fill(~keep, 0.0).sum() / count  # masked, not multiplied: -inf * 0 is nan
        ctx.save_for_backward(logp, safe, keep, count)
        ctx.used = False
        return loss

    @staticmethod
    def backward(ctx: Any, grad_loss: torch.Tensor) -> tuple[torch.Tensor, None]:
        if ctx.used:  # the in-place trick below consumes the saved buffer
            raise RuntimeError("next-token cross-entropy: backward may run only once (no retain_graph)")
        ctx.used = True
        logp, safe, keep, count = ctx.saved_tensors
        grad = logp.exp_()  # softmax, in the log-probabilities' own buffer
        grad.scatter_add_(1, safe.unsqueeze(1), grad.new_full((grad.shape[0], 1), -1.0))
        grad.mul_(((grad_loss / count) * keep).unsqueeze(1).to(grad.dtype))
        return grad, None


def causal_lm_loss(logits: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
    """Mean next-token loss of (B, T, V) logits for (B, T) ids: the value HF computes for labels=ids.

    Position t predicts ids[t + 1]; the last position of each row has no target. Computed in fp32.
    """
    targets = torch.cat([ids[:, 1:], ids.new_full((ids.shape[0], 1), IGNORE_INDEX)], dim=1).reshape(-1)
    flat = logits.reshape(-1, logits.shape[-1])
    if flat.dtype != torch.float32:
        flat = flat.float()
    if torch.is_grad_enabled() and flat.requires_grad:
        return _NextTokenCrossEntropy.apply(flat, targets)
    return nn.functional.cross_entropy(flat, targets, ignore_index=IGNORE_INDEX)


def evaluate(
    model: nn.Module,
    blocks: torch.Tensor,
    batch: int,
    device: torch.device,
    amp: Any,
    prefix: FrozenPrefix | None = None,
) -> float:
    """Mean next-token loss over every valid token (perplexity = exp of it)."""
    was_training = model.training
    model.eval()
    total = 0.0
    count = 0
    with torch.no_grad():
        for start in range(0, len(blocks), batch):
            ids = blocks[start : start + batch].to(device)
            rows = torch.arange(start, start + len(ids))
            feeding = prefix.feeding("valid", rows) if prefix is not None else contextlib.nullcontext()
            with feeding, _autocast(device, amp):
                logits = model(input_ids=ids).logits
            loss = causal_lm_loss(logits, ids)
            n = ids.shape[0] * (ids.shape[1] - 1)
            total += float(loss) * n
            count += n
    model.train(was_training)
    return total / max(count, 1)


def _autocast(device: torch.device, amp: torch.dtype | None) -> contextlib.AbstractContextManager:
    if amp is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=amp)


def _optimizer(model: nn.Module, settings: TrainSettings, device: torch.device) -> torch.optim.Optimizer:
    decay, no_decay = [], []
    for _, param in model.named_parameters():
        if param.requires_grad:
            (decay if param.ndim >= 2 else no_decay).append(param)
    if not decay and not no_decay:
        raise InvalidArgument("nothing to train: every parameter is frozen")
    groups = [
        {"params": decay, "weight_decay": settings.weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]
    return torch.optim.AdamW(groups, lr=settings.learning_rate, fused=device.type == "cuda")


def train(
    model: nn.Module,
    data: Packed,
    settings: TrainSettings,
    *,
    device: torch.device | None = None,
    checkpoints: Checkpoints | None = None,
    hooks: Hooks | None = None,
) -> TrainResult:
    """Train model in place on packed blocks; at the end the model holds the best weights.

    Optimizer steps happen after exactly `gradient_accumulation` micro-batches (an epoch's last group
    may be shorter and is averaged over its own size). Validation loss is measured at every epoch end
    (and at the end of a run that stops mid-epoch). A checkpoint is written every save_every_steps
    and at every epoch end; if `checkpoints` holds one from the same run, training continues from it.
    """
    from transformers import get_scheduler

    settings.check()
    hooks = hooks or Hooks()
    device = device or torch.device("cpu")
    rank, world = distributed()
    amp, scaler = choose_precision(settings.precision, device)
    torch.manual_seed(settings.seed)

    model.to(device)
    if settings.gradient_checkpointing:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    if hasattr(model, "config"):
        model.config.use_cache = False
    model.train()
    plan = Plan.make(len(data.train), settings.batch_size, world, settings)
    optimizer = _optimizer(model, settings, device)
    total_steps = plan.total_steps
    scheduler = get_scheduler(
        "constant_with_warmup" if settings.schedule == "constant" else settings.schedule,
        optimizer,
        num_warmup_steps=math.ceil(settings.warmup_ratio * total_steps),
        num_training_steps=total_steps,
    )
    wrapped: nn.Module = model
    if world > 1:
        wrapped = nn.parallel.DistributedDataParallel(
            model, device_ids=[device.index] if device.type == "cuda" else None
        )

    # The frozen lower blocks' outputs, kept from the first pass over each block of text.
    prefix = FrozenPrefix.attach(
        model, {"train": len(data.train), "valid": len(data.valid)}, settings.frozen_cache_mb
    )
    if prefix is not None:
        logger.info("frozen prefix: the lower %d blocks run once per block of text", prefix.depth)

    history = History()
    micro = step = 0
    resumed = checkpoints.load() if checkpoints is not None else None
    if resumed is not None:
        tensors, state = resumed
        load_trainable(model, tensors)
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        if scaler is not None and state.get("scaler"):
            scaler.load_state_dict(state["scaler"])
        set_rng_state(state["rng"])
        history = History(**state["history"])
        micro, step = state["micro"], state["step"]
        logger.info("resuming at optimizer step %d (micro-batch %d of %d)", step, micro, plan.total_micro)
    resumed_from = step

    def save() -> None:
        if checkpoints is None or rank != 0:
            return
        state = {
            "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict(),
            "scaler": scaler.state_dict() if scaler is not None else None,
            "rng": rng_state(),
            "history": asdict(history),
            "micro": micro,
            "step": step,
        }
        checkpoints.save(model, state, settings)

    bs = settings.batch_size
    tokens_per_micro = bs * settings.block_size * world
    order: torch.Tensor | None = None
    order_epoch = -1
    started = time.perf_counter()
    tokens_since_start = 0
    group_loss = 0.0
    last_report = 0.0
    best_in_memory: dict[str, torch.Tensor] | None = None
    with oom_guard():
        while micro < plan.total_micro:
            epoch, idx = divmod(micro, plan.per_epoch)
            if epoch != order_epoch:
                # Each epoch's order depends only on (seed, epoch), so a resumed run sees the same data.
                gen = torch.Generator().manual_seed(settings.seed * 1_000_003 + epoch)
                order = torch.randperm(len(data.train), generator=gen)
                order_epoch = epoch
            assert order is not None
            first, size = plan.group(micro)
            offset = (idx * world + rank) * bs
            rows = order[offset : offset + bs]
            ids = data.train[rows].to(device)
            last_in_group = micro == first + size - 1
            sync = contextlib.nullcontext() if (world == 1 or last_in_group) else wrapped.no_sync()
            feeding = prefix.feeding("train", rows) if prefix is not None else contextlib.nullcontext()
            with sync:
                with feeding, _autocast(device, amp):
                    logits = wrapped(input_ids=ids).logits
                loss = causal_lm_loss(logits, ids)
                scaled = loss / size
                (scaler.scale(scaled) if scaler is not None else scaled).backward()
            group_loss += float(loss.detach()) / size
            micro += 1
            tokens_since_start += tokens_per_micro
            history.tokens += tokens_per_micro
            if hooks.after_micro is not None:
                hooks.after_micro(micro - 1)
            if last_in_group:
                if scaler is not None:
                    scaler.unscale_(optimizer)
                torch.nn.utils.clip_grad_norm_(
                    [p for p in model.parameters() if p.requires_grad], settings.max_grad_norm
                )
                if scaler is not None:
                    scaler.step(optimizer)
                    scaler.update()
                else:
                    optimizer.step()
                lr = scheduler.get_last_lr()[0]
                scheduler.step()
                optimizer.zero_grad(set_to_none=True)
                step += 1
                elapsed = time.perf_counter() - started
                tps = tokens_since_start / elapsed if elapsed > 0 else 0.0
                done_steps = step - resumed_from
                eta = elapsed / done_steps * (total_steps - step) if done_steps else 0.0
                history.steps.append(
                    {"step": step, "epoch": micro / plan.per_epoch, "loss": group_loss, "learning_rate": lr}
                )
                if hooks.after_step is not None:
                    hooks.after_step(step, micro)
                now = time.perf_counter()
                if hooks.progress is not None and (now - last_report >= 0.5 or step == total_steps):
                    last_report = now
                    hooks.progress(
                        Progress(step, total_steps, micro / plan.per_epoch, group_loss, lr, tps, eta)
                    )
                group_loss = 0.0
                epoch_end = micro % plan.per_epoch == 0 or micro == plan.total_micro
                if epoch_end:
                    valid_loss = evaluate(model, data.valid, bs, device, amp, prefix)
                    train_losses = [s["loss"] for s in history.steps if s["epoch"] > epoch]
                    history.epochs.append(
                        {
                            "epoch": micro / plan.per_epoch,
                            "step": step,
                            "train_loss": sum(train_losses) / max(len(train_losses), 1),
                            "valid_loss": valid_loss,
                            "valid_perplexity": math.exp(min(valid_loss, 50.0)),
                        }
                    )
                    logger.info("epoch %.2f: valid loss %.4f", micro / plan.per_epoch, valid_loss)
                    if history.best_valid_loss is None or valid_loss < history.best_valid_loss:
                        history.best_valid_loss = valid_loss
                        history.best_epoch = len(history.epochs)
                        history.bad_epochs = 0
                        if checkpoints is not None and rank == 0:
                            checkpoints.save_best(model)
                        elif checkpoints is None:
                            best_in_memory = trainable_state(model)
                    else:
                        history.bad_epochs += 1
                    patience = settings.early_stopping_patience
                    if patience and history.bad_epochs >= patience and micro < plan.total_micro:
                        history.stopped_early = True
                        logger.info("early stop after %d epochs without improvement", history.bad_epochs)
                        save()
                        break
                if epoch_end or step % settings.save_every_steps == 0:
                    save()
                if hooks.check_cancelled is not None:
                    try:
                        hooks.check_cancelled()
                    except JobCancelled:
                        if not epoch_end and step % settings.save_every_steps != 0:
                            save()  # stop cleanly: the next attempt continues from here
                        raise
    seconds = time.perf_counter() - started
    best_restored = False
    if history.best_epoch is not None and history.best_epoch != len(history.epochs):
        best = checkpoints.load_best() if checkpoints is not None else best_in_memory
        if best is not None:
            load_trainable(model, best)
            best_restored = True
    return TrainResult(
        history=history,
        plan=plan,
        steps=step,
        seconds=seconds,
        tokens_per_second=tokens_since_start / seconds if seconds > 0 else 0.0,
        resumed_from_step=resumed_from,
        best_restored=best_restored,
    )
