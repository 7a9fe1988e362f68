"""The current user and their API tokens."""

from __future__ import annotations

from fastapi import APIRouter

from nasrec.store import crud
from server.api.deps import CurrentUser, SessionDep
from server.api.params import TokenId
from server.models import TokenCreate, TokenCreated, TokenPublic, TokensPublic, UserPublic

router = APIRouter(prefix="/users", tags=["users"])


@router.get("/me", response_model=UserPublic)
def read_me(current_user: CurrentUser) -> object:
    return current_user


@router.get("/me/tokens", response_model=TokensPublic)
def list_my_tokens(session: SessionDep, current_user: CurrentUser) -> TokensPublic:
    tokens = crud.list_tokens(session=session, user_id=current_user.id)
    return TokensPublic(data=[TokenPublic.model_validate(t) for t in tokens], count=len(tokens))


@router.post("/me/tokens", response_model=TokenCreated, status_code=201)
def create_my_token(body: TokenCreate, session: SessionDep, current_user: CurrentUser) -> TokenCreated:
    """A new token for yourself; the secret is in the response and nowhere else."""
    token, secret = crud.create_token(session=session, user_id=current_user.id, name=body.name)
    return TokenCreated(**TokenPublic.model_validate(token).model_dump(), token=secret)


@router.delete("/me/tokens/{token_id}", response_model=TokenPublic)
def revoke_my_token(token_id: TokenId, session: SessionDep, current_user: CurrentUser) -> object:
    return crud.revoke_token(session=session, user_id=current_user.id, token_id=token_id)
