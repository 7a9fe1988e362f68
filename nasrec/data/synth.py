"""Planted synthetic CTR data: Criteo-shaped inputs, labels from a hidden teacher with a known p(x).

Inputs: 13 count features (log-normal counts, some missing) and 26 categorical fields whose ids follow a
Zipf law over cardinalities ``c ** cardinality_exponent`` of Criteo's (1461 -> 38, 10 M -> 3.2 k, ...).

Teacher: every id of every field has a weight ``w`` and a latent vector ``v`` (dimension k); every dense
feature has a latent vector ``a``. With ``t`` the standardised transformed dense values,

    logit = bias + s1 * sum_f w_f                                   (first order)
                 + s2 * sum_{(f, g) in P} <v_f, v_g> / sqrt(k)      (field x field interactions)
                 + s3 * sum_{(j, f) in Q} t_j <a_j, v_f> / sqrt(k)  (dense x field interactions)
                 + s4 * sum_j beta_j t_j                            (dense, linear)

each term rescaled to unit standard deviation before weighting. Effects shrink along the Zipf tail
(``w`` and ``v`` of the id of rank r are scaled by ``(1 + r / head_rows) ** -tail_decay``), so popular ids
carry most of the signal, as in real logs; that keeps the planted structure learnable from a few hundred
thousand rows. ``bias`` is solved so that the mean click probability is ``positive_rate``.

The interaction terms carry most of the signal, so a model with dot-product / FM operators beats a
plain MLP on concatenated inputs, and the Bayes log loss (mean binary entropy of the true p, stored per
split in ``meta["bayes_logloss"]``) says how far from perfect a model is. The true p of every row is
stored as the array ``true_prob``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa

from nasrec.console import StepProgress
from nasrec.data.dataset import Dataset
from nasrec.data.formats import CRITEO_DENSE, CRITEO_SPARSE, RawData
from nasrec.data.split import SPLITS, stratified_split
from nasrec.data.transform import dense_transform
from nasrec.data.writer import write_dataset
from nasrec.errors import ConfigError

__all__ = ["CRITEO_CARDINALITIES", "Teacher", "TeacherConfig", "synthesize", "write_criteo_tsv"]

CRITEO_CARDINALITIES = (
    1461, 584, 10131227, 2202609, 306, 25, 12518, 634, 4, 93146, 5684, 8351593, 3195, 28, 14993,
    5461307, 11, 5653, 2174, 5, 7046548, 19, 16, 286182, 106, 142573,
)  # fmt: skip
# Share of empty cells per dense column in the Kaggle data (rounded), reused for realism.
_DENSE_MISSING = (0.45, 0.0, 0.21, 0.22, 0.03, 0.22, 0.04, 0.0, 0.04, 0.45, 0.04, 0.77, 0.22)


@dataclass(frozen=True)
class TeacherConfig:
    """Knobs of the generator; the defaults are the demo's dataset."""

    latent_dim: int = 4
    cardinality_exponent: float = 0.5
    zipf_exponent: float = 1.2
    field_pairs: int = 16
    dense_field_pairs: int = 10
    first_order: float = 0.4
    pairwise: float = 1.6
    dense_field: float = 1.2
    dense_linear: float = 0.3
    positive_rate: float = 0.25
    head_rows: float = 5.0
    tail_decay: float = 1.0

    def __post_init__(self) -> None:
        if self.latent_dim < 1:
            raise ConfigError(f"latent_dim must be >= 1, got {self.latent_dim}")
        if not 0 < self.positive_rate < 1:
            raise ConfigError(f"positive_rate must be in (0, 1), got {self.positive_rate}")
        if not 0 < self.cardinality_exponent <= 1:
            raise ConfigError(f"cardinality_exponent must be in (0, 1], got {self.cardinality_exponent}")
        if self.zipf_exponent <= 0:
            raise ConfigError(f"zipf_exponent must be > 0, got {self.zipf_exponent}")
        max_pairs = len(CRITEO_SPARSE) * (len(CRITEO_SPARSE) - 1) // 2
        if not 0 <= self.field_pairs <= max_pairs:
            raise ConfigError(f"field_pairs must be in [0, {max_pairs}], got {self.field_pairs}")
        if not 0 <= self.dense_field_pairs <= len(CRITEO_DENSE) * len(CRITEO_SPARSE):
            raise ConfigError(f"dense_field_pairs out of range: {self.dense_field_pairs}")

    @property
    def cardinalities(self) -> tuple[int, ...]:
        return tuple(max(2, min(c, round(c**self.cardinality_exponent))) for c in CRITEO_CARDINALITIES)


