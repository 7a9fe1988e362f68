"""The whole job for real: supernet training, evaluation on real Ray actors, a real SQLite study,
finalisation with baselines, the CLI and the demo entry point (tiny sizes)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from optuna.trial import TrialState

from nasrec.search import create_search, load_search
from nasrec.spec import JobSpec

pytestmark = pytest.mark.slow


def tiny_job(dataset: Path, **overrides: Any) -> dict[str, Any]:
    job: dict[str, Any] = {
        "name": "tiny-job",
        "dataset": str(dataset),
        "space": "nasrec_small",
        "seed": 1,
        "supernet": {"steps": 20, "batch_size": 256, "warmup_k": 2, "checkpoint_every": 10},
        "search": {"controller": "random", "candidates": 4, "batch_size": 4},
        "evaluation": {
            "finetune_steps": 5,
            "finetune_batch_size": 128,
            "val_rows": 200,
            "batch_size": 256,
            "latency_batch_size": 32,
        },
        "constraints": ["flops <= 2e6"],
        "finalize": {"top_k": 2, "retrain_steps": 10, "batch_size": 128, "baselines": ["mlp", "dlrm"]},
        "resources": {"eval_actors": 2, "cpus_per_actor": 1},
    }
    job.update(overrides)
    return job


def test_whole_job_on_ray_actors(tiny_dataset: Path, tmp_path: Path) -> None:
    import ray

    from nasrec.jobs import run_local
    from nasrec.ray_runtime import shutdown_ray

    url = f"sqlite:///{tmp_path / 'jobs.db'}"
    seen: list[tuple[str, int, int]] = []
    run = run_local(
        tiny_job(tiny_dataset), database_url=url, listener=lambda p, d, t, i: seen.append((p, d, t))
    )
    search, entries = run.search, run.entries
    assert ray.is_initialized()  # the worker's runtime, kept for its next job
    shutdown_ray()

    # phases reported progress
    assert {p for p, _, _ in seen} >= {"supernet", "search", "finalize", "retrain"}
    # candidates were scored by the actor pool: at most 2 worker processes, each loaded the supernet once
    evaluated = [t for t in search.trials() if t.user_attrs.get("status") == "evaluated"]
    assert len(evaluated) == 4
    workers = {t.user_attrs["eval_worker"] for t in evaluated}
    assert 1 <= len(workers) <= 2
    counts = sorted(t.user_attrs["worker_evaluations"] for t in evaluated)
    assert max(counts) >= 2  # an actor scored several candidates without reloading
    for t in evaluated:
        assert t.state == TrialState.COMPLETE
        assert 0 < t.user_attrs["val_logloss"] < 2 and 0 <= t.user_attrs["val_auc"] <= 1
        assert t.user_attrs["latency_ms"] > 0 and t.user_attrs["flops"] <= 2e6

    # the final leaderboard: 2 found (retrained) + 2 baselines; test scores for the winner and baselines only
    rows = [e.to_dict() for e in entries]
    assert {r["kind"] for r in rows} == {"found", "baseline"}
    assert sorted(r["name"] for r in rows) == ["dlrm", "found-1", "found-2", "mlp"]
    for r in rows:
        for key in (
            "name",
            "kind",
            "architecture",
            "val_logloss",
            "test_logloss",
            "val_auc",
            "flops",
            "params",
            "feasible",
        ):
            assert key in r
        assert r["val_logloss"] is not None
        tested = r["kind"] == "baseline" or r["winner"]
        assert (r["test_logloss"] is not None) is tested
    winners = [r for r in rows if r["winner"]]
    assert len(winners) == 1 and winners[0]["kind"] == "found"
    found = [r for r in rows if r["kind"] == "found"]
    assert winners[0]["val_logloss"] == min(r["val_logloss"] for r in found)  # selected on validation
    assert search.phase == "done"

    # a second run of the same job (another process would do the same) redoes nothing
    again = run_local(tiny_job(tiny_dataset), database_url=url)
    assert again.reused and [e.to_dict() for e in again.entries] == rows
    assert len(load_search(search.name, storage=url).trials()) == len(search.trials())


def test_finalisation_never_touches_test_before_the_winner_is_chosen(
    tiny_dataset: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every split access of the whole job (in-process evaluator and retrainer, so nothing escapes
    the spy)."""
    from nasrec.data.dataset import Dataset
    from nasrec.search.evaluate import LocalEvaluator
    from nasrec.search.records import WINNER_ATTR
    from nasrec.search.retrain import LocalRetrainer

    url = f"sqlite:///{tmp_path / 'jobs.db'}"
    search = create_search(tiny_job(tiny_dataset, name="spy-job"), storage=url, run_dir=tmp_path / "run")
    log: list[tuple[str, bool]] = []
    original = Dataset.split

    def spy(self: Dataset, name: str) -> Any:
        log.append((name, WINNER_ATTR in search.study.user_attrs))
        return original(self, name)

    monkeypatch.setattr(Dataset, "split", spy)
    search.train_supernet()
    search.run_search(LocalEvaluator.for_search(search))
    search.finalize(retrainer=LocalRetrainer.for_search(search))

    test_reads = [winner_known for name, winner_known in log if name == "test"]
    assert test_reads, "the winner and the baselines are tested"
    assert all(test_reads)  # the test split was opened only after the winner was stored
    assert len(test_reads) == 1 + 2  # once for the winner, once per baseline
    first_test = next(i for i, (name, _) in enumerate(log) if name == "test")
    assert all(name != "test" for name, _ in log[:first_test])
    assert {name for name, _ in log[:first_test]} <= {"train", "val"}


