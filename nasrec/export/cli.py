"""``nasrec export SOURCE --out DIR``: a bundle from a job's candidate, a checkpoint or an architecture.

SOURCE is one of
  * a search job (``nasrec search`` / ``nasrec demo`` / a worker's): its run directory
    (``$NASREC_HOME/runs/job-<id>``), or its name or id in the job database (``--storage``, default
    ``NASREC_DATABASE_URL`` or the SQLite file in the data home). Its winner, or ``--candidate ID``
    (a candidate id, or a name such as ``found-2``, ``dlrm`` or ``trial-7``), is exported with the
    weights the API exports it with (retrained, else inherited from the supernet) and its leaderboard
    metrics and costs; the dataset is the job's (``--dataset``, if given, must be it);
  * a checkpoint written by ``nasrec train --run-dir RUN`` (the run directory, whose latest checkpoint
    is used, or one ``checkpoints/step-*`` directory): exported as trained, with its validation metrics;
  * an architecture JSON (nasrec or NASRec-reference format): trained from scratch for ``--train-steps``
    steps first (``--train-steps 0`` exports the initial weights, e.g. for serving benchmarks).

A path that exists wins; SOURCE names a job when it is an existing ``job-<id>`` directory, or no
path at all (and has no ``/``): a job's name, or a job's id (``nasrec.export.job``).

Wire it into the root app with ``app.command("export")(export_command)``. torch is imported inside the
command, so ``nasrec --help`` stays fast.
"""

from __future__ import annotations

import json
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from nasrec.data.cli import DatasetOption, OldDatasetOption, chosen_dataset
from nasrec.errors import ConfigError, NotFoundError

if TYPE_CHECKING:
    from nasrec.console import StepProgress
    from nasrec.space.arch_file import ArchitectureFile


