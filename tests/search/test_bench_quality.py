"""The quality suite's summary (scripts/bench_quality.py): verdicts from paired per-seed results."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "bench_quality.py"


@pytest.fixture(scope="module")
def bench() -> Any:
    spec = importlib.util.spec_from_file_location("bench_quality", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _result(winner: list[float], dlrm: list[float], *, winner_flops: float = 50e3, rows: int = 800) -> dict:
    """A dataset's runs: per seed, the winner and two baselines (mlp always worst)."""
    runs = [
        {
            "seed": seed,
            "seconds": 60.0,
            "job": seed + 1,
            "models": [
                {
                    "name": "found-1",
                    "kind": "found",
                    "winner": True,
                    "test_logloss": w,
                    "flops": winner_flops,
                },
                {"name": "dlrm", "kind": "baseline", "winner": False, "test_logloss": d, "flops": 160e3},
                {"name": "mlp", "kind": "baseline", "winner": False, "test_logloss": 0.6, "flops": 90e3},
            ],
        }
        for seed, (w, d) in enumerate(zip(winner, dlrm, strict=True))
    ]
    return {"dataset": "d", "bayes_logloss": 0.40, "train_rows": rows, "runs": runs}


def test_better_by_more_than_two_standard_errors(bench: Any) -> None:
    d = bench.summarise_dataset(_result([0.480, 0.482, 0.481], [0.490, 0.491, 0.493]))
    assert d["best_baseline"] == "dlrm"
    assert d["diff_vs_best"] == pytest.approx(-0.0103333, abs=1e-6)
    assert d["models"]["winner"]["excess"] == pytest.approx(0.081)
    assert d["verdict"] == "better"


def test_a_tie_is_lighter_only_at_no_more_than_0_7x_the_flops(bench: Any) -> None:
    # the winner is lower on one seed and higher on two: not better beyond its standard error
    tie = ([0.489, 0.492, 0.4925], [0.490, 0.491, 0.492])
    assert bench.summarise_dataset(_result(*tie, winner_flops=100e3))["verdict"] == "lighter"
    assert bench.summarise_dataset(_result(*tie, winner_flops=150e3))["verdict"] == "tie"


def test_worse_beyond_the_seed_spread(bench: Any) -> None:
    d = bench.summarise_dataset(_result([0.500, 0.501, 0.502], [0.490, 0.491, 0.490]))
    assert d["spread"] == pytest.approx(0.001)
    assert d["verdict"] == "worse"


def test_the_suite_targets(bench: Any) -> None:
    better = _result([0.480, 0.482, 0.481], [0.490, 0.491, 0.493])
    worse_small = _result([0.500, 0.501, 0.502], [0.490, 0.491, 0.490], rows=7_200)
    summary = bench.summarise([better, worse_small])
    assert summary["targets"] == {
        "never_worse": False,
        "better_or_lighter": "1/2",
        "half_better_or_lighter": True,
        "small_set_not_worse": False,
    }
