"""The search's health findings (``nasrec.search.health``) and the levels they are read against."""

from __future__ import annotations

import math

import pytest

from nasrec.search.health import ranking_findings, supernet_findings
from nasrec.train.metrics import constant_logloss, logloss_standard_error

SE = 0.005
CONSTANT = 0.56


def point(step: int, train: float, val: float) -> dict[str, float]:
    return {"step": step, "train_loss": train, "val_logloss": val, "val_auc": 0.7}


def test_reference_levels() -> None:
    assert constant_logloss(0.25) == pytest.approx(-(0.25 * math.log(0.25) + 0.75 * math.log(0.75)))
    assert constant_logloss(0.25, 0.5) == pytest.approx(-(0.5 * math.log(0.25) + 0.5 * math.log(0.75)))
    assert logloss_standard_error(0.25, 8000) == pytest.approx(0.0053, abs=1e-4)  # the 0.005
    assert logloss_standard_error(0.25, 32000) == pytest.approx(logloss_standard_error(0.25, 8000) / 2)


def test_a_healthy_supernet_has_no_findings() -> None:
    history = [
        point(100, 0.60, 0.55),
        point(200, 0.50, 0.50),
        point(300, 0.48, 0.47),
        point(400, 0.47, 0.471),
    ]
    assert supernet_findings(history, total=400, constant=CONSTANT, se=SE) == []


def test_val_rising_while_train_falls_is_memorisation() -> None:
    history = [point(100, 0.55, 0.52), point(200, 0.45, 0.50), point(300, 0.30, 0.53), point(400, 0.10, 0.70)]
    found = supernet_findings(history[:3], total=400, constant=CONSTANT, se=SE)
    assert [f.kind for f in found] == ["memorising"]
    assert "0.5300, up from 0.5000 at step 200" in found[0].message
    assert found[0].data["best_step"] == 200
    # later its val is worse than a constant predictor's, too
    found = supernet_findings(history, total=400, constant=CONSTANT, se=SE)
    assert [f.kind for f in found] == ["memorising", "worse_than_constant"]
    assert "0.7000" in found[1].message and "0.5600" in found[1].message


def test_a_rise_within_noise_or_with_train_rising_too_is_not_memorisation() -> None:
    noise = [point(100, 0.50, 0.500), point(200, 0.45, 0.508)]  # +0.008 < 2 standard errors
    assert supernet_findings(noise, total=400, constant=CONSTANT, se=SE) == []
    both = [point(100, 0.50, 0.50), point(200, 0.55, 0.555)]  # a bad lr step, not memorisation
    assert [f.kind for f in supernet_findings(both, total=400, constant=CONSTANT, se=SE)] == []


def test_worse_than_constant_is_judged_in_the_second_half_only() -> None:
    early = [point(50, 0.70, 0.65)]  # still warming up
    assert supernet_findings(early, total=400, constant=CONSTANT, se=SE) == []
    late = [point(250, 0.70, 0.65)]
    assert [f.kind for f in supernet_findings(late, total=400, constant=CONSTANT, se=SE)] == [
        "worse_than_constant"
    ]


def test_top_scores_within_a_standard_error_are_indistinguishable() -> None:
    found = ranking_findings([0.4412, 0.4415, 0.4421], constant=CONSTANT, se=0.0053, rows=8000)
    assert [f.kind for f in found] == ["indistinguishable"]
    assert "0.4412 to 0.4421" in found[0].message and "0.0009" in found[0].message
    assert "0.0053" in found[0].message and "8,000 val rows" in found[0].message
    assert ranking_findings([0.43, 0.45, 0.47], constant=CONSTANT, se=0.0053, rows=8000) == []
    assert ranking_findings([0.43], constant=CONSTANT, se=0.0053, rows=8000) == []  # nothing to compare


def test_one_shot_scores_worse_than_constant() -> None:
    found = ranking_findings([0.90, 0.95], constant=0.48, se=0.005, rows=400)
    assert [f.kind for f in found] == ["oneshot_worse_than_constant"]
    assert "0.9000" in found[0].message and "0.4800" in found[0].message


def test_the_command_line_prints_budgets_and_warnings_as_lines() -> None:
    import io

    from rich.console import Console

    from nasrec.search.cli import phase_progress

    out = io.StringIO()
    console = Console(file=out, width=200, force_terminal=False)
    with phase_progress(console) as update:
        update("budgets", 0, 0, {"message": "budgets: supernet 84 steps (6.00 epochs, derived)"})
        update("warning", 0, 0, {"message": "the supernet is memorising: [step 560]", "kind": "memorising"})
    text = out.getvalue()
    assert "budgets: supernet 84 steps (6.00 epochs, derived)" in text
    assert "warning: the supernet is memorising: [step 560]" in text  # markup in a message is escaped
