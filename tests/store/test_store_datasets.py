"""Dataset rows: names unique per owner, ownership, pagination."""

from __future__ import annotations

import pytest

from nasrec.errors import ConfigError, ConflictError, NotFoundError
from nasrec.store import Store, User, crud


def test_dataset_names_are_unique_per_owner(store: Store, alice: User, bob: User) -> None:
    with store.session(write=True) as session:
        mine = crud.create_dataset(
            session=session,
            owner_id=alice.id,
            name="criteo",
            path="/d/a",
            source="registered",
            info={"rows": 10},
        )
        theirs = crud.create_dataset(
            session=session, owner_id=bob.id, name="criteo", path="/d/b", source="uploaded", info={}
        )
        assert mine.id != theirs.id
        with pytest.raises(ConflictError, match="dataset 'criteo' already exists"):
            crud.ensure_dataset_name_free(session=session, owner_id=alice.id, name="criteo")
        with pytest.raises(ConflictError, match="dataset 'criteo' already exists"):
            crud.create_dataset(
                session=session, owner_id=alice.id, name="criteo", path="/x", source="x", info={}
            )
        crud.ensure_dataset_name_free(session=session, owner_id=alice.id, name="avazu")
        for bad in ("", "../up", "a/b", ".hidden", "x" * 200):
            with pytest.raises(ConfigError, match="invalid dataset name"):
                crud.ensure_dataset_name_free(session=session, owner_id=alice.id, name=bad)
        assert crud.get_dataset(session=session, owner_id=alice.id, name="criteo").info == {"rows": 10}
        assert crud.get_dataset(session=session, owner_id=bob.id, name="criteo").path == "/d/b"


def test_list_and_delete(store: Store, alice: User, bob: User) -> None:
    with store.session(write=True) as session:
        for name in ("c", "a", "b"):
            crud.create_dataset(session=session, owner_id=alice.id, name=name, path=name, source="s", info={})
        crud.create_dataset(session=session, owner_id=bob.id, name="z", path="z", source="s", info={})
        rows, count = crud.list_datasets(session=session, owner_id=alice.id, limit=2)
        assert count == 3 and [d.name for d in rows] == ["a", "b"]
        with pytest.raises(NotFoundError, match="dataset 'z' not found"):
            crud.get_dataset(session=session, owner_id=alice.id, name="z")
        with pytest.raises(NotFoundError):
            crud.delete_dataset(session=session, owner_id=alice.id, name="z")
        crud.delete_dataset(session=session, owner_id=alice.id, name="a")
        assert crud.list_datasets(session=session, owner_id=alice.id)[1] == 2
