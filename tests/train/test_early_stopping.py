"""Early stopping in the training loop: validation points every ``validate_every`` steps, the best point's
weights and metrics kept, a stop after ``patience`` points without improvement; deterministic, and a
resumed run (after a stop request, or a crash between a best save and the next checkpoint) ends exactly
as an uninterrupted one."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

from nasrec.train import TrainConfig, evaluate, train_loop
from nasrec.train.checkpoint import latest_checkpoint
from nasrec.train.run_state import best_dir

EPOCH = 9  # 2,400 train rows in batches of 256


def config(**changes: Any) -> TrainConfig:
    """Long enough at a high lr that the tiny model overfits its 2,400 rows: val turns up, the run stops."""
    base = TrainConfig(steps=40 * EPOCH, batch_size=256, lr=0.05, sparse_lr=0.1, warmup_steps=0,
                       checkpoint_every=None, keep_checkpoints=2, log_every=EPOCH, eval_rows=None,
                       validate_every=EPOCH, patience=2)  # fmt: skip
    return base.with_(**changes)


def run(
    dataset: Any, make_task: Any, cfg: TrainConfig, run_dir: Path | None, **kwargs: Any
) -> tuple[Any, Any]:
    task = make_task(dataset.schema)
    result = train_loop(task, train_view=dataset.split("train"), val_view=dataset.split("val"), config=cfg,
                        run_dir=run_dir, **kwargs)  # fmt: skip
    return task, result


def same_weights(a: Any, b: Any) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


@pytest.fixture(scope="module")
def straight(tiny_dataset: Any, tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Any]:
    from tests.train.conftest import make_tiny_task

    return run(tiny_dataset, make_tiny_task, config(), tmp_path_factory.mktemp("straight") / "run")


def test_the_run_stops_after_patience_and_ends_as_its_best_point(tiny_dataset: Any, straight: Any) -> None:
    task, result = straight
    m = result.metrics
    history = m["history"]
    assert m["stopped_early"] is True and result.completed and result.step < result.total_steps
    assert [p["step"] for p in history] == list(range(EPOCH, result.step + 1, EPOCH))
    losses = [p["val_logloss"] for p in history]
    best = min(range(len(losses)), key=losses.__getitem__)
    assert m["best_step"] == history[best]["step"] and result.step == m["best_step"] + 2 * EPOCH
    assert best >= 1 and losses[-1] > losses[best]  # it learned, then overfitted
    assert history[-1]["train_loss"] < history[best]["train_loss"]
    # the model and its metrics are the best point's, and so is the final checkpoint
    assert m["logloss"] == losses[best] == evaluate(task.model, tiny_dataset.split("val"))["logloss"]
    final = latest_checkpoint(result.checkpoint.parent.parent)
    assert final is not None and final.metadata["final"] and final.step == result.step
    assert all(torch.equal(v, task.model.state_dict()[k]) for k, v in final.load_model_state().items())
    assert not best_dir(result.checkpoint.parent.parent).exists()  # the final checkpoint holds the best


def test_early_stopping_is_deterministic_with_or_without_a_run_dir(
    tiny_dataset: Any, tiny_task: Any, straight: Any
) -> None:
    task, result = straight
    again_task, again = run(tiny_dataset, tiny_task, config(), None)  # best weights kept in memory
    assert again.metrics["history"] == result.metrics["history"]
    assert (again.step, again.metrics["best_step"]) == (result.step, result.metrics["best_step"])
    assert same_weights(again_task.model, task.model)


def test_a_stopped_run_resumes_with_its_best_so_far(
    tiny_dataset: Any, tiny_task: Any, straight: Any, tmp_path: Path
) -> None:
    task, result = straight
    stop_at = result.metrics["best_step"] + EPOCH + 4  # after the best point, mid-way between two points
    calls = {"n": 0}

    def should_stop() -> bool:
        calls["n"] += 1
        return calls["n"] >= stop_at

    _, first = run(tiny_dataset, tiny_task, config(), tmp_path / "run", should_stop=should_stop)
    assert first.stopped and first.step == stop_at
    saved = latest_checkpoint(tmp_path / "run").metadata["validations"]  # type: ignore[union-attr]
    assert saved["best"]["step"] == result.metrics["best_step"] and saved["since_best"] == 1
    resumed_task, resumed = run(tiny_dataset, tiny_task, config(), tmp_path / "run")
    assert resumed.metrics == result.metrics and resumed.step == result.step
    assert same_weights(resumed_task.model, task.model)


def test_a_crash_after_a_new_best_resumes_to_the_same_end(
    tiny_dataset: Any, tiny_task: Any, straight: Any, tmp_path: Path
) -> None:
    """Killed right after saving a new best point, before the checkpoint that names it: the resumed run
    starts from the previous checkpoint, forgets the orphan best and recomputes it."""
    task, result = straight
    history = result.metrics["history"]
    improved = [p["step"] for i, p in enumerate(history) if all(p["val_logloss"] < q["val_logloss"]
                                                                 for q in history[:i])]  # fmt: skip
    crash_at = improved[-1]
    assert crash_at > EPOCH

    def progress(step: int, total: int, metrics: dict[str, Any]) -> None:
        if "validation" in metrics and step == crash_at:
            raise KeyboardInterrupt("killed")

    with pytest.raises(KeyboardInterrupt):
        run(tiny_dataset, tiny_task, config(), tmp_path / "run", progress=progress)
    assert latest_checkpoint(tmp_path / "run").step < crash_at  # type: ignore[union-attr]
    assert latest_checkpoint(best_dir(tmp_path / "run")).step == crash_at  # type: ignore[union-attr]
    resumed_task, resumed = run(tiny_dataset, tiny_task, config(), tmp_path / "run")
    assert resumed.metrics == result.metrics
    assert same_weights(resumed_task.model, task.model)


def test_validation_points_without_patience_keep_the_last_weights(tiny_dataset: Any, tiny_task: Any) -> None:
    task, result = run(tiny_dataset, tiny_task, config(steps=4 * EPOCH, patience=None), None)
    m = result.metrics
    assert result.step == 4 * EPOCH and "best_step" not in m and "stopped_early" not in m
    assert [p["step"] for p in m["history"]] == [EPOCH, 2 * EPOCH, 3 * EPOCH, 4 * EPOCH]
    assert m["logloss"] == m["history"][-1]["val_logloss"]
    assert m["logloss"] == evaluate(task.model, tiny_dataset.split("val"))["logloss"]


def test_patience_needs_validation_points() -> None:
    from nasrec.errors import ConfigError

    with pytest.raises(ConfigError, match="patience"):
        TrainConfig(steps=10, patience=2)
