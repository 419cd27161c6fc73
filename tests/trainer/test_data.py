"""Training data: packing into full blocks and refusing overlapping train/valid sets."""

from __future__ import annotations

from typing import Any

import pytest

from services.runtime import Document, InvalidArgument
from services.trainer.data import check_disjoint, pack, split_holdout
from tests.trainer.conftest import make_documents


def test_packing_joins_documents_with_eos_into_full_blocks(small_tokenizer: Any) -> None:
    texts = ["나는 오늘\n함께 걸었다.", "바다를 보았다."]
    blocks = pack(small_tokenizer, texts * 20, block_size=8)
    eos = small_tokenizer.eos_token_id
    stream = blocks.flatten().tolist()
    assert blocks.shape[1] == 8 and len(stream) % 8 == 0
    first_doc = small_tokenizer(texts[0], add_special_tokens=False)["input_ids"]
    assert stream[: len(first_doc) + 1] == [*first_doc, eos]  # newline kept, EOS between documents
    assert small_tokenizer.decode(stream[: len(first_doc)]) == texts[0]
    assert stream.count(eos) >= 39  # no padding: EOS appears only as document separators


def test_overlapping_train_and_valid_are_refused() -> None:
    train = make_documents(10, seed=1, prefix="t")
    valid = make_documents(3, seed=2, prefix="v")
    check_disjoint(train, valid)  # disjoint: accepted
    with pytest.raises(InvalidArgument, match="overlap: 1 of 4"):
        check_disjoint(train, [*valid, Document(id=train[3].id, text="다른 글")])
    copied = Document(id="copy", text="  " + train[5].text.replace("\n", " \n ") + " ")
    with pytest.raises(InvalidArgument, match="overlap"):
        check_disjoint(train, [copied])  # the same text under another id, spacing aside


def test_holdout_split_is_deterministic_and_disjoint() -> None:
    docs = make_documents(100, seed=3)
    train, valid = split_holdout(docs)
    assert valid and len(train) + len(valid) == 100
    check_disjoint(train, valid)
    assert [d.id for d in split_holdout(docs)[1]] == [d.id for d in valid]
