"""``nasrec user`` / ``nasrec token``: the token is printed once and works; errors are nasrec's."""

from __future__ import annotations

import pytest
import typer
from typer.testing import CliRunner

from nasrec.errors import ConflictError, NotFoundError
from nasrec.store import Store, crud
from nasrec.store.cli import token_app, user_app

app = typer.Typer()
app.add_typer(user_app, name="user")
app.add_typer(token_app, name="token")
runner = CliRunner()


def _run(*args: str) -> str:
    result = runner.invoke(app, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.stdout


def test_user_and_token_commands(store: Store, database_url: str) -> None:
    db = ["--database-url", database_url]
    assert "created user 'ada' (id " in _run("user", "create", "ada", "--admin", *db)
    assert "ada" in _run("user", "list", *db)
    secret = _run("token", "create", "ada", "--name", "ci", *db).strip()
    assert secret.startswith("nasrec_") and "\n" not in secret
    with store.session() as session:
        assert crud.user_for_token(session=session, token=secret).name == "ada"
    listing = _run("token", "list", "ada", *db)
    assert secret[:12] in listing and secret not in listing
    with store.session() as session:
        ada = crud.get_user(session=session, name="ada")
        token_id = crud.list_tokens(session=session, user_id=ada.id)[0].id
    assert f"revoked token {token_id}" in _run("token", "revoke", "ada", str(token_id), *db)
    with store.session() as session:
        assert crud.user_for_token(session=session, token=secret) is None

    with pytest.raises(ConflictError, match="already exists"):
        runner.invoke(app, ["user", "create", "ada", *db], catch_exceptions=False)
    with pytest.raises(NotFoundError, match="nasrec user create bob"):
        runner.invoke(app, ["token", "create", "bob", *db], catch_exceptions=False)


def test_database_url_comes_from_the_environment(store: Store, database_url: str, monkeypatch) -> None:
    monkeypatch.setenv("NASREC_DATABASE_URL", database_url)
    _run("user", "create", "envuser")
    with store.session() as session:
        assert crud.get_user(session=session, name="envuser").name == "envuser"
