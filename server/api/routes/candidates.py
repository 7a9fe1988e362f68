"""Candidates: show one (its architecture, metrics and costs) and draw its architecture (SVG)."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.responses import Response

from nasrec.diagram import architecture_svg
from nasrec.store import crud
from server.api.deps import CurrentUser, SessionDep
from server.api.params import CandidateId
from server.models import CandidateDetail, Problem

router = APIRouter(prefix="/candidates", tags=["candidates"])

SVG = "image/svg+xml"
# The drawing is a document of its own when opened directly: it may load nothing and run nothing.
SVG_HEADERS = {"Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'"}


@router.get("/{candidate_id}", response_model=CandidateDetail)
def show_candidate(candidate_id: CandidateId, session: SessionDep, current_user: CurrentUser) -> object:
    return crud.get_candidate(session=session, owner_id=current_user.id, candidate_id=candidate_id)


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
