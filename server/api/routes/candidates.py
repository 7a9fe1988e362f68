"""Candidates: show one (its architecture, metrics and costs), draw its architecture (SVG), export it
(build the bundle once, then download the zip).

The export is also addressed through its job, ``/jobs/{job_id}/candidates/{candidate_id}/export``:
POST builds it (once, however many requests arrive together), GET downloads the zip and answers 409
while it is being built or before it has been.

Where the weights come from: the candidate's SubNet checkpoint when the job's finalisation retrained
it (the top-k, the winner, the baselines), else the job's supernet (the candidate's inherited
weights: the very model its one-shot validation scores were measured on; nothing is retrained in a
request). See ``server.core.exports``."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import FileResponse, Response

from nasrec.diagram import architecture_svg
from nasrec.errors import ConflictError, NotFoundError
from nasrec.store import crud
from server.api.deps import AsUser, CurrentUser, SessionDep, run_long
from server.api.params import CandidateId, JobId
from server.core.exports import BUILDING, build_export, current_export, export_state
from server.models import CandidateDetail, ExportPublic, Problem

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
    svg = architecture_svg(candidate.architecture, title=title)
    return Response(svg, media_type=SVG, headers=SVG_HEADERS)


@router.post(
    "/{candidate_id}/export",
    response_model=ExportPublic,
    responses={
        404: {"model": Problem, "description": "no such candidate (or not yours)"},
        409: {"model": Problem, "description": "the candidate has no trained weights yet"},
    },
)
async def export_candidate(
    request: Request, candidate_id: CandidateId, session: SessionDep, current_user: CurrentUser
) -> object:
    """Build the candidate's export bundle (TorchScript, ONNX, safetensors weights, feature map,
    metrics; verified against the SubNet), unless it is already built; then download ``export.zip``."""
    return await run_long(
        request, build_export, session=session, owner=current_user, candidate_id=candidate_id
    )


@router.get(
    "/{candidate_id}/export.zip",
    response_class=FileResponse,
    responses={
        200: {
            "content": {ZIP: {"schema": {"type": "string", "format": "binary"}}},
            "description": "the bundle",
        },
        404: {"model": Problem, "description": "no such candidate, or not exported yet"},
    },
)
def download_export(
    candidate_id: CandidateId, session: SessionDep, current_user: CurrentUser
) -> FileResponse:
    """The zip built by ``POST .../export``."""
    artifact = current_export(session=session, owner=current_user, candidate_id=candidate_id)
    if artifact is None:
        raise NotFoundError(
            f"candidate {candidate_id} has not been exported yet: "
            f"POST /api/v1/candidates/{candidate_id}/export builds it"
        )
    return FileResponse(artifact.path, media_type=ZIP, filename=f"nasrec-candidate-{candidate_id}.zip")


def _check_job(session: SessionDep, current_user: CurrentUser, job_id: int, candidate_id: int) -> None:
    """404 unless the candidate is one of the job's (and the user's)."""
    candidate = crud.get_candidate(session=session, owner_id=current_user.id, candidate_id=candidate_id)
    if candidate.job_id != job_id:
        raise NotFoundError(f"job {job_id} has no candidate {candidate_id}")


@job_router.post(
    "/{candidate_id}/export",
    response_model=ExportPublic,
    responses={
        404: {"model": Problem, "description": "no such job or candidate (or not yours)"},
        409: {"model": Problem, "description": "the candidate has no trained weights yet"},
    },
)
async def export_job_candidate(
    request: Request, job_id: JobId, candidate_id: CandidateId, session: SessionDep, current_user: CurrentUser
) -> object:
    """Build the candidate's export bundle unless it is built: requests that arrive while it is
    being built wait for that build and get the same record. Then GET this path for the zip."""

    def check_and_build() -> object:
        _check_job(session, current_user, job_id, candidate_id)
        return build_export(session=session, owner=current_user, candidate_id=candidate_id)

    return await run_long(request, check_and_build)


@job_router.get(
    "/{candidate_id}/export",
    response_class=FileResponse,
    responses={
        200: {
            "content": {ZIP: {"schema": {"type": "string", "format": "binary"}}},
            "description": "the bundle (TorchScript, ONNX, safetensors weights, feature map, metrics)",
        },
        404: {"model": Problem, "description": "no such job or candidate (or not yours)"},
        409: {"model": Problem, "description": "the bundle is being built, or has not been exported yet"},
    },
)
def download_job_candidate_export(
    job_id: JobId, candidate_id: CandidateId, session: SessionDep, current_user: CurrentUser
) -> FileResponse:
    """The zip built by ``POST`` on this path."""
    _check_job(session, current_user, job_id, candidate_id)
    state, artifact = export_state(session=session, owner=current_user, candidate_id=candidate_id)
    if state == BUILDING:
        raise ConflictError(f"candidate {candidate_id}'s export is being built; try again in a few seconds")
    if artifact is None:
        raise ConflictError(
            f"candidate {candidate_id} has not been exported yet: "
            f"POST /api/v1/jobs/{job_id}/candidates/{candidate_id}/export builds it"
        )
    return FileResponse(
        artifact.path, media_type=ZIP, filename=f"nasrec-job-{job_id}-candidate-{candidate_id}.zip"
    )
