"""``nasrec arch ...``: an architecture file's canonical form and costs (``nasrec.cost.report``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

arch_app = typer.Typer(help="Inspect architectures (nasrec or NASRec-reference JSON).", no_args_is_help=True)

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON on stdout.")]


@arch_app.callback()
def _arch() -> None:
    """Inspect architectures (nasrec or NASRec-reference JSON)."""  # a group even with one command


@arch_app.command("info")
def arch_info(
    file: Annotated[
        Path, typer.Argument(help="Architecture JSON: nasrec format or a NASRec reference config.")
    ],
    space_name: Annotated[
        str | None, typer.Option("--space", help="Validate against this space (default: from the file).")
    ] = None,
    dataset: Annotated[
        str | None, typer.Option("--dataset", help="Registered dataset for shapes and tables.")
    ] = None,
    shape: Annotated[
        str | None, typer.Option("--shape", help="N_DENSE,N_SPARSE feature counts (no embedding tables).")
    ] = None,
    layernorm: Annotated[
        bool | None,
        typer.Option(
            "--layernorm/--no-layernorm",
            help="Count LayerNorms (default: the space's model config, on; the reference's standalone "
            "FLOPs: off).",
        ),
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """Canonical hash, live blocks, FLOPs and parameters of an architecture."""
    from nasrec.cost.report import architecture_info

    info = architecture_info(file, space_name=space_name, dataset=dataset, shape=shape, layernorm=layernorm)
    if json_output:
        typer.echo(json.dumps(info, indent=2))
        return
    _print_info(info)


def _print_info(info: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    console.print(f"[bold]{info['file']}[/] ({info['format']} format, space {info['space'] or '-'})")
    console.print(f"canonical hash {info['canonical_hash']}, live blocks {info['blocks_alive']}")
    if info["flops"] is None:
        console.print("give --dataset NAME or --shape N_DENSE,N_SPARSE for FLOPs and parameters")
        return
    table = Table("block", "op", "stream", "FLOPs", "params")
    for op in info["ops"]:
        block = "head" if op["block"] is None else str(op["block"])
        table.add_row(block, op["op"], op["stream"], f"{op['flops']:,}", f"{op['params']:,}")
    console.print(table)
    console.print(f"FLOPs {info['flops']:,}  params {info['params']:,}", end="")
    if info["embedding_params"] is not None:
        console.print(f"  embedding params {info['embedding_params']:,}", end="")
    console.print(f"  (layernorm {'on' if info['layernorm'] else 'off'})")
