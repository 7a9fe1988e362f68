"""Search spaces shipped with the server (``search_spaces/*.yaml``): list and show."""

from __future__ import annotations

from fastapi import APIRouter

from nasrec.errors import NotFoundError
from server.api.deps import CurrentUser
from server.models import SpacePublic, SpacesPublic, SpaceSummary

router = APIRouter(prefix="/spaces", tags=["spaces"])


def _shipped(name: str) -> None:
    """Only shipped spaces by name: ``load_space`` also opens files by path, which the API must not."""
    from nasrec.space import list_spaces

    if name not in list_spaces():
        raise NotFoundError(f"search space {name!r} not found; available: {', '.join(list_spaces())}")


@router.get("", response_model=SpacesPublic)
def list_spaces(_user: CurrentUser) -> SpacesPublic:
    from nasrec.space import list_spaces, load_space

    spaces = [load_space(name) for name in list_spaces()]
    data = [SpaceSummary(name=s.name, description=s.description, num_blocks=s.num_blocks) for s in spaces]
    return SpacesPublic(data=data, count=len(data))


@router.get("/{name}", response_model=SpacePublic)
def show_space(name: str, _user: CurrentUser) -> SpacePublic:
    from nasrec.space import load_space

    _shipped(name)
    space = load_space(name)
    size = space.size()
    return SpacePublic(
        name=space.name,
        definition=space.to_dict(),
        size={
            "raw": str(size.raw),
            "canonical": None if size.canonical is None else str(size.canonical),
            "log10_raw": round(size.log10_raw, 3),
            "log10_canonical": None if size.log10_canonical is None else round(size.log10_canonical, 3),
        },
    )
