"""Planted synthetic CTR data: Criteo-shaped inputs, labels from a hidden teacher with a known p(x).

The teachers (``nasrec.data.teachers``, formulas in ``docs/teachers.md``) share the inputs: 13 count
features and 26 Zipf-distributed categorical fields; they differ in how p depends on them (``fm``, the
default: pairwise factorisation machine; ``cross``: three- and four-field products; ``dense_gate``: a
nonlinear function of the dense features gating a few fields; ``attention``: context-dependent
attention over a subset of fields). Labels are Bernoulli draws of p; the Bayes log loss (mean binary
entropy of the true p, stored per split in ``meta["bayes_logloss"]``) says how far from perfect a model
is, and the true p of every row is stored as the array ``true_prob``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa

from nasrec.console import StepProgress
from nasrec.data.dataset import Dataset
from nasrec.data.formats import CRITEO_DENSE, CRITEO_SPARSE, RawData
from nasrec.data.split import SPLITS, stratified_split
from nasrec.data.teachers import TeacherConfig, binary_entropy, make_teacher
from nasrec.data.transform import dense_transform
from nasrec.data.writer import write_dataset
from nasrec.errors import ConfigError

__all__ = ["synthesize", "write_criteo_tsv"]


def synthesize(
    name: str,
    *,
    rows: int = 200_000,
    seed: int = 0,
    force: bool = False,
    teacher: str = "fm",
    config: TeacherConfig | None = None,
    split: tuple[float, float, float] = (8, 1, 1),
    progress: StepProgress | None = None,
) -> Dataset:
    """Write a planted synthetic dataset ``name`` and open it.

    Reproducible: the same (rows, seed, teacher, config) give the same files. ``teacher`` names one of
    ``nasrec.data.teachers.TEACHERS``; ``config`` is that teacher's config (default: its defaults).
    Labels are Bernoulli draws of the teacher's p; ``meta["bayes_logloss"]`` holds each split's mean
    binary entropy of p, ``meta["teacher"]`` the teacher's name, knobs and structure.

    ``progress(done, total, info)``, if given, counts rows (``total`` = ``rows``): ``info["stage"]``
    ``"generate"`` (the rows' inputs are drawn field by field, then their click probabilities; each of
    these steps counts as an equal share of the rows), then ``"write"`` (as ``write_dataset`` reports).
    """
    if rows < 10:
        raise ConfigError(f"rows must be >= 10, got {rows}")
    model = make_teacher(teacher, config, seed)
    steps = len(model.cardinalities) + 1  # the fields' ids, then the probabilities

    def generated(step: int) -> None:
        if progress is not None:
            progress(rows * step // steps, rows, {"stage": "generate"})

    generated(0)
    counts, ids = model.sample_inputs(rows, seed, on_field=lambda f: generated(f + 1))
    prob = model.probabilities(dense_transform(counts).astype(np.float64), ids)
    generated(steps)
    labels = (np.random.default_rng([seed, 3]).random(rows) < prob).astype(np.uint8)
    raw = RawData(
        label="label",
        dense_names=CRITEO_DENSE,
        sparse_names=CRITEO_SPARSE,
        labels=labels,
        dense=counts,
        sparse=[
            (ids[f], pa.array(np.arange(c)).cast(pa.string())) for f, c in enumerate(model.cardinalities)
        ],
        file_rows=(rows,),
        extra={"synthetic": True},
    )
    splits = stratified_split(labels, split, seed)
    entropy = binary_entropy(prob)
    meta = {
        "format": "synthetic",
        "source": f"nasrec.data.synthesize(rows={rows}, seed={seed}, teacher={teacher!r})",
        "split": {"method": "stratified", "ratios": list(split), "seed": seed},
        "bayes_logloss": {
            s: round(float(entropy[idx].mean()), 6) if len(idx) else None
            for s, idx in zip(SPLITS, splits, strict=True)
        },  # fmt: skip
        "teacher": model.describe(),
    }
    write_dataset(
        raw, splits, name=name, force=force, meta=meta, extra_arrays={"true_prob": prob.astype(np.float32)},
        progress=progress,
    )  # fmt: skip
    return Dataset.open(name)


def write_criteo_tsv(
    path: str | Path, *, rows: int, seed: int = 0, teacher: str = "fm", config: TeacherConfig | None = None
) -> Path:
    """Write ``rows`` raw Kaggle-Criteo TSV lines (label, I1..I13, C1..C26 as 8-hex-digit hashes).

    For benchmarks and large-input tests: the same generator as :func:`synthesize`, in the raw text form.
    """
    import pyarrow.compute as pc
    import pyarrow.csv as pacsv

    model = make_teacher(teacher, config, seed)
    counts, ids = model.sample_inputs(rows, seed)
    prob = model.probabilities(dense_transform(counts).astype(np.float64), ids)
    labels = (np.random.default_rng([seed, 3]).random(rows) < prob).astype(np.int8)
    columns: dict[str, pa.Array] = {"label": pa.array(labels)}
    for j, name in enumerate(CRITEO_DENSE):
        col = counts[:, j]
        columns[name] = pa.array(np.nan_to_num(col, nan=0).astype(np.int64), mask=np.isnan(col))
    digits = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
    shifts = np.arange(28, -4, -4, dtype=np.uint32)
    empty = np.random.default_rng([seed, 4]).random(ids.shape) < 0.03  # 26 x N
    for f, name in enumerate(CRITEO_SPARSE):
        hashed = (ids[f].astype(np.uint32) + np.uint32(f * 7919)) * np.uint32(2654435761)
        text = np.ascontiguousarray(digits[(hashed[:, None] >> shifts) & 15]).view("S8").ravel()
        col = pa.array(text).cast(pa.string())
        columns[name] = pc.if_else(pa.array(empty[f]), pa.scalar(None, pa.string()), col)
    out = Path(path)
    pacsv.write_csv(
        pa.table(columns), out,
        write_options=pacsv.WriteOptions(include_header=False, delimiter="\t", quoting_style="none"),
    )  # fmt: skip
    return out
