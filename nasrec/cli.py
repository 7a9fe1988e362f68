"""The ``nasrec`` command. Each area keeps its commands in its own module; this file wires them.

``serve`` and ``worker`` start the HTTP service, which sits above the library: ``server.cli`` adds them
to this ``app`` and is what the ``nasrec`` console script runs (``python -m nasrec.cli`` is the library's
commands alone).

Command modules import heavy libraries (torch, ray) inside the command functions, so that
``nasrec --help`` stays fast.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from nasrec import __version__
from nasrec.cost.cli import arch_app, cost_command
from nasrec.data.cli import app as data_app
from nasrec.errors import NasrecError
from nasrec.export.cli import export_command
from nasrec.jobs.cli import search_command
from nasrec.space.cli import space_app
from nasrec.store.cli import token_app, user_app
from nasrec.train.cli import train_command

app = typer.Typer(
    name="nasrec",
    help="Neural-architecture search for CTR / ranking models.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(data_app, name="data")
app.add_typer(space_app, name="space")
app.add_typer(arch_app, name="arch")
app.add_typer(user_app, name="user")
app.add_typer(token_app, name="token")
app.command(name="train")(train_command)
app.command(name="export")(export_command)
app.command(name="search")(search_command)
app.command(name="cost")(cost_command)

err_console = Console(stderr=True)


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"nasrec {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_print_version, is_eager=True, help="Print the version and exit."),
    ] = False,
) -> None:
    """Neural-architecture search for CTR / ranking models."""


@app.command()
def demo(
    json_output: Annotated[bool, typer.Option("--json", help="Print the result as JSON on stdout.")] = False,
) -> None:
    """Run the whole pipeline on the built-in planted synthetic dataset."""
    from nasrec.jobs.demo import run_demo

    run_demo(json_output=json_output)


def main() -> None:
    """Entry point. Typer's standalone mode prints usage errors as usage messages (exit 2); nasrec's
    own errors are printed as one clear line (exit 1), never as a traceback."""
    try:
        app(prog_name="nasrec")
    except NasrecError as exc:
        # As written: not wrapped at the terminal's width, brackets in it not read as markup.
        err_console.print(f"[bold red]error:[/] {escape(str(exc))}", soft_wrap=True)
        sys.exit(1)


if __name__ == "__main__":
    main()
