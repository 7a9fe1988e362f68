"""Users and API tokens: hashed storage, lookup, revocation."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from nasrec.errors import ConfigError, ConflictError, NotFoundError
from nasrec.store import ApiToken, Store, User, crud


def test_user_names_are_unique_and_checked(store: Store, alice: User) -> None:
    with store.session(write=True) as session:
        with pytest.raises(ConflictError, match="user 'alice' already exists"):
            crud.create_user(session=session, name="alice")
        with pytest.raises(ConfigError, match="invalid user name"):
            crud.create_user(session=session, name="no spaces")
        assert crud.get_user(session=session, name="alice").id == alice.id
        with pytest.raises(NotFoundError, match="nasrec user create carol"):
            crud.get_user(session=session, name="carol")


def test_tokens_are_stored_hashed_and_resolve_to_their_user(store: Store, alice: User, bob: User) -> None:
    with store.session(write=True) as session:
        row, secret = crud.create_token(session=session, user_id=alice.id, name="laptop")
        _, bob_secret = crud.create_token(session=session, user_id=bob.id)
    assert secret.startswith("nasrec_") and len(secret) > 40
    assert row.prefix == secret[:12]
    with store.session() as session:
        stored = session.scalars(select(ApiToken).where(ApiToken.id == row.id)).one()
        assert stored.token_hash == crud.hash_token(secret) != secret
        assert secret not in {t.token_hash for t in session.scalars(select(ApiToken))}
        assert stored.last_used_at is None

    with store.session() as session:
        assert crud.user_for_token(session=session, token=secret).name == "alice"
        assert crud.user_for_token(session=session, token=bob_secret).name == "bob"
        assert crud.user_for_token(session=session, token=secret + "x") is None
        assert crud.user_for_token(session=session, token="") is None
        assert crud.user_for_token(session=session, token="Bearer " + secret) is None
        assert session.get(ApiToken, row.id).last_used_at is not None


def test_revoked_tokens_stop_working(store: Store, alice: User, bob: User) -> None:
    with store.session(write=True) as session:
        row, secret = crud.create_token(session=session, user_id=alice.id)
        with pytest.raises(NotFoundError):
            crud.revoke_token(session=session, user_id=bob.id, token_id=row.id)
        assert crud.user_for_token(session=session, token=secret) is not None
        revoked = crud.revoke_token(session=session, user_id=alice.id, token_id=row.id)
        assert revoked.revoked_at is not None
        assert (
            crud.revoke_token(session=session, user_id=alice.id, token_id=row.id).revoked_at
            == revoked.revoked_at
        )
        assert crud.user_for_token(session=session, token=secret) is None
        assert [t.id for t in crud.list_tokens(session=session, user_id=alice.id)] == [row.id]


def test_local_user_is_created_once(store: Store) -> None:
    with store.session(write=True) as session:
        first = crud.local_user(session=session)
        assert crud.local_user(session=session).id == first.id
        assert first.is_admin and first.name == crud.LOCAL_USER
        assert crud.count_users(session=session) == 1


def test_token_for_missing_user(store: Store) -> None:
    with store.session(write=True) as session, pytest.raises(NotFoundError):
        crud.create_token(session=session, user_id=12345)
