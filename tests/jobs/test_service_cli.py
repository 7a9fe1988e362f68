"""``nasrec serve`` start-up decisions: the first admin token, and --no-auth on open addresses.
(A served job over HTTP runs in tests/e2e.)"""

from __future__ import annotations

from typer.testing import CliRunner

from nasrec.errors import ConfigError
from nasrec.service_cli import app, ensure_admin
from nasrec.store import Store, crud


def test_the_first_start_creates_an_admin_and_a_token_once(store: Store) -> None:  # noqa: F811
    with store.session(write=True) as session:
        crud.local_user(session=session)  # a --no-auth server ran here before: that user does not count
    created = ensure_admin(store)
    assert created is not None
    name, token = created
    with store.session() as session:
        user = crud.user_for_token(session=session, token=token)
        assert user is not None and user.name == name == "admin" and user.is_admin
    assert ensure_admin(store) is None  # never again (the token is shown once)


def test_no_auth_is_refused_on_an_open_address_unless_forced(tmp_path, database_url: str) -> None:  # noqa: ANN001, F811
    result = CliRunner().invoke(
        app, ["serve", "--host", "0.0.0.0", "--no-auth", "--port", "0", "--database-url", database_url]
    )
    assert isinstance(result.exception, ConfigError)
    assert "refusing --no-auth on 0.0.0.0" in str(result.exception) and "--force" in str(result.exception)
