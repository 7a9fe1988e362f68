"""The shared training loop on a tiny model: resume equality, schedules, progress, stop, guards."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

from nasrec.errors import ConfigError, ConflictError
from nasrec.train import TrainConfig, evaluate, forbid_test_split, train_loop
from nasrec.train.checkpoint import latest_checkpoint, list_checkpoints
from nasrec.train.schedule import WarmupCosine

BACKENDS = ["torch", "fbgemm"]


def config(**changes: Any) -> TrainConfig:
    base = TrainConfig(steps=14, batch_size=256, lr=0.05, sparse_lr=0.1, warmup_steps=3, checkpoint_every=5,
                       keep_checkpoints=3, log_every=1, eval_rows=None)  # fmt: skip
    return base.with_(**changes)


@pytest.fixture(autouse=True)
def _factory(tiny_task: Any) -> None:
    global _make_task
    _make_task = tiny_task


_make_task: Any = None


def tiny_task(schema: Any, backend: str = "torch") -> Any:
    return _make_task(schema, backend)


def run(dataset: Any, cfg: TrainConfig, run_dir: Path | None, backend: str, **kwargs: Any) -> Any:
    task = tiny_task(dataset.schema, backend)
    result = train_loop(task, train_view=dataset.split("train"), val_view=dataset.split("val"), config=cfg,
                        run_dir=run_dir, **kwargs)  # fmt: skip
    return task, result


def stop_after(n: int) -> Any:
    calls = {"n": 0}

    def should_stop() -> bool:
        calls["n"] += 1
        return calls["n"] >= n

    return should_stop


def assert_same_state(a: dict[str, Any], b: dict[str, Any]) -> None:
    assert a.keys() == b.keys()
    for key in a:
        if torch.is_tensor(a[key]):
            assert torch.equal(a[key], b[key]), key
        else:
            assert a[key] == b[key], key


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("stop_at", [4, 9])  # mid-epoch, and exactly at the epoch boundary (9 batches/epoch)
def test_resume_after_interrupt_matches_uninterrupted(
    tiny_dataset: Any, tmp_path: Path, backend: str, stop_at: int
) -> None:
    cfg = config()
    straight_task, straight = run(tiny_dataset, cfg, tmp_path / "straight", backend)

    _, first = run(tiny_dataset, cfg, tmp_path / "resumed", backend, should_stop=stop_after(stop_at))
    assert first.stopped and first.step == stop_at and not first.completed
    assert latest_checkpoint(tmp_path / "resumed").step == stop_at  # type: ignore[union-attr]
    resumed_task, resumed = run(tiny_dataset, cfg, tmp_path / "resumed", backend)
    assert resumed.completed and resumed.step == straight.step == 14

    assert_same_state(straight_task.model.state_dict(), resumed_task.model.state_dict())
    straight_ckpts = {c.step: c for c in list_checkpoints(tmp_path / "straight")}
    resumed_ckpts = {c.step: c for c in list_checkpoints(tmp_path / "resumed")}
    common = sorted(straight_ckpts.keys() & resumed_ckpts.keys())
    assert common[-2:] == [10, 14]
    for step in common:
        a, b = straight_ckpts[step].load_train_state(), resumed_ckpts[step].load_train_state()
        assert_same_state(straight_ckpts[step].load_model_state(), resumed_ckpts[step].load_model_state())
        assert a["path_rng"] == b["path_rng"] and torch.equal(a["torch_rng"], b["torch_rng"])
        assert a["dense_scheduler"] == b["dense_scheduler"]
        for sa, sb in zip(a["dense_optimizer"]["state"].values(), b["dense_optimizer"]["state"].values(),
                          strict=True):  # fmt: skip
            assert_same_state(sa, sb)
    assert straight.metrics["logloss"] == resumed.metrics["logloss"]


def test_finished_run_returns_its_result(tiny_dataset: Any, run_dir: Path) -> None:
    _, done = run(tiny_dataset, config(), run_dir, "torch")
    _, again = run(tiny_dataset, config(), run_dir, "torch")
    assert again.completed and again.metrics == done.metrics and again.checkpoint == done.checkpoint


def test_resuming_with_a_different_config_is_refused(tiny_dataset: Any, run_dir: Path) -> None:
    run(tiny_dataset, config(), run_dir, "torch", should_stop=stop_after(3))
    with pytest.raises(ConflictError, match="lr"):
        run(tiny_dataset, config(lr=0.01), run_dir, "torch")
    # placement fields may change; resume=False starts over
    _, fresh = run(tiny_dataset, config(lr=0.01), run_dir, "torch", resume=False)
    assert fresh.completed


@pytest.mark.parametrize("backend", BACKENDS)
def test_dense_and_sparse_lr_follow_the_schedule(tiny_dataset: Any, backend: str) -> None:
    seen: list[tuple[int, dict[str, Any]]] = []
    cfg = config(steps=20, warmup_steps=5, checkpoint_every=None)
    task, _ = run(tiny_dataset, cfg, None, backend, progress=lambda s, t, m: seen.append((s, m)))
    dense, sparse = WarmupCosine(20, 5, 1e-8 / 0.05), WarmupCosine(20, 5, 1e-8 / 0.1)
    steps = [s for s, m in seen if "lr" in m]
    assert steps == list(range(1, 21))
    for s, m in seen:
        if "lr" in m:
            assert m["lr"] == pytest.approx(0.05 * dense(s))
            assert m["sparse_lr"] == pytest.approx(0.1 * sparse(s))
    # the embeddings' own lr: fbgemm's was set for the last step (19, fused into backward); the torch
    # optimizer's has already been stepped to the next one (20), like the dense optimizer's
    last = 19 if backend == "fbgemm" else 20
    assert task.model.embeddings.learning_rate == pytest.approx(0.1 * sparse(last))


def test_separate_dense_and_sparse_optimizers(tiny_dataset: Any) -> None:
    """Dense Adagrad only over dense params; the embedding table is updated by its own row-wise rule."""
    task = tiny_task(tiny_dataset.schema, "torch")
    before = task.model.embeddings.get_weights()
    cfg = config(steps=3, checkpoint_every=None)
    train_loop(task, train_view=tiny_dataset.split("train"), val_view=None, config=cfg, run_dir=None)
    after = task.model.embeddings.get_weights()
    assert any(not torch.equal(a, b) for a, b in zip(before, after, strict=True))
    assert any(float(m.sum()) > 0 for m in task.model.embeddings.get_optimizer_state())


def test_gradient_clipping_bounds_the_dense_update(tiny_dataset: Any) -> None:
    """With SGD (no momentum effect on step 1) the first update is lr * clipped grad: norm <= lr * clip."""
    task = tiny_task(tiny_dataset.schema, "torch")
    params = [p.detach().clone() for p in task.model.dense_parameters()]
    cfg = config(steps=1, optimizer="sgd", lr=1.0, warmup_steps=0, grad_clip=1e-3, checkpoint_every=None)
    train_loop(task, train_view=tiny_dataset.split("train"), val_view=None, config=cfg, run_dir=None)
    delta = torch.cat([(p - q).flatten() for p, q in zip(task.model.dense_parameters(), params, strict=True)])
    # nesterov SGD's first step is grad * (1 + momentum)
    assert float(delta.norm()) == pytest.approx(1e-3 * 1.9, rel=1e-4)


def test_clip_and_step_runs_on_one_thread_and_gives_back_the_thread_count() -> None:
    """The CPU update runs single-threaded (see clip_and_step); the caller's thread count is restored,
    and the clipped fused Adagrad step equals torch's clip_grad_norm_ + Adagrad."""
    from nasrec.train.optimizers import clip_and_step

    torch.manual_seed(0)
    ours = [torch.randn(64, 48, requires_grad=True), torch.randn(48, requires_grad=True)]
    ref = [p.detach().clone().requires_grad_() for p in ours]
    for a, b in zip(ours, ref, strict=True):
        a.grad = torch.randn_like(a)
        b.grad = a.grad.clone()
    seen = []
    fused = torch.optim.Adagrad(ours, lr=0.1, eps=1e-2, fused=True)
    fused.register_step_pre_hook(lambda *_: seen.append(torch.get_num_threads()))
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        clip_and_step(fused, ours, 1.0)
        assert seen == [1] and torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)
    torch.nn.utils.clip_grad_norm_(ref, 1.0)
    torch.optim.Adagrad(ref, lr=0.1, eps=1e-2).step()
    for a, b in zip(ours, ref, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


def test_epochs_and_progress_reach_the_total(tiny_dataset: Any) -> None:
    seen: list[int] = []
    cfg = config(steps=None, epochs=2.0, log_every=4, checkpoint_every=None)
    _, result = run(tiny_dataset, cfg, None, "torch", progress=lambda s, t, m: seen.append(s))
    assert result.total_steps == 18 and result.step == 18
    assert seen[:4] == [4, 8, 12, 16] and seen[-1] == 18
    assert set(result.metrics) >= {"logloss", "auc", "rows", "train_loss", "diverged"}
    assert result.metrics["rows"] == 300


def test_keep_last_k_checkpoints(tiny_dataset: Any, run_dir: Path) -> None:
    run(tiny_dataset, config(steps=14, checkpoint_every=2, keep_checkpoints=2), run_dir, "torch")
    assert [c.step for c in list_checkpoints(run_dir)] == [12, 14]
    assert list_checkpoints(run_dir)[-1].metadata["final"] is True


def test_test_split_is_refused_for_training_and_selection(tiny_dataset: Any) -> None:
    task = tiny_task(tiny_dataset.schema)
    test_view = tiny_dataset.split("test")
    with pytest.raises(ConfigError, match="test split"):
        train_loop(task, train_view=test_view, val_view=None, config=config(), run_dir=None)
    with pytest.raises(ConfigError, match="test split"):
        train_loop(task, train_view=tiny_dataset.split("train"), val_view=test_view, config=config(),
                   run_dir=None)  # fmt: skip
    with forbid_test_split(), pytest.raises(ConfigError, match="test split"):
        evaluate(task.model, test_view)
    # the final, once-only test evaluation happens outside training and search
    assert evaluate(task.model, test_view)["rows"] == 300


def test_divergence_ends_the_run_with_a_clear_result(tiny_dataset: Any, run_dir: Path) -> None:
    task = tiny_task(tiny_dataset.schema)
    forward = task.forward
    task.forward = lambda m, b, step, rng: forward(m, b, step, rng) * (float("nan") if step == 3 else 1.0)
    result = train_loop(task, train_view=tiny_dataset.split("train"), val_view=tiny_dataset.split("val"),
                        config=config(), run_dir=run_dir)  # fmt: skip
    assert result.step == 4 and result.metrics["diverged"] is True and result.metrics["rows"] == 0
    assert latest_checkpoint(run_dir).metadata["final"] is True  # type: ignore[union-attr]
