"""Copies of the search's durable state (the Optuna study) into the store's tables, for the API.

The study is the source of truth; these functions only copy from it, so they are idempotent and a
worker that takes a job over simply copies again:

* ``sync_trials``: every finished trial that is a distinct architecture (status ``evaluated``,
  ``infeasible`` or ``failed``; duplicates are not candidates) becomes a candidate, upserted by
  canonical hash, with one ``candidate evaluated`` event per evaluated candidate, written in the
  same transaction as the candidate row (so the events are an exact, durable count of evaluations);
* ``sync_pareto``: Pareto ranks of the search leaderboard (one-shot scores, the job's objectives);
* ``sync_final``: the finalisation records: retrained candidates (``stage`` ``retrained``, the winner
  ``winner``) get ``retrained_val_logloss`` / ``retrained_val_auc`` (and the winner its test scores),
  baselines become ``baseline`` candidates, and every retrained checkpoint is a ``subnet`` artifact
  (what an export of that candidate uses).

``val_logloss`` / ``val_auc`` of a found candidate stay its one-shot (inherited-weights) scores, so
that every found candidate of a job is ranked on the same footing; a baseline has only from-scratch
scores, which are its ``val_logloss`` / ``val_auc``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from nasrec.metrics import METRICS
from nasrec.search.records import (
    CandidateRecord,
    FinalRecord,
    Status,
    arch_hash_of,
    final_records,
    read_winner,
    trial_status,
)
from nasrec.store import Candidate, CandidateKind, Store, crud
from nasrec.store.crud.events import add_event

if TYPE_CHECKING:
    from nasrec.search import Search

__all__ = ["SUBNET_ARTIFACT", "SUPERNET_ARTIFACT", "sync_final", "sync_pareto", "sync_trials"]

SUPERNET_ARTIFACT = crud.SUPERNET_KIND
SUBNET_ARTIFACT = crud.SUBNET_KIND
CANDIDATE_STATUSES = (Status.EVALUATED, Status.INFEASIBLE, Status.FAILED)


def sync_trials(store: Store, job_id: int, search: Search, *, seen: set[int]) -> int:
    """Copy the study's finished, not yet ``seen`` trials into the candidates table; returns how
    many evaluated candidates were added. ``seen`` (trial numbers) is updated."""
    from optuna.trial import TrialState

    finished = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)
    trials = sorted(search.trials(states=finished), key=lambda t: t.number)
    evaluated = {arch_hash_of(t) for t in trials if trial_status(t) == Status.EVALUATED}
    added = 0
    for trial in trials:
        if trial.number in seen:
            continue
        number, record = trial.number, CandidateRecord.from_trial(trial)
        seen.add(number)
        if record is None or record.status not in CANDIDATE_STATUSES:
            continue
        if record.status == Status.FAILED and record.arch_hash in evaluated:
            continue  # evaluated fine in another trial: that one is the candidate
        added += _upsert_trial(store, job_id, number, record)
    return added


def _upsert_trial(store: Store, job_id: int, trial_number: int, record: CandidateRecord) -> int:
    status = record.status.value
    costs = {k: v for k, v in record.metrics.items() if METRICS[k].kind == "analytic"}
    metrics: dict[str, Any] = {
        **{k: v for k, v in record.metrics.items() if k not in costs},
        **{k: v for k, v in record.evaluation.items() if k in ("eval_seconds", "eval_rows")},
    }
    if record.error is not None:
        metrics["error"] = record.error[:2000]
    if record.violations:
        metrics["violations"] = list(record.violations)
    with store.session(write=True) as session:
        existing = session.scalars(
            select(Candidate.stage).where(Candidate.job_id == job_id, Candidate.arch_hash == record.arch_hash)
        ).one_or_none()
        newly_evaluated = status == "evaluated" and existing in (None, "failed")
        if existing is not None and existing != "failed" and status == "failed":
            return 0
        loss = float(metrics.get("val_logloss", float("nan")))
        if newly_evaluated:  # committed together with the candidate row by upsert_candidate
            add_event(
                session,
                job_id,
                f"candidate trial-{trial_number} evaluated: val_logloss {loss:.4f}",
                data={"kind": "candidate_evaluated", "trial": trial_number, "arch_hash": record.arch_hash},
            )
        crud.upsert_candidate(
            session=session,
            job_id=job_id,
            arch_hash=record.arch_hash,
            architecture=record.architecture,
            name=f"trial-{trial_number}",
            kind=CandidateKind.FOUND,
            trial_number=trial_number,
            stage=status if existing not in ("retrained", "winner") else None,
            metrics=metrics,
            costs=costs,
            feasible=record.feasible,
        )
    return int(newly_evaluated)


def sync_pareto(store: Store, job_id: int, search: Search) -> None:
    """Pareto ranks over the search leaderboard (feasible, evaluated candidates)."""
    ranks = {e.arch_hash: e.pareto_rank for e in search.leaderboard() if e.pareto_rank is not None}
    with store.session(write=True) as session:
        crud.set_pareto_ranks(session=session, job_id=job_id, ranks=ranks)


def sync_final(store: Store, job_id: int, search: Search) -> dict[str, int]:
    """Copy the finalisation records into candidates and ``subnet`` artifacts; name -> candidate id."""
    winner = read_winner(search.study)
    ids: dict[str, int] = {}
    for name, record in sorted(final_records(search.study).items()):
        ids[name] = _upsert_final(store, job_id, name, record, winner=name == winner)
    return ids


def _upsert_final(store: Store, job_id: int, name: str, record: FinalRecord, *, winner: bool) -> int:
    retrained = {
        "retrained_val_logloss": record.metrics.get("val_logloss"),
        "retrained_val_auc": record.metrics.get("val_auc"),
        "retrained_name": name,
        "diverged": record.diverged,
    }
    tested = {k: v for k, v in record.metrics.items() if METRICS[k].kind == "tested"}
    if record.test_rows is not None:
        tested["test_rows"] = record.test_rows
    baseline = record.kind == "baseline"
    with store.session(write=True) as session:
        existing = session.scalars(
            select(Candidate).where(Candidate.job_id == job_id, Candidate.arch_hash == record.arch_hash)
        ).one_or_none()
        if baseline and (existing is None or existing.kind == CandidateKind.BASELINE):
            candidate = crud.upsert_candidate(
                session=session,
                job_id=job_id,
                arch_hash=record.arch_hash,
                architecture=record.architecture,
                name=name,
                kind=CandidateKind.BASELINE,
                stage="baseline",
                metrics={
                    "val_logloss": record.metrics.get("val_logloss"),
                    "val_auc": record.metrics.get("val_auc"),
                    "description": record.description,
                    "width_scale": record.width_scale,
                    **retrained,
                    **tested,
                },
                costs={k: v for k, v in record.metrics.items() if METRICS[k].kind == "analytic"},
                feasible=record.feasible,
            )
        else:  # a found candidate (or a baseline the search had found too: it keeps its row)
            candidate = crud.upsert_candidate(
                session=session,
                job_id=job_id,
                arch_hash=record.arch_hash,
                architecture=record.architecture,
                name=None if existing is not None else name,
                stage="winner" if winner else "retrained",
                metrics={**retrained, **tested, **({"baseline": name} if baseline else {})},
            )
        if record.checkpoint:
            crud.add_artifact(
                session=session,
                job_id=job_id,
                candidate_id=candidate.id,
                kind=SUBNET_ARTIFACT,
                path=record.checkpoint,
                meta={"name": name, "retrained": True},
            )
        return candidate.id


def final_summary(entries: Iterable[Any], ids: dict[str, int]) -> list[dict[str, Any]]:
    """The final leaderboard for the job's ``result`` (no architectures: the candidates hold them)."""
    out = []
    for entry in entries:
        row = {k: v for k, v in entry.to_dict().items() if k != "architecture"}
        row["candidate_id"] = ids.get(entry.name)
        out.append(row)
    return out
