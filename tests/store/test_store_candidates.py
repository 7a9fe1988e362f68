"""Candidates: upsert by canonical hash, leaderboard sort / filter / pagination, Pareto front."""

from __future__ import annotations

from pathlib import Path

import pytest

from nasrec.errors import ConfigError, ConflictError, NotFoundError
from nasrec.store import CandidateKind, Job, Store, User, crud


@pytest.fixture
def job(store: Store, alice: User) -> Job:
    with store.session(write=True) as session:
        return crud.create_job(session=session, owner_id=alice.id, spec={"dataset": "d"})


# (hash, val_logloss, val_auc, flops, feasible, pareto_rank)
ROWS = [
    ("a", 0.45, 0.78, 3e6, True, 0),
    ("b", 0.44, 0.79, 9e6, True, 0),
    ("c", 0.47, 0.75, 1e6, True, 0),
    ("d", 0.46, 0.76, 5e6, True, 1),
    ("e", 0.43, 0.80, 2e7, False, None),
    ("f", None, None, 4e6, True, None),
]


@pytest.fixture
def populated(store: Store, job: Job) -> Job:
    with store.session(write=True) as session:
        for i, (h, loss, auc, flops, feasible, rank) in enumerate(ROWS):
            metrics = {} if loss is None else {"val_logloss": loss, "val_auc": auc}
            crud.upsert_candidate(
                session=session,
                job_id=job.id,
                arch_hash=h,
                architecture={"blocks": [i]},
                trial_number=i,
                name=f"cand-{h}",
                stage="evaluated" if loss is not None else "proposed",
                metrics=metrics,
                costs={"flops": flops, "params": 1000 + i},
                feasible=feasible,
                pareto_rank=rank,
            )
    return job


def _hashes(rows: list) -> list[str]:
    return [c.arch_hash for c in rows]


def test_upsert_merges_by_hash(store: Store, job: Job) -> None:
    with store.session(write=True) as session:
        first = crud.upsert_candidate(
            session=session,
            job_id=job.id,
            arch_hash="h1",
            architecture={"blocks": [1]},
            trial_number=3,
            metrics={"val_logloss": 0.5, "val_auc": 0.7},
            costs={"flops": 1.5e6, "params": 12345, "latency_ms": 2.0},
        )
        again = crud.upsert_candidate(
            session=session,
            job_id=job.id,
            arch_hash="h1",
            architecture={"blocks": ["ignored: same hash, same network"]},
            stage="retrained",
            metrics={"test_logloss": 0.51, "val_auc": float("nan")},
        )
        assert again.id == first.id
        assert (
            again.architecture == {"blocks": [1]} and again.trial_number == 3 and again.stage == "retrained"
        )
        assert again.metrics == {"val_logloss": 0.5, "val_auc": None, "test_logloss": 0.51}
        assert (again.val_logloss, again.val_auc, again.test_logloss) == (0.5, None, 0.51)
        assert (again.flops, again.params, again.latency_ms) == (1.5e6, 12345, 2.0)
        assert again.kind == CandidateKind.FOUND and again.feasible is True
        other = crud.upsert_candidate(
            session=session, job_id=job.id, arch_hash="h2", architecture={}, kind="baseline", name="DLRM"
        )
        assert other.id != first.id and other.kind == CandidateKind.BASELINE
        with pytest.raises(ConfigError, match="flops must be a number"):
            crud.upsert_candidate(
                session=session, job_id=job.id, arch_hash="h3", architecture={}, costs={"flops": "big"}
            )
        with pytest.raises(ValueError):
            crud.upsert_candidate(
                session=session, job_id=job.id, arch_hash="h3", architecture={}, kind="weird"
            )


