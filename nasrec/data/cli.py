"""``nasrec data ...``: ingest, synth, info, list.

Heavy libraries (pyarrow, numpy) are imported inside the commands so ``nasrec --help`` stays fast.
``--json`` output goes to stdout only; human output is a rich table.
"""

from __future__ import annotations

import json
import time
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

app = typer.Typer(help="Ingest, synthesize and inspect datasets.", no_args_is_help=True)
console = Console(stderr=True)

#: ``--dataset NAME`` of every command that reads a dataset; ``--data`` (its old name) still works.
DatasetOption = Annotated[str | None, typer.Option("--dataset", help="Dataset name or directory.")]
OldDatasetOption = Annotated[str | None, typer.Option("--data", hidden=True)]


def chosen_dataset(dataset: str | None, old: str | None) -> str:
    """The ``--dataset`` given (or ``--data``); a usage error when neither is."""
    if dataset is not None and old is not None and dataset != old:
        raise typer.BadParameter(f"--dataset {dataset} and --data {old} disagree; give --dataset only")
    chosen = dataset if dataset is not None else old
    if chosen is None:
        raise typer.BadParameter("missing option '--dataset NAME' (a dataset name or directory)")
    return chosen


#: bar labels of the stages ``ingest`` / ``synthesize`` report (bytes read, then rows written)
INGEST_STAGES = {"read": "ingest: read", "write": "ingest: write"}
SYNTH_STAGES = {"generate": "synth: generate", "write": "synth: write"}


class Format(StrEnum):
    criteo = "criteo"
    criteo_csv = "criteo-csv"
    avazu = "avazu"
    kdd12 = "kdd12"
    libfm = "libfm"
    csv = "csv"
    parquet = "parquet"


class OnBadRows(StrEnum):
    error = "error"
    skip = "skip"


def _names(text: str | None) -> tuple[str, ...]:
    return tuple(n.strip() for n in text.split(",") if n.strip()) if text else ()


@app.command()
def ingest(
    format: Annotated[Format, typer.Argument(help="Input format.", case_sensitive=False)],
    paths: Annotated[list[Path], typer.Argument(help="One file (split 8:1:1) or three: train, val, test.")],
    name: Annotated[str, typer.Option("--name", "-n", help="Dataset name.")],
    force: Annotated[bool, typer.Option("--force", help="Replace an existing dataset of that name.")] = False,
    on_bad_rows: Annotated[
        OnBadRows,
        typer.Option("--on-bad-rows", help="error: stop at the first bad row; skip: drop and count."),
    ] = OnBadRows.error,
    split: Annotated[str, typer.Option(help="Train:val:test ratios for a single input file.")] = "8:1:1",
    seed: Annotated[int, typer.Option(help="Seed of the stratified split and the stored row order.")] = 2018,
    min_count: Annotated[int, typer.Option(help="Values seen fewer times in train map to index 0.")] = 1,
    max_rows: Annotated[
        int | None, typer.Option(help="Cap every embedding table at this many rows (the tail is hashed).")
    ] = None,
    label: Annotated[str | None, typer.Option(help="csv / parquet: the label column.")] = None,
    dense: Annotated[str | None, typer.Option(help="csv / parquet: comma-separated dense columns.")] = None,
    sparse: Annotated[str | None, typer.Option(help="csv / parquet: comma-separated sparse columns.")] = None,
    delimiter: Annotated[str, typer.Option(help="csv: field delimiter (use '\\t' for tab).")] = ",",
    keep_id: Annotated[bool, typer.Option(help="avazu: keep 'id' as a sparse feature.")] = False,
    fields: Annotated[str | None, typer.Option(help="libfm: comma-separated field names.")] = None,
    field_starts: Annotated[
        str | None, typer.Option(help="libfm: comma-separated first global index of each field.")
    ] = None,
    dense_transform: Annotated[
        list[str] | None,
        typer.Option(
            "--dense-transform",
            metavar="[COL=]SPEC",
            help="Transform of a dense column, SPEC one of auto, log1p, standardize, buckets[:N] (the column"
            " becomes a sparse feature of N quantile buckets), none; repeatable. A bare SPEC is the default"
            " of the other columns (auto: from the training rows, log1p for counts, else standardize).",
        ),
    ] = None,
    json_output: Annotated[
        bool, typer.Option("--json", help="Print the dataset info as JSON on stdout.")
    ] = False,
) -> None:
    """Ingest raw files into a memory-mapped dataset (vocabularies, splits, transforms)."""
    from nasrec.console import stage_progress
    from nasrec.data.dense import parse_transform_options
    from nasrec.data.formats import FormatOptions
    from nasrec.data.ingestion import ingest as run_ingest
    from nasrec.errors import ConfigError

    try:
        ratios = tuple(float(x) for x in split.split(":"))
        starts = tuple(int(x) for x in _names(field_starts))
    except ValueError as exc:
        raise ConfigError(f"--split must look like 8:1:1 and --field-starts like 0,957,4039 ({exc})") from exc
    options = FormatOptions(
        label=label, dense=_names(dense), sparse=_names(sparse),
        delimiter="\t" if delimiter in ("\\t", "tab") else delimiter,
        keep_id=keep_id, fields=_names(fields), field_starts=starts,
    )  # fmt: skip
    transforms, default = parse_transform_options(dense_transform or [])
    start = time.perf_counter()
    with stage_progress(INGEST_STAGES, quiet=json_output) as progress:
        ds = run_ingest(
            format.value, paths, name=name, force=force, on_bad_rows=on_bad_rows.value, split=ratios,
            seed=seed, min_count=min_count, max_rows=max_rows, options=options,
            dense_transforms=transforms, dense_default=default, progress=progress,
        )  # fmt: skip
    seconds = time.perf_counter() - start
    info = ds.info()
    if json_output:
        typer.echo(json.dumps(info, indent=2))
        return
    total = sum(info["rows"].values())
    console.print(
        f"[green]ingested[/] {name!r}: {total:,} rows in {seconds:.1f} s"
        f" ({total / max(seconds, 1e-9):,.0f} rows/s)"
    )
    if info["skipped_rows"]:
        console.print(f"[yellow]skipped {info['skipped_rows']:,} bad row(s)[/]")
    _print_info(info)


