"""Users and their API tokens.

A token is ``nasrec_`` followed by 43 URL-safe random characters (256 bits). It is shown once, when
created; the store keeps its SHA-256 (a fast hash is right for high-entropy secrets) and its first
12 characters as a ``prefix`` so that a user can tell their tokens apart.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import timedelta

from sqlalchemy import func, or_, select, update
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from nasrec.errors import ConfigError, ConflictError, NotFoundError
from nasrec.store.models import ApiToken, User, utcnow

TOKEN_PREFIX = "nasrec_"
PREFIX_CHARS = 12
# last_used_at is refreshed at most this often, so reads do not turn every request into a write.
LAST_USED_RESOLUTION = timedelta(minutes=1)
LOCAL_USER = "local"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_user(*, session: Session, name: str, is_admin: bool = False) -> User:
    """A new user; ConflictError if the name is taken."""
    if not _NAME.match(name):
        raise ConfigError(
            f"invalid user name {name!r}: use 1-64 letters, digits, '_', '.', '@' or '-', "
            "starting with a letter or digit"
        )
    user = User(name=name, is_admin=is_admin)
    session.add(user)
    try:
        session.commit()
    except IntegrityError as exc:
        session.rollback()
        raise ConflictError(f"user {name!r} already exists") from exc
    return user


def get_user(*, session: Session, name: str) -> User:
    user = session.scalars(select(User).where(User.name == name)).one_or_none()
    if user is None:
        raise NotFoundError(f"user {name!r} not found: create it with `nasrec user create {name}`")
    return user


def list_users(*, session: Session) -> list[User]:
    return list(session.scalars(select(User).order_by(User.id)))


def local_user(*, session: Session) -> User:
    """The single user of a ``--no-auth`` server, created on first use."""
    user = session.scalars(select(User).where(User.name == LOCAL_USER)).one_or_none()
    if user is not None:
        return user
    try:
        return create_user(session=session, name=LOCAL_USER, is_admin=True)
    except ConflictError:  # created concurrently
        return get_user(session=session, name=LOCAL_USER)


def create_token(*, session: Session, user_id: int, name: str = "") -> tuple[ApiToken, str]:
    """A new token for the user: the row and the secret (shown once, never stored)."""
    if len(name) > 64:
        raise ConfigError(f"token name is {len(name)} characters long; the limit is 64")
    if session.get(User, user_id) is None:
        raise NotFoundError(f"user {user_id} not found")
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(user_id=user_id, name=name, prefix=secret[:PREFIX_CHARS], token_hash=hash_token(secret))
    session.add(token)
    session.commit()
    return token, secret


def user_for_token(*, session: Session, token: str) -> User | None:
    """The user a live token belongs to, or None for an unknown or revoked token."""
    if not token.startswith(TOKEN_PREFIX) or len(token) > 128:
        return None
    row = session.execute(
        select(ApiToken, User)
        .join(User, User.id == ApiToken.user_id)
        .where(ApiToken.token_hash == hash_token(token), ApiToken.revoked_at.is_(None))
    ).one_or_none()
    if row is None:
        return None
    api_token, user = row
    now = utcnow()
    if api_token.last_used_at is None or now - api_token.last_used_at > LAST_USED_RESOLUTION:
        try:
            session.execute(
                update(ApiToken)
                .where(
                    ApiToken.id == api_token.id,
                    or_(ApiToken.last_used_at.is_(None), ApiToken.last_used_at < now - LAST_USED_RESOLUTION),
                )
                .values(last_used_at=now)
                .execution_options(synchronize_session=False)
            )
            session.commit()
        except OperationalError:  # SQLite busy: the timestamp is best-effort, the request is not
            session.rollback()
            return session.get(User, api_token.user_id)
    # No commit otherwise: the request goes on in this transaction (a commit would cost PostgreSQL
    # three round trips: COMMIT, then a pre-ping and a BEGIN on the next statement).
    return user


def list_tokens(*, session: Session, user_id: int) -> list[ApiToken]:
    return list(session.scalars(select(ApiToken).where(ApiToken.user_id == user_id).order_by(ApiToken.id)))


def revoke_token(*, session: Session, user_id: int, token_id: int) -> ApiToken:
    """Revoke one of the user's tokens (idempotent); NotFoundError for anyone else's."""
    token = session.scalars(
        select(ApiToken).where(ApiToken.id == token_id, ApiToken.user_id == user_id)
    ).one_or_none()
    if token is None:
        raise NotFoundError(f"token {token_id} not found")
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        session.commit()
    return token


def count_users(*, session: Session) -> int:
    return session.scalar(select(func.count()).select_from(User)) or 0
