"""Datasets registered by users (the files live on disk; the store keeps where, and the summary)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from nasrec.errors import ConflictError
from nasrec.names import check_dataset_name
from nasrec.store.crud.ownership import get_owned, owned
from nasrec.store.crud.paging import check_page
from nasrec.store.models import Dataset


def ensure_dataset_name_free(*, session: Session, owner_id: int, name: str) -> None:
    """ConflictError if the user already has a dataset called ``name`` (check before writing files)."""
    check_dataset_name(name)
    taken = session.scalar(select(Dataset.id).where(Dataset.owner_id == owner_id, Dataset.name == name))
    if taken is not None:
        raise ConflictError(f"dataset {name!r} already exists: pick another name or delete it first")


def create_dataset(
    *, session: Session, owner_id: int, name: str, path: str, source: str, info: dict[str, Any]
) -> Dataset:
    check_dataset_name(name)
    dataset = Dataset(owner_id=owner_id, name=name, path=path, source=source, info=info)
    session.add(dataset)
    try:
        session.commit()
    except IntegrityError as exc:
        session.rollback()
        raise ConflictError(f"dataset {name!r} already exists: pick another name or delete it first") from exc
    return dataset


def get_dataset(*, session: Session, owner_id: int | None, name: str) -> Dataset:
    return get_owned(session, Dataset, owner_id, Dataset.name == name, label=f"dataset {name!r}")


def list_datasets(
    *, session: Session, owner_id: int | None, limit: int = 100, offset: int = 0
) -> tuple[list[Dataset], int]:
    """One page of the user's datasets (by name) and how many there are in all."""
    check_page(limit, offset)
    count = session.scalar(owned(select(func.count()).select_from(Dataset), Dataset, owner_id)) or 0
    rows = session.scalars(
        owned(select(Dataset), Dataset, owner_id).order_by(Dataset.name).limit(limit).offset(offset)
    )
    return list(rows), count


def delete_dataset(*, session: Session, owner_id: int | None, name: str) -> Dataset:
    """Remove the row (not the files; the caller decides about those). Jobs keep their spec."""
    dataset = get_dataset(session=session, owner_id=owner_id, name=name)
    session.delete(dataset)
    session.commit()
    return dataset