def test_training_and_selection_cannot_read_test(tiny_dataset: Path) -> None:
    """The guard the search runs under refuses a test-split evaluation."""
    from nasrec.data import Dataset
    from nasrec.errors import ConfigError
    from nasrec.train import evaluate, forbid_test_split

    class Model:
        training = False

    with forbid_test_split(), pytest.raises(ConfigError, match="test split"):
        evaluate(Model(), Dataset.open(tiny_dataset).split("test"))


def test_cli_search_command_prints_json(
    tiny_dataset: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import typer
    from typer.testing import CliRunner

    from nasrec.jobs.cli import search_command

    job = tiny_job(
        tiny_dataset,
        name="cli-job",
        search={"controller": "evolution", "candidates": 4, "population": 2, "sample_size": 2, "children": 2},
        finalize={"top_k": 1, "retrain_steps": 5, "batch_size": 128, "baselines": ["mlp"]},
        resources={"eval_actors": 1},
    )
    path = tmp_path / "job.yaml"
    path.write_text(JobSpec.parse(job).to_yaml())
    app = typer.Typer()
    app.command()(search_command)
    result = CliRunner().invoke(
        app, [str(path), "--json", "--storage", f"sqlite:///{tmp_path / 'db.sqlite'}"]
    )
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout[result.stdout.index("{") :])
    assert not out["reused"] and set(out["seconds"]) == {"supernet", "search", "finalize", "total"}
    board = out["leaderboard"]
    assert [r["kind"] for r in board].count("baseline") == 1
    assert sum(r["winner"] for r in board) == 1


def test_demo_runs_its_own_space_and_baselines_and_reports_the_bayes_floor(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """``run_demo`` end to end (the real entry point and the demo's own space, constraint and
    baselines) with budgets cut down; the planted dataset is synthesized on first use."""
    from nasrec.jobs.demo import DEMO_SPEC, run_demo

    spec = json.loads(json.dumps(DEMO_SPEC))
    spec["supernet"] = {"steps": 20, "batch_size": 256, "warmup_k": 2, "checkpoint_every": 10}
    spec["search"].update(candidates=4, population=2, sample_size=2, children=2)
    spec["evaluation"].update(finetune_steps=2, val_rows=256, latency=False)
    spec["finalize"].update(top_k=1, retrain_epochs=None, retrain_steps=5, batch_size=128)
    spec["resources"] = {"eval_actors": 1, "cpus_per_actor": 1}
    JobSpec.parse(DEMO_SPEC)  # the shipped spec itself is valid

    from nasrec.data import synthesize
    from nasrec.jobs.demo import DEMO_DATASET, DEMO_TEACHER

    synthesize(DEMO_DATASET, rows=4000, seed=0, teacher=DEMO_TEACHER)  # stands in for the 1M-row default
    rows = run_demo(json_output=True, spec=spec)
    board = json.loads(capsys.readouterr().out)
    assert board == json.loads(json.dumps(rows))
    baselines = len(DEMO_SPEC["finalize"]["baselines"])
    assert sorted(r["kind"] for r in rows) == ["baseline"] * baselines + ["found"]  # top_k = 1 retrained
    assert {r["name"] for r in rows if r["kind"] == "baseline"} == set(DEMO_SPEC["finalize"]["baselines"])
    assert all(r["feasible"] and r["flops"] <= 2e5 for r in rows if r["kind"] == "found")
    assert sum(r["winner"] for r in rows) == 1
    bayes = rows[0]["bayes_logloss"]
    assert 0 < bayes < min(r["test_logloss"] for r in rows if r["test_logloss"] is not None)
    # a second run reuses the stored job: same leaderboard, nothing retrained
    assert run_demo(json_output=True, spec=spec) == rows
