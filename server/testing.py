"""Helpers for tests of the service (fixtures live in ``tests/server/conftest.py``)."""

from __future__ import annotations

import random
from dataclasses import dataclass

from nasrec.store import Store, User, crud


@dataclass
class Account:
    """A user with a live API token."""

    user: User
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    @classmethod
    def create(cls, store: Store, name: str) -> Account:
        with store.session(write=True) as session:
            user = crud.create_user(session=session, name=name)
            _, token = crud.create_token(session=session, user_id=user.id)
        return cls(user, token)


def add_dataset_row(store: Store, owner: Account, name: str) -> int:
    """A dataset row without files (enough to submit jobs against); its id."""
    with store.session(write=True) as session:
        row = crud.create_dataset(
            session=session,
            owner_id=owner.user.id,
            name=name,
            path=f"/nonexistent/{name}",
            source="test",
            info={},
        )
    return row.id


def criteo_lines(rows: int, seed: int = 0) -> str:
    """``rows`` lines of Criteo-format text (label, 13 counts, 26 hashed categories; tab-separated)."""
    rng = random.Random(seed)
    lines = []
    for _ in range(rows):
        dense = [str(rng.randint(0, 50)) if rng.random() > 0.1 else "" for _ in range(13)]
        sparse = [f"{rng.randint(0, 20):08x}" if rng.random() > 0.1 else "" for _ in range(26)]
        lines.append("\t".join([str(rng.randint(0, 1)), *dense, *sparse]))
    return "\n".join(lines) + "\n"
