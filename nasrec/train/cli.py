"""``nasrec train ARCH.json --dataset NAME``: train one architecture from scratch, print its val metrics
and costs.

Wire it into the root app with ``app.command("train")(train_command)``. torch and Ray are imported inside
the command, so ``nasrec --help`` stays fast.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from nasrec.data.cli import DatasetOption, OldDatasetOption, chosen_dataset


def train_command(
    arch_file: Annotated[Path, typer.Argument(help="Architecture JSON (nasrec or NASRec-reference format).")],
    dataset_name: DatasetOption = None,
    steps: Annotated[int | None, typer.Option("--steps", help="Training steps (global batches).")] = None,
    epochs: Annotated[
        float | None,
        typer.Option(
            "--epochs", help="Passes over the train split (default: as retraining, derived from its size)."
        ),
    ] = None,
    patience: Annotated[
        int | None,
        typer.Option(
            "--patience",
            help="Early stopping: validations without improvement (default: as retraining; 0: off).",
        ),
    ] = None,
    batch_size: Annotated[
        int | None, typer.Option("--batch-size", help="Global batch size (default: as retraining, 512).")
    ] = None,
    lr: Annotated[
        float | None,
        typer.Option("--lr", help="Peak learning rate of the dense layers (default: as retraining, 0.05)."),
    ] = None,
    sparse_lr: Annotated[
        float | None,
        typer.Option("--sparse-lr", help="Peak learning rate of the embeddings (default: --lr)."),
    ] = None,
    optimizer: Annotated[
        str, typer.Option("--optimizer", help="Dense optimizer: adagrad, adam or sgd.")
    ] = "adagrad",
    seed: Annotated[int, typer.Option("--seed", help="Seed of weights, data order and everything else.")] = 0,
    workers: Annotated[int, typer.Option("--workers", help="Data-parallel Ray Train workers.")] = 1,
    embedding_backend: Annotated[
        str, typer.Option("--embedding-backend", help="fbgemm or torch.")
    ] = "fbgemm",
    space: Annotated[
        str | None,
        typer.Option("--space", help="Space giving the model config (default: the one the file names)."),
    ] = None,
    layernorm: Annotated[
        bool | None,
        typer.Option("--layernorm/--no-layernorm", help="LayerNorm in the ops (default: the space's)."),
    ] = None,
    eval_rows: Annotated[
        int | None, typer.Option("--eval-rows", help="Validate on the first N val rows (default: all).")
    ] = None,
    run_dir: Annotated[
        Path | None, typer.Option("--run-dir", help="Keep checkpoints here (and resume from them).")
    ] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print the result as JSON on stdout.")] = False,
    old_dataset: OldDatasetOption = None,
) -> None:
    """Train one architecture from scratch and print its validation metrics and costs."""
    data = chosen_dataset(dataset_name, old_dataset)
    from nasrec.console import step_progress
    from nasrec.cost import flops, params
    from nasrec.data import Dataset
    from nasrec.errors import ConfigError
    from nasrec.space.arch_file import read_architecture
    from nasrec.spec import FinalizeSpec
    from nasrec.train.api import train_subnet
    from nasrec.train.config import TrainConfig

    file = read_architecture(arch_file, space=space, layernorm=layernorm)
    arch, model = file.architecture.canonical(), file.model
    dataset = Dataset.open(data)
    # a job retrains its finalists so: the defaults reproduce a leaderboard row
    defaults = FinalizeSpec()
    try:
        retraining = FinalizeSpec(
            retrain_steps=steps,
            retrain_epochs=epochs,
            batch_size=defaults.batch_size if batch_size is None else batch_size,
            patience=defaults.patience if patience is None else patience,
        )
    except ValueError as exc:  # pydantic's ValidationError: name the option
        bad = "; ".join(f"--{'-'.join(map(str, e['loc'])).replace('retrain_', '')}: {e['msg']}"
                        for e in exc.errors())  # type: ignore[attr-defined]  # fmt: skip
        raise ConfigError(bad.replace("_", "-")) from None
    total = retraining.retrain_budget(len(dataset.split("train"))).steps
    validate_every = retraining.retrain_validate_every(total)
    config = TrainConfig(
        steps=total,
        batch_size=retraining.batch_size,
        lr=retraining.lr if lr is None else lr,
        validate_every=validate_every,
        patience=retraining.patience if validate_every else None,
        sparse_lr=sparse_lr,
        optimizer=optimizer,
        seed=seed,
        num_workers=workers,
        embedding_backend=embedding_backend,
        eval_rows=eval_rows,
        checkpoint_every=None if run_dir is None else 1000,
    )
    if workers > 1 and run_dir is None:
        import tempfile

        run_dir = Path(tempfile.mkdtemp(prefix="nasrec-train-"))
    with step_progress("training", metric="train_loss", quiet=json_output) as progress:
        result = train_subnet(
            arch, dataset=dataset, model=model, config=config, run_dir=run_dir, progress=progress
        )
    out: dict[str, Any] = {
        "architecture": arch_file.name,
        "dataset": data,
        "steps": result.step,
        "best_step": result.metrics.get("best_step"),
        "val_logloss": result.metrics.get("logloss"),
        "val_auc": result.metrics.get("auc"),
        "val_rows": result.metrics.get("rows"),
        "train_loss": result.metrics.get("train_loss"),
        "diverged": result.metrics.get("diverged", False),
        "flops": flops(arch, dataset.schema, model),
        "params": params(arch, dataset.schema, model),
        "checkpoint": None if result.checkpoint is None else str(result.checkpoint),
    }
    if json_output:
        typer.echo(json.dumps(out, indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{arch_file.name} on {data}", show_header=False)
    for key, value in out.items():
        table.add_row(key, _fmt(value))
    Console().print(table)


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    return "-" if value is None else str(value)
