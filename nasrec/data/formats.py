"""The input formats ``nasrec data ingest`` understands, each turned into one :class:`RawData`.

criteo      raw Kaggle TSV: label, I1..I13, C1..C26, no header
criteo-csv  comma separated with a header (DeepCTR layout), ints written as floats
avazu       CSV, header optional; ``id`` dropped (or kept with keep_id); ``hour`` (YYMMDDHH) becomes
            the categoricals ``hour_of_day`` and ``weekday``; no dense features
kdd12       track-2 ``training.txt``: label = Clicks > 0; dense Impression, Depth, Position
libfm       ``label idx:1 idx:1 ...`` (see :mod:`nasrec.data.libfm`)
csv         generic delimited file with a header; the caller names label, dense, sparse columns
parquet     generic Parquet file; the caller names label, dense, sparse columns
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from nasrec.console import StepProgress
from nasrec.data.readers import OnBadRows, ReadProgress, TextLayout, TextTable, read_text
from nasrec.errors import ConfigError, DataError

__all__ = ["FORMATS", "FormatOptions", "RawData", "read_format"]

CRITEO_DENSE = tuple(f"I{i}" for i in range(1, 14))
CRITEO_SPARSE = tuple(f"C{i}" for i in range(1, 27))
AVAZU_COLUMNS = (
    "id", "click", "hour", "C1", "banner_pos", "site_id", "site_domain", "site_category", "app_id",
    "app_domain", "app_category", "device_id", "device_ip", "device_model", "device_type",
    "device_conn_type", "C14", "C15", "C16", "C17", "C18", "C19", "C20", "C21",
)  # fmt: skip
KDD12_COLUMNS = (
    "Clicks", "Impression", "DisplayURL", "AdID", "AdvertiserID", "Depth", "Position", "QueryID",
    "KeywordID", "TitleID", "DescriptionID", "UserID",
)  # fmt: skip
KDD12_DENSE = ("Impression", "Depth", "Position")


@dataclass(frozen=True)
class FormatOptions:
    """Format-specific knobs; each format reads only the ones it documents."""

    label: str | None = None  # csv, parquet
    dense: tuple[str, ...] = ()  # csv, parquet
    sparse: tuple[str, ...] = ()  # csv, parquet
    delimiter: str = ","  # csv
    keep_id: bool = False  # avazu
    fields: tuple[str, ...] = ()  # libfm: field names
    field_starts: tuple[int, ...] = ()  # libfm: first global index of each field


@dataclass(frozen=True)
class RawData:
    """Parsed rows of one or more files, before vocabularies and splits.

    labels: N uint8
    dense:  N x D float32 raw values (NaN = missing)
    sparse: per sparse feature, (codes, values): N int32 codes into U distinct raw values (-1 = missing)
    file_rows: rows contributed by each input file, in order
    """

    label: str
    dense_names: tuple[str, ...]
    sparse_names: tuple[str, ...]
    labels: np.ndarray
    dense: np.ndarray
    sparse: list[tuple[np.ndarray, pa.Array]]
    file_rows: tuple[int, ...]
    skipped: int = 0
    extra: dict = field(default_factory=dict)

    @property
    def num_rows(self) -> int:
        return len(self.labels)


def read_format(
    fmt: str,
    paths: Sequence[Path],
    options: FormatOptions,
    *,
    on_bad_rows: OnBadRows = "error",
    progress: StepProgress | None = None,
) -> RawData:
    """Read ``paths`` (one file, or train / val / test) in format ``fmt``.

    ``progress(done, total, {"stage": "read"})``: bytes of the input files read (:class:`ReadProgress`).
    """
    if fmt not in FORMATS:
        raise ConfigError(f"unknown format {fmt!r}; choose one of {sorted(FORMATS)}")
    for path in paths:
        if not Path(path).is_file():
            raise DataError(f"input file {str(path)!r} does not exist or is not a file")
    files = [Path(p) for p in paths]
    return FORMATS[fmt](files, options, on_bad_rows, ReadProgress(files, progress))


# --- delimited text formats --------------------------------------------------------------------


def _combine(
    tables: list[TextTable], label: str, dense: tuple[str, ...], sparse: tuple[str, ...], extra: dict
) -> RawData:
    """Concatenate per-file tables; categorical dictionaries are unified across files."""
    return RawData(
        label=label,
        dense_names=dense,
        sparse_names=sparse,
        labels=np.concatenate([t.labels for t in tables]),
        dense=np.concatenate([t.dense for t in tables]) if len(tables) > 1 else tables[0].dense,
        sparse=parallel_map(
            lambda name: categorical_codes([c for t in tables for c in t.sparse[name].chunks]), sparse
        ),
        file_rows=tuple(len(t.labels) for t in tables),
        skipped=sum(t.skipped for t in tables),
        extra=extra,
    )


def parallel_map(fn: Callable[[Any], Any], items: Iterable[Any]) -> list[Any]:
    """``[fn(x) for x in items]`` on a thread per core: Arrow and most numpy kernels release the GIL."""
    items = list(items)
    workers = min(len(items), os.cpu_count() or 1)
    if workers <= 1:
        return [fn(x) for x in items]
    with ThreadPoolExecutor(workers) as pool:
        return list(pool.map(fn, items))


def categorical_codes(chunks: list[pa.Array]) -> tuple[np.ndarray, pa.Array]:
    """Dictionary chunks (possibly with different dictionaries) -> N int32 codes (-1 = null), values."""
    chunks = [c if pa.types.is_dictionary(c.type) else pc.dictionary_encode(c) for c in chunks]
    if not chunks:
        return np.zeros(0, np.int32), pa.array([], pa.string())
    column = pa.table({"c": pa.chunked_array(chunks, type=chunks[0].type)}).unify_dictionaries().column("c")
    parts = [c.indices.fill_null(-1).to_numpy().astype(np.int32, copy=False) for c in column.chunks]
    values = column.chunks[0].dictionary if column.num_chunks else pa.array([], pa.string())
    if values.type != pa.string():
        values = pc.cast(values, pa.string())
    codes = np.concatenate(parts) if len(parts) != 1 else parts[0]
    empty = pc.index(values, "").as_py()
    if empty >= 0:  # an empty string is a missing value, whatever the reader made of it
        codes = np.where(codes == empty, -1, codes).astype(np.int32)
    return codes, values


def _header(path: Path, delimiter: str) -> tuple[str, ...]:
    with path.open(encoding="utf-8", errors="replace") as fh:
        first = fh.readline().rstrip("\r\n")
    return tuple(name.strip().strip('"') for name in first.split(delimiter))


def _read_all(
    paths: list[Path], layout_of: Callable[[Path], TextLayout], on_bad_rows: OnBadRows, progress: ReadProgress
) -> list[TextTable]:
    return [_read_one(p, layout_of(p), on_bad_rows, progress) for p in paths]


def _read_one(path: Path, layout: TextLayout, on_bad_rows: OnBadRows, progress: ReadProgress) -> TextTable:
    table = read_text(path, layout, on_bad_rows=on_bad_rows, on_read=progress.reading(path))
    progress.finished(path)
    return table


def _read_criteo(
    paths: list[Path], options: FormatOptions, on_bad_rows: OnBadRows, progress: ReadProgress
) -> RawData:
    layout = TextLayout(
        delimiter="\t", columns=("label", *CRITEO_DENSE, *CRITEO_SPARSE), header=False, label="label",
        dense=CRITEO_DENSE, sparse=CRITEO_SPARSE,
    )  # fmt: skip
    tables = _read_all(paths, lambda _: layout, on_bad_rows, progress)
    return _combine(tables, "label", CRITEO_DENSE, CRITEO_SPARSE, {})


def _read_criteo_csv(
    paths: list[Path], options: FormatOptions, on_bad_rows: OnBadRows, progress: ReadProgress
) -> RawData:
    def layout_of(path: Path) -> TextLayout:
        columns = _header(path, ",")
        missing = [c for c in ("label", *CRITEO_DENSE, *CRITEO_SPARSE) if c not in columns]
        if missing:
            raise DataError(
                f"{path}, line 1: the header lacks {missing}; criteo-csv expects label,I1..I13,C1..C26"
                " (use format 'criteo' for the raw headerless TSV)"
            )
        return TextLayout(",", columns, True, "label", CRITEO_DENSE, CRITEO_SPARSE)

    tables = _read_all(paths, layout_of, on_bad_rows, progress)
    return _combine(tables, "label", CRITEO_DENSE, CRITEO_SPARSE, {})


def _read_avazu(
    paths: list[Path], options: FormatOptions, on_bad_rows: OnBadRows, progress: ReadProgress
) -> RawData:
    def layout_of(path: Path) -> TextLayout:
        first = _header(path, ",")
        has_header = "click" in first
        columns = first if has_header else AVAZU_COLUMNS
        if has_header and ("hour" not in columns or "id" not in columns):
            raise DataError(
                f"{path}, line 1: an Avazu header needs 'id', 'click' and 'hour', got {list(first)}"
            )
        if not has_header and len(first) != len(AVAZU_COLUMNS):
            raise DataError(
                f"{path}, line 1: expected the {len(AVAZU_COLUMNS)} Avazu columns {list(AVAZU_COLUMNS)}"
                f" (or a header line), got {len(first)} fields"
            )
        sparse = tuple(c for c in columns if c not in ("click", "id"))
        if options.keep_id:
            sparse = ("id", *sparse)
        return TextLayout(",", columns, has_header, "click", (), sparse)

    layouts = [layout_of(p) for p in paths]
    tables = [_read_one(p, lay, on_bad_rows, progress) for p, lay in zip(paths, layouts, strict=True)]
    base = [c for c in layouts[0].sparse if c != "hour"]
    for path, lay in zip(paths, layouts, strict=True):
        if [c for c in lay.sparse if c != "hour"] != base:
            raise DataError(
                f"{path}: its columns differ from {paths[0]}; all Avazu files need the same header"
            )
    for path, table in zip(paths, tables, strict=True):
        hod, weekday = _split_avazu_hour(path, table.sparse.pop("hour"))
        table.sparse["hour_of_day"] = hod
        table.sparse["weekday"] = weekday
    sparse = ("hour_of_day", "weekday", *base)
    derived = [["hour_of_day", "hour", "avazu_hour_of_day"], ["weekday", "hour", "avazu_weekday"]]
    ignored = [] if options.keep_id else ["id"]
    return _combine(tables, "click", (), sparse, {"derived": derived, "ignored": ignored})


def _split_avazu_hour(path: Path, hour: pa.ChunkedArray) -> tuple[pa.ChunkedArray, pa.ChunkedArray]:
    """YYMMDDHH -> (hour of day "00".."23", weekday "0".."6"), computed on the distinct values only."""
    codes, values = categorical_codes(hour.chunks)
    stamp = pc.strptime(
        pc.binary_join_element_wise("20", values, ""), format="%Y%m%d%H", unit="s", error_is_null=True
    )
    bad = np.flatnonzero(
        pc.is_null(stamp).to_numpy(zero_copy_only=False) | (pc.utf8_length(values).to_numpy() != 8)
    )
    if bad.size:
        row = int(np.flatnonzero(np.isin(codes, bad))[0])
        raise DataError(
            f"{path}, data row {row + 1}, column hour: expected YYMMDDHH, got {values[int(bad[0])].as_py()!r}"
        )
    hod = pc.utf8_slice_codeunits(values, 6, 8)
    weekday = pc.cast(pc.day_of_week(stamp), pa.string())
    missing = codes < 0
    safe = np.where(missing, 0, codes)

    def remap(per_value: pa.Array) -> pa.ChunkedArray:
        out = (
            per_value.take(pa.array(safe, mask=missing))
            if len(per_value)
            else pa.nulls(len(codes), pa.string())
        )
        return pa.chunked_array([pc.dictionary_encode(out)])

    return remap(hod), remap(weekday)


def _read_kdd12(
    paths: list[Path], options: FormatOptions, on_bad_rows: OnBadRows, progress: ReadProgress
) -> RawData:
    sparse = tuple(c for c in KDD12_COLUMNS[1:] if c not in KDD12_DENSE)
    layout = TextLayout("\t", KDD12_COLUMNS, False, "Clicks", KDD12_DENSE, sparse, label_rule="count")
    tables = _read_all(paths, lambda _: layout, on_bad_rows, progress)
    extra = {"kdd12_label": "Clicks > 0", "ignored": ["Clicks"]}
    return _combine(tables, "click", KDD12_DENSE, sparse, extra)


def _read_csv(
    paths: list[Path], options: FormatOptions, on_bad_rows: OnBadRows, progress: ReadProgress
) -> RawData:
    label, dense, sparse = _named_columns(options, "csv")

    def layout_of(path: Path) -> TextLayout:
        columns = _header(path, options.delimiter)
        _check_columns(path, columns, (label, *dense, *sparse))
        return TextLayout(options.delimiter, columns, True, label, dense, sparse, quoted=True)

    tables = _read_all(paths, layout_of, on_bad_rows, progress)
    return _combine(tables, label, dense, sparse, {})


def _named_columns(options: FormatOptions, fmt: str) -> tuple[str, tuple[str, ...], tuple[str, ...]]:
    if not options.label or not options.sparse:
        raise ConfigError(
            f"format {fmt!r} needs the column names: --label COL, --sparse COL,COL,... and optionally --dense"
        )
    return options.label, tuple(options.dense), tuple(options.sparse)


def _check_columns(path: Path, available: Sequence[str], wanted: Sequence[str]) -> None:
    missing = [c for c in wanted if c not in available]
    if missing:
        raise DataError(f"{path}: no column(s) {missing}; the file has {list(available)}")


# --- parquet -----------------------------------------------------------------------------------


def _read_parquet(
    paths: list[Path], options: FormatOptions, on_bad_rows: OnBadRows, progress: ReadProgress
) -> RawData:
    import pyarrow.parquet as pq

    label, dense, sparse = _named_columns(options, "parquet")
    tables = []
    for path in paths:
        try:
            schema = pq.read_schema(path)
        except (pa.ArrowInvalid, OSError) as exc:
            raise DataError(f"{path}: not a readable Parquet file ({exc})") from exc
        _check_columns(path, schema.names, (label, *dense, *sparse))
        table = pq.read_table(path, columns=[label, *dense, *sparse])
        tables.append(_parquet_table(path, table, label, dense, sparse, on_bad_rows))
        progress.finished(path)
    return _combine(tables, label, dense, sparse, {})


def _parquet_table(
    path: Path, table: pa.Table, label: str, dense: tuple[str, ...], sparse: tuple[str, ...],
    on_bad_rows: OnBadRows,
) -> TextTable:  # fmt: skip
    ok = np.ones(table.num_rows, dtype=bool)
    numeric: dict[str, np.ndarray] = {}
    for name in (label, *dense):
        values, valid = _as_float(table.column(name))
        bad = np.flatnonzero(~valid)
        if name == label:
            label_ok = valid & ((values == 0) | (values == 1))
            bad = np.flatnonzero(~label_ok)
            valid = label_ok
        if bad.size and on_bad_rows == "error":
            shown = table.column(name)[int(bad[0])].as_py()
            what = "a click label (0 or 1)" if name == label else "a number"
            raise DataError(
                f"{path}, row {bad[0] + 1}, column {name}: expected {what}, got {shown!r}"
                f" ({bad.size} bad row(s); pass --on-bad-rows skip to drop them)"
            )
        ok &= valid
        numeric[name] = values
    mask = pa.array(ok)
    dense_arr = np.stack([numeric[n][ok] for n in dense], axis=1) if dense else np.zeros((int(ok.sum()), 0))
    cats = {}
    for name in sparse:
        col = table.column(name).filter(mask)
        if not pa.types.is_dictionary(col.type):
            col = pc.cast(col, pa.string()) if col.type != pa.string() else col
        cats[name] = _as_chunked(col)
    return TextTable(
        labels=(numeric[label][ok] > 0).astype(np.uint8), dense=dense_arr, sparse=cats,
        skipped=int((~ok).sum()),
    )  # fmt: skip


def _as_chunked(col: pa.ChunkedArray | pa.Array) -> pa.ChunkedArray:
    return col if isinstance(col, pa.ChunkedArray) else pa.chunked_array([col])


def _as_float(column: pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray]:
    """Values as float64 (NaN where null) and which of them are valid numbers (null counts as valid)."""
    if (
        pa.types.is_boolean(column.type)
        or pa.types.is_integer(column.type)
        or pa.types.is_floating(column.type)
    ):
        values = pc.cast(column, pa.float64()).to_numpy()
        return values, np.ones(len(values), dtype=bool)
    text = pc.cast(column, pa.string())
    from nasrec.data.readers import _NUMBER

    valid = pc.fill_null(pc.match_substring_regex(text, _NUMBER), True).to_numpy()
    safe = pc.if_else(pa.array(valid), text, pa.scalar(None, pa.string()))
    return pc.cast(safe, pa.float64()).to_numpy(), valid


# --- registry ----------------------------------------------------------------------------------


def _read_libfm(
    paths: list[Path], options: FormatOptions, on_bad_rows: OnBadRows, progress: ReadProgress
) -> RawData:
    from nasrec.data.libfm import read_libfm

    return read_libfm(paths, options, on_bad_rows, progress)


FORMATS: dict[str, Callable[[list[Path], FormatOptions, OnBadRows, ReadProgress], RawData]] = {
    "criteo": _read_criteo,
    "criteo-csv": _read_criteo_csv,
    "avazu": _read_avazu,
    "kdd12": _read_kdd12,
    "libfm": _read_libfm,
    "csv": _read_csv,
    "parquet": _read_parquet,
}
