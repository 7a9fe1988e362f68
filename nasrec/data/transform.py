"""How raw values become model inputs, for ingest and for anyone encoding new raw records (export).

dense:  per column, the transform chosen at ingest (:mod:`nasrec.data.dense`: log1p, standardize,
        buckets, none), applied by the same function as at ingest; a bucketed column is read as a
        dense value and becomes a sparse input (after the categorical ones). Datasets and bundles
        without per-column transforms mean log1p everywhere: x -> log(1 + max(x, 0)), missing -> 0
sparse: raw value (as text) -> its vocabulary index; missing, rare or unseen -> 0, or the value's
        FNV-1a 64 hash bucket when the table is capped (see :mod:`nasrec.data.vocab`)
derived: features computed from another raw column (Avazu's ``hour`` YYMMDDHH -> ``hour_of_day`` "HH"
        and ``weekday`` "0" (Monday) .. "6"); a record may give either the feature or its source

Raw records (``FeatureMap.encode``) are checked like ingest checks a file, strictly by default:

    known names   the label, the dense and sparse features, the sources of derived features, and the
                  columns the format reads past (``ignored``: Avazu's ``id``, KDD12's ``Clicks``); any
                  other key is a DataError naming it (``strict=False`` ignores it)
    dense values  numbers (int, float, bool, numpy scalars) or text that ingest reads as a number
                  (``"3"``, ``" 2.5e1 "``, ``"nan"``, ``"inf"``); missing: absent, None, NaN, ``""`` and
                  the null markers of ingest's CSV reader (``"NA"``, ``"null"``, ...: ``NULL_MARKERS``).
                  Anything else (``"abc"``, a list) is a DataError (``strict=False``: missing). The
                  label is read the same way (absent -> 0).
    sparse values text or numbers (an integral float as its int: ``3.0`` -> ``"3"``); None / ``""``:
                  missing. Anything else (a list, a dict, bytes) is a DataError (``strict=False``: its
                  ``str``)
    derived       a source value the rule cannot read (an Avazu ``hour`` that is not YYMMDDHH) is a
                  DataError (``strict=False``: the derived features are missing)
    missing       an absent feature is filled as at ingest (dense 0 after the transform, i.e. the
                  training mean of a standardized column; sparse and bucket index 0);
                  ``missing="warn"`` also warns (MissingFeatureWarning, with counts),
                  ``missing="raise"`` raises a DataError instead. Only absent keys count: None, NaN
                  and ``""`` are values that mean missing, as in the source files.

Errors name the record (its index, when several were given), the feature and the value. Records are
read column by column (Arrow parses and checks a dense column at once; a sparse column is one dict
lookup per value), so the checks add no per-value Python work on the common paths.
"""

from __future__ import annotations

import decimal
import difflib
import numbers
import operator
import os
import re
import sys
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from nasrec.data.dense import (
    DENSE_TRANSFORM,
    ColumnTransform,
    apply_transforms,
    default_transforms,
    dense_transform,
    describe_transforms,
)
from nasrec.data.readers import _NUMBER
from nasrec.data.schema import Batch
from nasrec.data.vocab import Vocabulary
from nasrec.errors import ConfigError, DataError

if TYPE_CHECKING:
    from nasrec.data.dataset import Dataset

__all__ = [
    "DENSE_TRANSFORM",
    "NULL_MARKERS",
    "ColumnTransform",
    "FeatureMap",
    "Missing",
    "MissingFeatureWarning",
    "dense_transform",
    "transform_raw",
]

#: Text that ingest's CSV reader reads as a missing value (pyarrow's ``null_values``: "", "NA", "null", ...).
NULL_MARKERS = frozenset(pacsv.ConvertOptions().null_values)

