"""The candidates' head fine-tune (``nasrec.search.evaluate.finetune_head``): the training loop's parts
on the head only, the same batches for every candidate."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest
import torch

from nasrec.data import Dataset
from nasrec.nets.subnet import SubNet
from nasrec.search.evaluate import finetune_head
from nasrec.space import load_space, sample_architecture
from nasrec.space.model_config import ModelConfig


@pytest.mark.parametrize("backend", ["torch", "fbgemm"])
def test_only_the_head_learns_and_reruns_agree(tiny_dataset: Path, backend: str) -> None:
    dataset = Dataset.open(tiny_dataset)
    arch = sample_architecture(load_space("nasrec_small"), np.random.default_rng(0))
    torch.manual_seed(0)
    model = SubNet(arch, dataset.schema, ModelConfig(), embedding_backend=backend)
    before = copy.deepcopy(model.state_dict())
    again = copy.deepcopy(model)
    train = dataset.split("train")
    finetune_head(model, train, steps=4, batch_size=64, lr=0.05, seed=3)
    finetune_head(again, train, steps=4, batch_size=64, lr=0.05, seed=3)

    assert model.training  # the mode is restored
    after = model.state_dict()
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    assert changed and all(k.startswith("head.") for k in changed), changed
    for k, v in again.state_dict().items():  # the same batches, so the same update
        assert torch.equal(v, after[k]), k
    assert not model.head._forward_pre_hooks  # the capture hook is removed
