"""The metric registry: what the spec, the tables and the store read about each metric."""

from __future__ import annotations

import pytest

from nasrec.errors import ConfigError
from nasrec.metrics import METRICS, SEARCHABLE, Direction
from nasrec.spec import JobSpec


def test_formats_follow_the_registry() -> None:
    assert METRICS["val_logloss"].format(0.393012) == "0.3930"
    assert METRICS["flops"].format(140_832) == "140.83k"
    assert METRICS["params"].format(2_500_000) == "2.50M"
    assert METRICS["params"].format(812) == "812"
    assert METRICS["latency_ms"].format(1.234) == "1.23"
    assert METRICS["val_auc"].format(None) == "" and METRICS["val_auc"].format(float("nan")) == ""


def test_unknown_metric_names_the_known_ones() -> None:
    with pytest.raises(ConfigError, match="unknown metric 'accuracy'; known metrics: val_logloss"):
        JobSpec.parse({"dataset": "d", "objectives": ["accuracy"]})


def test_test_split_metrics_are_never_searchable() -> None:
    assert {m for m in METRICS if METRICS[m].kind == "tested"} == {"test_logloss", "test_auc"}
    assert not set(SEARCHABLE) & {"test_logloss", "test_auc"}
    with pytest.raises(ConfigError, match="measured on the test split"):
        JobSpec.parse({"dataset": "d", "objectives": ["test_logloss"]})
    with pytest.raises(ConfigError, match="measured on the test split"):
        JobSpec.parse({"dataset": "d", "constraints": ["test_auc >= 0.7"]})


def test_objective_direction_defaults_to_the_registry() -> None:
    spec = JobSpec.parse(
        {"dataset": "d", "search": {"controller": "nsga2"}, "objectives": ["val_auc", "flops"]}
    )
    assert [o.direction for o in spec.objectives] == [Direction.MAXIMIZE, Direction.MINIMIZE]
    assert [METRICS[o.name].direction for o in spec.objectives] == [o.direction for o in spec.objectives]