@app.command()
def synth(
    name: Annotated[str, typer.Option("--name", "-n", help="Dataset name.")] = "synthetic",
    rows: Annotated[int, typer.Option(help="Number of rows.")] = 200_000,
    seed: Annotated[int, typer.Option(help="Seed of inputs, teacher and labels.")] = 0,
    teacher: Annotated[
        str,
        typer.Option(
            "--teacher",
            help="The hidden click model: fm (pairwise, DLRM-like), cross (3- and 4-field products),"
            " dense_gate (nonlinear dense gating a few fields), attention (context attention over a"
            " subset of fields); see docs/teachers.md.",
        ),
    ] = "fm",
    force: Annotated[bool, typer.Option("--force", help="Replace an existing dataset of that name.")] = False,
    json_output: Annotated[
        bool, typer.Option("--json", help="Print the dataset info as JSON on stdout.")
    ] = False,
) -> None:
    """Write a planted synthetic Criteo-shaped dataset with a known Bayes log loss."""
    from nasrec.console import stage_progress
    from nasrec.data.synth import synthesize

    start = time.perf_counter()
    with stage_progress(SYNTH_STAGES, quiet=json_output) as progress:
        ds = synthesize(name, rows=rows, seed=seed, teacher=teacher, force=force, progress=progress)
    info = ds.info()
    if json_output:
        typer.echo(json.dumps(info, indent=2))
        return
    console.print(f"[green]synthesized[/] {name!r}: {rows:,} rows in {time.perf_counter() - start:.1f} s")
    _print_info(info)


@app.command()
def info(
    name: Annotated[str, typer.Argument(help="Dataset name or directory.")],
    json_output: Annotated[bool, typer.Option("--json", help="Print as JSON on stdout.")] = False,
) -> None:
    """Show a dataset: rows per split, features and table sizes, positive rate, access skew."""
    from nasrec.data.dataset import Dataset

    data = Dataset.open(name).info()
    if json_output:
        typer.echo(json.dumps(data, indent=2))
    else:
        _print_info(data)


