"""The candidates' fine-tune (``nasrec.search.evaluate.finetune``): the training loop's parts on the head
or on every dense parameter, never the embedding tables, the same batches for every candidate."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest
import torch

from nasrec.data import Dataset
from nasrec.nets.subnet import SubNet
from nasrec.search.evaluate import finetune
from nasrec.space import load_space, sample_architecture
from nasrec.space.model_config import ModelConfig


@pytest.mark.parametrize("backend", ["torch", "fbgemm"])
@pytest.mark.parametrize("scope", ["head", "dense"])
def test_only_the_scope_learns_and_reruns_agree(tiny_dataset: Path, backend: str, scope: str) -> None:
    dataset = Dataset.open(tiny_dataset)
    arch = sample_architecture(load_space("nasrec_small"), np.random.default_rng(0))
    torch.manual_seed(0)
    model = SubNet(arch, dataset.schema, ModelConfig(), embedding_backend=backend)
    before = copy.deepcopy(model.state_dict())
    again = copy.deepcopy(model)
    train = dataset.split("train")
    finetune(model, train, scope=scope, steps=4, batch_size=64, lr=0.05, seed=3)
    finetune(again, train, scope=scope, steps=4, batch_size=64, lr=0.05, seed=3)

    assert model.training  # the mode is restored
    after = model.state_dict()
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    learnt = ("head.",) if scope == "head" else ("head.", "blocks.")
    assert changed and all(k.startswith(learnt) for k in changed), changed
    if scope == "dense":
        assert any(k.startswith("blocks.") for k in changed)
    for k, v in again.state_dict().items():  # the same batches, so the same update
        assert torch.equal(v, after[k]), k
    assert not model.head._forward_pre_hooks and not model.embeddings._forward_hooks  # hooks removed
