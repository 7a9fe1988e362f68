"""Budgets that follow the data: the spec's steps win over its epochs, epochs over the derived rule, and
the rule gives a small split enough steps without memorising and a huge one more than a sliver of an
epoch (``nasrec.spec``'s ``SUPERNET_*``, ``FINETUNE_*``, ``RETRAIN_*``)."""

from __future__ import annotations

import pytest

from nasrec import spec as rules
from nasrec.errors import ConfigError
from nasrec.spec import EvaluationSpec, FinalizeSpec, JobSpec, SupernetSpec

DEMO_TRAIN_ROWS = 800_000  # the demo's planted 1M rows, split 8:1:1
SMALL_TRAIN_ROWS = 6_400  # an 8k-row set
HUGE_TRAIN_ROWS = 8_000_000  # 10M rows


def test_explicit_steps_win_over_epochs() -> None:
    spec = JobSpec.parse({"dataset": "x", "supernet": {"steps": 700, "epochs": 3.0}})
    assert spec.supernet.epochs is None
    budget = spec.supernet.budget(DEMO_TRAIN_ROWS)
    assert (budget.steps, budget.source) == (700, "steps")
    assert budget.epochs == pytest.approx(700 / 1562)
    finalize = FinalizeSpec(retrain_steps=90, retrain_epochs=2.0)
    assert finalize.retrain_budget(SMALL_TRAIN_ROWS).steps == 90
    evaluation = EvaluationSpec(finetune_steps=7, finetune_epochs=1.0)
    assert evaluation.finetune_budget(SMALL_TRAIN_ROWS).steps == 7


def test_epochs_are_passes_over_the_train_split() -> None:
    budget = SupernetSpec(epochs=2.0).budget(DEMO_TRAIN_ROWS)
    assert (budget.steps, budget.source) == (3124, "epochs")  # 1,562 full batches of 512 per epoch
    assert budget.to_dict() == {
        "steps": 3124, "epochs": 2.0, "train_rows": DEMO_TRAIN_ROWS, "batch_size": 512, "source": "epochs"
    }  # fmt: skip
    assert FinalizeSpec(retrain_epochs=0.5, batch_size=100).retrain_budget(1000).steps == 5


def test_derived_supernet_budget_fits_small_demo_and_huge_splits() -> None:
    small = SupernetSpec().budget(SMALL_TRAIN_ROWS)
    assert small.source == "derived"
    # an 8k-row set: more than one epoch (12 steps do not learn), never the memorising hundreds of epochs
    assert 1.0 < small.epochs <= rules.SUPERNET_MAX_EPOCHS
    assert small.steps == min(rules.SUPERNET_MIN_STEPS, round(rules.SUPERNET_MAX_EPOCHS * 12))
    demo = SupernetSpec().budget(DEMO_TRAIN_ROWS)
    assert demo.steps == 1562 and demo.epochs == pytest.approx(1.0)  # the old default was 1,500 steps
    huge = SupernetSpec().budget(HUGE_TRAIN_ROWS)
    assert huge.steps == 15625 and huge.epochs == pytest.approx(1.0)  # a whole epoch, not 5% of one
    huger = SupernetSpec().budget(100 * HUGE_TRAIN_ROWS)  # the cap bounds a search's wall time
    assert huger.steps == rules.SUPERNET_MAX_STEPS
    middle = SupernetSpec().budget(100_000)  # 195 batches: the floor of steps, within the epoch cap
    assert middle.steps == rules.SUPERNET_MIN_STEPS


def test_derived_retraining_and_finetune_budgets() -> None:
    small = FinalizeSpec().retrain_budget(SMALL_TRAIN_ROWS)
    # 12 batches an epoch: many epochs, as many as early stopping finds useful, up to the cap
    assert small.source == "derived" and small.steps == min(
        rules.RETRAIN_MIN_STEPS, round(rules.RETRAIN_MAX_EPOCHS * 12)
    )
    assert 1.0 < small.epochs <= rules.RETRAIN_MAX_EPOCHS
    demo = FinalizeSpec().retrain_budget(DEMO_TRAIN_ROWS)
    assert demo.steps == 1562  # one epoch, as before
    assert FinalizeSpec().retrain_budget(HUGE_TRAIN_ROWS).epochs == pytest.approx(1.0)  # never cut
    assert EvaluationSpec().finetune_budget(SMALL_TRAIN_ROWS).steps == 24  # two passes of 12 batches
    assert EvaluationSpec().finetune_budget(DEMO_TRAIN_ROWS).steps == rules.FINETUNE_STEPS
    assert EvaluationSpec(finetune_steps=0).finetune_budget(SMALL_TRAIN_ROWS).steps == 0


def test_early_stopping_settings() -> None:
    assert FinalizeSpec().retrain_validate_every(1562) == 1562 // rules.RETRAIN_VALIDATIONS
    assert FinalizeSpec(validate_every=50).retrain_validate_every(1562) == 50
    assert FinalizeSpec(patience=0).retrain_validate_every(1562) is None  # off: the last weights
    assert FinalizeSpec().retrain_validate_every(5) == 1
    assert SupernetSpec().resolved_validate_every(3124) == 3124 // rules.SUPERNET_VALIDATIONS


def test_a_split_smaller_than_a_batch_is_refused() -> None:
    with pytest.raises(ConfigError, match="fewer than one batch of 512"):
        SupernetSpec().budget(300)


def test_warmup_longer_than_explicit_steps_is_refused() -> None:
    with pytest.raises(ConfigError, match="warmup_k"):
        JobSpec.parse({"dataset": "x", "supernet": {"steps": 10, "warmup_k": 20}})
    JobSpec.parse({"dataset": "x", "supernet": {"epochs": 0.1, "warmup_k": 20}})  # checked when resolved
