"""``nasrec data ...``: ingest, synth, info, list."""

from __future__ import annotations

import typer

app = typer.Typer(help="Ingest, synthesize and inspect datasets.", no_args_is_help=True)
