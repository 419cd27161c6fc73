"""The frozen prefix: a writer's frozen lower blocks run once per block of text, not once per epoch.

A writer trains only its upper blocks (freeze_layers) or adapters on them (LoRA, upper half by
default). Everything below, the input embeddings and the frozen lower blocks, then computes the same
activations for the same block of text in every epoch. `FrozenPrefix` keeps those activations (the
output of the last frozen block) the first time a block of text goes through, and from then on the
lower blocks are skipped: the last of them hands back the kept activations. The 2021 recipe (5 epochs,
lower half frozen) thus spends the lower half's forward pass once instead of five times, for training
blocks and validation blocks alike.

The frozen blocks run in eval mode while the cache is on (no dropout in them: a fixed feature
extractor), which is what makes their output reusable; the tiny preset has no dropout at all, so
there the result is the same as without the cache. The kept activations live in CPU memory, within
`TrainSettings.frozen_cache_mb`; a tensor (train or valid) whose activations would not fit runs
through the frozen blocks every epoch, as without the cache.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from typing import Any

import torch
from torch import nn

from services.runtime import InvalidArgument
from services.trainer.models import transformer_blocks

logger = logging.getLogger(__name__)


def _embeddings(model: nn.Module) -> list[nn.Module]:
    """The input embeddings (token, position): what feeds the lowest block."""
    return [m for m in model.modules() if isinstance(m, nn.Embedding)]


def frozen_depth(model: nn.Module) -> int:
    """How many lower blocks have nothing to train, with the input embeddings frozen too (else 0)."""
    try:
        blocks = transformer_blocks(model)
    except InvalidArgument:  # not a model with one stack of blocks: nothing to skip
        return 0
    if any(p.requires_grad for m in _embeddings(model) for p in m.parameters()):
        return 0
    depth = 0
    for block in blocks:
        if any(p.requires_grad for p in block.parameters()):
            break
        depth += 1
    return depth


def _pass_through(*args: Any, **kwargs: Any) -> Any:
    """A skipped block: hands its input hidden states on (they are replaced after the last one)."""
    return args[0] if args else kwargs["hidden_states"]


class FrozenPrefix:
    """Kept outputs of a model's frozen prefix, per row of one packed tensor (train or valid)."""

    def __init__(self, model: nn.Module, depth: int, rows: dict[str, int], budget_bytes: int) -> None:
        self.blocks = transformer_blocks(model)
        self.depth = depth
        self.prefix = _embeddings(model) + list(self.blocks[:depth])
        self.rows = rows
        self.budget = budget_bytes
        self.kept: dict[str, torch.Tensor] = {}
        self.filled: dict[str, torch.Tensor] = {
            name: torch.zeros(n, dtype=torch.bool) for name, n in rows.items()
        }
        self.off: set[str] = set()  # tensors whose activations are not kept (over the budget)

    @classmethod
    def attach(cls, model: nn.Module, rows: dict[str, int], budget_mb: int) -> FrozenPrefix | None:
        """A prefix cache for model if it has frozen lower blocks and the budget allows one."""
        if budget_mb <= 0:
            return None
        depth = frozen_depth(model)
        if depth == 0:
            return None
        return cls(model, depth, rows, budget_mb * 2**20)

    def _store(self, name: str, rows: torch.Tensor, hidden: Any) -> None:
        if not isinstance(hidden, torch.Tensor):  # a block kind that returns more than hidden states
            logger.info(
                "frozen prefix: block %d returns %s, not a tensor; not caching", self.depth - 1, type(hidden)
            )
            self.off.update(self.rows)
            return
        kept = self.kept.get(name)
        if kept is None:
            shape = (self.rows[name], *hidden.shape[1:])
            size = torch.Size(shape).numel() * hidden.element_size()
            used = sum(t.numel() * t.element_size() for t in self.kept.values())
            if used + size > self.budget:
                logger.info(
                    "frozen prefix: %s activations need %.0f MB beyond the %.0f MB budget "
                    "(frozen_cache_mb); the lower blocks run every epoch",
                    name,
                    size / 2**20,
                    self.budget / 2**20,
                )
                self.off.add(name)
                return
            pin = hidden.device.type == "cuda"
            kept = self.kept[name] = torch.empty(shape, dtype=hidden.dtype, pin_memory=pin)
        kept[rows] = hidden.detach().to("cpu")
        self.filled[name][rows] = True

    @contextlib.contextmanager
    def feeding(self, name: str, rows: torch.Tensor) -> Iterator[None]:
        """Around one forward pass of the packed rows `rows` of tensor `name`: skip the frozen
        blocks when every row's activations are kept, else keep them from this pass."""
        if name in self.off:
            yield
            return
        for module in self.prefix:
            module.train(False)  # deterministic: no dropout below the trained blocks
        last = self.blocks[self.depth - 1]
        kept = self.kept.get(name)
        if kept is not None and bool(self.filled[name][rows].all()):
            device = next(last.parameters()).device
            hidden = kept[rows].to(device, non_blocking=True)
            for block in self.blocks[: self.depth - 1]:
                block.forward = _pass_through  # type: ignore[method-assign]
            last.forward = lambda *args, **kwargs: hidden  # type: ignore[method-assign]
            try:
                yield
            finally:
                for block in self.blocks[: self.depth]:
                    del block.forward
            return

        def keep(_module: nn.Module, _args: Any, output: Any) -> None:
            self._store(name, rows, output)

        handle = last.register_forward_hook(keep)
        try:
            yield
        finally:
            handle.remove()
