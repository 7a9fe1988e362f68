"""``nasrec user ...`` and ``nasrec token ...``: accounts and API tokens of the service.

Both act on ``--database-url`` (default: ``NASREC_DATABASE_URL`` or the SQLite file in the data
home), migrating it first if needed, like every nasrec process does at start-up.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from nasrec.store import crud, open_store

user_app = typer.Typer(help="Create and list users of the service.", no_args_is_help=True)
token_app = typer.Typer(help="Create, list and revoke API tokens.", no_args_is_help=True)

DatabaseUrl = Annotated[
    str | None,
    typer.Option(
        "--database-url",
        envvar="NASREC_DATABASE_URL",
        help="Database URL (default: SQLite file in NASREC_HOME).",
        show_default=False,
    ),
]

out = Console()
err = Console(stderr=True)


@user_app.command("create")
def user_create(
    name: Annotated[str, typer.Argument(help="User name: letters, digits, '_', '.', '@', '-'.")],
    admin: Annotated[bool, typer.Option("--admin", help="Make the user an administrator.")] = False,
    database_url: DatabaseUrl = None,
) -> None:
    """Create a user (then give them a token with `nasrec token create NAME`)."""
    with open_store(database_url) as store:
        with store.session(write=True) as session:
            user = crud.create_user(session=session, name=name, is_admin=admin)
        out.print(f"created user {user.name!r} (id {user.id}{', admin' if user.is_admin else ''})")


@user_app.command("list")
def user_list(database_url: DatabaseUrl = None) -> None:
    """List the users."""
    with open_store(database_url) as store:
        with store.session() as session:
            users = crud.list_users(session=session)
        table = Table("id", "name", "admin", "created")
        for user in users:
            table.add_row(
                str(user.id), user.name, "yes" if user.is_admin else "", f"{user.created_at:%Y-%m-%d %H:%M}"
            )
        out.print(table)


@token_app.command("create")
def token_create(
    user: Annotated[str, typer.Argument(help="The user the token authenticates.")],
    name: Annotated[str, typer.Option("--name", help="A label to tell tokens apart.")] = "",
    database_url: DatabaseUrl = None,
) -> None:
    """Create an API token and print it: it is shown this once (only its hash is stored)."""
    with open_store(database_url) as store:
        with store.session(write=True) as session:
            owner = crud.get_user(session=session, name=user)
            token, secret = crud.create_token(session=session, user_id=owner.id, name=name)
        err.print(
            f"token {token.id} for {owner.name!r} (prefix {token.prefix}); "
            "store it now, it is not shown again:"
        )
        typer.echo(secret)


@token_app.command("list")
def token_list(
    user: Annotated[str, typer.Argument(help="Whose tokens.")],
    database_url: DatabaseUrl = None,
) -> None:
    """List a user's tokens (prefix, label, last use; never the secret)."""
    with open_store(database_url) as store:
        with store.session() as session:
            owner = crud.get_user(session=session, name=user)
            tokens = crud.list_tokens(session=session, user_id=owner.id)
        table = Table("id", "prefix", "name", "created", "last used", "revoked")
        for t in tokens:
            table.add_row(
                str(t.id),
                t.prefix,
                t.name,
                f"{t.created_at:%Y-%m-%d %H:%M}",
                f"{t.last_used_at:%Y-%m-%d %H:%M}" if t.last_used_at else "never",
                f"{t.revoked_at:%Y-%m-%d %H:%M}" if t.revoked_at else "",
            )
        out.print(table)


@token_app.command("revoke")
def token_revoke(
    user: Annotated[str, typer.Argument(help="Whose token.")],
    token_id: Annotated[int, typer.Argument(help="The token id (see `nasrec token list USER`).")],
    database_url: DatabaseUrl = None,
) -> None:
    """Revoke a token; requests that carry it get 401 from then on."""
    with open_store(database_url) as store:
        with store.session(write=True) as session:
            owner = crud.get_user(session=session, name=user)
            crud.revoke_token(session=session, user_id=owner.id, token_id=token_id)
        out.print(f"revoked token {token_id} of {owner.name!r}")
