"""``nasrec space ...`` and ``nasrec arch ...``."""

from __future__ import annotations

import typer

space_app = typer.Typer(help="Inspect search spaces.", no_args_is_help=True)
arch_app = typer.Typer(help="Inspect architectures (nasrec or NASRec-reference JSON).", no_args_is_help=True)
