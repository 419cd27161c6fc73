"""The metrics artifact of a training run: the numbers as JSON and a loss-curve PNG."""

from __future__ import annotations

import io
import math
from dataclasses import asdict
from typing import Any

from services.trainer.engine import History, TrainResult, TrainSettings


def metrics_record(
    stage: str, result: TrainResult, settings: TrainSettings, counts: dict[str, int], marker: dict[str, Any]
) -> dict[str, Any]:
    """Loss and perplexity per step and per epoch, the best epoch, and a summary of the run."""
    history = result.history
    best = history.best_valid_loss
    last = history.steps[-1]["loss"] if history.steps else float("nan")
    summary = {
        "steps": result.steps,
        "epochs": history.epochs[-1]["epoch"] if history.epochs else 0.0,
        "final_train_loss": last,
        "best_valid_loss": best if best is not None else float("nan"),
        "best_valid_perplexity": math.exp(min(best, 50.0)) if best is not None else float("nan"),
        "best_epoch": history.best_epoch or 0,
        "tokens_trained": history.tokens,
        "tokens_per_second": result.tokens_per_second,
        "seconds": result.seconds,
        "trainable_parameters": counts["trainable"],
        "total_parameters": counts["total"],
        "resumed_from_step": result.resumed_from_step,
    }
    return {
        "stage": stage,
        "summary": summary,
        "stopped_early": history.stopped_early,
        "best_restored": result.best_restored,
        "steps": history.steps,
        "epochs": history.epochs,
        "settings": asdict(settings),
        "output": marker,
    }


def loss_curve_png(history: History, title: str) -> bytes:
    """Training loss per step and validation loss per epoch, as PNG bytes (matplotlib, Agg)."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7, 4), dpi=100)
    ax = fig.add_subplot()
    if history.steps:
        ax.plot(
            [s["epoch"] for s in history.steps], [s["loss"] for s in history.steps], label="train loss", lw=1
        )
    if history.epochs:
        ax.plot(
            [e["epoch"] for e in history.epochs],
            [e["valid_loss"] for e in history.epochs],
            "o-",
            label="valid loss",
        )
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss (nats/token)")
    ax.set_title(f"{title} training")
    ax.grid(alpha=0.3)
    ax.legend()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return buffer.getvalue()
