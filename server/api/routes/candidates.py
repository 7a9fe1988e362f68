"""Candidates: show one (its architecture, metrics and costs), draw its architecture (SVG), export it.

The export is a resource of its own, at ``/candidates/{id}/export`` and, addressed through its job,
``/jobs/{job_id}/candidates/{id}/export``:

    POST  .../export      start building the bundle in the background: 202 with state "building"
                          and ``Location`` (the status URL to poll); 200 with state "ready" when it
                          is built. Concurrent POSTs (any server process) start one build; a POST
                          after a failed build retries it
    GET   .../export      the state: "building", "ready" (with the bundle's record) or "failed"
                          (with why); 404 when it was never exported
    GET   .../export.zip  the bundle: 409 while it is being built or when its build failed, 404
                          when it was never exported

Where the weights come from: the candidate's SubNet checkpoint when the job's finalisation retrained
it (the top-k, the winner, the baselines), else the job's supernet (the candidate's inherited
weights: the very model its one-shot validation scores were measured on; nothing is retrained).
The bookkeeping is ``server.core.exports``; the bundle is ``nasrec.export.export_checkpoint``'s."""

from __future__ import annotations

from fastapi import APIRouter, Request
from sqlalchemy.orm import Session
from starlette.responses import FileResponse, Response

from nasrec.diagram import architecture_svg
from nasrec.errors import ConflictError, NotFoundError
from nasrec.space.arch_file import from_source
from nasrec.store import User, crud
from server.api.deps import AsUser, CurrentUser, SessionDep
from server.api.params import CandidateId, JobId
from server.core.config import API_PREFIX
from server.core.exports import BUILDING, FAILED, READY, ExportState, export_state, start_export
from server.models import CandidateDetail, ExportPublic, ExportStatus, Problem

router = APIRouter(prefix="/candidates", tags=["candidates"])
job_router = APIRouter(prefix="/jobs/{job_id}/candidates", tags=["candidates"])

SVG = "image/svg+xml"
ZIP = "application/zip"
# The drawing is a document of its own when opened directly: it may load nothing and run nothing.
SVG_HEADERS = {"Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'"}


@router.get("/{candidate_id}", response_model=CandidateDetail)
async def show_candidate(candidate_id: CandidateId, as_user: AsUser) -> object:
    return await as_user.run(
        lambda session, user: crud.get_candidate(session=session, owner_id=user.id, candidate_id=candidate_id)
    )


@router.get(
    "/{candidate_id}/diagram.svg",
    response_class=Response,
    responses={
        200: {"content": {SVG: {"schema": {"type": "string"}}}, "description": "the architecture as SVG"},
        404: {"model": Problem, "description": "no such candidate (or not yours)"},
        422: {"model": Problem, "description": "the stored architecture cannot be drawn"},
    },
)
def candidate_diagram(candidate_id: CandidateId, session: SessionDep, current_user: CurrentUser) -> Response:
    """The architecture drawn: blocks as boxes with their ops and widths, dense / sparse / left /
    right inputs as arcs, what cannot reach the head in grey."""
    candidate = crud.get_candidate(session=session, owner_id=current_user.id, candidate_id=candidate_id)
    title = f"candidate {candidate.id}" + (f": {candidate.name}" if candidate.name else "")
    with from_source(f"candidate {candidate.id}: not a valid architecture"):
        svg = architecture_svg(candidate.architecture, title=title)
    return Response(svg, media_type=SVG, headers=SVG_HEADERS)


# --- export ---------------------------------------------------------------------------------

ZIP_RESPONSE = {
    "content": {ZIP: {"schema": {"type": "string", "format": "binary"}}},
    "description": "the bundle (TorchScript, ONNX, safetensors weights, feature map, metrics)",
}
POST_RESPONSES: dict[int | str, dict[str, object]] = {
    200: {"model": ExportStatus, "description": "already built (state ready); no build started"},
    404: {"model": Problem, "description": "no such candidate (or not yours)"},
    409: {"model": Problem, "description": "the candidate has no trained weights yet"},
}
STATUS_RESPONSES: dict[int | str, dict[str, object]] = {
    404: {"model": Problem, "description": "no such candidate (or not yours), or never exported"},
}
ZIP_RESPONSES: dict[int | str, dict[str, object]] = {
    200: ZIP_RESPONSE,
    404: {"model": Problem, "description": "no such candidate (or not yours), or never exported"},
    409: {"model": Problem, "description": "the bundle is being built, or its build failed"},
}


def _export_url(candidate_id: int, job_id: int | None) -> str:
    scope = "" if job_id is None else f"/jobs/{job_id}"
    return f"{API_PREFIX}{scope}/candidates/{candidate_id}/export"


def _check_job(session: Session, user: User, job_id: int | None, candidate_id: int) -> None:
    """404 unless the candidate is one of the job's (and the user's); ``job_id`` None: no job given."""
    candidate = crud.get_candidate(session=session, owner_id=user.id, candidate_id=candidate_id)
    if job_id is not None and candidate.job_id != job_id:
        raise NotFoundError(f"job {job_id} has no candidate {candidate_id}")


