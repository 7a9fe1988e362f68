"""``nasrec export`` on a job: its run directory, its name or its id; the winner by default,
``--candidate`` for another (retrained: its SubNet; search-only: the supernet's inherited weights).
One tiny real job (real Ray, a real SQLite store in the default place), run once for the module;
every command runs through ``nasrec.cli.main``, so errors are seen as a user sees them."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from nasrec.store import Candidate, crud, open_store

pytestmark = pytest.mark.slow

SPEC: dict[str, Any] = {
    "name": "export-me",
    "dataset": "tiny",
    "seed": 0,
    "supernet": {"steps": 10, "batch_size": 64, "warmup_k": 2, "checkpoint_every": 10},
    "search": {"controller": "random", "candidates": 4, "batch_size": 2},
    "evaluation": {"finetune_steps": 0, "val_rows": 128, "batch_size": 128, "latency": False},
    "finalize": {"top_k": 1, "retrain_steps": 3, "batch_size": 64, "baselines": ["dlrm"]},
    "resources": {"eval_actors": 1},
}


@dataclass(frozen=True)
class RanJob:
    home: Path
    url: str
    job_id: int
    run_dir: Path
    winner: Candidate
    retrained: Candidate  # the other retrained model (found-1 or the dlrm baseline)
    evaluated: Candidate  # a candidate of the search only (one-shot scores, no retraining)


@pytest.fixture(scope="module")
def ran(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RanJob]:
    from nasrec.data import synthesize
    from nasrec.home import run_dir_of
    from nasrec.jobs import run_local

    home = tmp_path_factory.mktemp("export_job_home")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("NASREC_HOME", str(home))
        mp.delenv("NASREC_DATABASE_URL", raising=False)
        synthesize("tiny", rows=1500, seed=0)
        run = run_local(SPEC)  # the default database: $NASREC_HOME/nasrec.db
        store = open_store(run.database_url)
        with store.session() as session:
            rows = list(session.scalars(select(Candidate).where(Candidate.job_id == run.job_id)))
        store.dispose()
        by_stage: dict[str, list[Candidate]] = {}
        for row in rows:
            by_stage.setdefault(row.stage, []).append(row)
        (winner,) = by_stage["winner"]
        (retrained,) = by_stage.get("retrained", []) + by_stage.get("baseline", [])
        yield RanJob(
            home,
            run.database_url,
            run.job_id,
            run_dir_of(run.job_id),
            winner,
            retrained,
            by_stage["evaluated"][0],
        )


@pytest.fixture
def at_home(ran: RanJob, monkeypatch: pytest.MonkeyPatch) -> RanJob:
    """The job's data home is this test's: the default database is the job's."""
    monkeypatch.setenv("NASREC_HOME", str(ran.home))
    return ran


