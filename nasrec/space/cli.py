"""``nasrec space ...`` and ``nasrec arch ...``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

space_app = typer.Typer(help="Inspect search spaces.", no_args_is_help=True)
arch_app = typer.Typer(help="Inspect architectures (nasrec or NASRec-reference JSON).", no_args_is_help=True)

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON on stdout.")]


@arch_app.callback()
def _arch() -> None:
    """Inspect architectures (nasrec or NASRec-reference JSON)."""  # a group even with one command


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
    from nasrec.space.info import architecture_info

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
