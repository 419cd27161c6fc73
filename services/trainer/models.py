"""Model sources (the tiny preset, hub ids, local folders, base artifacts), freezing and LoRA."""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from services.runtime import ArtifactStore, FailedPrecondition, InvalidArgument, NotFound

logger = logging.getLogger(__name__)

EOS = "<|endoftext|>"
MODEL_MARKER = "supil_model.json"
WRITER_MARKER = "supil_writer.json"
HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*(/[\w.-]+)?$")


@dataclass(frozen=True)
class TinyPreset:
    """Size of the `tiny` GPT-2 trained from scratch; small enough for a demo on 2 CPU cores."""

    vocab_size: int = 8000
    n_embd: int = 128
    n_layer: int = 4
    n_head: int = 4
    n_positions: int = 256
    dropout: float = 0.0
    # GPT-2's tanh GELU as one fused torch op: the same function as GPT-2's default "gelu_new"
    # (which runs as five Python-level tensor ops), about 7% faster per training step here.
    activation: str = "gelu_pytorch_tanh"


TINY = TinyPreset()


@dataclass
class LoadedBase:
    """A causal LM with its tokenizer and where it came from."""

    model: Any
    tokenizer: Any
    source: str  # "tiny", a hub id, a local path, or a base checkpoint artifact name
    artifact: str | None = None  # the artifact name when source is one


def train_tiny_tokenizer(texts: Iterable[str], vocab_size: int = TINY.vocab_size) -> Any:
    """A ByteLevel BPE tokenizer trained on texts, wrapped for transformers (EOS doubles as pad/bos)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    # add_prefix_space=False keeps "\n" and the start of a paragraph as the corpus has them.
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=2,
        special_tokens=[EOS],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(texts, trainer=trainer)
    return PreTrainedTokenizerFast(tokenizer_object=tok, eos_token=EOS, bos_token=EOS, pad_token=EOS)


def tiny_model(tokenizer: Any, preset: TinyPreset = TINY, seed: int = 0) -> Any:
    """A freshly initialised small GPT-2 for tokenizer (deterministic for a seed)."""
    from transformers import GPT2Config, GPT2LMHeadModel

    config = GPT2Config(
        vocab_size=len(tokenizer),
        n_positions=preset.n_positions,
        n_embd=preset.n_embd,
        n_layer=preset.n_layer,
        n_head=preset.n_head,
        resid_pdrop=preset.dropout,
        embd_pdrop=preset.dropout,
        attn_pdrop=preset.dropout,
        activation_function=preset.activation,
        bos_token_id=tokenizer.eos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.eos_token_id,
    )
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        return GPT2LMHeadModel(config)


def hub_offline() -> bool:
    """True when HF_HUB_OFFLINE (or TRANSFORMERS_OFFLINE) asks for cached files only."""
    return any(
        os.environ.get(v, "").lower() in ("1", "true", "yes")
        for v in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")
    )


def resolve_base(store: ArtifactStore, base: str) -> tuple[str, Path | str, str | None]:
    """Classify base: ("tiny"|"artifact"|"path"|"hub", location, artifact name or None).

    Raises InvalidArgument for a malformed name and NotFound for a missing artifact or folder.
    """
    if not base:
        raise InvalidArgument(
            "base is empty; use 'tiny', a base checkpoint artifact, a hub id or a local path"
        )
    if base == "tiny":
        return "tiny", "tiny", None
    if not base.startswith(("/", "./", "../", "~")):
        try:
            if store.exists(base):
                path = store.path(base)
                if not (path / MODEL_MARKER).exists() and not (path / "config.json").exists():
                    raise InvalidArgument(f"artifact {base!r} is not a model folder (no config.json)")
                return "artifact", path, base
        except InvalidArgument:
            if "/" in base and HUB_ID.match(base):
                pass  # not a valid artifact name, but may still be a hub id
            else:
                raise
        if (store.root / base).exists():
            raise NotFound(f"base {base!r} exists in the workspace but has no manifest entry (half-written?)")
    path = Path(base).expanduser()
    if base.startswith(("/", "./", "../", "~")) or path.is_dir():
        if not path.is_dir():
            raise NotFound(f"base {base!r}: no such local folder")
        return "path", path, None
    if not HUB_ID.match(base):
        raise InvalidArgument(f"base {base!r} is neither 'tiny', an artifact, a local folder nor a hub id")
    if hub_offline() and not hub_cached(base):
        raise NotFound(
            f"base {base!r} is not an artifact in the workspace, a local folder, nor a hub model in the "
            "local cache (HF_HUB_OFFLINE is set)"
        )
    return "hub", base, None


def hub_cached(repo_id: str) -> bool:
    """True if the hub cache holds a config.json for repo_id."""
    from huggingface_hub import try_to_load_from_cache

    try:
        found = try_to_load_from_cache(repo_id, "config.json")
    except ValueError:
        return False
    return isinstance(found, str)


def load_pretrained(
    location: Path | str, *, trust_remote_code: bool = False, dtype: Any = None
) -> tuple[Any, Any]:
    """Model and tokenizer from a hub id or folder: safetensors only, HF_HUB_OFFLINE honoured."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    offline = hub_offline()
    try:
        tokenizer = AutoTokenizer.from_pretrained(
            str(location), trust_remote_code=trust_remote_code, local_files_only=offline
        )
        model = AutoModelForCausalLM.from_pretrained(
            str(location),
            trust_remote_code=trust_remote_code,
            use_safetensors=True,
            local_files_only=offline,
            dtype=dtype or torch.float32,
        )
    except (OSError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0][:240] if str(exc).strip() else type(exc).__name__
        raise NotFound(
            f"cannot load base {str(location)!r} (safetensors only{', offline' if offline else ''}): {first}"
        ) from None
    if tokenizer.eos_token is None:
        raise InvalidArgument(f"base {str(location)!r}: the tokenizer has no EOS token, needed for packing")
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return model, tokenizer


