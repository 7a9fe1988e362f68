"""Per-column dense transforms: what each numeric column becomes, chosen at ingest, applied by one function.

A dense column gets one of four transforms (``x`` a raw value, NaN = missing)::

    log1p        log(1 + max(x, 0)); missing or non-finite -> 0                  (Criteo's counts)
    standardize  (x - mean) / std, with the mean and std of the training rows; missing or
                 non-finite -> 0, i.e. the training mean (a constant column has std 1)
    buckets:N    the column becomes a sparse feature of the same name (it leaves the dense inputs):
                 index 1 + (number of edges <= x), with N - 1 edges at the training quantiles i / N
                 (repeated edges merged, so at most N buckets); missing or non-finite -> index 0.
                 Its table has len(edges) + 2 rows and follows the categorical features, in column order.
    none         x as read; missing or non-finite -> 0

``auto`` (the default) decides per column from the **training rows only** (validation and test rows are
never looked at), on the column's finite values ``v`` with quantiles ``p1``, ``p50``, ``p99``::

    log1p        if every v is a whole number, the distribution is right-skewed (p50 - p1 <= (p99 - p1) / 4:
                 the median lies in the lowest quarter of the range) and negatives, if any, are small
                 (min v >= -p99 / 100): counts, with their mass near zero and a long tail
    log1p        if the column has no value in the training rows (every row becomes 0)
    standardize  otherwise: bounded, roughly symmetric values (years, ratings, ages, timestamps) and
                 anything else numeric (a release year 1922..1998 becomes about -1.7..1.7, not 7.56..7.60)

The formats whose dense columns are counts by definition (``COUNT_FORMATS``: criteo, criteo-csv, kdd12)
resolve ``auto`` to log1p without looking at the rows, so their inputs never depend on the sample ingested
(on the Criteo samples the rule above chooses log1p for every column too); synthetic data is counts too.
Datasets and export bundles written before per-column transforms have none recorded: they mean log1p
everywhere (``chosen: default``). Options may also spell standardize ``standardise``.

Each :class:`ColumnTransform` records its parameters (mean, std, bucket edges) and how it was chosen
(``auto``, ``option``, ``format``, ``default``); ingest stores them in the dataset's ``meta.json``
(``dense_transforms``) and the export bundle's ``feature_map.json``, and :func:`apply_transforms` is the
one function that applies them, at ingest and on raw records (``FeatureMap.encode``, ``predict``). It
works in float32 on the raw values, as ingest reads them, so both paths compute the same numbers.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from nasrec.errors import ConfigError, DataError

__all__ = [
    "CHOICES",
    "COUNT_FORMATS",
    "DENSE_TRANSFORM",
    "ColumnTransform",
    "apply_transforms",
    "check_transform_options",
    "choose_auto",
    "default_transforms",
    "dense_transform",
    "dense_transform_",
    "describe_transforms",
    "parse_transform_options",
    "resolve_transforms",
]

#: The fixed transform of every dense column before per-column transforms (and of log1p now).
DENSE_TRANSFORM = "log1p(max(x, 0)); missing or non-finite -> 0"

Kind = Literal["log1p", "standardize", "buckets", "none"]
Chosen = Literal["auto", "option", "format", "default"]
KINDS: tuple[str, ...] = ("log1p", "standardize", "buckets", "none")
#: What an ingest option may ask for, as written on the command line.
CHOICES = "auto, log1p, standardize, buckets[:N], none"
#: Formats whose dense columns are counts by definition: ``auto`` means log1p for them.
COUNT_FORMATS = frozenset({"criteo", "criteo-csv", "kdd12"})
DEFAULT_BUCKETS = 10
MAX_BUCKETS = 10_000
_ALIASES = {"standardise": "standardize", "standard": "standardize", "log": "log1p", "identity": "none"}


def dense_transform(x: np.ndarray) -> np.ndarray:
    """log1p of raw counts (NaN = missing) -> float32 model inputs (a new array; ``x`` is not modified)."""
    return dense_transform_(np.array(x, dtype=np.float32, copy=True))


def dense_transform_(x: np.ndarray) -> np.ndarray:
    """:func:`dense_transform` in place on a float32 array (e.g. a memory map being written); returns it."""
    np.maximum(x, 0.0, out=x)  # NaN stays NaN
    np.log1p(x, out=x)
    x[~np.isfinite(x)] = 0.0
    return x


@dataclass(frozen=True)
class ColumnTransform:
    """The transform of one dense column and its parameters (from the training rows).

    kind:   log1p | standardize (``mean``, ``std``) | buckets (``edges``, increasing) | none
    chosen: auto (training statistics), option (asked for), format (counts by format: criteo, kdd12,
            synthetic data), default (a dataset from before per-column transforms: log1p everywhere)
    """

    column: str
    kind: Kind
    mean: float | None = None
    std: float | None = None
    edges: tuple[float, ...] | None = None
    chosen: Chosen = "option"

    def __post_init__(self) -> None:
        where = f"dense transform of column {self.column!r}"
        if self.kind not in KINDS:
            raise ConfigError(f"{where}: unknown transform {self.kind!r}; choose one of {', '.join(KINDS)}")
        if self.chosen not in ("auto", "option", "format", "default"):
            raise ConfigError(f"{where}: chosen must be auto, option, format or default, got {self.chosen!r}")
        given = {"mean": self.mean, "std": self.std, "edges": self.edges}
        needs = {"standardize": ("mean", "std"), "buckets": ("edges",)}.get(self.kind, ())
        extra = [k for k, v in given.items() if v is not None and k not in needs]
        absent = [k for k in needs if given[k] is None]
        if extra or absent:
            raise ConfigError(
                f"{where}: {self.kind} takes {', '.join(needs) or 'no parameters'}"
                + (f"; missing {', '.join(absent)}" if absent else "")
                + (f"; unexpected {', '.join(extra)}" if extra else "")
            )
        if self.kind == "standardize":
            mean, std = float(self.mean), float(self.std)  # type: ignore[arg-type]
            if not (math.isfinite(mean) and math.isfinite(std) and std > 0):
                raise ConfigError(
                    f"{where}: standardize needs a finite mean and a std > 0, got {mean}, {std}"
                )
            object.__setattr__(self, "mean", mean)
            object.__setattr__(self, "std", std)
        if self.kind == "buckets":
            edges = tuple(float(e) for e in self.edges)  # type: ignore[union-attr]
            if not all(math.isfinite(e) for e in edges) or any(
                b <= a for a, b in zip(edges[:-1], edges[1:], strict=True)
            ):
                raise ConfigError(f"{where}: bucket edges must be finite and increasing, got {list(edges)}")
            object.__setattr__(self, "edges", edges)

    @property
    def is_sparse(self) -> bool:
        """Whether the column is a sparse feature of the model (buckets) rather than a dense input."""
        return self.kind == "buckets"

    @property
    def rows(self) -> int:
        """Table rows of a bucketed column (index 0 = missing), 0 for a dense one."""
        return len(self.edges) + 2 if self.edges is not None else 0

    def labels(self) -> list[str]:
        """A label per table index of a bucketed column: ``""`` (missing), ``< e1``, ``[e1, e2)``, ...,
        ``>= ek``."""
        if self.edges is None:
            return []
        e = [f"{x:g}" for x in self.edges]
        if not e:
            return ["", "any"]
        return ["", f"< {e[0]}", *(f"[{a}, {b})" for a, b in zip(e[:-1], e[1:], strict=True)), f">= {e[-1]}"]

    def describe(self) -> str:
        if self.kind == "standardize":
            return f"standardize (mean {self.mean:.6g}, std {self.std:.6g})"
        if self.kind == "buckets":
            return f"buckets ({len(self.edges or ()) + 1})"
        return str(self.kind)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"column": self.column, "transform": self.kind}
        if self.kind == "standardize":
            out.update(mean=self.mean, std=self.std)
        if self.kind == "buckets":
            out["edges"] = list(self.edges or ())
        out["chosen"] = self.chosen
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ColumnTransform:
        try:
            edges = data.get("edges")
            return cls(
                column=str(data["column"]),
                kind=data["transform"],
                mean=data.get("mean"),
                std=data.get("std"),
                edges=None if edges is None else tuple(edges),
                chosen=data.get("chosen", "option"),
            )
        except (KeyError, TypeError, ValueError, ConfigError) as exc:
            raise DataError(
                f"malformed dense transform {dict(data)!r} ({exc}); re-ingest the dataset"
            ) from exc


def default_transforms(columns: Iterable[str], chosen: Chosen = "default") -> tuple[ColumnTransform, ...]:
    """log1p for every column: datasets and bundles from before per-column transforms (``default``), or
    columns that are counts (``format``: synthetic data)."""
    return tuple(ColumnTransform(c, "log1p", chosen=chosen) for c in columns)


def describe_transforms(transforms: Sequence[ColumnTransform]) -> str:
    """One line for ``data info``: :data:`DENSE_TRANSFORM` when every column is log1p (as before)."""
    if all(t.kind == "log1p" for t in transforms):
        return DENSE_TRANSFORM
    groups: dict[str, list[str]] = {}
    for t in transforms:
        groups.setdefault(t.kind if t.kind != "buckets" else "buckets (sparse)", []).append(t.column)
    return "per column: " + "; ".join(f"{kind} {', '.join(cols)}" for kind, cols in groups.items())


# ---- options ------------------------------------------------------------------------------------


def _parse_spec(column: str | None, text: str) -> tuple[str, int | None]:
    """``auto`` | ``log1p`` | ``standardize`` | ``buckets[:N]`` | ``none`` -> (kind or auto, buckets)."""
    where = f"dense transform for column {column!r}" if column else "default dense transform"
    spec = str(text).strip().lower()
    kind, _, count = spec.partition(":")
    kind = _ALIASES.get(kind, kind)
    if kind not in ("auto", *KINDS) or (count and kind != "buckets"):
        raise ConfigError(f"{where}: unknown transform {text!r}; choose one of {CHOICES}")
    if kind != "buckets":
        return kind, None
    if not count:
        return kind, DEFAULT_BUCKETS
    if not count.isdigit() or not 2 <= int(count) <= MAX_BUCKETS:
        raise ConfigError(
            f"{where}: buckets:N needs a whole number of buckets N in 2..{MAX_BUCKETS}, got {text!r}"
        )
    return kind, int(count)


def parse_transform_options(items: Sequence[str]) -> tuple[dict[str, str], str]:
    """``["year=standardize", "n=buckets:8", "log1p"]`` -> (column -> spec, default spec).

    Each item is ``COL=SPEC`` or a bare ``SPEC``, the default of every column not named (``auto`` if
    none is given); SPEC is one of :data:`CHOICES`. A ConfigError names the bad item and its column.
    """
    columns: dict[str, str] = {}
    default: str | None = None
    for item in items:
        column, sep, spec = str(item).rpartition("=")
        column = column.strip()
        if not sep:
            _parse_spec(None, spec)
            if default is not None:
                raise ConfigError(
                    f"two default dense transforms ({default!r} and {spec!r}); give one, and COL=SPEC"
                    " for the columns that differ"
                )
            default = spec.strip()
            continue
        if not column:
            raise ConfigError(f"dense transform {item!r}: expected COL=SPEC with SPEC one of {CHOICES}")
        _parse_spec(column, spec)
        if column in columns:
            raise ConfigError(
                f"dense transform for column {column!r} given twice ({columns[column]!r}, {spec!r})"
            )
        columns[column] = spec.strip()
    return columns, default or "auto"


def check_transform_options(options: Mapping[str, str] | None, default: str = "auto") -> None:
    """Raise a ConfigError naming the column if a spec is not one of :data:`CHOICES` (before any work)."""
    _parse_spec(None, default)
    for column, spec in (options or {}).items():
        _parse_spec(column, spec)


def resolve_transforms(
    columns: Sequence[str],
    raw: np.ndarray,
    train: np.ndarray,
    *,
    options: Mapping[str, str] | None = None,
    default: str = "auto",
    counts: bool = False,
    sparse: Sequence[str] = (),
) -> tuple[ColumnTransform, ...]:
    """The transform of every dense column, fitted on the training rows ``train`` of ``raw`` (N x D).

    ``options``: column -> spec (see :data:`CHOICES`); other columns get ``default``. ``counts``: the
    format's columns are counts (``auto`` -> log1p without statistics). A ConfigError names a column
    that is not a dense column (``sparse``: the dataset's sparse columns, for the message) or a bad spec.
    """
    options = dict(options or {})
    check_transform_options(options, default)
    _check_columns(options, columns, sparse)
    out = []
    for j, column in enumerate(columns):
        spec = options.get(column, default)
        kind, buckets = _parse_spec(column, spec)
        chosen: Chosen = "option"
        values: np.ndarray | None = None
        if kind == "auto":
            if counts:
                kind, chosen = "log1p", "format"
            else:
                values = _training_values(raw, j, train)
                kind, chosen = choose_auto(values), "auto"
        if kind == "standardize":
            values = _training_values(raw, j, train) if values is None else values
            mean = float(values.mean()) if values.size else 0.0
            std = float(values.std()) if values.size else 0.0
            out.append(ColumnTransform(column, "standardize", mean, std if std > 0 else 1.0, chosen=chosen))
        elif kind == "buckets":
            values = _training_values(raw, j, train) if values is None else values
            out.append(ColumnTransform(column, "buckets", edges=_edges(values, buckets or 0), chosen=chosen))
        else:
            out.append(ColumnTransform(column, kind, chosen=chosen))  # type: ignore[arg-type]
    return tuple(out)


def choose_auto(values: np.ndarray) -> Kind:
    """``auto``'s choice for a column's finite training values (the rule in the module docstring)."""
    if values.size == 0:
        return "log1p"
    p1, p50, p99 = np.quantile(values, [0.01, 0.5, 0.99])
    whole = bool(np.all(values == np.round(values)))
    right_skewed = p50 - p1 <= (p99 - p1) / 4
    small_negatives = float(values.min()) >= -max(float(p99), 0.0) / 100
    return "log1p" if whole and right_skewed and small_negatives else "standardize"


def _check_columns(options: Mapping[str, str], columns: Sequence[str], sparse: Sequence[str]) -> None:
    for name in options:
        if name in columns:
            continue
        listed = ", ".join(columns) if columns else "none"
        if name in sparse:
            raise ConfigError(
                f"dense transform for column {name!r}: it is a sparse column; transforms apply to the"
                f" dense columns ({listed})"
            )
        close = difflib.get_close_matches(name, list(columns), n=1)
        raise ConfigError(
            f"dense transform for column {name!r}: no such dense column"
            + (f" (did you mean {close[0]!r}?)" if close else "")
            + f"; dense columns: {listed}"
        )


def _training_values(raw: np.ndarray, j: int, train: np.ndarray) -> np.ndarray:
    """The finite values of column ``j`` in the training rows, as float64 (one column copied at a time)."""
    values = np.asarray(raw[:, j])[train].astype(np.float64)
    return values[np.isfinite(values)]


def _edges(values: np.ndarray, buckets: int) -> tuple[float, ...]:
    if values.size == 0 or buckets < 2:
        return ()
    return tuple(float(e) for e in np.unique(np.quantile(values, np.arange(1, buckets) / buckets)))


# ---- applying -----------------------------------------------------------------------------------


def apply_transforms(raw: np.ndarray, transforms: Sequence[ColumnTransform]) -> tuple[np.ndarray, np.ndarray]:
    """Raw dense columns B x D (NaN = missing, any float dtype) -> model inputs.

    Returns dense B x D' float32 (the columns that stay dense, in order) and bucket indices B x K int32
    (the bucketed columns, in order). Values are read as float32 first, the precision ingest reads them
    at, so that ingest and ``FeatureMap.encode`` compute the same numbers. ``raw`` is not modified.
    """
    x = np.array(raw, dtype=np.float32)
    if x.ndim != 2 or x.shape[1] != len(transforms):
        raise DataError(f"expected B x {len(transforms)} raw dense values, got shape {x.shape}")
    n = x.shape[0]
    if all(t.kind == "log1p" for t in transforms):
        return dense_transform_(x), np.zeros((n, 0), dtype=np.int32)
    dense_cols = [j for j, t in enumerate(transforms) if not t.is_sparse]
    dense = np.empty((n, len(dense_cols)), dtype=np.float32)
    buckets = np.empty((n, len(transforms) - len(dense_cols)), dtype=np.int32)
    k = 0
    for j, t in enumerate(transforms):
        col = x[:, j]
        if t.kind == "buckets":
            finite = np.isfinite(col)
            index = 1 + np.searchsorted(
                np.asarray(t.edges, dtype=np.float64), col.astype(np.float64), "right"
            )
            buckets[:, k] = np.where(finite, index, 0)
            k += 1
            continue
        out = dense[:, dense_cols.index(j)]
        if t.kind == "log1p":
            out[:] = dense_transform_(col.copy())
        elif t.kind == "standardize":
            out[:] = (col.astype(np.float64) - t.mean) / t.std
        else:
            out[:] = col
        out[~np.isfinite(out)] = 0.0
    return dense, buckets
