"""Candidates of a job: upsert by canonical hash, the leaderboard and the Pareto front.

``metrics`` (accuracy: ``val_logloss``, ``val_auc``, ``test_logloss``, ``test_auc``, ...) and
``costs`` (``flops``, ``params``, ...) are free-form JSON objects, merged key by key on every upsert.
The metrics of :data:`nasrec.metrics.METRICS` are also copied into indexed columns
(``OBJECTIVE_COLUMNS``), which is what the leaderboard sorts on.
JSON has no NaN or infinity: such values are stored as null (a failed evaluation).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import ColumnElement, Row, Select, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import InstrumentedAttribute, Session

from nasrec.errors import ConfigError, NotFoundError
from nasrec.metrics import METRICS
from nasrec.store.crud.ownership import get_owned, owned
from nasrec.store.crud.paging import check_page
from nasrec.store.models import Candidate, CandidateKind, Job

# Every registered metric has its indexed column (a new metric adds one, with a migration).
OBJECTIVE_COLUMNS: dict[str, InstrumentedAttribute[Any]] = {
    name: getattr(Candidate, name) for name in METRICS
}
SORT_COLUMNS: dict[str, InstrumentedAttribute[Any]] = {
    **OBJECTIVE_COLUMNS,
    "pareto_rank": Candidate.pareto_rank,
    "trial_number": Candidate.trial_number,
    "id": Candidate.id,
}
# What a leaderboard row holds: everything but the architecture and the timestamps.
SUMMARY_COLUMNS = tuple(
    getattr(Candidate, c.key)
    for c in Candidate.__table__.columns
    if c.key not in ("architecture", "created_at", "updated_at")
)
SORT_ALIASES = {"logloss": "val_logloss", "auc": "val_auc"}
# Sorted best-first: descending for these, ascending for everything else.
HIGHER_IS_BETTER = frozenset(name for name, m in METRICS.items() if not m.minimize)


def _clean_json(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Mapping):
        return {str(k): _clean_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean_json(v) for v in value]
    return value


def _kind(kind: CandidateKind | str) -> CandidateKind:
    try:
        return CandidateKind(kind)
    except ValueError:
        raise ConfigError(
            f"candidate kind must be one of {', '.join(k.value for k in CandidateKind)}, got {kind!r}"
        ) from None


def _objective_values(metrics: Mapping[str, Any], costs: Mapping[str, Any]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for key in OBJECTIVE_COLUMNS:
        value = metrics.get(key, costs.get(key))
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
            raise ConfigError(f"candidate {key} must be a number or null, got {value!r}")
        values[key] = int(value) if key == "params" and value is not None else value
    return values


def upsert_candidate(
    *,
    session: Session,
    job_id: int,
    arch_hash: str,
    architecture: dict[str, Any],
    name: str | None = None,
    kind: CandidateKind | str | None = None,
    trial_number: int | None = None,
    stage: str | None = None,
    metrics: Mapping[str, Any] | None = None,
    costs: Mapping[str, Any] | None = None,
    feasible: bool | None = None,
    pareto_rank: int | None = None,
) -> Candidate:
    """Insert the job's candidate with this canonical hash, or update the one already there.

    On update, arguments left at None keep their stored value, ``metrics`` and ``costs`` are merged
    into the stored ones, and the architecture stays the one first stored (same hash, same network).
    """
    if not arch_hash or len(arch_hash) > 64:
        raise ConfigError(f"arch_hash must be 1-64 characters, got {arch_hash!r}")
    kind = _kind(kind) if kind is not None else None
    for _ in range(2):  # a concurrent insert of the same hash turns the second try into an update
        existing = session.scalars(
            select(Candidate)
            .where(Candidate.job_id == job_id, Candidate.arch_hash == arch_hash)
            .with_for_update()
            .execution_options(populate_existing=True)
        ).one_or_none()
        candidate = existing or Candidate(
            job_id=job_id, arch_hash=arch_hash, architecture=_clean_json(architecture), metrics={}, costs={}
        )
        merged_metrics = {**(candidate.metrics or {}), **_clean_json(metrics or {})}
        merged_costs = {**(candidate.costs or {}), **_clean_json(costs or {})}
        candidate.metrics, candidate.costs = merged_metrics, merged_costs
        for key, value in _objective_values(merged_metrics, merged_costs).items():
            setattr(candidate, key, value)
        for key, value in (
            ("name", name),
            ("kind", kind),
            ("trial_number", trial_number),
            ("stage", stage),
            ("feasible", feasible),
            ("pareto_rank", pareto_rank),
        ):
            if value is not None:
                setattr(candidate, key, value)
        if existing is not None:
            session.commit()
            return candidate
        try:
            with session.begin_nested():
                session.add(candidate)
        except IntegrityError:
            if session.get(Job, job_id) is None:
                raise NotFoundError(f"job {job_id} not found") from None
            continue
        session.commit()
        return candidate
    raise RuntimeError(f"could not upsert candidate {arch_hash} of job {job_id}")  # pragma: no cover


def set_pareto_ranks(*, session: Session, job_id: int, ranks: Mapping[str, int]) -> None:
    """Set the Pareto rank (0 = the front) of the job's candidates by hash; the others get null."""
    session.execute(
        update(Candidate)
        .where(Candidate.job_id == job_id)
        .values(pareto_rank=None)
        .execution_options(synchronize_session=False)
    )
    for arch_hash, rank in ranks.items():
        session.execute(
            update(Candidate)
            .where(Candidate.job_id == job_id, Candidate.arch_hash == arch_hash)
            .values(pareto_rank=rank)
            .execution_options(synchronize_session=False)
        )
    session.commit()