def nasrec(
    argv: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> tuple[int, str, str]:
    """Run ``nasrec ARGV`` as the console script does: (exit code, stdout, stderr)."""
    from nasrec.cli import main

    monkeypatch.setattr(sys, "argv", ["nasrec", *argv])
    code = 0
    try:
        main()
    except SystemExit as exc:
        code = int(exc.code or 0)
    out = capsys.readouterr()
    return code, out.out, out.err


def check_bundle(
    bundle: Path, candidate: Candidate, job_id: int, weights: str, report: dict[str, Any] | None
) -> None:
    """The bundle loads, is the candidate's architecture and holds its metrics; so does the report."""
    from nasrec.export import load_exported

    model = load_exported(bundle)
    assert model.architecture.canonical_hash() == candidate.arch_hash
    manifest = json.loads((bundle / "manifest.json").read_text())
    assert manifest["canonical_hash"] == candidate.arch_hash
    metrics = json.loads((bundle / "metrics.json").read_text())
    # what the API's export writes: the candidate's costs and leaderboard metrics, and who it is
    assert metrics == {**candidate.costs, **candidate.metrics, "candidate": candidate.id, "job": job_id}
    if report is not None:
        assert report["metrics"] == metrics and report["canonical_hash"] == candidate.arch_hash
        assert (report["job"], report["candidate"], report["weights"]) == (job_id, candidate.id, weights)


def test_the_run_directory_exports_the_winner_as_retrained(
    at_home: RanJob, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = nasrec(
        ["export", str(at_home.run_dir), "--out", str(tmp_path / "b"), "--json"], monkeypatch, capsys
    )
    assert code == 0, err
    report = json.loads(out)
    assert report["zip"] == str(tmp_path / "b.zip") and (tmp_path / "b.zip").is_file()
    assert report["metrics"]["retrained_val_logloss"] is not None and report["metrics"]["flops"] > 0
    check_bundle(tmp_path / "b", at_home.winner, at_home.job_id, "subnet", report)


def test_a_job_name_and_a_retrained_candidate_by_name(
    at_home: RanJob, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    name = at_home.retrained.metrics["retrained_name"]  # found-1 or dlrm, whichever did not win
    argv = ["export", "export-me", "--candidate", name, "--dataset", "tiny", "--out", str(tmp_path / "b"),
            "--no-zip"]  # fmt: skip
    code, out, err = nasrec(argv, monkeypatch, capsys)
    assert code == 0, err
    assert "export of job" in out and name in out and "canonical_hash" in out  # the table
    assert not (tmp_path / "b.zip").exists()
    check_bundle(tmp_path / "b", at_home.retrained, at_home.job_id, "subnet", None)


def test_a_job_id_and_a_search_only_candidate_with_inherited_weights(
    ran: RanJob, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # another data home: the database is named with --storage, the dataset comes from the job's row
    evaluated = ran.evaluated
    argv = ["export", str(ran.job_id), "--storage", ran.url, "--candidate", str(evaluated.id),
            "--out", str(tmp_path / "b"), "--no-zip", "--json"]  # fmt: skip
    code, out, err = nasrec(argv, monkeypatch, capsys)
    assert code == 0, err
    report = json.loads(out)
    assert Path(report["checkpoint"]).is_relative_to(ran.run_dir / "supernet")
    check_bundle(tmp_path / "b", evaluated, ran.job_id, "supernet", report)
    assert "retrained_val_logloss" not in report["metrics"] and report["metrics"]["val_logloss"] > 0


def error_of(argv: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> str:
    code, out, err = nasrec(argv, monkeypatch, capsys)
    assert code == 1 and "Traceback" not in err and out == "", err
    line = " ".join(err.split())  # rich wraps the one line to the terminal's width
    assert line.startswith("error: "), err
    return line


def test_what_was_wrong_is_said_in_one_line(
    at_home: RanJob, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from nasrec.data import synthesize

    out = ["--out", str(tmp_path / "b")]
    wrong = error_of(["export", "export-mee", *out], monkeypatch, capsys)
    assert "no job named 'export-mee'" in wrong and f"export-me (id {at_home.job_id})" in wrong

    unknown = error_of(["export", "export-me", "--candidate", "found-9", *out], monkeypatch, capsys)
    assert "has no candidate named 'found-9'; its candidates include" in unknown
    assert f"{at_home.winner.id} ({at_home.winner.metrics['retrained_name']}, the winner)" in unknown
    other_job = error_of(["export", "export-me", "--candidate", "99999", *out], monkeypatch, capsys)
    assert f"job {at_home.job_id} (export-me) has no candidate 99999" in other_job

    trains = error_of(["export", "export-me", "--train-steps", "5", *out], monkeypatch, capsys)
    assert "--train-steps: for an architecture JSON SOURCE only" in trains
    synthesize("other", rows=200, seed=1)
    elsewhere = error_of(["export", str(at_home.run_dir), "--dataset", "other", *out], monkeypatch, capsys)
    assert f"--dataset other is not the dataset job {at_home.job_id} ran on" in elsewhere
    checkpoint = at_home.run_dir / "final" / "found-1"
    not_a_job = error_of(
        ["export", str(checkpoint), "--dataset", "tiny", "--candidate", "3", *out], monkeypatch, capsys
    )
    assert "--candidate: for a job SOURCE only" in not_a_job

    empty = f"sqlite:///{tmp_path / 'empty.db'}"
    open_store(empty).dispose()
    foreign = error_of(["export", str(at_home.run_dir), "--storage", empty, *out], monkeypatch, capsys)
    assert f"has no job {at_home.job_id}; pass --storage with the database that ran it" in foreign
    missing = error_of(["export", "export-me", "--storage", f"sqlite:///{tmp_path / 'none.db'}", *out],
                       monkeypatch, capsys)  # fmt: skip
    assert "there is no job database at" in missing
    assert not (tmp_path / "b").exists() and not (tmp_path / "none.db").exists()


def test_a_job_without_a_winner_and_an_ambiguous_name(
    at_home: RanJob, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    store = open_store(at_home.url)
    with store.session(write=True) as session:
        owner = crud.local_user(session=session)
        queued = crud.create_job(session=session, owner_id=owner.id, spec=dict(SPEC), name="queued-one")
        twins = [
            crud.create_job(session=session, owner_id=owner.id, spec=dict(SPEC), name="twin").id for _ in "ab"
        ]
    store.dispose()
    out = ["--out", str(tmp_path / "b")]
    unfinished = error_of(["export", "queued-one", *out], monkeypatch, capsys)
    assert f"job {queued.id} (queued-one) has no winner yet: it is queued; pass --candidate ID" in unfinished
    assert "it has no evaluated candidates yet" in unfinished
    ambiguous = error_of(["export", "twin", *out], monkeypatch, capsys)
    assert f"'twin' names several jobs ({twins[0]}, {twins[1]}); pass one's id" in ambiguous
    with store.session(write=True) as session:  # a number that is one job's id and another's name
        crud.create_job(session=session, owner_id=owner.id, spec=dict(SPEC), name=str(queued.id))
    store.dispose()
    number = error_of(["export", str(queued.id), *out], monkeypatch, capsys)
    assert f"names several jobs ({queued.id}, " in number and "pass one's run directory" in number