def load_base(store: ArtifactStore, base: str, *, trust_remote_code: bool = False) -> LoadedBase:
    """Load a non-tiny base: a base checkpoint artifact, a local folder or a hub id."""
    kind, location, artifact = resolve_base(store, base)
    if kind == "tiny":
        raise FailedPrecondition(
            "base 'tiny' has no weights yet: run a TRAIN_STAGE_PRETRAIN job first and name its output as base"
        )
    model, tokenizer = load_pretrained(location, trust_remote_code=trust_remote_code)
    return LoadedBase(model, tokenizer, base, artifact)


def read_marker(folder: Path) -> dict[str, Any]:
    """The supil_model.json or supil_writer.json of a model folder ({} if none)."""
    for name in (MODEL_MARKER, WRITER_MARKER):
        if (folder / name).exists():
            return json.loads((folder / name).read_text(encoding="utf-8"))
    return {}


# ---- which parameters train --------------------------------------------------------------------


def transformer_blocks(model: nn.Module) -> nn.ModuleList:
    """The model's stack of transformer blocks, found generically.

    GPT-2 keeps them in `transformer.h`, GPT-NeoX in `gpt_neox.layers`, Llama-style models in
    `model.layers`: in every case the one ModuleList whose length is config.num_hidden_layers.
    """
    n_layers = getattr(model.config, "num_hidden_layers", None)
    candidates = [m for m in model.modules() if isinstance(m, nn.ModuleList) and len(m) == n_layers]
    if not candidates:
        raise InvalidArgument(
            f"cannot find the {n_layers} transformer blocks of a {model.config.model_type} model"
        )
    return candidates[0]


def freeze_lower_blocks(model: nn.Module, n: int) -> dict[str, int]:
    """Freeze the lower n blocks plus the input embeddings; everything above stays trainable.

    Frozen lower blocks only keep their meaning if their input does not move, so token and position
    embeddings freeze with them; a head tied to the token embeddings (GPT-2) therefore stays frozen
    too, while an untied head (GPT-NeoX `embed_out`, Llama `lm_head`) and the final norm train.
    n = 0 trains everything. Returns counts of trainable and total parameters.
    """
    blocks = transformer_blocks(model)
    if not 0 <= n < len(blocks):
        raise InvalidArgument(
            f"freeze_layers must be 0..{len(blocks) - 1} for this {len(blocks)}-block model, got {n}"
        )
    for param in model.parameters():
        param.requires_grad_(True)
    if n > 0:
        for block in blocks[:n]:
            block.requires_grad_(False)
        for module in model.modules():
            if isinstance(module, nn.Embedding):
                module.requires_grad_(False)
    return parameter_counts(model)


def parameter_counts(model: nn.Module) -> dict[str, int]:
    """Trainable and total parameter counts (shared tensors counted once)."""
    seen: set[int] = set()
    trainable = total = 0
    for param in model.parameters():
        if id(param) in seen:
            continue
        seen.add(id(param))
        total += param.numel()
        if param.requires_grad:
            trainable += param.numel()
    return {"trainable": trainable, "total": total}


DEFAULT_LORA_TARGETS = {
    "gpt2": ["c_attn"],
    "gpt_neox": ["query_key_value"],
    "llama": ["q_proj", "v_proj"],
    "mistral": ["q_proj", "v_proj"],
    "qwen2": ["q_proj", "v_proj"],
}


def lora_settings(
    model: nn.Module,
    r: int,
    alpha: float,
    dropout: float,
    targets: list[str],
    layers: list[int] | None = None,
) -> dict[str, Any]:
    """The LoRA settings actually used (defaults filled in for the model type).

    By default only the upper half of the blocks get adapters: gradients then stop there, so the
    lower half runs forward only (about 1.3x faster per step than adapters everywhere on the tiny
    preset), in the spirit of the 2021 run's frozen lower half.
    """
    model_type = model.config.model_type
    chosen = list(targets) or DEFAULT_LORA_TARGETS.get(model_type)
    if not chosen:
        raise InvalidArgument(f"name lora.target_modules for a {model_type} model (no default for it)")
    n_blocks = len(transformer_blocks(model))
    picked = sorted(set(layers)) if layers else list(range(n_blocks // 2, n_blocks))
    if any(not 0 <= i < n_blocks for i in picked):
        raise InvalidArgument(f"lora.layers must be block indices 0..{n_blocks - 1}, got {picked}")
    return {
        "r": r or 8,
        "alpha": alpha or 2.0 * (r or 8),
        "dropout": dropout,
        "target_modules": chosen,
        "layers": picked,
    }


def add_lora(model: nn.Module, settings: dict[str, Any]) -> nn.Module:
    """Wrap model with peft LoRA adapters; only the adapters train."""
    from peft import LoraConfig, get_peft_model

    config = LoraConfig(
        r=settings["r"],
        lora_alpha=settings["alpha"],
        lora_dropout=settings["dropout"],
        target_modules=settings["target_modules"],
        layers_to_transform=settings["layers"],
        # GPT-2's Conv1D stores weights transposed; peft must know or the adapter is wrong-shaped.
        fan_in_fan_out=model.config.model_type == "gpt2",
        task_type="CAUSAL_LM",
    )
    try:
        return get_peft_model(model, config)
    except ValueError as exc:
        raise InvalidArgument(f"lora: {str(exc).splitlines()[0][:240]}") from None