def get_candidate(*, session: Session, owner_id: int | None, candidate_id: int) -> Candidate:
    return get_owned(
        session, Candidate, owner_id, Candidate.id == candidate_id, label=f"candidate {candidate_id}"
    )


def sort_column(sort: str) -> tuple[str, InstrumentedAttribute[Any]]:
    """The leaderboard column for a sort key (aliases resolved); ConfigError lists the valid ones."""
    key = SORT_ALIASES.get(sort, sort)
    if key not in SORT_COLUMNS:
        raise ConfigError(f"cannot sort by {sort!r}: use one of {', '.join(sorted(SORT_COLUMNS))}")
    return key, SORT_COLUMNS[key]


def leaderboard(
    *,
    session: Session,
    owner_id: int | None,
    job_id: int,
    sort: str = "val_logloss",
    descending: bool | None = None,
    feasible_only: bool = False,
    stage: str | None = None,
    kind: CandidateKind | str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[Row[Any]], int]:
    """One page of the job's candidates (``SUMMARY_COLUMNS``), best first by ``sort`` (ascending,
    except AUCs; override with ``descending``), candidates without a value last; and how many match
    in all."""
    check_page(limit, offset)
    key, column = sort_column(sort)
    where: list[Any] = [Candidate.job_id == job_id]
    if feasible_only:
        where.append(Candidate.feasible.is_(True))
    if stage is not None:
        where.append(Candidate.stage == stage)
    if kind is not None:
        where.append(Candidate.kind == _kind(kind))
    # The job is the owner's (checked with the count), so its candidates are filtered by job id
    # alone. A page is found from the narrow (job_id, key, feasible) index, then its wide rows are
    # read by id: sorting or skipping the wide rows themselves is what made big jobs slow. The count
    # is COUNT(*), which PostgreSQL answers from such an index alone; COUNT(id) read every row.
    matching = select(func.count()).select_from(Candidate).where(*where).scalar_subquery()
    count = _of_owned_job(session, owner_id, job_id, matching)
    desc = key in HIGHER_IS_BETTER if descending is None else descending
    return _page(session, where, column, desc=desc, limit=limit, offset=offset), count


def _of_owned_job(session: Session, owner_id: int | None, job_id: int, value: ColumnElement[Any]) -> Any:
    """``value`` computed in the same query that checks the job is the owner's (NotFoundError if not)."""
    stmt = owned(select(value).select_from(Job).where(Job.id == job_id), Job, owner_id)
    result = session.execute(stmt).one_or_none()
    if result is None:
        raise NotFoundError(f"job {job_id} not found")
    return result[0]


def _page(
    session: Session,
    where: list[Any],
    column: InstrumentedAttribute[Any],
    *,
    desc: bool,
    limit: int,
    offset: int,
) -> list[Row[Any]]:
    """One page ordered by ``column``, then id in the same direction (the order of the (job_id,
    column, id) index, read forwards or backwards), values before nulls: the values first, then the
    nulls (``NULLS LAST`` itself would make PostgreSQL sort every row for descending pages, SQLite
    for ascending ones)."""
    by_id = Candidate.id.desc() if desc else Candidate.id.asc()
    ordered = (column.desc() if desc else column.asc(), by_id)
    with_value = select(Candidate.id).where(*where, column.is_not(None)).order_by(*ordered)
    rows = _summaries(session, with_value.limit(limit).offset(offset), ordered)
    if len(rows) == limit:
        return rows
    null_offset = 0
    if not rows:  # the page starts past the last value
        null_offset = max(0, offset - (session.scalar(select(func.count(column)).where(*where)) or 0))
    nulls = select(Candidate.id).where(*where, column.is_(None)).order_by(by_id)
    return rows + _summaries(session, nulls.limit(limit - len(rows)).offset(null_offset), [by_id])


def _summaries(session: Session, page_ids: Select[Any], order_by: Sequence[Any]) -> list[Row[Any]]:
    """The summary rows of the candidates ``page_ids`` selects, in ``order_by`` order."""
    page = page_ids.subquery()
    stmt = select(*SUMMARY_COLUMNS).join(page, page.c.id == Candidate.id).order_by(*order_by)
    return list(session.execute(stmt))


def pareto_front(*, session: Session, owner_id: int | None, job_id: int) -> list[Row[Any]]:
    """The job's feasible candidates of Pareto rank 0 (``SUMMARY_COLUMNS``), by validation log loss."""
    _of_owned_job(session, owner_id, job_id, Job.id)
    stmt = (
        select(*SUMMARY_COLUMNS)
        .where(Candidate.job_id == job_id, Candidate.pareto_rank == 0, Candidate.feasible.is_(True))
        .order_by(Candidate.val_logloss.asc().nulls_last(), Candidate.id)
    )
    return list(session.execute(stmt))


def candidate_counts_by_stage(*, session: Session) -> dict[str, int]:
    """How many candidates every job together has at each stage."""
    rows = session.execute(select(Candidate.stage, func.count()).group_by(Candidate.stage))
    return {stage: n for stage, n in rows}


def count_evaluated_candidates(*, session: Session) -> int:
    """How many candidates, over every job, have a validation log loss."""
    return (
        session.scalar(select(func.count()).select_from(Candidate).where(Candidate.val_logloss.is_not(None)))
        or 0
    )