@app.command("list")
def list_(
    json_output: Annotated[bool, typer.Option("--json", help="Print as JSON on stdout.")] = False,
) -> None:
    """List the datasets in $NASREC_HOME/datasets."""
    from nasrec.data.dataset import Dataset, list_datasets

    infos = [Dataset.open(n).info() for n in list_datasets()]
    if json_output:
        typer.echo(json.dumps([_summary(i) for i in infos], indent=2))
        return
    if not infos:
        Console().print("no datasets yet: try `nasrec data synth` or `nasrec data ingest`")
        return
    table = Table("name", "format", "train", "val", "test", "dense", "sparse", "positive rate", "created")
    for i in infos:
        s = _summary(i)
        table.add_row(
            s["name"], str(s["format"]), *(f"{s['rows'][k]:,}" for k in ("train", "val", "test")),
            str(s["dense"]), str(s["sparse"]), f"{s['positive_rate']:.4f}", str(s["created"]),
        )  # fmt: skip
    Console().print(table)


def _summary(info: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": info["name"], "format": info["format"], "rows": info["rows"],
        "dense": len(info["dense_features"]), "sparse": len(info["sparse_features"]),
        "positive_rate": info["positive_rate"], "created": info["created"],
    }  # fmt: skip


def _print_info(info: dict[str, Any]) -> None:
    out = Console()
    rows = info["rows"]
    head = Table(title=f"dataset {info['name']}", show_header=False)
    head.add_row("format", str(info.get("format")))
    head.add_row("path", info["path"])
    head.add_row("rows", ", ".join(f"{k} {v:,}" for k, v in rows.items()))
    head.add_row("positive rate", f"{info['positive_rate']:.4f}")
    if info.get("teacher"):
        head.add_row("teacher", _teacher_summary(info["teacher"]))
    if info.get("bayes_logloss"):
        head.add_row(
            "Bayes log loss", ", ".join(f"{k} {v:.4f}" for k, v in info["bayes_logloss"].items() if v)
        )
    head.add_row("dense", f"{len(info['dense_features'])}: {', '.join(info['dense_features']) or '-'}")
    head.add_row("dense transform", str(info.get("dense_transform")))
    head.add_row("embedding rows", f"{info['embedding_rows']:,} (min count {info.get('min_count')},"
                 f" cap {info.get('max_rows') or 'none'})")  # fmt: skip
    if info.get("skipped_rows"):
        head.add_row("skipped rows", f"{info['skipped_rows']:,}")
    out.print(head)
    transforms = info.get("dense_transforms") or []
    if any(t["transform"] != "log1p" for t in transforms):
        per_column = Table("dense column", "transform", "parameters", "chosen", title="dense transforms")
        for t in transforms:
            params = ", ".join(
                f"{k} {v:.6g}" if k != "edges" else f"{len(v) + 1} buckets"
                for k, v in t.items()
                if k in ("mean", "std", "edges")
            )
            per_column.add_row(t["column"], t["transform"], params or "-", t["chosen"])
        out.print(per_column)
    tables = Table("sparse feature", "rows", "hot rows (top 1% share)", title="embedding tables")
    for f in info["sparse_features"]:
        tables.add_row(f["name"], f"{f['rows']:,}", f"{info['hot_rows'].get(f['name'], 0):.3f}")
    out.print(tables)


def _teacher_summary(teacher: dict[str, Any]) -> str:
    """``cross (seed 0): triples 8, quads 4, ...``: the name and the teacher's own knobs."""
    from dataclasses import fields

    from nasrec.data.teachers import TEACHERS, TeacherConfig

    name = teacher.get("name", "fm")  # datasets written before there were several teachers
    cls = TEACHERS.get(name)
    shared = {f.name for f in fields(TeacherConfig)}
    own = [f.name for f in fields(cls.config_type) if f.name not in shared] if cls else []
    knobs = ", ".join(f"{k} {teacher[k]}" for k in own if k in teacher)
    return f"{name} (seed {teacher.get('seed')}){': ' + knobs if knobs else ''}"
