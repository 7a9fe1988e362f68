"""``/healthz`` (no auth: for load balancers) and ``/metrics`` (Prometheus text format)."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.responses import JSONResponse, PlainTextResponse

from nasrec import __version__
from nasrec.store import crud, utcnow
from server.api.deps import CurrentUser, SessionDep, StoreDep
from server.models import Health

router = APIRouter(tags=["health"])

PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


@router.get("/healthz", response_model=Health, responses={503: {"model": Health}})
def healthz(store: StoreDep) -> JSONResponse:
    """Whether the service and its database are up."""
    try:
        store.ping()
    except Exception as exc:
        body = Health(status="unavailable", database=type(exc).__name__, version=__version__)
        return JSONResponse(body.model_dump(), status_code=503)
    return JSONResponse(Health(status="ok", database="ok", version=__version__).model_dump())


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


@router.get("/metrics", response_class=PlainTextResponse)
def metrics(session: SessionDep, _user: CurrentUser) -> PlainTextResponse:
    """Jobs by state, candidates by stage and evaluated, worker heartbeats (all users together)."""
    now = utcnow()
    lines = ["# HELP nasrec_jobs Jobs by state.", "# TYPE nasrec_jobs gauge"]
    for state, n in crud.job_counts_by_state(session=session).items():
        lines.append(f'nasrec_jobs{{state="{state.value}"}} {n}')
    lines += ["# HELP nasrec_candidates Candidates by stage.", "# TYPE nasrec_candidates gauge"]
    for stage, n in sorted(crud.candidate_counts_by_stage(session=session).items()):
        lines.append(f'nasrec_candidates{{stage="{_label(stage)}"}} {n}')
    lines += [
        "# HELP nasrec_candidates_evaluated Candidates with a validation log loss.",
        "# TYPE nasrec_candidates_evaluated gauge",
        f"nasrec_candidates_evaluated {crud.count_evaluated_candidates(session=session)}",
    ]
    workers = crud.list_workers(session=session)
    lines += [
        "# HELP nasrec_workers Worker processes that have reported a heartbeat.",
        "# TYPE nasrec_workers gauge",
        f"nasrec_workers {len(workers)}",
        "# HELP nasrec_worker_heartbeat_age_seconds Seconds since each worker's last heartbeat.",
        "# TYPE nasrec_worker_heartbeat_age_seconds gauge",
    ]
    for worker in workers:
        age = (now - worker.heartbeat_at).total_seconds()
        lines.append(f'nasrec_worker_heartbeat_age_seconds{{worker="{_label(worker.id)}"}} {age:.3f}')
    return PlainTextResponse("\n".join(lines) + "\n", media_type=PROMETHEUS_CONTENT_TYPE)