def test_leaderboard_sorts_best_first_with_missing_values_last(
    store: Store, alice: User, populated: Job
) -> None:
    with store.session() as session:
        rows, count = crud.leaderboard(session=session, owner_id=alice.id, job_id=populated.id)
        assert count == 6 and _hashes(rows) == ["e", "b", "a", "d", "c", "f"]
        rows, _ = crud.leaderboard(session=session, owner_id=alice.id, job_id=populated.id, sort="auc")
        assert _hashes(rows) == ["e", "b", "a", "d", "c", "f"]  # AUC: higher is better
        rows, _ = crud.leaderboard(session=session, owner_id=alice.id, job_id=populated.id, sort="flops")
        assert _hashes(rows) == ["c", "a", "f", "d", "b", "e"]
        rows, _ = crud.leaderboard(
            session=session, owner_id=alice.id, job_id=populated.id, sort="flops", descending=True
        )
        assert _hashes(rows) == ["e", "b", "d", "f", "a", "c"]
        rows, _ = crud.leaderboard(session=session, owner_id=alice.id, job_id=populated.id, sort="params")
        assert _hashes(rows) == ["a", "b", "c", "d", "e", "f"]


def test_leaderboard_filters_and_pages(store: Store, alice: User, populated: Job) -> None:
    with store.session() as session:
        rows, count = crud.leaderboard(
            session=session, owner_id=alice.id, job_id=populated.id, feasible_only=True
        )
        assert count == 5 and _hashes(rows) == ["b", "a", "d", "c", "f"]
        pages = [
            crud.leaderboard(
                session=session, owner_id=alice.id, job_id=populated.id, feasible_only=True, limit=2, offset=o
            )
            for o in (0, 2, 4, 6)
        ]
        assert [_hashes(rows) for rows, _ in pages] == [["b", "a"], ["d", "c"], ["f"], []]
        assert {count for _, count in pages} == {5}
        rows, count = crud.leaderboard(
            session=session, owner_id=alice.id, job_id=populated.id, stage="proposed"
        )
        assert count == 1 and _hashes(rows) == ["f"]
        with pytest.raises(ConfigError, match="cannot sort by 'color': use one of .*val_logloss"):
            crud.leaderboard(session=session, owner_id=alice.id, job_id=populated.id, sort="color")


def test_leaderboard_breaks_ties_by_id_in_the_sort_direction(store: Store, alice: User, job: Job) -> None:
    """Ties are ordered by id the way the sort goes (the order of the (job_id, key, id) index, read
    forwards or backwards), so pages of any size partition the candidates."""
    with store.session(write=True) as session:
        for h in "xyz":
            crud.upsert_candidate(
                session=session, job_id=job.id, arch_hash=h, architecture={}, costs={"flops": 1e6}
            )
    with store.session() as session:
        for descending, expected in ((False, ["x", "y", "z"]), (True, ["z", "y", "x"])):
            pages = [
                crud.leaderboard(
                    session=session,
                    owner_id=alice.id,
                    job_id=job.id,
                    sort="flops",
                    descending=descending,
                    limit=1,
                    offset=o,
                )[0]
                for o in range(3)
            ]
            assert [_hashes(rows) for rows in pages] == [[h] for h in expected]


def test_pareto_front(store: Store, alice: User, populated: Job) -> None:
    with store.session(write=True) as session:
        front = crud.pareto_front(session=session, owner_id=alice.id, job_id=populated.id)
        assert _hashes(front) == ["b", "a", "c"]
        crud.set_pareto_ranks(session=session, job_id=populated.id, ranks={"d": 0, "a": 1})
        front = crud.pareto_front(session=session, owner_id=alice.id, job_id=populated.id)
        assert _hashes(front) == ["d"]
        rows, _ = crud.leaderboard(
            session=session, owner_id=alice.id, job_id=populated.id, sort="pareto_rank"
        )
        assert [c.pareto_rank for c in rows] == [0, 1, None, None, None, None]


