"""A lean incremental forward pass for GPT-2 writers: the same arithmetic as transformers, less overhead.

transformers' GPT-2 forward spends most of a decoding step on Python around the arithmetic (mask
building, output capturing, module hooks); for small writers on a CPU that is most of the time. This
runs the same weights through the same operations on a preallocated KV cache, batched, with left
padding. It covers plain GPT2LMHeadModel networks (full writers); LoRA writers go through peft.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F


def supports(model: Any) -> bool:
    """True if model is a plain GPT-2 LM this module reproduces exactly."""
    from transformers import GPT2LMHeadModel

    if type(model) is not GPT2LMHeadModel:
        return False
    c = model.config
    return (
        c.activation_function in ("gelu_new", "gelu_pytorch_tanh")
        and c.scale_attn_weights
        and not c.scale_attn_by_inverse_layer_idx
        and not c.reorder_and_upcast_attn
    )


class FastGPT2:
    """Prefill and one-token steps over a batch, on a KV cache sized for the round."""

    def __init__(self, model: Any) -> None:
        t = model.transformer
        self.wte = t.wte.weight
        self.wpe = t.wpe.weight
        self.head = model.lm_head.weight
        self.eps = model.config.layer_norm_epsilon
        self.heads = model.config.n_head
        self.layers = [
            (
                (b.ln_1.weight, b.ln_1.bias),
                (b.attn.c_attn.weight, b.attn.c_attn.bias),
                (b.attn.c_proj.weight, b.attn.c_proj.bias),
                (b.ln_2.weight, b.ln_2.bias),
                (b.mlp.c_fc.weight, b.mlp.c_fc.bias),
                (b.mlp.c_proj.weight, b.mlp.c_proj.bias),
            )
            for b in t.h
        ]
        self.ln_f = (t.ln_f.weight, t.ln_f.bias)
        self.head_t = self.head.t()
        self.width = self.wte.shape[1]
        self.device = self.wte.device  # every tensor made here lives beside the weights (CPU or GPU)
        self.first = 0  # batch of one: the first valid column (its keys are one contiguous run)
        self.position = 0  # batch of one: the position of the last token
        self.k: list[torch.Tensor] = []
        self.v: list[torch.Tensor] = []
        self.valid = torch.zeros(0)
        self.length = 0
        self.positions = torch.zeros(0)

    def _block(self, h: torch.Tensor, i: int, layer: tuple, mask: torch.Tensor, start: int) -> torch.Tensor:
        ln1, attn, proj, ln2, fc, out = layer
        batch, steps, _ = h.shape
        a = F.layer_norm(h, (self.width,), ln1[0], ln1[1], self.eps)
        qkv = torch.addmm(attn[1], a.reshape(-1, self.width), attn[0]).view(batch, steps, 3, self.heads, -1)
        q, k, v = qkv.permute(2, 0, 3, 1, 4)  # each (batch, heads, steps, head_dim)
        end = start + steps
        self.k[i][:, :, start:end] = k
        self.v[i][:, :, start:end] = v
        o = F.scaled_dot_product_attention(q, self.k[i][:, :, :end], self.v[i][:, :, :end], attn_mask=mask)
        o = o.transpose(1, 2).reshape(-1, self.width)
        h = h + torch.addmm(proj[1], o, proj[0]).view(batch, steps, -1)
        m = F.layer_norm(h, (self.width,), ln2[0], ln2[1], self.eps).reshape(-1, self.width)
        m = F.gelu(torch.addmm(fc[1], m, fc[0]), approximate="tanh")
        return h + torch.addmm(out[1], m, out[0]).view(batch, steps, -1)

    def _logits(self, h: torch.Tensor) -> torch.Tensor:
        h = F.layer_norm(h, (self.width,), self.ln_f[0], self.ln_f[1], self.eps)
        return h @ self.head.T

    def prefill(self, input_ids: torch.Tensor, mask: torch.Tensor, capacity: int) -> torch.Tensor:
        """Encode left-padded prompts (mask 1 for real tokens); returns the last position's logits."""
        batch, steps = input_ids.shape
        total = steps + capacity
        head_dim = self.width // self.heads
        dtype, device = self.wte.dtype, self.device
        input_ids, mask = input_ids.to(device), mask.to(device)
        self.k = [
            torch.zeros(batch, self.heads, total, head_dim, dtype=dtype, device=device) for _ in self.layers
        ]
        self.v = [
            torch.zeros(batch, self.heads, total, head_dim, dtype=dtype, device=device) for _ in self.layers
        ]
        self.valid = torch.zeros(batch, total, dtype=torch.bool, device=device)
        self.valid[:, :steps] = mask.bool()
        positions = (mask.cumsum(-1) - 1).clamp(min=0)
        self.positions = positions[:, -1].clone()
        self.length = steps
        self.first = int(steps - mask[0].sum()) if batch == 1 else 0
        self.position = int(self.positions[0])
        causal = torch.ones(steps, steps, dtype=torch.bool, device=device).tril()
        # Padding queries attend to themselves only, so no row of the softmax is empty (no NaN).
        attend = (causal.unsqueeze(0) & self.valid[:, None, :steps]) | torch.eye(
            steps, dtype=torch.bool, device=device
        )
        attend = attend.unsqueeze(1)
        h = F.embedding(input_ids, self.wte) + F.embedding(positions, self.wpe)
        for i, layer in enumerate(self.layers):
            h = self._block(h, i, layer, attend, 0)
        return self._logits(h[:, -1:, :])[:, 0, :]

    def replace_row(self, row: int, ids: list[int]) -> torch.Tensor | None:
        """Give one row a fresh context in place (right-aligned before the next column); returns its logits.

        The other rows are untouched. None when the context does not fit before the current column.
        """
        n = len(ids)
        if n == 0 or n > self.length:
            return None
        single = FastGPT2.__new__(FastGPT2)
        single.__dict__.update(self.__dict__)
        logits = single.prefill(
            torch.tensor([ids]), torch.ones(1, n, dtype=torch.long), 0
        )  # moved by prefill
        start = self.length - n
        for i in range(len(self.layers)):
            self.k[i][row, :, start : self.length] = single.k[i][0, :, :n]
            self.v[i][row, :, start : self.length] = single.v[i][0, :, :n]
        self.valid[row, :] = False
        self.valid[row, start : self.length] = True
        self.positions[row] = n - 1
        self.first = start
        self.position = n - 1
        return logits[0]

    def step(self, tokens: torch.Tensor | list[int]) -> torch.Tensor:
        """Append one token per row; returns the next logits (batch, vocab)."""
        start = self.length
        if self.k[0].shape[0] == 1:
            return self._step_single(int(tokens[0]), start)
        if not isinstance(tokens, torch.Tensor):
            tokens = torch.tensor(tokens, dtype=torch.long)
        tokens = tokens.to(self.device)
        self.valid[:, start] = True
        self.positions = self.positions + 1
        attend = self.valid[:, None, None, : start + 1]
        h = F.embedding(tokens.view(-1, 1), self.wte) + F.embedding(self.positions.view(-1, 1), self.wpe)
        for i, layer in enumerate(self.layers):
            h = self._block(h, i, layer, attend, start)
        self.length = start + 1
        return self._logits(h)[:, 0, :]

    def _step_single(self, token: int, start: int) -> torch.Tensor:
        """step() for a batch of one: its valid keys are one contiguous run, so no mask is needed.

        The same operations as _block on the same values (2-D instead of 3-D views), minus the
        masking: the per-op overhead is most of a tiny writer's step.
        """
        # A batch of one keeps its position and first valid column as plain ints (valid and positions
        # are not read again for it: replace_row sets both afresh).
        first = self.first
        position = self.position + 1
        self.position = position
        end = start + 1
        span = end - first
        width, eps, heads = self.width, self.eps, self.heads
        shape = (width,)
        h = (self.wte[token] + self.wpe[position]).view(1, width)
        for i, (ln1, attn, proj, ln2, fc, out) in enumerate(self.layers):
            a = torch.layer_norm(h, shape, ln1[0], ln1[1], eps)
            q, k, v = torch.addmm(attn[1], a, attn[0]).view(1, 3, heads, 1, -1).unbind(1)
            keys, values = self.k[i], self.v[i]
            keys.narrow(2, start, 1).copy_(k)
            values.narrow(2, start, 1).copy_(v)
            o = F.scaled_dot_product_attention(q, keys.narrow(2, first, span), values.narrow(2, first, span))
            h = h + torch.addmm(proj[1], o.view(1, width), proj[0])
            m = torch.layer_norm(h, shape, ln2[0], ln2[1], eps)
            m = F.gelu(torch.addmm(fc[1], m, fc[0]), approximate="tanh")
            h = h + torch.addmm(out[1], m, out[0])
        self.length = end
        h = torch.layer_norm(h, shape, self.ln_f[0], self.ln_f[1], eps)
        return torch.mm(h, self.head_t)
