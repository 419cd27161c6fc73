"""Training data: corpus artifacts in, disjointness checked, documents packed into full token blocks."""

from __future__ import annotations

import hashlib
import logging
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from services.runtime import ArtifactStore, Document, InvalidArgument, read_corpus

logger = logging.getLogger(__name__)

HOLDOUT_PERCENT = 5  # of documents, by id hash, when no valid artifact is given


def text_key(text: str) -> str:
    """sha256 of a text with Unicode and whitespace normalised: the identity used for overlap checks."""
    normal = " ".join(unicodedata.normalize("NFC", text).split())
    return hashlib.sha256(normal.encode("utf-8")).hexdigest()


def read_documents(store: ArtifactStore, names: Sequence[str]) -> list[Document]:
    """Every document of the named corpus artifacts, in order (NotFound for a missing one)."""
    docs: list[Document] = []
    for name in names:
        docs.extend(d for d in read_corpus(store, name) if d.text.strip())
    return docs


def check_disjoint(train: Sequence[Document], valid: Sequence[Document]) -> None:
    """Refuse (InvalidArgument) when any valid document is also in train, by id or by text."""
    train_ids = {d.id for d in train}
    train_texts = {text_key(d.text) for d in train}
    shared = [d.id for d in valid if d.id in train_ids or text_key(d.text) in train_texts]
    if shared:
        sample = ", ".join(repr(i) for i in shared[:5])
        raise InvalidArgument(
            f"train and valid overlap: {len(shared)} of {len(valid)} valid documents are also in train "
            f"(e.g. {sample}); validation must be disjoint from training"
        )


def split_holdout(docs: Sequence[Document]) -> tuple[list[Document], list[Document]]:
    """Deterministic train/valid split by document id hash (about HOLDOUT_PERCENT% valid, at least one)."""

    def bucket(doc: Document) -> int:
        return int(hashlib.sha256(doc.id.encode("utf-8")).hexdigest()[:8], 16) % 100

    valid = [d for d in docs if bucket(d) < HOLDOUT_PERCENT]
    if not valid and len(docs) > 1:
        valid = [min(docs, key=bucket)]
    ids = {id(d) for d in valid}
    return [d for d in docs if id(d) not in ids], valid


def pack(tokenizer: Any, texts: Iterable[str], block_size: int) -> torch.Tensor:
    """Token blocks of exactly block_size: documents joined with EOS, newlines kept, tail dropped.

    Returns a (n_blocks, block_size) int64 tensor; no padding anywhere.
    """
    eos = tokenizer.eos_token_id
    stream: list[int] = []
    batch: list[str] = []

    def flush() -> None:
        if batch:
            for ids in tokenizer(batch, add_special_tokens=False)["input_ids"]:
                stream.extend(ids)
                stream.append(eos)
            batch.clear()

    for text in texts:
        batch.append(text)
        if len(batch) >= 256:
            flush()
    flush()
    n_blocks = len(stream) // block_size
    return torch.tensor(stream[: n_blocks * block_size], dtype=torch.long).view(n_blocks, block_size)


@dataclass
class Packed:
    """Packed train and valid blocks plus the sizes worth reporting."""

    train: torch.Tensor
    valid: torch.Tensor
    train_docs: int
    valid_docs: int

    @property
    def train_tokens(self) -> int:
        """Tokens per epoch of training data."""
        return int(self.train.numel())


def pack_sets(
    tokenizer: Any, train: Sequence[Document], valid: Sequence[Document], block_size: int
) -> Packed:
    """Pack both sets, refusing sets too small for one training batch or one valid block."""
    train_blocks = pack(tokenizer, (d.text for d in train), block_size)
    valid_blocks = pack(tokenizer, (d.text for d in valid), block_size)
    if len(train_blocks) == 0:
        raise InvalidArgument(f"the training data holds fewer than block_size={block_size} tokens")
    if len(valid_blocks) == 0:
        # A short valid set still deserves a perplexity: use its tokens as one shorter block.
        ids: list[int] = []
        for d in valid:
            ids.extend(tokenizer(d.text, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id])
        if len(ids) < 2:
            raise InvalidArgument("the validation data is empty")
        valid_blocks = torch.tensor(ids[:block_size], dtype=torch.long).view(1, -1)
    return Packed(train_blocks, valid_blocks, len(train), len(valid))
