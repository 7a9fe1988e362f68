"""Job spec validation: unknown keys, impossible values, constraint strings, YAML round trip."""

from __future__ import annotations

import pytest

from nasrec.errors import ConfigError
from nasrec.spec import Constraint, JobSpec, load_spec


def _error(data: object) -> str:
    with pytest.raises(ConfigError) as info:
        JobSpec.parse(data)
    return str(info.value)


def test_defaults_are_valid_and_named() -> None:
    spec = JobSpec.parse({"dataset": "planted"})
    assert spec.primary.name == "val_logloss" and spec.primary.minimize
    assert spec.search.controller == "evolution"
    assert spec.job_name.startswith("planted-nasrec_small-evolution-s0-")
    assert JobSpec.parse({"dataset": "planted"}).job_name == spec.job_name  # stable
    assert JobSpec.parse({"dataset": "planted", "seed": 1}).job_name != spec.job_name


def test_unknown_keys_are_named_with_their_path() -> None:
    message = _error({"dataset": "x", "search": {"candidatez": 3}, "colour": "red"})
    assert "search.candidatez: unknown key" in message
    assert "colour: unknown key" in message


def test_missing_dataset_is_named() -> None:
    assert "dataset: required key is missing" in _error({})


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        ({"search": {"candidates": 0}}, "search.candidates"),
        ({"search": {"population": 1}}, "search.population"),
        ({"search": {"population": 8, "sample_size": 9}}, "sample_size (9) cannot exceed population (8)"),
        (
            {"search": {"controller": "evolution", "candidates": 4, "population": 8}},
            "population (8) <= candidates",
        ),
        ({"search": {"controller": "annealing"}}, "search.controller"),
        ({"supernet": {"steps": 10, "warmup_k": 20}}, "warmup_k (20) cannot exceed steps (10)"),
        ({"supernet": {"lr": -1}}, "supernet.lr"),
        ({"evaluation": {"val_rows": 0}}, "evaluation.val_rows"),
        ({"resources": {"eval_actors": 0}}, "resources.eval_actors"),
        ({"resources": {"gpus_per_worker": -1}}, "resources.gpus_per_worker"),
        ({"objectives": []}, "objectives"),
        ({"objectives": ["flops"]}, "primary"),
        ({"objectives": ["val_logloss", "val_logloss"]}, "listed twice"),
        ({"objectives": ["val_logloss", "flops:sideways"]}, "objectives[1].direction"),
        ({"objectives": ["val_logloss", "accuracy"]}, "unknown metric 'accuracy'"),
        ({"search": {"controller": "nsga2"}}, "nsga2 is multi-objective"),
        ({"objectives": ["val_logloss", "flops"]}, "use nsga2"),
        ({"constraints": ["latency_ms <= 3"], "evaluation": {"latency": False}}, "evaluation.latency is off"),
        ({"finalize": {"patience": -1}}, "finalize.patience"),
        ({"supernet": {"epochs": 0}}, "supernet.epochs"),
        ({"name": "bad name!"}, "name"),
    ],
)
def test_impossible_values_are_rejected_with_the_field(data: dict, fragment: str) -> None:
    assert fragment in _error({"dataset": "x", **data})


@pytest.mark.parametrize(
    ("text", "metric", "op", "value"),
    [
        ("flops <= 2e6", "flops", "<=", 2e6),
        ("flops<=2e6", "flops", "<=", 2e6),
        ("params < 2M", "params", "<", 2e6),
        ("params <= 150_000", "params", "<=", 150_000),
        ("latency_ms <= 0.5", "latency_ms", "<=", 0.5),
        ("val_auc >= 0.7", "val_auc", ">=", 0.7),
        ("flops > 1.5k", "flops", ">", 1500),
    ],
)
def test_constraint_strings_parse(text: str, metric: str, op: str, value: float) -> None:
    c = Constraint.model_validate(text)
    assert (c.metric, c.op, c.value) == (metric, op, pytest.approx(value))


def test_constraint_structured_form_and_semantics() -> None:
    spec = JobSpec.parse(
        {"dataset": "x", "constraints": ["flops <= 2e6", {"metric": "params", "op": "<", "value": 10}]}
    )
    flops, params = spec.constraints
    assert flops.satisfied(2e6) and not flops.satisfied(2e6 + 1)
    assert flops.violation(3e6) == pytest.approx(0.5) and flops.violation(1e6) < 0
    assert params.satisfied(9) and not params.satisfied(10)
    assert flops.kind == "analytic"
    ge = Constraint.model_validate("val_auc >= 0.7")
    assert ge.satisfied(0.7) and not ge.satisfied(0.69)


@pytest.mark.parametrize("text", ["flops =< 2e6", "flops <= lots", "<= 3", "flops <= 2e6 or so", "size <= 3"])
def test_bad_constraint_strings_are_explained(text: str) -> None:
    message = _error({"dataset": "x", "constraints": [text]})
    assert "constraints[0]" in message
    assert "flops <= 2e6" in message or "unknown metric" in message


def test_objective_short_forms() -> None:
    spec = JobSpec.parse(
        {
            "dataset": "x",
            "search": {"controller": "nsga2"},
            "objectives": ["val_logloss", "flops:maximize", {"name": "params"}],
        }
    )
    assert [(o.name, o.direction.value) for o in spec.objectives] == [
        ("val_logloss", "minimize"),
        ("flops", "maximize"),
        ("params", "minimize"),
    ]


def test_yaml_round_trip_and_file_loading(tmp_path) -> None:
    text = """
dataset: planted
seed: 4
search: {controller: tpe, candidates: 20}
constraints: ["flops <= 2e6"]
"""
    path = tmp_path / "job.yaml"
    path.write_text(text)
    spec = load_spec(path)
    assert spec.seed == 4 and spec.search.controller == "tpe"
    assert JobSpec.from_yaml(spec.to_yaml()) == spec
    assert JobSpec.from_json(spec.to_json()) == spec
    with pytest.raises(ConfigError, match="not found"):
        load_spec(tmp_path / "missing.yaml")
    path.write_text("dataset: [unclosed")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_spec(path)
    path.write_text("- a list")
    with pytest.raises(ConfigError, match="mapping"):
        load_spec(path)


def test_fingerprint_ignores_name_and_resources() -> None:
    a = JobSpec.parse({"dataset": "x"})
    b = JobSpec.parse({"dataset": "x", "name": "mine", "resources": {"eval_actors": 2}})
    assert a.fingerprint == b.fingerprint
    assert b.job_name == "mine"