def export_command(
    source: Annotated[
        str,
        typer.Argument(
            help="A job's run directory, name or id; a `nasrec train --run-dir` directory (or checkpoint); "
            "or an architecture JSON.",
        ),
    ],
    out: Annotated[Path, typer.Option("--out", help="Bundle directory to write (replaced if a bundle).")],
    train_steps: Annotated[
        int | None,
        typer.Option("--train-steps", help="Architecture JSON only: steps to train before exporting."),
    ] = None,
    zip_bundle: Annotated[bool, typer.Option("--zip/--no-zip", help="Also write DIR.zip.")] = True,
    batch_size: Annotated[
        int | None,
        typer.Option(
            "--batch-size", help="Architecture JSON only: batch size (default: as retraining, 512)."
        ),
    ] = None,
    lr: Annotated[
        float | None,
        typer.Option(
            "--lr", help="Architecture JSON only: peak learning rate (default: as retraining, 0.05)."
        ),
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
    candidate: Annotated[
        str | None,
        typer.Option(
            "--candidate",
            metavar="ID",
            help="Job SOURCE only: the candidate to export (an id, or a name such as found-2 or dlrm; "
            "default: the winner).",
        ),
    ] = None,
    storage: Annotated[
        str | None,
        typer.Option(
            help="Job SOURCE only: SQLAlchemy URL of the job database "
            "(default: NASREC_DATABASE_URL or SQLite)."
        ),
    ] = None,
    dataset_name: DatasetOption = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print the result as JSON on stdout.")] = False,
    old_dataset: OldDatasetOption = None,
) -> None:
    """Export a trained model as a bundle: TorchScript, ONNX, safetensors weights, feature map, metrics."""
    from nasrec.export.job import is_job_source

    training = {"--train-steps": train_steps, "--batch-size": batch_size, "--lr": lr, "--seed": seed}
    training |= {"--layernorm/--no-layernorm": layernorm, "--space": space}
    given = [name for name, value in training.items() if value is not None]
    if is_job_source(source):
        if given:
            raise ConfigError(
                f"{', '.join(given)}: for an architecture JSON SOURCE only; "
                f"{source} names a job, whose candidates are exported with their stored weights"
            )
        have_dataset = dataset_name is not None or old_dataset is not None
        chosen = chosen_dataset(dataset_name, old_dataset) if have_dataset else None
        result, title = _export_job(
            source,
            candidate=candidate,
            dataset=chosen,
            storage=storage,
            out=out,
            zip_bundle=zip_bundle,
            quiet=json_output,
        )
    else:
        dataset = chosen_dataset(dataset_name, old_dataset)
        job_only = [
            name for name, value in (("--candidate", candidate), ("--storage", storage)) if value is not None
        ]
        if job_only:
            raise ConfigError(
                f"{', '.join(job_only)}: for a job SOURCE only (a job's run directory, name or id); "
                f"{source} is a checkpoint or an architecture file"
            )
        if not Path(source).exists():
            raise NotFoundError(
                f"{source} does not exist; pass a job's run directory, name or id, "
                "a `nasrec train --run-dir` directory or an architecture JSON"
            )
        result, title = _export_file(
            Path(source),
            dataset=dataset,
            out=out,
            zip_bundle=zip_bundle,
            quiet=json_output,
            given=given,
            train_steps=train_steps,
            batch_size=batch_size,
            lr=lr,
            seed=seed,
            layernorm=layernorm,
            space=space,
        )
    if json_output:
        typer.echo(json.dumps(result, indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title, show_header=False)
    for key, value in result.items():
        if key == "metrics":
            for name, metric in value.items():
                table.add_row(name, _fmt(metric))
        else:
            table.add_row(key, _fmt(value))
    Console().print(table)


def _export_job(
    source: str,
    *,
    candidate: str | None,
    dataset: str | None,
    storage: str | None,
    out: Path,
    zip_bundle: bool,
    quiet: bool,
) -> tuple[dict[str, Any], str]:
    from nasrec.export.checkpoint import export_checkpoint
    from nasrec.export.job import find_job_candidate

    found = find_job_candidate(source, candidate=candidate, dataset=dataset, database_url=storage)
    with _export_progress(quiet=quiet) as progress:
        bundle = export_checkpoint(
            found.architecture,
            checkpoint=found.weights_path,
            dataset=found.dataset,
            out_dir=out,
            metrics=found.metrics,
            zip=zip_bundle,
            progress=progress,
        )
    source_info = {
        "job": found.job_id,
        "job_name": found.job_name,
        "candidate": found.candidate_id,
        "candidate_name": found.candidate_name,
        "weights": found.weights_kind,
        "checkpoint": found.weights_path,
    }
    title = f"export of job {found.job_id} ({found.job_name}), "
    title += f"candidate {found.candidate_id} ({found.candidate_name})"
    return {**source_info, **_result(bundle, found.metrics)}, title


def _export_file(
    source: Path,
    *,
    dataset: str,
    out: Path,
    zip_bundle: bool,
    quiet: bool,
    given: list[str],
    train_steps: int | None,
    batch_size: int | None,
    lr: float | None,
    seed: int | None,
    layernorm: bool | None,
    space: str | None,
) -> tuple[dict[str, Any], str]:
    from nasrec.data import Dataset
    from nasrec.export.bundle import export_bundle
    from nasrec.space.arch_file import read_architecture

    # An architecture JSON is checked before anything is opened or trained.
    file = None if source.is_dir() else read_architecture(source, space=space, layernorm=layernorm)
    data = Dataset.open(dataset)
    if file is None:
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
        from nasrec.spec import FinalizeSpec

        retraining = FinalizeSpec()  # as a job retrains its finalists
        subnet, metrics = _from_architecture(
            file,
            data,
            steps=train_steps,
            batch_size=retraining.batch_size if batch_size is None else batch_size,
            lr=retraining.lr if lr is None else lr,
            seed=0 if seed is None else seed,
            quiet=quiet,
        )
    metrics |= _costs(subnet)
    with _export_progress(quiet=quiet) as progress:
        bundle = export_bundle(
            subnet, dataset=data, out_dir=out, metrics=metrics, zip=zip_bundle, progress=progress
        )
    return _result(bundle, metrics), f"export of {source.name}"


def _result(bundle: Any, metrics: dict[str, Any]) -> dict[str, Any]:
    manifest = json.loads(bundle.manifest.read_text())
    return {
        "bundle": str(bundle.path),
        "zip": None if bundle.zip_path is None else str(bundle.zip_path),
        "files": [p.name for p in bundle.files()],
        "canonical_hash": manifest["canonical_hash"],
        "onnx_exporter": manifest["onnx"]["exporter"],
        "max_abs_diff": manifest["verification"]["max_abs_diff"],
        "metrics": metrics,
    }


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
    file: ArchitectureFile,
    dataset: Any,
    *,
    steps: int,
    batch_size: int,
    lr: float,
    seed: int,
    quiet: bool,
) -> tuple[Any, dict[str, Any]]:
    import torch

    if steps < 0:
        raise ConfigError(f"--train-steps must be >= 0, got {steps}")
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


def _export_progress(*, quiet: bool) -> AbstractContextManager[StepProgress | None]:
    """A bar over the bundle's steps (weights, TorchScript, ONNX, verification, manifest, zip)."""
    from nasrec.console import step_progress

    return step_progress("exporting", metric="step", quiet=quiet)


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    if isinstance(value, dict):
        return ", ".join(f"{k}={_fmt(v)}" for k, v in value.items())
    return "-" if value is None else str(value)
