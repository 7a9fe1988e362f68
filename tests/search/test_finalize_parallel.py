"""Finalisation on real Ray actors: several models retrain side by side, each seeded as if alone.

One small searched job (a real supernet, a real search, a real SQLite study) is finalised several
times, each time from a copy of its study: on 1 actor, on 2 actors, in process, and interrupted then
resumed. The module starts two actor pools (actors take seconds to start) and reuses them.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from nasrec.search import Search, create_search, load_search
from nasrec.search.records import FinalRecord, final_records

pytestmark = pytest.mark.slow

MODELS = ["found-1", "mlp", "autoint"]


class Interrupted(Exception):
    """Stands in for a worker that dies (or a job that is cancelled) mid-finalisation."""


@pytest.fixture(scope="module")
def ray_runtime() -> Iterator[None]:
    """One Ray runtime for the module (the pools join it instead of starting their own), with room
    for both pools' actors (3 CPUs reserved; they take turns to train)."""
    from nasrec.ray_runtime import running_ray

    with running_ray(num_cpus=3):
        yield


@pytest.fixture(scope="module")
def searched(tiny_dataset: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A job whose supernet and search are done: (its SQLite file, its study name)."""
    from nasrec.search.evaluate import LocalEvaluator

    where = tmp_path_factory.mktemp("searched")
    from nasrec.jobs.demo import DEMO_SPACE

    spec = {
        "name": "parallel-final",
        "dataset": str(tiny_dataset),
        "space": DEMO_SPACE,  # small enough for a FLOPs budget of 2e5
        "seed": 5,
        "supernet": {"steps": 10, "batch_size": 128, "warmup_k": 2, "checkpoint_every": 10},
        "search": {"controller": "random", "candidates": 3, "batch_size": 3},
        "evaluation": {"finetune_steps": 0, "val_rows": 200, "batch_size": 256, "latency": False},
        "constraints": ["flops <= 2e5"],  # AutoInt's published size is over it
        "finalize": {"top_k": 1, "retrain_steps": 30, "batch_size": 128, "baselines": ["mlp", "autoint"]},
        "resources": {"eval_actors": 2, "cpus_per_actor": 1},
    }
    db = where / "jobs.db"
    search = create_search(spec, storage=f"sqlite:///{db}", run_dir=where / "run")
    search.train_supernet()
    search.run_search(LocalEvaluator.for_search(search))
    return db, search.name


def copy_of(searched: tuple[Path, str], where: Path) -> Search:
    """The searched job in a fresh copy of its study, finalising into ``where``."""
    db, name = searched
    with sqlite3.connect(db) as source, sqlite3.connect(where / "jobs.db") as copy:
        source.backup(copy)  # the whole database, including what is still in its write-ahead log
    return load_search(name, storage=f"sqlite:///{where / 'jobs.db'}", run_dir=where / "run")


@pytest.fixture(scope="module")
def one_actor(searched: tuple[Path, str], ray_runtime: None, tmp_path_factory: pytest.TempPathFactory) -> Any:
    with actor_pool(searched, tmp_path_factory.mktemp("pool1"), 1) as actors:
        yield actors


@pytest.fixture(scope="module")
def two_actors(
    searched: tuple[Path, str], ray_runtime: None, tmp_path_factory: pytest.TempPathFactory
) -> Any:
    with actor_pool(searched, tmp_path_factory.mktemp("pool2"), 2) as actors:
        yield actors


def actor_pool(searched: tuple[Path, str], where: Path, actors: int) -> Any:
    from nasrec.search.retrain import ActorPoolRetrainer, retrain_settings

    return ActorPoolRetrainer(retrain_settings(copy_of(searched, where)), num_actors=actors, cpus_per_actor=1)


class Reports:
    """Every progress report of a finalisation."""

    def __init__(self, stop_after_saved: int | None = None, search: Search | None = None) -> None:
        self.calls: list[tuple[str, int, int, dict[str, Any]]] = []
        self.stop_after_saved, self.search = stop_after_saved, search

    def __call__(self, phase: str, done: int, total: int, info: dict[str, Any]) -> None:
        self.calls.append((phase, done, total, dict(info)))
        if self.stop_after_saved is not None and phase == "finalize":
            assert self.search is not None
            if len(final_records(self.search.study)) >= self.stop_after_saved:
                raise Interrupted

    def of(self, model: str) -> list[tuple[int, int, dict[str, Any]]]:
        return [(d, t, i) for p, d, t, i in self.calls if p == "retrain" and i["model"] == model]

    def trained(self) -> set[str]:
        return {i["model"] for p, _, _, i in self.calls if p == "retrain"}


def outcome(records: dict[str, FinalRecord]) -> dict[str, tuple[str, float, float | None]]:
    """Per model: architecture hash, validation and test log loss."""
    return {
        name: (r.arch_hash, r.metrics["val_logloss"], r.metrics.get("test_logloss"))
        for name, r in records.items()
    }


@pytest.fixture(scope="module")
def on_one_actor(
    searched: tuple[Path, str], one_actor: Any, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Search, Reports]:
    search, reports = copy_of(searched, tmp_path_factory.mktemp("one")), Reports()
    search.finalize(progress=reports, retrainer=one_actor)
    return search, reports


def test_one_and_two_actors_give_the_same_models(
    on_one_actor: tuple[Search, Reports], two_actors: Any, searched: tuple[Path, str], tmp_path: Path
) -> None:
    one, one_reports = on_one_actor
    two, two_reports = copy_of(searched, tmp_path), Reports()
    two.finalize(progress=two_reports, retrainer=two_actors)

    assert sorted(final_records(one.study)) == sorted(MODELS)
    assert outcome(final_records(two.study)) == outcome(final_records(one.study))  # bit for bit
    assert [e.to_dict() for e in two.final_leaderboard()] == [e.to_dict() for e in one.final_leaderboard()]

    def workers(reports: Reports) -> set[int]:
        return {i["worker"] for _, _, _, i in reports.calls if i.get("done")}

    assert len(workers(one_reports)) == 1 and len(workers(two_reports)) == 2  # really side by side


def test_each_model_reports_its_progress_and_the_pool_its_share(on_one_actor: tuple[Search, Reports]) -> None:
    search, reports = on_one_actor
    for model in MODELS:
        steps = reports.of(model)
        assert steps, model
        assert [d for d, _, _ in steps] == sorted(d for d, _, _ in steps)  # counts up ...
        done, total, info = steps[-1]
        assert info["done"] and done == total == 30 and info["eta_s"] == 0.0  # ... to a last report
        assert info["seconds"] > 0 and 0 < info["logloss"] < 2
        assert all(i.get("eta_s") is None or i["eta_s"] >= 0 for _, _, i in steps)
    pool_reports = [(d, t, i["fraction"]) for p, d, t, i in reports.calls if p == "finalize"]
    assert pool_reports[-1] == (3, 3, 1.0)
    fractions = [f for _, _, f in pool_reports]
    assert fractions == sorted(fractions) and 0 <= fractions[0] < 1  # one actor: models one at a time


def test_an_interrupted_finalisation_resumes_with_the_models_it_had_not_finished(
    on_one_actor: tuple[Search, Reports], two_actors: Any, searched: tuple[Path, str], tmp_path: Path
) -> None:
    """Interrupted in process after its first record (every report of the training loop is seen
    there: a model's ETA is its remaining steps at its pace so far), resumed on the actors."""
    from nasrec.search.retrain import LocalRetrainer

    search, reports = copy_of(searched, tmp_path), Reports(stop_after_saved=1)
    reports.search = search
    with pytest.raises(Interrupted):
        search.finalize(progress=reports, retrainer=LocalRetrainer.for_search(search))
    assert sorted(final_records(search.study)) == ["found-1"]
    middle = [(d, t, i) for d, t, i in reports.of("found-1") if 0 < d < t]
    assert middle
    for step, total, info in middle:
        assert info["eta_s"] == pytest.approx(info["seconds"] * (total - step) / step)

    resumed = Reports()
    again = load_search(search.name, storage=search.url, run_dir=search.run_dir)
    again.finalize(progress=resumed, retrainer=two_actors)
    assert resumed.trained() == {"mlp", "autoint"}  # the finished model was not trained again
    one, _ = on_one_actor
    assert outcome(final_records(again.study)) == outcome(final_records(one.study))  # in process too


def test_a_stop_closes_the_pool_and_keeps_what_was_saved(
    on_one_actor: tuple[Search, Reports], one_actor: Any, searched: tuple[Path, str], tmp_path: Path
) -> None:
    """A stop (the callback raises, as a cancelled job's does) kills the pool's actors, with any
    model in flight; the records written stay. (The pool was used for ``on_one_actor`` already; it
    is not used after this.)"""
    search = copy_of(searched, tmp_path)
    with pytest.raises(Interrupted):
        search.finalize(progress=Reports(stop_after_saved=1, search=search), retrainer=one_actor)
    assert one_actor.group.actors == []
    assert sorted(final_records(search.study)) == ["found-1"]


def test_an_over_budget_baseline_is_retrained_scaled_to_fit(on_one_actor: tuple[Search, Reports]) -> None:
    search, _ = on_one_actor
    records = final_records(search.study)
    autoint, mlp = records["autoint"], records["mlp"]
    assert autoint.feasible and autoint.metrics["flops"] <= 2e5 and 0 < autoint.width_scale < 1
    assert "scaled" in autoint.description and "flops <= 200000" in autoint.description
    assert mlp.width_scale is None and "scaled" not in mlp.description
    row = next(e for e in search.final_leaderboard() if e.name == "autoint")
    assert row.to_dict()["width_scale"] == autoint.width_scale
