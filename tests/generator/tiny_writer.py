"""Tiny GPT-2 writers trained in seconds on Korean sentences written here, saved as writer folders."""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path

import torch

from services.runtime import ArtifactStore, Document, write_corpus

SUBJECTS = [
    "나는",
    "우리는",
    "어머니는",
    "친구는",
    "할머니는",
    "아버지는",
    "동생은",
    "선생님은",
    "이웃집 아이는",
    "그 사람은",
    "작은 새는",
    "오래된 시계는",
    "바람은",
    "겨울 바다는",
    "골목의 가로등은",
    "낡은 기차는",
]
PLACES = [
    "창가에서",
    "부엌에서",
    "골목 끝에서",
    "바닷가에서",
    "작은 카페에서",
    "언덕 위에서",
    "마당에서",
    "기차역에서",
    "서점 앞에서",
    "강가에서",
    "놀이터에서",
    "빈 교실에서",
    "버스 정류장에서",
    "지붕 위에서",
]
PREDICATES = [
    "조용히 노래를 불렀다.",
    "천천히 하늘을 올려다보았다.",
    "오래된 편지를 다시 읽었다.",
    "따뜻한 차를 끓였다.",
    "말없이 서로를 기다렸다.",
    "작은 화분에 물을 주었다.",
    "그리운 이름을 불러 보았다.",
    "하루를 조용히 마무리했다.",
    "희망에 대해 이야기했다.",
    "함께 걷는 법을 배웠다.",
    "불안한 마음을 내려놓았다.",
    "지난 여름을 떠올렸다.",
    "작은 웃음을 나누었다.",
    "눈물을 참으며 미소를 지었다.",
    "새로운 아침을 기다렸다.",
]
SENTENCES = [f"{s} {p} {q}" for s in SUBJECTS for p in PLACES for q in PREDICATES]

MEMORIZED = [
    "바닷가 작은 마을에는 등대지기 노인이 혼자 살고 있었는데 그는 매일 밤 불을 밝히며 먼바다로 떠난 아들을 기다렸다. "
    "마을 사람들은 그가 언젠가 지쳐 쓰러질 것이라고 수군거렸지만 노인은 단 하루도 등대를 비우지 않았다. "
    "어느 겨울 새벽 안개 속에서 낯선 배 한 척이 천천히 항구로 들어오고 있었다.",
    "도시의 밤은 언제나 너무 밝아서 별을 보려면 한참을 걸어 언덕 위 놀이터까지 올라가야 했다. "
    "그곳 그네에 앉아 있으면 멀리 기차 소리가 들리고 가끔은 누군가의 웃음소리가 바람에 실려 왔다. "
    "나는 그 소리들을 모아 작은 공책에 적어 두는 것을 좋아했다.",
]


def paragraphs(count: int, seed: int) -> list[str]:
    """Paragraphs of 5-9 sentences drawn from SENTENCES (subject, place, predicate combinations)."""
    rng = random.Random(seed)
    return [" ".join(rng.sample(SENTENCES, rng.randint(5, 9))) for _ in range(count)]  # ~30 chars a sentence


def documents(count: int, seed: int) -> list[str]:
    """Documents of 2-4 paragraphs (paragraphs as single newlines)."""
    rng = random.Random(seed)
    paras = paragraphs(count * 4, seed)
    docs, i = [], 0
    for _ in range(count):
        n = rng.randint(2, 4)
        docs.append("\n".join(paras[i : i + n]))
        i += n
    return docs


@dataclass
class TinyWriters:
    """Artifact names of the tiny writers built in one workspace."""

    base: str
    full: str
    lora: str
    lora2: str
    memorizer: str
    train: str
    memorized_train: str


def _train_tokenizer(texts: list[str], folder: Path):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=700,
        special_tokens=["<|endoftext|>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(texts, trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|endoftext|>", bos_token="<|endoftext|>")
    fast.save_pretrained(str(folder))
    return fast


def _train(
    model, tokenizer, texts: list[str], steps: int, seed: int, lr: float = 3e-3, block: int = 64
) -> None:
    torch.manual_seed(seed)
    ids: list[int] = []
    for text in texts:
        ids.extend([*tokenizer.encode(text), tokenizer.eos_token_id])
    data = torch.tensor(ids)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=lr)
    model.train()
    gen = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        starts = torch.randint(0, max(1, len(data) - block - 1), (8,), generator=gen)
        batch = torch.stack([data[s : s + block] for s in starts])
        loss = model(input_ids=batch, labels=batch).loss
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()


def build_tiny_writers(store: ArtifactStore, *, steps: int = 200) -> TinyWriters:
    """Train a tokenizer and a ~0.4M-parameter GPT-2 here; save base, full, LoRA and memorizing writers."""
    from peft import LoraConfig, get_peft_model
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(0)
    docs = documents(40, seed=1)
    names = TinyWriters(
        "tiny/base",
        "tiny/full",
        "tiny/lora",
        "tiny/lora2",
        "tiny/memorizer",
        "tiny/train.jsonl.zst",
        "tiny/memorized.jsonl.zst",
    )
    write_corpus(
        store,
        names.train,
        [Document(id=f"d{i}", url="", source="test", text=t) for i, t in enumerate(docs)],
        role="train",
    )
    write_corpus(
        store,
        names.memorized_train,
        [Document(id=f"m{i}", url="", source="test", text=t) for i, t in enumerate(MEMORIZED)],
        role="train",
    )

    with store.open_dir(names.base) as out:
        tokenizer = _train_tokenizer(docs + MEMORIZED, out.path)
        config = GPT2Config(
            vocab_size=len(tokenizer),
            n_positions=256,
            n_embd=96,
            n_layer=2,
            n_head=4,
            bos_token_id=tokenizer.eos_token_id,
            eos_token_id=tokenizer.eos_token_id,
        )
        base = GPT2LMHeadModel(config)
        _train(base, tokenizer, docs, steps, seed=2)
        base.save_pretrained(str(out.path))
        (out.path / "supil_model.json").write_text(json.dumps({"kind": "base", "source": "tiny"}))

    def card(kind: str, train: str, base: str = "") -> str:
        return json.dumps({"kind": kind, "base": base, "query": "함께", "train": [train], "valid": []})

    with store.open_dir(names.full) as out:
        base.save_pretrained(str(out.path))
        tokenizer.save_pretrained(str(out.path))
        (out.path / "supil_writer.json").write_text(card("full", names.train, names.base))

    for name, seed in ((names.lora, 3), (names.lora2, 4)):
        fresh = GPT2LMHeadModel.from_pretrained(str(store.path(names.base)))
        lora = get_peft_model(
            fresh, LoraConfig(r=4, lora_alpha=8, target_modules=["c_attn"], fan_in_fan_out=True)
        )
        _train(lora, tokenizer, docs[seed:], 10, seed=seed, lr=1e-3)
        with store.open_dir(name) as out:
            lora.save_pretrained(str(out.path))
            tokenizer.save_pretrained(str(out.path))
            (out.path / "supil_writer.json").write_text(card("lora", names.train, names.base))

    # The memorizer knows the same language but has seen two documents over and over.
    memorizer = GPT2LMHeadModel(config)
    _train(memorizer, tokenizer, docs + MEMORIZED * 30, steps, seed=5)
    with store.open_dir(names.memorizer) as out:
        memorizer.save_pretrained(str(out.path))
        tokenizer.save_pretrained(str(out.path))
        card_json = json.loads(card("full", names.train))
        card_json["train"] = [names.train, names.memorized_train]
        (out.path / "supil_writer.json").write_text(json.dumps(card_json))
    return names
