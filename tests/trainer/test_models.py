"""Model sources, freezing of lower blocks for several architectures, and LoRA writers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

from services.runtime import ArtifactStore, FailedPrecondition, InvalidArgument, NotFound
from services.trainer import models
from tests.trainer.conftest import SMALL, save_base


def gpt_neox() -> Any:
    from transformers import GPTNeoXConfig, GPTNeoXForCausalLM

    config = GPTNeoXConfig(
        vocab_size=100, hidden_size=32, num_hidden_layers=4, num_attention_heads=4, intermediate_size=64,
        max_position_embeddings=64, tie_word_embeddings=False,
    )  # fmt: skip
    return GPTNeoXForCausalLM(config)


def llama() -> Any:
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(
        vocab_size=100, hidden_size=32, num_hidden_layers=4, num_attention_heads=4, intermediate_size=64,
        max_position_embeddings=64, tie_word_embeddings=False,
    )  # fmt: skip
    return LlamaForCausalLM(config)


def gpt2(tokenizer: Any) -> Any:
    return models.tiny_model(tokenizer, SMALL)


@pytest.mark.parametrize("arch", ["gpt2", "gpt_neox", "llama"])
def test_freezing_n_blocks_leaves_gradients_only_above_them(arch: str, small_tokenizer: Any) -> None:
    model = {"gpt2": lambda: gpt2(small_tokenizer), "gpt_neox": gpt_neox, "llama": llama}[arch]()
    counts = models.freeze_lower_blocks(model, 2)
    ids = torch.randint(0, 100, (2, 16))
    model(input_ids=ids, labels=ids).loss.backward()
    blocks = models.transformer_blocks(model)
    assert len(blocks) == 4
    for i, block in enumerate(blocks):
        grads = [p.grad for p in block.parameters()]
        if i < 2:
            assert all(g is None for g in grads), f"frozen block {i} got a gradient"
        else:
            assert all(g is not None and g.abs().sum() > 0 for g in grads), f"block {i} got no gradient"
    assert model.get_input_embeddings().weight.grad is None  # embeddings freeze with the lower blocks
    head = model.get_output_embeddings().weight
    tied = head is model.get_input_embeddings().weight
    assert (head.grad is None) == tied  # an untied head trains; GPT-2's tied head stays frozen
    assert 0 < counts["trainable"] < counts["total"]


def test_freeze_refuses_all_or_more_blocks(small_tokenizer: Any) -> None:
    with pytest.raises(InvalidArgument, match="freeze_layers"):
        models.freeze_lower_blocks(gpt2(small_tokenizer), 4)


def test_lora_writer_saves_only_the_adapter_and_reloads_to_identical_logits(
    small_tokenizer: Any, store: ArtifactStore, tmp_path: Path
) -> None:
    from peft import PeftModel

    save_base(store, "base", small_tokenizer)
    base = models.load_base(store, "base")
    settings = models.lora_settings(base.model, 4, 8.0, 0.0, [])
    assert settings["target_modules"] == ["c_attn"] and settings["layers"] == [2, 3]  # the upper half
    lora = models.add_lora(base.model, settings)
    adapted = {n.split(".h.")[1].split(".")[0] for n, p in lora.named_parameters() if p.requires_grad}
    assert adapted == {"2", "3"}
    with torch.no_grad():  # move the adapters off their zero start so the check means something
        for name, param in lora.named_parameters():
            if "lora_B" in name:
                param.normal_(0, 0.05)
    lora.eval()
    ids = torch.tensor([small_tokenizer("나는 오늘 함께 길을 걸었다.\n바다를 보았다.")["input_ids"]])
    expected = lora(input_ids=ids).logits
    out = tmp_path / "writer"
    lora.save_pretrained(str(out))
    files = sorted(p.name for p in out.iterdir())
    assert {"adapter_config.json", "adapter_model.safetensors"} <= set(files)
    assert not [f for f in files if f.startswith(("model", "pytorch_model"))]  # no full weights
    full_size = (store.path("base") / "model.safetensors").stat().st_size
    assert (out / "adapter_model.safetensors").stat().st_size * 20 < full_size

    fresh = models.load_base(store, "base").model
    reloaded = PeftModel.from_pretrained(fresh, str(out)).eval()
    assert torch.equal(reloaded(input_ids=ids).logits, expected)


def test_base_sources_are_classified_and_missing_ones_refused(
    small_tokenizer: Any, store: ArtifactStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    save_base(store, "models/base", small_tokenizer)
    assert models.resolve_base(store, "tiny")[0] == "tiny"
    assert models.resolve_base(store, "models/base")[0] == "artifact"
    local = tmp_path / "local-model"
    models.tiny_model(small_tokenizer, SMALL).save_pretrained(str(local))
    small_tokenizer.save_pretrained(str(local))
    assert models.resolve_base(store, str(local))[0] == "path"
    assert models.load_base(store, str(local)).model.config.n_layer == SMALL.n_layer
    assert models.resolve_base(store, "skt/ko-gpt-trinity-1.2B-v0.5")[0] == "hub"
    with pytest.raises(NotFound):
        models.resolve_base(store, str(tmp_path / "nowhere"))
    with pytest.raises(FailedPrecondition, match="PRETRAIN"):
        models.load_base(store, "tiny")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # no network here: an uncached hub id is NOT_FOUND
    with pytest.raises(NotFound, match="HF_HUB_OFFLINE"):
        models.load_base(store, "supil-test/no-such-model")


def test_tiny_tokenizer_keeps_newlines_and_korean(small_tokenizer: Any) -> None:
    text = "나는 오늘 함께 길을 걸었다.\n바다를 보았다."
    ids = small_tokenizer(text, add_special_tokens=False)["input_ids"]
    assert small_tokenizer.decode(ids) == text
    assert (
        small_tokenizer.eos_token == models.EOS
        and small_tokenizer.pad_token_id == small_tokenizer.eos_token_id
    )
