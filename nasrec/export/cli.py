"""``nasrec export SOURCE --dataset NAME --out DIR``: a bundle from a checkpoint or an architecture.

SOURCE is either
  * a checkpoint written by ``nasrec train --run-dir RUN`` (the run directory, whose latest checkpoint
    is used, or one ``checkpoints/step-*`` directory): exported as trained, with its validation metrics;
  * an architecture JSON (nasrec or NASRec-reference format): trained from scratch for ``--train-steps``
    steps first (``--train-steps 0`` exports the initial weights, e.g. for serving benchmarks).

Wire it into the root app with ``app.command("export")(export_command)``. torch is imported inside the
command, so ``nasrec --help`` stays fast.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from nasrec.data.cli import DatasetOption, OldDatasetOption, chosen_dataset
from nasrec.errors import ConfigError, NotFoundError


def export_command(
    source: Annotated[
        Path,
        typer.Argument(help="A `nasrec train --run-dir` directory (or checkpoint), or an architecture JSON."),
    ],
    out: Annotated[Path, typer.Option("--out", help="Bundle directory to write (replaced if a bundle).")],
    train_steps: Annotated[
        int | None,
        typer.Option("--train-steps", help="Architecture JSON only: steps to train before exporting."),
    ] = None,
    zip_bundle: Annotated[bool, typer.Option("--zip/--no-zip", help="Also write DIR.zip.")] = True,
    batch_size: Annotated[
        int | None, typer.Option("--batch-size", help="Architecture JSON only: batch size (default 512).")
    ] = None,
    lr: Annotated[
        float | None, typer.Option("--lr", help="Architecture JSON only: peak learning rate (default 0.12).")
    ] = None,
    seed: Annotated[
        int | None, typer.Option("--seed", help="Architecture JSON only: seed (default 0).")
    ] = None,
    layernorm: Annotated[
        bool | None,
        typer.Option(
            "--layernorm/--no-layernorm",
            help="Architecture JSON only: LayerNorm in the ops (default: the space's).",
        ),
    ] = None,
    space: Annotated[
        str | None,
        typer.Option(
            "--space", help="Architecture JSON only: the space giving the model config (default: the file's)."
        ),
    ] = None,
    dataset_name: DatasetOption = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print the result as JSON on stdout.")] = False,
    old_dataset: OldDatasetOption = None,
) -> None:
    """Export a trained model as a bundle: TorchScript, ONNX, safetensors weights, feature map, metrics."""
    from nasrec.data import Dataset
    from nasrec.export.bundle import export_bundle

    name = chosen_dataset(dataset_name, old_dataset)
    if not source.exists():
        raise NotFoundError(
            f"{source} does not exist; pass a `nasrec train --run-dir` directory or an architecture JSON"
        )
    dataset = Dataset.open(name)
    training = {"--train-steps": train_steps, "--batch-size": batch_size, "--lr": lr, "--seed": seed}
    training |= {"--layernorm/--no-layernorm": layernorm, "--space": space}
    if source.is_dir():
        given = [name for name, value in training.items() if value is not None]
        if given:
            raise ConfigError(
                f"{', '.join(given)}: for an architecture JSON SOURCE only; "
                f"{source} is a checkpoint directory, exported as trained"
            )
        subnet, metrics = _from_checkpoint(source)
    else:
        if train_steps is None:
            raise ConfigError(
                f"{source.name} is an architecture without trained weights: pass --train-steps N to train it "
                "first (0 exports the initial weights), or export a run directory written by "
                "`nasrec train --run-dir`"
            )
        subnet, metrics = _from_architecture(
            source,
            dataset,
            steps=train_steps,
            batch_size=512 if batch_size is None else batch_size,
            lr=0.12 if lr is None else lr,
            seed=0 if seed is None else seed,
            layernorm=layernorm,
            space=space,
            quiet=json_output,
        )
    metrics |= _costs(subnet)
    bundle = _with_status(
        lambda: export_bundle(subnet, dataset=dataset, out_dir=out, metrics=metrics, zip=zip_bundle),
        quiet=json_output,
    )
    manifest = json.loads(bundle.manifest.read_text())
    result = {
        "bundle": str(bundle.path),
        "zip": None if bundle.zip_path is None else str(bundle.zip_path),
        "files": [p.name for p in bundle.files()],
        "canonical_hash": manifest["canonical_hash"],
        "onnx_exporter": manifest["onnx"]["exporter"],
        "max_abs_diff": manifest["verification"]["max_abs_diff"],
        "metrics": metrics,
    }
    if json_output:
        typer.echo(json.dumps(result, indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"export of {source.name}", show_header=False)
    for key, value in result.items():
        if key == "metrics":
            for name, metric in value.items():
                table.add_row(name, _fmt(metric))
        else:
            table.add_row(key, _fmt(value))
    Console().print(table)


def _from_checkpoint(path: Path) -> tuple[Any, dict[str, Any]]:
    from nasrec.train import Checkpoint, load_subnet

    ckpt = Checkpoint.at(path)
    meta = ckpt.metadata
    if meta.get("kind") != "subnet":
        raise ConfigError(
            f"{ckpt.path} holds a {meta.get('kind')!r} checkpoint; only subnet checkpoints "
            "(`nasrec train --run-dir`) can be exported"
        )
    subnet = load_subnet(ckpt.path)
    return subnet, {
        **_val_metrics(meta.get("metrics", {})),
        "steps": meta.get("step"),
        "checkpoint": str(ckpt.path.resolve()),
    }


def _from_architecture(
    path: Path,
    dataset: Any,
    *,
    steps: int,
    batch_size: int,
    lr: float,
    seed: int,
    layernorm: bool | None,
    space: str | None,
    quiet: bool,
) -> tuple[Any, dict[str, Any]]:
    import torch

    from nasrec.space.arch_file import read_architecture

    if steps < 0:
        raise ConfigError(f"--train-steps must be >= 0, got {steps}")
    file = read_architecture(path, space=space, layernorm=layernorm)
    arch, model = file.architecture.canonical(), file.model
    if steps == 0:
        from nasrec.nets.subnet import SubNet

        torch.manual_seed(seed)
        return SubNet(arch, dataset.schema, model, device="cpu"), {"steps": 0}
    from nasrec.console import step_progress
    from nasrec.train import TrainConfig, train_subnet

    config = TrainConfig(steps=steps, batch_size=batch_size, lr=lr, seed=seed, checkpoint_every=None)
    with step_progress("training", metric="train_loss", quiet=quiet) as progress:
        result = train_subnet(arch, dataset=dataset, model=model, config=config, progress=progress)
    return result.model, {**_val_metrics(result.metrics), "steps": result.step}


def _val_metrics(metrics: dict[str, Any]) -> dict[str, Any]:
    names = {"logloss": "val_logloss", "auc": "val_auc", "rows": "val_rows", "train_loss": "train_loss"}
    return {new: metrics[old] for old, new in names.items() if old in metrics}


def _costs(subnet: Any) -> dict[str, Any]:
    from nasrec.cost import embedding_params, flops, params

    return {
        "flops": flops(subnet.arch, subnet.schema, subnet.model),
        "params": params(subnet.arch, subnet.schema, subnet.model),
        "embedding_params": embedding_params(subnet.schema, subnet.model),
    }


def _with_status(run: Any, *, quiet: bool) -> Any:
    if quiet:
        return run()
    from rich.console import Console

    with Console(stderr=True).status("exporting (TorchScript, ONNX, verification)"):
        return run()


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    if isinstance(value, dict):
        return ", ".join(f"{k}={_fmt(v)}" for k, v in value.items())
    return "-" if value is None else str(value)