class Teacher:
    """The hidden click model: parameters drawn from ``seed``, p(x) for raw ids and transformed dense."""

    def __init__(self, config: TeacherConfig, seed: int) -> None:
        rng = np.random.default_rng([seed, 1])
        k = config.latent_dim
        self.config = config
        self.cardinalities = config.cardinalities
        self.w = [rng.standard_normal(c) for c in self.cardinalities]
        self.v = [rng.standard_normal((c, k)).astype(np.float32) for c in self.cardinalities]
        self.a = rng.standard_normal((len(CRITEO_DENSE), k))
        self.beta = rng.standard_normal(len(CRITEO_DENSE))
        num_fields = len(self.cardinalities)
        all_pairs = [(f, g) for f in range(num_fields) for g in range(f + 1, num_fields)]
        picks = rng.choice(len(all_pairs), size=config.field_pairs, replace=False)
        self.field_pairs = [all_pairs[i] for i in sorted(picks)]
        dense_pairs = [(j, f) for j in range(len(CRITEO_DENSE)) for f in range(num_fields)]
        picks = rng.choice(len(dense_pairs), size=config.dense_field_pairs, replace=False)
        self.dense_field_pairs = [dense_pairs[i] for i in sorted(picks)]
        # Zipf rank -> id, so frequent ids are not the small ones
        self.rank_to_id = [rng.permutation(c) for c in self.cardinalities]
        # popular ids carry strong effects, the long tail weak ones: (1 + rank / head_rows) ** -tail_decay
        for f, card in enumerate(self.cardinalities):
            scale = np.empty(card)
            scale[self.rank_to_id[f]] = (1 + np.arange(card) / config.head_rows) ** -config.tail_decay
            self.w[f] *= scale
            self.v[f] *= scale[:, None].astype(np.float32)
        self.dense_mu = rng.uniform(0.5, 4.0, len(CRITEO_DENSE))
        self.dense_sigma = rng.uniform(0.6, 1.6, len(CRITEO_DENSE))

    def sample_inputs(
        self, rows: int, seed: int, *, on_field: Callable[[int], None] | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Raw inputs: N x 13 float64 counts (NaN = missing) and 26 x N int32 ids (one row per field).

        ``on_field(f)``: called after the ids of field ``f`` are drawn."""
        rng = np.random.default_rng([seed, 2])
        s = self.config.zipf_exponent
        ids = np.empty((len(self.cardinalities), rows), dtype=np.int32)
        for f, card in enumerate(self.cardinalities):
            cdf = np.cumsum(np.arange(1, card + 1, dtype=np.float64) ** -s)
            ranks = np.searchsorted(cdf, rng.random(rows) * cdf[-1], side="right")
            ids[f] = self.rank_to_id[f][np.minimum(ranks, card - 1)]
            if on_field is not None:
                on_field(f)
        counts = np.floor(np.exp(rng.normal(self.dense_mu, self.dense_sigma, (rows, len(CRITEO_DENSE))))) - 1
        counts[rng.random(counts.shape) < np.asarray(_DENSE_MISSING)] = np.nan
        return counts, ids

    def logit_terms(self, dense: np.ndarray, ids: np.ndarray) -> dict[str, np.ndarray]:
        """The four unscaled logit terms for transformed dense (N x 13) and raw ids (26 x N)."""
        scale = 1.0 / np.sqrt(self.config.latent_dim)
        t = ((dense - dense.mean(axis=0)) / (dense.std(axis=0) + 1e-6)).T.copy()  # 13 x N
        first = sum(self.w[f][ids[f]] for f in range(len(ids)))
        vecs = {f: self.v[f][ids[f]] for f in sorted({f for pair in self.field_pairs for f in pair})}
        pairwise = np.zeros(ids.shape[1])
        for f, g in self.field_pairs:
            pairwise += np.einsum("nk,nk->n", vecs[f], vecs[g]) * scale
        dense_field = np.zeros(ids.shape[1])
        for j, f in self.dense_field_pairs:
            dense_field += t[j] * (self.v[f] @ self.a[j].astype(np.float32))[ids[f]] * scale
        return {
            "first_order": first,
            "pairwise": pairwise,
            "dense_field": dense_field,
            "dense_linear": self.beta @ t,
        }

    def probabilities(self, dense: np.ndarray, ids: np.ndarray) -> np.ndarray:
        """True click probability of each row (dense already transformed, as the model sees it)."""
        cfg = self.config
        weights = {"first_order": cfg.first_order, "pairwise": cfg.pairwise, "dense_field": cfg.dense_field,
                   "dense_linear": cfg.dense_linear}  # fmt: skip
        logit = np.zeros(ids.shape[1])
        for key, term in self.logit_terms(dense, ids).items():
            std = term.std()
            if weights[key] and std > 0:
                logit += weights[key] * (term - term.mean()) / std
        return _sigmoid(logit + _solve_bias(logit, cfg.positive_rate))


def synthesize(
    name: str,
    *,
    rows: int = 200_000,
    seed: int = 0,
    force: bool = False,
    config: TeacherConfig | None = None,
    split: tuple[float, float, float] = (8, 1, 1),
    progress: StepProgress | None = None,
) -> Dataset:
    """Write a planted synthetic dataset ``name`` and open it.

    Reproducible: the same (rows, seed, config) give the same files. Labels are Bernoulli draws of the
    teacher's p; ``meta["bayes_logloss"]`` holds each split's mean binary entropy of p.

    ``progress(done, total, info)``, if given, counts rows (``total`` = ``rows``): ``info["stage"]``
    ``"generate"`` (the rows' inputs are drawn field by field, then their click probabilities; each of
    these steps counts as an equal share of the rows), then ``"write"`` (as ``write_dataset`` reports).
    """
    if rows < 10:
        raise ConfigError(f"rows must be >= 10, got {rows}")
    config = config or TeacherConfig()
    teacher = Teacher(config, seed)
    steps = len(teacher.cardinalities) + 1  # the fields' ids, then the probabilities

    def generated(step: int) -> None:
        if progress is not None:
            progress(rows * step // steps, rows, {"stage": "generate"})

    generated(0)
    counts, ids = teacher.sample_inputs(rows, seed, on_field=lambda f: generated(f + 1))
    prob = teacher.probabilities(dense_transform(counts).astype(np.float64), ids)
    generated(steps)
    labels = (np.random.default_rng([seed, 3]).random(rows) < prob).astype(np.uint8)
    raw = RawData(
        label="label",
        dense_names=CRITEO_DENSE,
        sparse_names=CRITEO_SPARSE,
        labels=labels,
        dense=counts,
        sparse=[
            (ids[f], pa.array(np.arange(c)).cast(pa.string())) for f, c in enumerate(teacher.cardinalities)
        ],
        file_rows=(rows,),
        extra={"synthetic": True},
    )
    splits = stratified_split(labels, split, seed)
    entropy = _binary_entropy(prob)
    meta = {
        "format": "synthetic",
        "source": f"nasrec.data.synthesize(rows={rows}, seed={seed})",
        "split": {"method": "stratified", "ratios": list(split), "seed": seed},
        "bayes_logloss": {
            s: round(float(entropy[idx].mean()), 6) if len(idx) else None
            for s, idx in zip(SPLITS, splits, strict=True)
        },  # fmt: skip
        "teacher": {
            **asdict(config),
            "seed": seed,
            "cardinalities": list(teacher.cardinalities),
            "field_pairs": [[CRITEO_SPARSE[f], CRITEO_SPARSE[g]] for f, g in teacher.field_pairs],
            "dense_field_pairs": [[CRITEO_DENSE[j], CRITEO_SPARSE[f]] for j, f in teacher.dense_field_pairs],
        },
    }
    write_dataset(
        raw, splits, name=name, force=force, meta=meta, extra_arrays={"true_prob": prob.astype(np.float32)},
        progress=progress,
    )  # fmt: skip
    return Dataset.open(name)


def write_criteo_tsv(
    path: str | Path, *, rows: int, seed: int = 0, config: TeacherConfig | None = None
) -> Path:
    """Write ``rows`` raw Kaggle-Criteo TSV lines (label, I1..I13, C1..C26 as 8-hex-digit hashes).

    For benchmarks and large-input tests: the same generator as :func:`synthesize`, in the raw text form.
    """
    import pyarrow.compute as pc
    import pyarrow.csv as pacsv

    config = config or TeacherConfig()
    teacher = Teacher(config, seed)
    counts, ids = teacher.sample_inputs(rows, seed)
    prob = teacher.probabilities(dense_transform(counts).astype(np.float64), ids)
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


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _solve_bias(logit: np.ndarray, rate: float) -> float:
    """The b with mean(sigmoid(logit + b)) == rate (bisection; the mean is monotone in b)."""
    lo, hi = -30.0, 30.0
    for _ in range(45):  # 60 / 2**45 < 1e-12
        mid = (lo + hi) / 2
        if _sigmoid(logit + mid).mean() < rate:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


def _binary_entropy(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-12, 1 - 1e-12)
    return -(p * np.log(p) + (1 - p) * np.log1p(-p))
