"""``nasrec arch info`` and ``nasrec cost``: an architecture file's canonical form and costs
(``nasrec.cost.report``). Wire ``cost`` into the root app with ``app.command("cost")(cost_command)``."""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from nasrec.space.codesign import DYN_MAPS

DynMap = StrEnum("DynMap", {name: name for name in DYN_MAPS})  # type: ignore[misc]

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


def cost_command(
    file: Annotated[
        Path, typer.Argument(help="Architecture JSON: nasrec format or a NASRec reference config.")
    ],
    shape: Annotated[str, typer.Option("--shape", help="N_DENSE,N_SPARSE feature counts, e.g. 13,26.")],
    space_name: Annotated[
        str | None, typer.Option("--space", help="Validate against this space (default: from the file).")
    ] = None,
    profile: Annotated[
        str | None,
        typer.Option("--profile", help="Hardware profile: a name in search_spaces/hardware/ or a YAML path."),
    ] = None,
    w_bits: Annotated[
        int | None,
        typer.Option("--w-bits", help="Weight bits of every block: 2, 4 or 8 (default: each block's own)."),
    ] = None,
    a_bits: Annotated[
        int | None,
        typer.Option(
            "--a-bits", help="Input / activation bits of every block: 2, 4 or 8 (default: each block's own)."
        ),
    ] = None,
    dyn_map: Annotated[
        DynMap | None,
        typer.Option(
            "--dyn-map", help="Where activation x activation products run (default: each block's own)."
        ),
    ] = None,
    embedding_bits: Annotated[
        int, typer.Option("--embedding-bits", help="Embedding precision: 8 or 16.")
    ] = 8,
    layernorm: Annotated[
        bool | None,
        typer.Option("--layernorm/--no-layernorm", help="LayerNorm in the ops (default: the space's)."),
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """PIM latency, energy and area of an architecture, per op (an analytic proxy: docs/pim.md)."""
    from nasrec.cost.report import pim_report
    from nasrec.space.codesign import Knobs, check_embedding_bits

    given = {"w_bits": w_bits, "a_bits": a_bits, "dyn_map": None if dyn_map is None else dyn_map.value}
    overrides = {k: v for k, v in given.items() if v is not None}
    Knobs(**overrides)  # refuses bad values up front
    check_embedding_bits(embedding_bits)
    report = pim_report(
        file,
        shape=shape,
        space_name=space_name,
        layernorm=layernorm,
        profile=profile,
        overrides=overrides,
        embedding_bits=embedding_bits,
    )
    if json_output:
        typer.echo(json.dumps(report, indent=2))
        return
    _print_cost(report)


def _print_cost(report: dict[str, Any]) -> None:
    from rich import box
    from rich.console import Console
    from rich.table import Table

    console = Console()
    console.print(f"[bold]{report['file']}[/] ({report['format']} format, space {report['space'] or '-'})")
    console.print(
        f"profile {report['profile']}, embeddings {report['embedding_bits']}-bit, "
        f"layernorm {'on' if report['model']['layernorm'] else 'off'}"
    )
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True)
    for name in ("block", "op", "knobs"):
        table.add_column(name, no_wrap=True)
    for name in ("latency\nns", "energy\nnJ", "area\nmm²", "cross-\nbars", "MACs"):
        table.add_column(name, justify="right", no_wrap=True)
    for op in report["ops"]:
        block = "-" if op["block"] is None else str(op["block"])
        knobs = "-" if op["w_bits"] is None else f"W{op['w_bits']}A{op['a_bits']} {op['dyn_map']}"
        table.add_row(
            block,
            op["op"],
            knobs,
            f"{op['latency_ns']:,.0f}",
            f"{op['energy_nj']:,.2f}",
            f"{op['area_mm2']:.4f}",
            f"{op['crossbars']:,}",
            f"{op['macs']:,}",
        )
    console.print(table)
    path = ", ".join(str(b) for b in report["critical_path"])
    crossbar_area = report["area_mm2"] - report["fixed_area_mm2"]
    console.print(
        f"latency {report['latency_ns']:,.0f} ns  energy {report['energy_nj']:,.2f} nJ  "
        f"area {report['area_mm2']:.4f} mm²  crossbars {report['crossbars']:,}"
    )
    console.print(f"critical path: embeddings -> blocks {path} -> head")
    console.print(
        f"area: {crossbar_area:.4f} mm² of crossbars + {report['fixed_area_mm2']:.4f} mm² of digital array "
        "and vector unit"
    )
    console.print(
        f"MACs {report['macs']:,}  {report['gops_per_w']:,.1f} GOPS/W  "
        f"{report['inferences_per_j']:,.0f} inferences/J"
    )
