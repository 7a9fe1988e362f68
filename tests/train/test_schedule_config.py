"""The LR schedule's shape, the path warm-up probability, and TrainConfig validation."""

from __future__ import annotations

import math

import pytest
import torch

from nasrec.errors import ConfigError
from nasrec.train.config import TrainConfig
from nasrec.train.schedule import WarmupCosine, path_warmup_probability


def lrs_of(total: int, warmup: int, peak: float = 0.1, min_lr: float = 1e-8) -> list[float]:
    param = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([param], lr=peak)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, WarmupCosine(total, warmup, min_lr / peak))
    out = []
    for _ in range(total + 1):
        out.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    return out


def test_warmup_then_cosine_shape() -> None:
    total, warmup, peak = 100, 10, 0.1
    lrs = lrs_of(total, warmup, peak)
    assert lrs[0] == pytest.approx(1e-8)
    # linear warm-up: equal increments up to the peak at step W
    diffs = [b - a for a, b in zip(lrs[:warmup], lrs[1 : warmup + 1], strict=True)]
    assert all(d == pytest.approx(diffs[0]) for d in diffs)
    assert lrs[warmup] == pytest.approx(peak) and max(lrs) == pytest.approx(peak)
    # cosine: monotone down, half the peak at the middle of the decay, ~0 at T
    decay = lrs[warmup:]
    assert all(a >= b for a, b in zip(decay, decay[1:], strict=False))
    assert lrs[warmup + (total - warmup) // 2] == pytest.approx(peak / 2, rel=1e-6)
    assert lrs[total] == pytest.approx(1e-8)
    t = 70
    expected = 1e-8 + (peak - 1e-8) * 0.5 * (1 + math.cos(math.pi * (t - warmup) / (total - warmup)))
    assert lrs[t] == pytest.approx(expected)


def test_no_warmup_starts_at_peak() -> None:
    assert lrs_of(20, 0)[0] == pytest.approx(0.1)


def test_path_warmup_probability() -> None:
    assert [path_warmup_probability(t, 4) for t in range(6)] == [1.0, 0.75, 0.5, 0.25, 0.0, 0.0]
    assert path_warmup_probability(0, 0) == 0.0


def test_config_defaults_and_lengths() -> None:
    cfg = TrainConfig(batch_size=100)
    assert cfg.total_steps(1050) == 10
    assert cfg.resolved_warmup(10) == 1 and cfg.resolved_path_warmup(10) == 2
    assert cfg.resolved_sparse_lr == cfg.lr
    assert TrainConfig(epochs=2.5, batch_size=100).total_steps(1000) == 25
    assert TrainConfig(steps=7).total_steps(10) == 7
    assert TrainConfig(sampler="default").sampler == "single-op-any-connection"
    assert TrainConfig.from_dict(cfg.to_dict()) == cfg


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"steps": 5, "epochs": 1.0}, "not both"),
        ({"batch_size": 0}, "batch_size"),
        ({"optimizer": "rmsprop"}, "rmsprop"),
        ({"sampler": "evo-2shot-path"}, "sampler"),
        ({"batch_size": 5, "num_workers": 2}, "divisible"),
        ({"min_lr": 1.0}, "min_lr"),
    ],
)
def test_config_rejects_bad_values(kwargs: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        TrainConfig(**kwargs)


def test_config_rejects_epochs_shorter_than_a_batch() -> None:
    with pytest.raises(ConfigError, match="fewer than one batch"):
        TrainConfig(batch_size=512).total_steps(100)
