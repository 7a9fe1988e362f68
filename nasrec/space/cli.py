"""``nasrec space ...``: the shipped search spaces and their sizes."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

space_app = typer.Typer(help="Inspect search spaces.", no_args_is_help=True)

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON on stdout.")]


@space_app.command("list")
def space_list(json_output: JsonOption = False) -> None:
    """List the shipped search spaces."""
    from nasrec.space import list_spaces, load_space

    names = list_spaces()
    if json_output:
        typer.echo(json.dumps(names))
        return
    for name in names:
        typer.echo(f"{name:16s} {load_space(name).description}")


@space_app.command("show")
def space_show(
    name: Annotated[str, typer.Argument(help="Space name (see `nasrec space list`) or a YAML path.")],
    json_output: JsonOption = False,
) -> None:
    """Print a space and its size (number of distinct architectures)."""
    from nasrec.space import load_space

    space = load_space(name)
    size = space.size()
    if json_output:
        out = space.to_dict()
        out["size"] = {
            "raw": str(size.raw),
            "canonical": None if size.canonical is None else str(size.canonical),
            "log10_raw": round(size.log10_raw, 3),
            "log10_canonical": None if size.log10_canonical is None else round(size.log10_canonical, 3),
        }
        typer.echo(json.dumps(out, indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"search space {space.name}", show_header=False)
    for key, value in space.to_dict().items():
        if key != "name" and value not in ("", {}):
            table.add_row(key, _fmt(value))
    table.add_row("size (raw genotypes)", f"10^{size.log10_raw:.1f}  (every gene counted, as NASRec does)")
    canonical = "n/a (too many blocks)" if size.log10_canonical is None else f"10^{size.log10_canonical:.1f}"
    table.add_row("size (distinct architectures)", f"{canonical}  (canonical forms: dead genes cleared)")
    Console().print(table)


def _fmt(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(str(v).lower() if isinstance(v, bool) else str(v) for v in value)
    return str(value)