#: What ``encode`` does about a feature absent from a record: fill it (as at ingest), also warn, or raise.
Missing = Literal["fill", "warn", "raise"]
_MISSING_CHOICES = ("fill", "warn", "raise")
_NUMBER_RE = re.compile(_NUMBER, re.ASCII)
_NUMERIC_TYPES = (pa.types.is_integer, pa.types.is_floating, pa.types.is_boolean, pa.types.is_decimal)
_PACKAGE_DIR = os.path.dirname(os.path.dirname(__file__)) + os.sep  # as in the frames' co_filename


class MissingFeatureWarning(UserWarning):
    """Records lacked features, which were filled as at ingest. ``counts``: feature -> records without it."""

    def __init__(self, message: str, counts: dict[str, int]) -> None:
        super().__init__(message)
        self.counts = counts


def _avazu_hour_of_day(hour: str) -> str | None:
    return hour[6:8] if len(hour) == 8 else None


def _avazu_weekday(hour: str) -> str | None:
    import datetime as dt

    try:
        return str(dt.date(2000 + int(hour[:2]), int(hour[2:4]), int(hour[4:6])).weekday())
    except ValueError:
        return None


DERIVATIONS = {"avazu_hour_of_day": _avazu_hour_of_day, "avazu_weekday": _avazu_weekday}


