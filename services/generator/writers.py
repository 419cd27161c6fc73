"""Loading and serving writers: full checkpoints or LoRA adapters over a shared base, within a memory budget."""

from __future__ import annotations

import hashlib
import json
import logging
import random
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from services.generator.originality import OriginalityIndex
from services.generator.text import CLOSERS, TERMINALS
from services.runtime import ArtifactStore, FailedPrecondition, InvalidArgument, NotFound, read_corpus

logger = logging.getLogger(__name__)

WRITER_CARD = "supil_writer.json"


@dataclass(frozen=True)
class WriterCard:
    """supil_writer.json: what a writer folder holds and what it was trained on."""

    kind: str  # "full" or "lora"
    base: str
    query: str
    train: tuple[str, ...]
    valid: tuple[str, ...]

    @classmethod
    def read(cls, folder: Path, name: str) -> WriterCard:
        """Parse a writer folder's card; NotFound when there is none, InvalidArgument when it is malformed."""
        path = folder / WRITER_CARD
        if not path.is_file():
            raise NotFound(f"writer {name!r} has no {WRITER_CARD}; it is not a writer folder")
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
            card = cls(
                kind=str(raw["kind"]),
                base=str(raw.get("base") or ""),
                query=str(raw.get("query") or ""),
                train=tuple(raw.get("train") or ()),
                valid=tuple(raw.get("valid") or ()),
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise InvalidArgument(f"writer {name!r}: {WRITER_CARD} is malformed ({exc})") from None
        if card.kind not in ("full", "lora"):
            raise InvalidArgument(f"writer {name!r}: kind {card.kind!r} must be 'full' or 'lora'")
        if card.kind == "lora" and not card.base:
            raise InvalidArgument(f"writer {name!r}: a LoRA writer must name its base")
        return card


@dataclass
class TokenTables:
    """Token ids the drafter treats specially, computed once per tokenizer, in the forms it applies
    them in (one in-place op on a row of logits each)."""

    terminal: torch.Tensor  # tokens whose text ends a sentence (used to close the last sentence cleanly)
    partial: torch.Tensor  # tokens that hold part of a character (their text alone has U+FFFD)
    eos: int | None
    texts: list[str]  # each token's text on its own
    paragraph_end: torch.Tensor  # tokens whose text holds a line break, and eos: what ends a paragraph
    terminal_mask: torch.Tensor  # 1.0 on terminal tokens, 0 else
    closing_mask: torch.Tensor  # 0 on the short terminal tokens a sentence is closed with by force, -inf else
    partial_ids: frozenset[int]
    # Each token's bytes when decoding a sequence is exactly joining them (byte-level BPE); else None.
    token_bytes: list[bytes] | None

    def decode(self, tokenizer: Any, ids: list[int]) -> str:
        """Text of ids as tokenizer.decode(ids, skip_special_tokens=True) gives it."""
        if self.token_bytes is None:
            return tokenizer.decode(ids, skip_special_tokens=True) if ids else ""
        table = self.token_bytes
        return b"".join([table[i] for i in ids]).decode("utf-8", "replace")


@dataclass
class ModelSlot:
    """One loaded network (a full writer, or a base carrying LoRA adapters) and its lock."""

    key: str
    model: Any
    bytes: int
    lock: threading.Lock = field(default_factory=threading.Lock)
    adapters: dict[str, str] = field(default_factory=dict)  # writer name -> peft adapter name

    @property
    def device(self) -> torch.device:
        """Where the network's weights are (its inputs go there)."""
        return next(self.model.parameters()).device


@dataclass
class Writer:
    """A writer ready to sample: its network, tokenizer, originality index and batching group."""

    name: str
    card: WriterCard
    slot: ModelSlot
    tokenizer: Any
    tables: TokenTables
    index: OriginalityIndex
    adapter: str | None  # peft adapter name for LoRA writers
    context_tokens: int

    @property
    def group(self) -> str:
        """Writers with the same group share one network and can be batched together."""
        return self.slot.key


def _context_of(config: Any) -> int:
    return int(getattr(config, "n_positions", 0) or getattr(config, "max_position_embeddings", 0) or 1024)


def _param_bytes(model: torch.nn.Module) -> int:
    return sum(p.numel() * p.element_size() for p in model.parameters())


def _adapter_name(writer: str) -> str:
    # peft keeps adapters in ModuleDicts, whose keys may not contain '.'; artifact names do.
    return "w" + hashlib.sha1(writer.encode()).hexdigest()[:16]


def token_tables(tokenizer: Any) -> TokenTables:
    """Classify every token by its decoded text (newline, sentence-ending)."""
    size = len(tokenizer)
    texts = [tokenizer.decode([i]) for i in range(size)]
    newline = [i for i, t in enumerate(texts) if "\n" in t or "\r" in t]
    terminal = [
        i
        for i, t in enumerate(texts)
        if "\n" not in t and t.strip() and t.rstrip(CLOSERS).strip()[-1:] in TERMINALS and "\ufffd" not in t
    ]
    closing = [i for i in terminal if len(texts[i].strip()) <= 3] or terminal
    partial = [i for i, t in enumerate(texts) if "\ufffd" in t]
    eos = tokenizer.eos_token_id
    terminal_mask = torch.zeros(size)
    terminal_mask[terminal] = 1.0
    closing_mask = torch.full((size,), float("-inf"))
    closing_mask[closing] = 0.0
    ends = sorted({*newline, *([eos] if eos is not None and eos < size else [])})
    return TokenTables(
        terminal=torch.tensor(terminal, dtype=torch.long),
        partial=torch.tensor(partial, dtype=torch.long),
        eos=eos,
        texts=texts,
        paragraph_end=torch.tensor(ends, dtype=torch.long),
        terminal_mask=terminal_mask,
        closing_mask=closing_mask,
        partial_ids=frozenset(partial),
        token_bytes=_byte_table(tokenizer, texts),
    )


def _byte_table(tokenizer: Any, texts: list[str]) -> list[bytes] | None:
    """Each token's bytes for a byte-level BPE tokenizer, if joining them reproduces its decode; else None.

    The drafter decodes the tokens of the running sentence after every sampled token; joining bytes
    and decoding them in C is far cheaper than the tokenizer's decode. Any tokenizer this does not
    reproduce exactly (checked on every token and on random sequences) keeps using its own decode.
    """
    backend = getattr(tokenizer, "backend_tokenizer", None)
    decoder = getattr(backend, "decoder", None)
    if (
        decoder is None
        or type(decoder).__name__ != "ByteLevel"
        or getattr(tokenizer, "clean_up_tokenization_spaces", False)
    ):
        return None
    from transformers.convert_slow_tokenizer import bytes_to_unicode  # GPT-2's byte <-> character map

    to_byte = {char: byte for byte, char in bytes_to_unicode().items()}
    special = set(tokenizer.all_special_ids)
    table: list[bytes] = []
    for i, piece in enumerate(tokenizer.convert_ids_to_tokens(list(range(len(texts))))):
        if i in special:
            table.append(b"")
        elif piece is not None and all(ch in to_byte for ch in piece):
            table.append(bytes(to_byte[ch] for ch in piece))
        else:
            table.append(piece.encode("utf-8") if piece is not None else b"")
    if any(
        b.decode("utf-8", "replace") != t
        for i, (b, t) in enumerate(zip(table, texts, strict=True))
        if i not in special
    ):
        return None
    # Sequences that split characters across tokens must decode the same way too.
    rng = random.Random(0)
    for _ in range(64):
        ids = [rng.randrange(len(texts)) for _ in range(rng.randint(1, 24))]
        if b"".join(table[i] for i in ids).decode("utf-8", "replace") != tokenizer.decode(
            ids, skip_special_tokens=True
        ):
            return None
    return table


class WriterPool:
    """Loads writers from the workspace on demand and keeps them within a memory budget (LRU).

    A LoRA writer's base is loaded once and shared by every adapter over it; full writers are
    networks of their own. Evicting a slot only drops the pool's reference: a job still using it
    keeps it alive until it finishes.
    """

    def __init__(
        self,
        store: ArtifactStore,
        *,
        memory_budget_bytes: int = 4 << 30,
        device: str = "cpu",
        ngram: int = 12,
    ) -> None:
        self._store = store
        self._budget = memory_budget_bytes
        self._device = torch.device(device)
        self._ngram = ngram
        self._lock = threading.RLock()
        self._slots: OrderedDict[str, ModelSlot] = OrderedDict()
        self._writers: dict[str, Writer] = {}
        self._indexes: dict[tuple[str, ...], OriginalityIndex] = {}
        self.loads = 0  # networks loaded from disk (bases and full writers), for tests and logs

    def folder(self, name: str) -> tuple[Path, WriterCard]:
        """The writer's folder and card; NotFound for an unknown writer."""
        if not self._store.exists(name):
            raise NotFound(f"writer {name!r} not found in the workspace (train it first)")
        path = self._store.path(name)
        return path, WriterCard.read(path, name)

    def context_tokens(self, name: str) -> int:
        """The writer's context length in tokens, read from its (or its base's) config without loading it."""
        with self._lock:
            writer = self._writers.get(name)
        if writer is not None:
            return writer.context_tokens
        folder, card = self.folder(name)
        source = str(folder) if card.kind == "full" else self._base_source(card.base)[1]
        from transformers import AutoConfig

        try:
            config = AutoConfig.from_pretrained(source)
        except OSError as exc:
            raise FailedPrecondition(
                f"cannot read the config of {source!r}: {str(exc).splitlines()[0][:200]}"
            ) from None
        return _context_of(config)

    def get(self, name: str) -> Writer:
        """The loaded writer, loading it (and its base, and its originality index) if needed."""
        with self._lock:
            writer = self._writers.get(name)
            if writer is not None and writer.slot.key in self._slots:
                self._slots.move_to_end(writer.slot.key)
                return writer
            folder, card = self.folder(name)
            from transformers import AutoTokenizer

            tokenizer = AutoTokenizer.from_pretrained(str(folder))
            if card.kind == "full":
                slot = self._full_slot(name, folder)
                adapter = None
            else:
                slot, adapter = self._lora_slot(name, folder, card)
            context = _context_of(getattr(slot.model, "config", None))
            writer = Writer(
                name=name,
                card=card,
                slot=slot,
                tokenizer=tokenizer,
                tables=token_tables(tokenizer),
                index=self._index(name, card.train),
                adapter=adapter,
                context_tokens=context,
            )
            self._writers[name] = writer
            self._evict()
            return writer

    def resident_bytes(self) -> int:
        """Bytes of network parameters the pool holds."""
        with self._lock:
            return sum(slot.bytes for slot in self._slots.values())

    def resident(self) -> list[str]:
        """Keys of the loaded networks, least recently used first."""
        with self._lock:
            return list(self._slots)

    # ---- internals -----------------------------------------------------------------------------

    def _load_network(self, source: str) -> Any:
        from transformers import AutoModelForCausalLM

        try:
            model = AutoModelForCausalLM.from_pretrained(source)
        except OSError as exc:
            raise FailedPrecondition(
                f"cannot load model {source!r}: {str(exc).splitlines()[0][:200]}"
            ) from None
        self.loads += 1
        return model.to(self._device).eval()

    def _full_slot(self, name: str, folder: Path) -> ModelSlot:
        key = f"full:{name}"
        slot = self._slots.get(key)
        if slot is None:
            model = self._load_network(str(folder))
            slot = ModelSlot(key, model, _param_bytes(model))
            self._slots[key] = slot
        self._slots.move_to_end(key)
        return slot

    def _base_source(self, base: str) -> tuple[str, str]:
        """(cache key, from_pretrained source) of a LoRA writer's base: a workspace artifact, or a hub id/path."""
        try:
            if self._store.exists(base):
                path = self._store.path(base)
                return f"base:{path}", str(path)
        except InvalidArgument:
            pass  # not an artifact name (an absolute path, a hub id with odd characters)
        return f"base:{base}", base

    def _lora_slot(self, name: str, folder: Path, card: WriterCard) -> tuple[ModelSlot, str]:
        from peft import PeftModel

        key, source = self._base_source(card.base)
        slot = self._slots.get(key)
        if slot is None:
            slot = ModelSlot(key, self._load_network(source), 0)
            slot.bytes = _param_bytes(slot.model)
            self._slots[key] = slot
        self._slots.move_to_end(key)
        adapter = slot.adapters.get(name)
        if adapter is None:
            adapter = _adapter_name(name)
            with slot.lock:
                if isinstance(slot.model, PeftModel):
                    slot.model.load_adapter(str(folder), adapter_name=adapter)
                else:
                    slot.model = PeftModel.from_pretrained(slot.model, str(folder), adapter_name=adapter)
                slot.model.eval()
            slot.adapters[name] = adapter
            slot.bytes = _param_bytes(slot.model)
        return slot, adapter

    def _index(self, name: str, train: tuple[str, ...]) -> OriginalityIndex:
        index = self._indexes.get(train)
        if index is None:
            docs: list[str] = []
            for artifact in train:
                if not self._store.exists(artifact):
                    raise FailedPrecondition(
                        f"writer {name!r} was trained on {artifact!r}, which is not in the workspace; "
                        "the originality guard needs its documents"
                    )
                docs.extend(doc.text for doc in read_corpus(self._store, artifact, skip_bad=True))
            index = OriginalityIndex(docs, n=self._ngram)
            logger.info("indexed %d training documents of writer %s", index.documents, name)
            self._indexes[train] = index
        return index

    def _evict(self) -> None:
        while len(self._slots) > 1 and sum(s.bytes for s in self._slots.values()) > self._budget:
            key, slot = self._slots.popitem(last=False)
            for writer in [w for w in self._writers.values() if w.slot is slot]:
                del self._writers[writer.name]
            logger.info("evicted %s (%d bytes) to stay within the memory budget", key, slot.bytes)
