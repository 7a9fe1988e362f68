"""``ingest``: raw files in a known format -> a dataset on disk (parse, split, vocabularies, write)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from nasrec.console import StepProgress
from nasrec.data.dataset import Dataset
from nasrec.data.dense import COUNT_FORMATS, check_transform_options, resolve_transforms
from nasrec.data.formats import FormatOptions, read_format
from nasrec.data.readers import OnBadRows
from nasrec.data.split import given_split, stratified_split
from nasrec.data.writer import write_dataset
from nasrec.errors import ConfigError, ConflictError, DataError
from nasrec.home import datasets_dir
from nasrec.names import check_dataset_name

__all__ = ["ingest"]


def ingest(
    format: str,
    paths: Sequence[str | Path],
    *,
    name: str,
    force: bool = False,
    on_bad_rows: OnBadRows = "error",
    split: Sequence[float] = (8, 1, 1),
    seed: int = 2018,
    min_count: int = 1,
    max_rows: int | None = None,
    options: FormatOptions | None = None,
    dense_transforms: Mapping[str, str] | None = None,
    dense_default: str = "auto",
    progress: StepProgress | None = None,
) -> Dataset:
    """Ingest ``paths`` as dataset ``name``.

    One path: stratified ``split`` (default 8:1:1) with ``seed``; three paths: train, val, test as given.
    Each split's rows are stored shuffled by ``seed``. Vocabularies come from the training rows: values
    seen fewer than ``min_count`` times map to 0; ``max_rows`` caps each table by hashing the tail.
    Bad rows raise a DataError naming file, line and column, unless ``on_bad_rows="skip"``.

    Dense columns are transformed per column (:mod:`nasrec.data.dense`): ``dense_transforms`` maps a
    column to ``auto``, ``log1p``, ``standardize``, ``buckets[:N]`` or ``none``; the other columns get
    ``dense_default`` (``auto``: chosen from the training rows' statistics). The transforms and their
    parameters, fitted on the training rows only, are recorded in ``meta.json`` and the feature map.

    ``progress(done, total, info)``, if given, is called once per block: first with ``info["stage"]``
    ``"read"`` (bytes of the input files read, ``total`` their size), then ``"write"`` (rows written,
    ``total`` the rows read).
    """
    check_dataset_name(name)
    check_transform_options(dense_transforms, dense_default)
    if on_bad_rows not in ("error", "skip"):
        raise ConfigError(f"on_bad_rows must be 'error' or 'skip', got {on_bad_rows!r}")
    if len(paths) not in (1, 3):
        raise ConfigError(f"pass one input file (split 8:1:1) or three (train, val, test), got {len(paths)}")
    if (datasets_dir() / name).exists() and not force:
        raise ConflictError(f"dataset {name!r} already exists; pass --force (force=True) to replace it")
    files = [Path(p) for p in paths]
    raw = read_format(format, files, options or FormatOptions(), on_bad_rows=on_bad_rows, progress=progress)
    if raw.num_rows == 0:
        raise DataError(f"no rows read from {[str(p) for p in files]}")
    if len(files) == 1:
        splits = stratified_split(raw.labels, split, seed)
        split_info = {"method": "stratified", "ratios": list(split), "seed": seed}
    else:
        splits = given_split(raw.file_rows, seed)
        split_info = {"method": "given", "files": ["train", "val", "test"], "seed": seed}
    transforms = resolve_transforms(
        raw.dense_names, raw.dense, splits[0], options=dense_transforms, default=dense_default,
        counts=format in COUNT_FORMATS, sparse=raw.sparse_names,
    )  # fmt: skip
    meta = {
        "format": format,
        "source": [str(p.resolve()) for p in files],
        "split": split_info,
    }
    write_dataset(
        raw, splits, name=name, force=force, min_count=min_count, max_rows=max_rows, meta=meta,
        transforms=transforms, progress=progress,
    )  # fmt: skip
    return Dataset.open(name)