def _status(found: ExportState, url: str) -> ExportStatus:
    return ExportStatus(
        id=found.artifact.id,
        state=found.state,
        error=found.error,
        started_at=found.artifact.created_at,
        status_url=url,
        download_url=url + ".zip",
        export=ExportPublic.model_validate(found.artifact) if found.state == READY else None,
    )


async def _start(
    request: Request, response: Response, as_user: AsUser, candidate_id: int, job_id: int | None
) -> ExportStatus:
    builds = request.app.state.exports

    def start(session: Session, user: User) -> ExportState:
        _check_job(session, user, job_id, candidate_id)
        return start_export(session=session, owner=user, candidate_id=candidate_id, builds=builds)

    url = _export_url(candidate_id, job_id)
    found = await as_user.run(start)
    if found.state == BUILDING:
        response.headers["Location"] = url
    else:
        response.status_code = 200
    return _status(found, url)


def _not_exported(candidate_id: int, url: str) -> NotFoundError:
    return NotFoundError(f"candidate {candidate_id} has not been exported yet: POST {url} builds it")


async def _read(as_user: AsUser, candidate_id: int, job_id: int | None) -> ExportState:
    def read(session: Session, user: User) -> ExportState | None:
        _check_job(session, user, job_id, candidate_id)
        return export_state(session=session, owner=user, candidate_id=candidate_id)

    found = await as_user.run(read)
    if found is None:
        raise _not_exported(candidate_id, _export_url(candidate_id, job_id))
    return found


async def _download(as_user: AsUser, candidate_id: int, job_id: int | None, filename: str) -> FileResponse:
    found = await _read(as_user, candidate_id, job_id)
    url = _export_url(candidate_id, job_id)
    if found.state == BUILDING:
        raise ConflictError(f"candidate {candidate_id}'s export is being built; GET {url} until it is ready")
    if found.state == FAILED:
        raise ConflictError(
            f"candidate {candidate_id}'s export failed: {found.error}; POST {url} to try again"
        )
    return FileResponse(found.artifact.path, media_type=ZIP, filename=filename)


@router.post("/{candidate_id}/export", response_model=ExportStatus, status_code=202, responses=POST_RESPONSES)
async def export_candidate(
    request: Request, response: Response, candidate_id: CandidateId, as_user: AsUser
) -> ExportStatus:
    """Build the candidate's export bundle (TorchScript, ONNX, safetensors weights, feature map,
    metrics; verified against the SubNet) in the background: 202 with state ``building``; poll the
    ``Location`` (``GET .../export``) until it is ``ready``, then download ``export.zip``. 200 when
    it is already built. A POST while it is being built joins that build; after a failed one, retries."""
    return await _start(request, response, as_user, candidate_id, None)


@router.get("/{candidate_id}/export", response_model=ExportStatus, responses=STATUS_RESPONSES)
async def candidate_export_status(candidate_id: CandidateId, as_user: AsUser) -> ExportStatus:
    """Where the candidate's export stands: ``building``, ``ready`` (with the bundle's record) or
    ``failed`` (with the reason)."""
    return _status(await _read(as_user, candidate_id, None), _export_url(candidate_id, None))


@router.get("/{candidate_id}/export.zip", response_class=FileResponse, responses=ZIP_RESPONSES)
async def download_export(candidate_id: CandidateId, as_user: AsUser) -> FileResponse:
    """The zip built by ``POST .../export``."""
    return await _download(as_user, candidate_id, None, f"nasrec-candidate-{candidate_id}.zip")


JOB_POST_RESPONSES = {
    **POST_RESPONSES,
    404: {"model": Problem, "description": "no such job or candidate (or not yours)"},
}


@job_router.post(
    "/{candidate_id}/export", response_model=ExportStatus, status_code=202, responses=JOB_POST_RESPONSES
)
async def export_job_candidate(
    request: Request, response: Response, job_id: JobId, candidate_id: CandidateId, as_user: AsUser
) -> ExportStatus:
    """``POST /candidates/{id}/export``, for a candidate of this job (404 otherwise); the status
    and download URLs it answers are this path's."""
    return await _start(request, response, as_user, candidate_id, job_id)


@job_router.get("/{candidate_id}/export", response_model=ExportStatus, responses=STATUS_RESPONSES)
async def job_candidate_export_status(
    job_id: JobId, candidate_id: CandidateId, as_user: AsUser
) -> ExportStatus:
    """``GET /candidates/{id}/export``, for a candidate of this job."""
    return _status(await _read(as_user, candidate_id, job_id), _export_url(candidate_id, job_id))


@job_router.get("/{candidate_id}/export.zip", response_class=FileResponse, responses=ZIP_RESPONSES)
async def download_job_candidate_export(
    job_id: JobId, candidate_id: CandidateId, as_user: AsUser
) -> FileResponse:
    """The zip built by ``POST`` on ``.../export``."""
    return await _download(as_user, candidate_id, job_id, f"nasrec-job-{job_id}-candidate-{candidate_id}.zip")
