"""Candidates: show one (its architecture, metrics and costs)."""

from __future__ import annotations

from fastapi import APIRouter

from nasrec.store import crud
from server.api.deps import CurrentUser, SessionDep
from server.api.params import CandidateId
from server.models import CandidateDetail

router = APIRouter(prefix="/candidates", tags=["candidates"])


@router.get("/{candidate_id}", response_model=CandidateDetail)
def show_candidate(candidate_id: CandidateId, session: SessionDep, current_user: CurrentUser) -> object:
    return crud.get_candidate(session=session, owner_id=current_user.id, candidate_id=candidate_id)