def test_candidates_and_artifacts_of_other_users_are_not_found(
    store: Store, alice: User, bob: User, populated: Job
) -> None:
    with store.session(write=True) as session:
        rows, _ = crud.leaderboard(session=session, owner_id=alice.id, job_id=populated.id, limit=1)
        candidate = rows[0]
        artifact = crud.add_artifact(
            session=session,
            job_id=populated.id,
            candidate_id=candidate.id,
            kind="export",
            path="/x.zip",
            size_bytes=9,
        )
        assert (
            crud.get_candidate(session=session, owner_id=alice.id, candidate_id=candidate.id).id
            == candidate.id
        )
        assert crud.get_artifact(session=session, owner_id=alice.id, artifact_id=artifact.id).size_bytes == 9
        listed = crud.list_artifacts(session=session, owner_id=alice.id, job_id=populated.id, kind="export")
        assert [a.id for a in listed] == [artifact.id]
        for call in (
            lambda: crud.get_candidate(session=session, owner_id=bob.id, candidate_id=candidate.id),
            lambda: crud.get_artifact(session=session, owner_id=bob.id, artifact_id=artifact.id),
            lambda: crud.list_artifacts(session=session, owner_id=bob.id, job_id=populated.id),
            lambda: crud.leaderboard(session=session, owner_id=bob.id, job_id=populated.id),
            lambda: crud.pareto_front(session=session, owner_id=bob.id, job_id=populated.id),
            lambda: crud.list_events(session=session, owner_id=bob.id, job_id=populated.id),
            lambda: crud.get_job(session=session, owner_id=bob.id, job_id=populated.id),
        ):
            with pytest.raises(NotFoundError, match="not found"):
                call()
        replaced = crud.add_artifact(
            session=session, job_id=populated.id, kind="export", path="/x.zip", size_bytes=10
        )
        assert replaced.id == artifact.id and replaced.size_bytes == 10


def test_candidate_weights_are_its_retrained_subnet_else_the_jobs_supernet(
    store: Store, populated: Job, alice: User, tmp_path: Path
) -> None:
    def weights(candidate_id: int) -> tuple[str, str]:
        with store.session() as session:
            candidate = crud.get_candidate(session=session, owner_id=None, candidate_id=candidate_id)
            return crud.candidate_weights(session=session, owner_id=alice.id, candidate=candidate)

    def record(kind: str, name: str, candidate_id: int | None = None) -> Path:
        path = tmp_path / name
        path.mkdir()
        with store.session(write=True) as session:
            crud.add_artifact(
                session=session, job_id=populated.id, candidate_id=candidate_id, kind=kind, path=str(path)
            )
        return path

    with store.session() as session:
        rows, _ = crud.leaderboard(session=session, owner_id=alice.id, job_id=populated.id, limit=2)
    first, second = (row.id for row in rows)
    with pytest.raises(ConflictError, match=f"candidate {first} has no trained weights yet"):
        weights(first)
    supernet = record(crud.SUPERNET_KIND, "supernet")
    assert weights(first) == weights(second) == ("supernet", str(supernet))
    old = record(crud.SUBNET_KIND, "old", first)
    new = record(crud.SUBNET_KIND, "new", first)
    assert weights(first) == ("subnet", str(new)) and weights(second) == ("supernet", str(supernet))
    new.rmdir()  # a deleted checkpoint is passed over
    assert weights(first) == ("subnet", str(old))
    old.rmdir()
    supernet.rmdir()
    with pytest.raises(ConflictError, match="no trained weights"):
        weights(first)


def test_candidate_counts_by_stage(store: Store, populated: Job) -> None:
    with store.session() as session:
        assert crud.candidate_counts_by_stage(session=session) == {"evaluated": 5, "proposed": 1}


def test_every_registered_metric_has_an_indexed_column() -> None:
    """Adding a metric to ``nasrec.metrics`` needs its column and leaderboard index (and a migration)."""
    from nasrec.metrics import METRICS
    from nasrec.store.models import LEADERBOARD_KEYS, Candidate

    columns = set(Candidate.__table__.columns.keys())
    assert [m for m in METRICS if m not in columns] == []
    assert [m for m in METRICS if m not in LEADERBOARD_KEYS] == []
