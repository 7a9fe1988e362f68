"""Every controller proposes valid, feasible, non-duplicate candidates; constraints and duplicates are
screened before evaluation and recorded in the study (scripted evaluator; no training)."""

from __future__ import annotations

from pathlib import Path

import pytest
from optuna.trial import TrialState

from nasrec.search import create_search
from nasrec.search.controllers import RandomController
from nasrec.space import Architecture

from .conftest import ScriptedEvaluator, make_spec

CONTROLLERS = ["random", "evolution", "tpe", "nsga2"]


def _objectives(controller: str) -> list[str]:
    return ["val_logloss", "flops"] if controller == "nsga2" else ["val_logloss"]


@pytest.mark.parametrize("controller", CONTROLLERS)
def test_controller_proposes_valid_feasible_distinct_candidates(
    controller: str, tiny_dataset: Path, tmp_path: Path
) -> None:
    spec = make_spec(
        tiny_dataset,
        search={"controller": controller, "candidates": 8, "population": 4, "batch_size": 4},
        objectives=_objectives(controller),
        constraints=["flops <= 1e6"],
    )
    search = create_search(spec, storage=f"sqlite:///{tmp_path / 'db.sqlite'}")
    evaluator = ScriptedEvaluator()
    counts = search.run_search(evaluator)

    assert counts["evaluated"] == 8
    assert len(evaluator.calls) == 8
    assert len(set(evaluator.calls)) == 8  # never the same architecture twice
    space = search.space
    for trial in search.trials():
        arch = Architecture.from_json(trial.user_attrs["architecture"])
        arch.validate(space)
        assert arch == arch.canonical()
        assert trial.user_attrs["arch_hash"] == arch.canonical_hash()
        assert "flops" in trial.user_attrs and "params" in trial.user_attrs
        status = trial.user_attrs["status"]
        if status == "evaluated":
            assert trial.state == TrialState.COMPLETE
            assert trial.user_attrs["flops"] <= 1e6 and trial.user_attrs["feasible"]
            assert trial.user_attrs["val_logloss"] == pytest.approx(trial.values[0])
        elif status == "infeasible":
            assert trial.state == TrialState.PRUNED
            assert trial.user_attrs["flops"] > 1e6
            assert trial.user_attrs["violations"] == ["flops <= 1e+06"]
            assert trial.user_attrs["arch_hash"] not in evaluator.calls
            assert max(trial.constraints.values()) > 0
        else:
            assert status == "duplicate", status
    if controller in ("random", "evolution"):
        # These screen with the analytic constraints before proposing: nothing infeasible is proposed.
        assert counts["infeasible"] == 0 and counts["duplicate"] == 0


@pytest.mark.parametrize("controller", CONTROLLERS)
def test_same_spec_and_seed_give_the_same_candidates(
    controller: str, tiny_dataset: Path, tmp_path: Path
) -> None:
    runs = []
    for k in range(2):
        spec = make_spec(
            tiny_dataset,
            search={"controller": controller, "candidates": 6, "population": 4, "batch_size": 3},
            objectives=_objectives(controller),
        )
        search = create_search(spec, storage=f"sqlite:///{tmp_path / f'db{k}.sqlite'}")
        evaluator = ScriptedEvaluator()
        search.run_search(evaluator)
        runs.append([t.user_attrs["arch_hash"] for t in search.trials()])
    assert runs[0] == runs[1]


def test_infeasible_and_duplicate_proposals_cost_no_evaluation(tiny_dataset: Path, tmp_path: Path) -> None:
    """Drive the Search with a controller that re-proposes one architecture and an infeasible one."""
    spec = make_spec(
        tiny_dataset, search={"controller": "random", "candidates": 3}, constraints=["flops <= 1e6"]
    )
    search = create_search(spec, storage=f"sqlite:///{tmp_path / 'db.sqlite'}")
    space = search.space
    import numpy as np

    from nasrec.space import sample_architecture

    rng = np.random.default_rng(0)
    small = big = None
    while small is None or big is None:
        arch = sample_architecture(space, rng)
        cost = search.costs(arch)["flops"]
        if cost <= 1e6 and small is None:
            small = arch
        if cost > 2e6 and big is None:
            big = arch

    class Repeating(RandomController):
        def propose(self, history, max_n):  # type: ignore[no-untyped-def]
            if len(history) < 4:
                return [self.fixed(small, role="x"), self.fixed(small, role="x"), self.fixed(big, role="x")]
            return super().propose(history, max_n)

    search._controller = Repeating(search.controller.context)
    evaluator = ScriptedEvaluator()
    search.run_search(evaluator)
    first = search.trials()[:6]
    assert [t.user_attrs["status"] for t in first[:3]] == ["evaluated", "duplicate", "infeasible"]
    assert [t.user_attrs["status"] for t in first[3:6]] == ["duplicate", "duplicate", "infeasible"]
    assert first[1].user_attrs["duplicate_of"] == first[0].number
    assert first[1].values == first[0].values
    assert first[2].state == TrialState.PRUNED and first[2].user_attrs["flops"] > 2e6
    assert evaluator.calls.count(small.canonical_hash()) == 1
    assert big.canonical_hash() not in evaluator.calls
    counts = search.counts()
    assert counts["evaluated"] == 3 and counts["infeasible"] == 2 and counts["duplicate"] == 3


def test_measured_constraint_marks_evaluated_candidates_infeasible(
    tiny_dataset: Path, tmp_path: Path
) -> None:
    spec = make_spec(
        tiny_dataset,
        search={"controller": "nsga2", "candidates": 6, "population": 3, "batch_size": 3},
        objectives=["val_logloss", "latency_ms"],
        constraints=["latency_ms <= 1.5"],
    )
    search = create_search(spec, storage=f"sqlite:///{tmp_path / 'db.sqlite'}")
    search.run_search(ScriptedEvaluator())
    evaluated = [t for t in search.trials() if t.user_attrs["status"] == "evaluated"]
    for t in evaluated:
        slow = t.user_attrs["latency_ms"] > 1.5
        assert t.user_attrs["feasible"] is (not slow)
        assert (max(t.constraints.values()) > 0) is slow
    board = search.leaderboard()
    flags = [e.feasible for e in board]
    assert flags == sorted(flags, reverse=True)  # feasible first
    assert all(e.pareto_rank is None for e in board if not e.feasible)
    assert any(e.pareto_rank == 0 for e in board if e.feasible)


def test_proposal_cap_ends_an_impossible_search(tiny_dataset: Path, tmp_path: Path) -> None:
    spec = make_spec(
        tiny_dataset,
        search={
            "controller": "tpe",
            "candidates": 2,
            "startup_trials": 0,
            "batch_size": 2,
            "max_proposals_factor": 2,
        },
        constraints=["flops <= 10"],
    )
    search = create_search(spec, storage=f"sqlite:///{tmp_path / 'db.sqlite'}")
    evaluator = ScriptedEvaluator()
    counts = search.run_search(evaluator)
    assert counts["evaluated"] == 0 and counts["infeasible"] == 4
    assert evaluator.calls == []