@dataclass(frozen=True)
class FeatureMap:
    """Everything needed to turn raw records into model inputs: feature names, transforms, vocabularies.

    dense:      the raw numeric columns, each with its transform in ``transforms`` (log1p for every
                column when none are given: a dataset or bundle from before per-column transforms)
    sparse:     the categorical features, each with its vocabulary
    The model's inputs: dense = ``dense_inputs`` (the columns not bucketed), sparse = the categorical
    features, then the bucketed columns (``sparse_inputs``, tables of ``table_rows``).
    """

    label: str
    dense: tuple[str, ...]
    sparse: tuple[str, ...]
    vocabularies: tuple[Vocabulary, ...]
    derived: tuple[tuple[str, str, str], ...] = ()  # (feature, source column, rule in DERIVATIONS)
    ignored: tuple[str, ...] = ()  # raw columns ingest reads past (Avazu's id): accepted, unused
    transforms: tuple[ColumnTransform, ...] = ()  # one per dense column (empty: log1p everywhere)

    def __post_init__(self) -> None:
        if not self.transforms:
            object.__setattr__(self, "transforms", default_transforms(self.dense))
        if tuple(t.column for t in self.transforms) != tuple(self.dense):
            raise DataError(
                f"dense transforms are for columns {[t.column for t in self.transforms]}, not the dense"
                f" columns {list(self.dense)}; re-ingest the dataset"
            )

    @property
    def dense_inputs(self) -> tuple[str, ...]:
        """The model's dense inputs, in order: the dense columns that are not bucketed."""
        return tuple(t.column for t in self.transforms if not t.is_sparse)

    @property
    def sparse_inputs(self) -> tuple[str, ...]:
        """The model's sparse inputs, in order: the categorical features, then the bucketed columns."""
        return (*self.sparse, *(t.column for t in self.transforms if t.is_sparse))

    @property
    def table_rows(self) -> tuple[int, ...]:
        """Rows of each sparse input's table (index 0 included), in ``sparse_inputs`` order."""
        return (*(v.rows for v in self.vocabularies), *(t.rows for t in self.transforms if t.is_sparse))

    @property
    def known(self) -> frozenset[str]:
        """Every key a record may carry: label, features, sources of derived features, ignored columns."""
        return frozenset(
            [self.label, *self.dense, *self.sparse, *(d[1] for d in self.derived), *self.ignored]
        )

    def encode(
        self, records: Sequence[Mapping[str, Any]], *, strict: bool = True, missing: Missing = "fill"
    ) -> Batch:
        """Raw records (feature name -> raw value, as in the source data) -> a Batch.

        ``strict`` (default): a key that is not a known name, a dense value that is not a number, or a
        sparse value that is not text or a number raises a DataError naming the record (its index, when
        there are several), the feature and the value; ``strict=False`` ignores unknown keys and treats
        bad dense values as missing. ``missing``: an absent feature is filled as at ingest (``"fill"``),
        also reported by a MissingFeatureWarning (``"warn"``), or a DataError (``"raise"``). The module
        docstring lists exactly what is accepted. The label is read if present, else 0.
        """
        if missing not in _MISSING_CHOICES:
            raise ConfigError(f"missing must be one of {list(_MISSING_CHOICES)}, got {missing!r}")
        records = _as_records(records)
        where = _Where(len(records))
        if strict:
            self._check_names(records, where)
        if missing != "fill":
            self._report_missing(records, where, missing)
        if self.derived:
            records = [self._with_derived(rec, i, strict, where) for i, rec in enumerate(records)]
        n = len(records)
        columns = _columns(records, (*self.dense, *self.sparse))
        raw = np.empty((n, len(self.dense)), dtype=np.float64)
        for j, name in enumerate(self.dense):
            raw[:, j] = _numbers(columns[j], name, strict, where)
        dense, buckets = apply_transforms(raw, self.transforms)
        sparse = np.empty((n, len(self.sparse) + buckets.shape[1]), dtype=np.int64)
        for j, (name, vocab) in enumerate(zip(self.sparse, self.vocabularies, strict=True)):
            sparse[:, j] = _indices(vocab, columns[len(self.dense) + j], name, strict, where)
        sparse[:, len(self.sparse) :] = buckets
        label = _numbers([rec.get(self.label) for rec in records], self.label, strict, where)
        labels = (label > 0).astype(np.float32)  # NaN (absent) -> 0
        return Batch.from_numpy(dense, sparse, labels)

    def _check_names(self, records: list[Mapping[str, Any]], where: _Where) -> None:
        known = self.known
        if known.issuperset(set().union(*records)):
            return
        i, rec = next((i, rec) for i, rec in enumerate(records) if not known.issuperset(rec))
        unknown = [k for k in rec if k not in known]
        hint = _close_match(str(unknown[0]), known)
        raise DataError(
            f"{where.record(i)}unknown feature{'s' * (len(unknown) > 1)} {', '.join(map(repr, unknown[:5]))}"
            + (f" (did you mean {hint!r}?)" if hint else "")
            + f"; known names: {_summary([self.label, *self.dense, *self.sparse])}"
            + " (pass strict=False to ignore extra fields)"
        )

    def _report_missing(self, records: list[Mapping[str, Any]], where: _Where, missing: Missing) -> None:
        absent = self._absent(records)
        if not absent:
            return
        first = min(rows[0] for rows in absent.values())
        if missing == "raise":
            lacking = [name for name, rows in absent.items() if rows[0] == first]
            raise DataError(
                f"{where.record(first)}missing feature{'s' * (len(lacking) > 1)} "
                f"{', '.join(map(repr, lacking[:5]))}{', ...' * (len(lacking) > 5)}"
                " (pass missing='fill' to fill absent features as at training)"
            )
        counts = {name: len(rows) for name, rows in absent.items()}
        lacking_rows = len(set().union(*absent.values()))
        worst = sorted(counts.items(), key=lambda kv: -kv[1])
        listed = ", ".join(f"{name!r} ({count})" for name, count in worst[:5]) + ", ..." * (len(worst) > 5)
        message = f"{lacking_rows} of {len(records)} records lack features, filled as at training: {listed}"
        warnings.warn(MissingFeatureWarning(message, counts), stacklevel=_caller_outside_nasrec())

    def _absent(self, records: list[Mapping[str, Any]]) -> dict[str, list[int]]:
        """Feature -> indices of the records without it (a derived feature counts as given by its source)."""
        sources = {feature: source for feature, source, _ in self.derived}
        plain = frozenset(self.dense + self.sparse) - sources.keys()
        if all(plain.issubset(rec) for rec in records) and not sources:
            return {}
        out = {}
        for name in (*self.dense, *self.sparse):
            source = sources.get(name)
            rows = [
                i
                for i, rec in enumerate(records)
                if name not in rec and (source is None or source not in rec)
            ]
            if rows:
                out[name] = rows
        return out

    def _with_derived(self, rec: Mapping[str, Any], i: int, strict: bool, where: _Where) -> Mapping[str, Any]:
        missing = [(f, src, rule) for f, src, rule in self.derived if rec.get(f) is None and rec.get(src)]
        if not missing:
            return rec
        out = dict(rec)
        for feature, source, rule in missing:
            value = DERIVATIONS[rule](_text(rec[source]))
            if value is None and strict:
                raise DataError(
                    f"{where.record(i, source)}cannot derive {feature!r} from {rec[source]!r}"
                    " (pass strict=False to treat it as missing)"
                )
            out[feature] = value
        return out

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form for an export bundle."""
        return {
            "label": self.label,
            "dense": list(self.dense),
            "dense_transform": describe_transforms(self.transforms),
            "dense_transforms": [t.to_dict() for t in self.transforms],
            "derived": [list(d) for d in self.derived],
            "ignored": list(self.ignored),
            "sparse": [
                {
                    "name": name,
                    "values": v.values.to_pylist(),
                    "hash_buckets": v.hash_buckets,
                    "hash": "fnv1a64-utf8",
                }
                for name, v in zip(self.sparse, self.vocabularies, strict=True)
            ],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FeatureMap:
        sparse = data["sparse"]
        return cls(
            label=data["label"],
            dense=tuple(data["dense"]),
            sparse=tuple(s["name"] for s in sparse),
            derived=tuple(tuple(d) for d in data.get("derived", [])),
            ignored=tuple(data.get("ignored", [])),
            transforms=tuple(ColumnTransform.from_dict(t) for t in data.get("dense_transforms", [])),
            vocabularies=tuple(
                Vocabulary(
                    pa.array(s["values"], pa.string()),
                    np.zeros(len(s["values"]), np.int64),
                    int(s["hash_buckets"]),
                )
                for s in sparse
            ),
        )


def transform_raw(
    dataset: Dataset, records: Sequence[Mapping[str, Any]], *, strict: bool = True, missing: Missing = "fill"
) -> Batch:
    """Encode raw records exactly as ``dataset`` was encoded at ingest (see ``FeatureMap.encode``)."""
    return dataset.feature_map().encode(records, strict=strict, missing=missing)


class _Where:
    """How errors name a record: ``"record 3: "`` when several were given, nothing for just one."""

    def __init__(self, n: int) -> None:
        self.n = n

    def record(self, i: int, feature: str | None = None) -> str:
        parts = ([f"record {i}"] if self.n > 1 else []) + ([f"feature {feature!r}"] if feature else [])
        return ", ".join(parts) + ": " if parts else ""


def _as_records(records: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    if isinstance(records, Mapping):
        raise DataError("expected a list of records (dicts); wrap a single record in a list: [record]")
    if isinstance(records, str | bytes):
        raise DataError(f"expected a list of records (dicts), got {type(records).__name__}")
    out = records if isinstance(records, list) else list(records)
    if not all(type(rec) is dict for rec in out):
        for i, rec in enumerate(out):
            if not isinstance(rec, Mapping):
                raise DataError(
                    f"record {i} is a {type(rec).__name__}, not a mapping of feature names to raw values"
                )
    return out


def _numbers(values: list[Any], name: str, strict: bool, where: _Where) -> np.ndarray:
    """Raw dense values -> float64 (NaN = missing), checked in bulk; see the module docstring."""
    try:
        arr = pa.array(values, from_pandas=False)
    except (pa.ArrowException, TypeError, ValueError, OverflowError):
        arr = None  # mixed or unusual types: one value at a time
    if arr is not None:
        if pa.types.is_null(arr.type):
            return np.full(len(values), np.nan)
        if any(is_type(arr.type) for is_type in _NUMERIC_TYPES):
            return pc.cast(arr, pa.float64()).to_numpy(zero_copy_only=False)
        if pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type):
            absent = pc.or_kleene(pc.is_null(arr), pc.is_in(arr, pa.array(sorted(NULL_MARKERS))))
            numeric = pc.match_substring_regex(arr, _NUMBER)
            ok = pc.or_kleene(absent, numeric).to_numpy(zero_copy_only=False)
            if strict and not ok.all():
                i = int(np.flatnonzero(~ok)[0])
                raise DataError(f"{where.record(i, name)}expected a number, got {values[i]!r}")
            text = pc.if_else(pc.and_not_kleene(numeric, absent), pc.utf8_trim_whitespace(arr), None)
            return pc.cast(text, pa.float64()).to_numpy(zero_copy_only=False)
    return np.array([_number(v, i, name, strict, where) for i, v in enumerate(values)], dtype=np.float64)


def _number(value: Any, i: int, name: str, strict: bool, where: _Where) -> float:
    if value is None:
        return float("nan")
    if isinstance(value, str):
        if value in NULL_MARKERS:
            return float("nan")
        if _NUMBER_RE.match(value):
            return float(value)
    elif isinstance(value, numbers.Real | decimal.Decimal | np.bool_):
        return float(value)
    if strict:
        raise DataError(f"{where.record(i, name)}expected a number, got {value!r}")
    return float("nan")


def _columns(records: list[Mapping[str, Any]], names: Sequence[str]) -> list[Sequence[Any]]:
    """The values of each named column (None where absent): one C-level pass when every record is a
    dict holding every name (rows read from a file), one ``get`` per value otherwise."""
    if len(names) > 1 and all(type(rec) is dict for rec in records):
        try:
            rows = list(map(operator.itemgetter(*names), records))
        except KeyError:
            pass
        else:
            return list(zip(*rows, strict=True)) if rows else [() for _ in names]
    return [[rec.get(name) for rec in records] for name in names]


def _indices(vocab: Vocabulary, values: Sequence[Any], name: str, strict: bool, where: _Where) -> np.ndarray:
    """Raw sparse values -> table indices: text found as is in one pass; the rest (missing, unseen or not
    text) checked, turned into text by :func:`_text` and looked up or hashed."""
    try:
        out = vocab.find(values)
    except TypeError:  # an unhashable value (a list, a dict): look at each
        out = np.full(len(values), -1, dtype=np.int64)
    misses = np.flatnonzero(out < 0)
    if misses.size:
        out[misses] = vocab.indices_of([_sparse_text(values[i], int(i), name, strict, where) for i in misses])
    return out


def _sparse_text(value: Any, i: int, name: str, strict: bool, where: _Where) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if strict and not isinstance(value, numbers.Number | decimal.Decimal | np.generic):
        raise DataError(f"{where.record(i, name)}expected text or a number, got {value!r}")
    return _text(value)


def _text(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _summary(names: Sequence[str]) -> str:
    """``label, I1, I2, ..., C26 (40 in all)``: a long list of names, shortened for one line."""
    if len(names) <= 8:
        return ", ".join(names)
    return f"{', '.join(names[:3])}, ..., {names[-1]} ({len(names)} in all)"


def _close_match(name: str, known: Iterable[str]) -> str | None:
    """The known name ``name`` was probably meant to be: the same but for case, or a close spelling."""
    by_case = {k.casefold(): k for k in known}
    if name.casefold() in by_case:
        return by_case[name.casefold()]
    close = difflib.get_close_matches(name, sorted(by_case.values()), n=1)
    return close[0] if close else None


def _caller_outside_nasrec() -> int:
    """The ``stacklevel`` of the first caller outside the nasrec package, for a warning raised here."""
    frame, level = sys._getframe(1), 1
    while frame is not None and frame.f_code.co_filename.startswith(_PACKAGE_DIR):
        frame, level = frame.f_back, level + 1
    return level
