"""Jobs: submit, list, show, cancel, events; and each job's leaderboard and Pareto front."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from sqlalchemy import Row
from sqlalchemy.orm import Session
from starlette.responses import Response

from nasrec.metrics import METRICS
from nasrec.spec import JobSpec
from nasrec.store import CandidateKind, JobState, User, crud
from server.api.deps import AsUser, CurrentUser, SessionDep
from server.api.params import After, JobId, Limit, Offset, Stage
from server.core.jobs import submit_job
from server.models import CandidatesPublic, EventPublic, EventsPublic, JobPublic, JobsPublic

router = APIRouter(prefix="/jobs", tags=["jobs"])


@router.post("", response_model=JobPublic, status_code=201)
def create_job(spec: JobSpec, session: SessionDep, current_user: CurrentUser) -> object:
    """Queue a search job (the body is a job spec, as in `nasrec search JOB.yaml`)."""
    return submit_job(session=session, owner=current_user, spec=spec)


@router.get("", response_model=JobsPublic)
async def list_jobs(
    as_user: AsUser, state: JobState | None = None, limit: Limit = 50, offset: Offset = 0
) -> JobsPublic:
    """Your jobs, newest first."""

    def page(session: Session, user: User) -> JobsPublic:
        rows, count = crud.list_jobs(
            session=session, owner_id=user.id, state=state, limit=limit, offset=offset
        )
        return JobsPublic(data=[JobPublic.model_validate(j) for j in rows], count=count)

    return await as_user.run(page)


@router.get("/{job_id}", response_model=JobPublic)
async def show_job(job_id: JobId, as_user: AsUser) -> object:
    return await as_user.run(
        lambda session, user: crud.get_job(session=session, owner_id=user.id, job_id=job_id)
    )


@router.post("/{job_id}/cancel", response_model=JobPublic)
def cancel_job(job_id: JobId, session: SessionDep, current_user: CurrentUser) -> object:
    """Cancel: a queued job at once, a running one after its worker's current step."""
    return crud.request_cancel(session=session, owner_id=current_user.id, job_id=job_id)


@router.get("/{job_id}/events", response_model=EventsPublic)
async def job_events(job_id: JobId, as_user: AsUser, after: After = 0, limit: Limit = 100) -> EventsPublic:
    """The job's log, oldest first; poll with ``after=next_after`` for what is new."""

    def page(session: Session, user: User) -> EventsPublic:
        events = crud.list_events(session=session, owner_id=user.id, job_id=job_id, after=after, limit=limit)
        return EventsPublic(
            data=[EventPublic.model_validate(e) for e in events],
            count=len(events),
            next_after=events[-1].id if events else after,
        )

    return await as_user.run(page)


@router.get("/{job_id}/leaderboard", response_model=CandidatesPublic)
async def leaderboard(
    job_id: JobId,
    as_user: AsUser,
    sort: Annotated[
        str, Query(description=f"a metric ({', '.join(METRICS)}), pareto_rank, trial_number or id")
    ] = "val_logloss",
    order: Annotated[Literal["asc", "desc"] | None, Query(description="default: best first")] = None,
    feasible: Annotated[bool, Query(description="only candidates within the job's budgets")] = False,
    stage: Stage = None,
    kind: CandidateKind | None = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> Response:
    """The job's candidates, best first by ``sort``; candidates without a value come last."""

    def page(session: Session, user: User) -> Response:
        rows, count = crud.leaderboard(
            session=session,
            owner_id=user.id,
            job_id=job_id,
            sort=sort,
            descending=None if order is None else order == "desc",
            feasible_only=feasible,
            stage=stage,
            kind=kind,
            limit=limit,
            offset=offset,
        )
        return _candidates_json(rows, count)

    return await as_user.run(page)


@router.get("/{job_id}/pareto", response_model=CandidatesPublic)
async def pareto_front(job_id: JobId, as_user: AsUser) -> Response:
    """The feasible candidates on the job's Pareto front (rank 0 over its objectives)."""

    def front(session: Session, user: User) -> Response:
        rows = crud.pareto_front(session=session, owner_id=user.id, job_id=job_id)
        return _candidates_json(rows, len(rows))

    return await as_user.run(front)


def _candidates_json(rows: Sequence[Row[Any]], count: int) -> Response:
    """The page, validated and serialised once by pydantic (returning the model would make FastAPI
    validate and encode it again). ``response_model`` documents it. (``zip`` makes the rows' dicts
    several times faster than ``Row._asdict``.)"""
    fields = rows[0]._fields if rows else ()
    page = CandidatesPublic.model_validate(
        {"data": [dict(zip(fields, row, strict=True)) for row in rows], "count": count}
    )
    return Response(page.model_dump_json(), media_type="application/json")
