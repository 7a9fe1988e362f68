"""The ``nasrec`` command as installed (``server.cli``): the library's commands plus ``serve`` and
``worker``, and ``serve``'s start-up decisions (the first admin token, --no-auth on open addresses).
(A served job over HTTP runs in tests/e2e.)"""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

from typer.testing import CliRunner

from nasrec.errors import ConfigError
from nasrec.store import Store, crud
from server.cli import app, ensure_admin

REPO = Path(__file__).resolve().parents[2]
LIBRARY_COMMANDS = ("arch", "data", "demo", "export", "search", "space", "token", "train", "user")


def test_the_console_script_is_the_complete_command() -> None:
    scripts = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts["nasrec"] == "server.cli:main"
    result = CliRunner().invoke(app, ["--help"])
    assert result.exit_code == 0, result.output
    for command in (*LIBRARY_COMMANDS, "serve", "worker"):
        assert f" {command} " in result.stdout, f"`nasrec --help` does not list {command!r}"


def test_serve_and_worker_have_their_own_help() -> None:
    serve = CliRunner().invoke(app, ["serve", "--help"])
    assert serve.exit_code == 0 and "--no-auth" in serve.stdout and "--processes" in serve.stdout
    worker = CliRunner().invoke(app, ["worker", "--help"])
    assert worker.exit_code == 0 and "--exit-when-idle" in worker.stdout and "--lease" in worker.stdout


def test_the_library_command_alone_never_loads_the_server() -> None:
    probe = (
        "import sys; from typer.testing import CliRunner; from nasrec.cli import app; "
        "out = CliRunner().invoke(app, ['--help']).stdout; "
        "print(sorted(m for m in sys.modules if m == 'server' or m.startswith('server.'))); "
        "print(' serve ' in out, ' train ' in out)"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=REPO, check=True)
    assert done.stdout.split("\n")[:2] == ["[]", "False True"], done.stdout + done.stderr


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


def test_no_auth_is_refused_on_an_open_address_unless_forced(database_url: str) -> None:  # noqa: F811
    result = CliRunner().invoke(
        app, ["serve", "--host", "0.0.0.0", "--no-auth", "--port", "0", "--database-url", database_url]
    )
    assert isinstance(result.exception, ConfigError)
    assert "refusing --no-auth on 0.0.0.0" in str(result.exception) and "--force" in str(result.exception)
