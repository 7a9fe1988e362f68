"""Reading delimited text files into Arrow columns, fast when the file is clean and exact when not.

The fast path is pyarrow's multithreaded CSV reader with typed columns. If it rejects the file
(wrong field count, a non-numeric dense value) or a label is not a click label, the file is read
again by the *careful* path: the file is memory-mapped and split into lines and fields with vectorised
Arrow kernels, which knows the physical line of every row. It names the first bad file / line /
column, or drops the bad rows when asked to skip them. Neither path runs Python per row. (The careful
path splits lines on the delimiter and does not interpret quotes; in a quoted generic CSV, a bad row
with an embedded delimiter is reported by its field count.)
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from nasrec.console import StepProgress
from nasrec.errors import DataError

__all__ = ["BadRows", "ReadProgress", "TextLayout", "TextTable", "read_text"]

LabelRule = Literal["binary", "count"]
OnBadRows = Literal["error", "skip"]

_NUMBER = r"^\s*[+-]?((\d+\.?\d*)|(\.\d+))([eE][+-]?\d+)?\s*$|^\s*[+-]?(?i:nan|inf|infinity)\s*$"
_BLOCK_SIZE = 4 << 20
_CATEGORICAL = pa.dictionary(pa.int32(), pa.string())


@dataclass(frozen=True)
class TextLayout:
    """How one delimited file is laid out.

    columns: every column in file order (names from the header or from the format)
    label_rule: ``binary`` = the label must be 0 or 1; ``count`` = a non-negative integer, click = count > 0
    quoted: whether fields may be quoted (generic CSV); raw CTR dumps never quote
    """

    delimiter: str
    columns: tuple[str, ...]
    header: bool
    label: str
    dense: tuple[str, ...]
    sparse: tuple[str, ...]
    label_rule: LabelRule = "binary"
    quoted: bool = False


@dataclass(frozen=True)
class TextTable:
    """The rows read from one file.

    labels: N uint8 (0 / 1)
    dense:  N x D float32 raw values, NaN where missing
    sparse: one categorical column (dictionary<int32, string>, null = missing) per sparse feature
    skipped: bad rows dropped (``on_bad_rows="skip"``)
    """

    labels: np.ndarray
    dense: np.ndarray
    sparse: dict[str, pa.ChunkedArray]
    skipped: int


@dataclass(frozen=True)
class BadRows:
    """The bad rows of a file: physical line numbers (1-based), column names and reasons."""

    lines: np.ndarray
    columns: list[str]
    reasons: list[str]

    def __len__(self) -> int:
        return len(self.lines)


class ReadProgress:
    """Bytes read of the input files, reported as ``progress(done, total, {"stage": "read"})``.

    The unit is bytes because the files' sizes are known before reading starts, so the time remaining
    is real. Files are read one after the other: :meth:`reading` gives the callback for the bytes read
    so far of the next file, :meth:`finished` counts the whole file. ``done`` never decreases (a file
    read again by the careful path does not move the bar back). Without ``progress`` it does nothing.
    """

    def __init__(self, paths: Sequence[Path], progress: StepProgress | None) -> None:
        self._progress = progress
        self.total = sum(Path(p).stat().st_size for p in paths) if progress is not None else 0
        self._done = 0  # bytes of the files finished
        self._shown = -1

    def reading(self, path: Path) -> Callable[[int], None] | None:
        """The callback of ``path``'s bytes read so far (None without ``progress``)."""
        if self._progress is None:
            return None
        base, size = self._done, Path(path).stat().st_size
        return lambda read: self._report(base + min(read, size))

    def finished(self, path: Path) -> None:
        """``path`` has been read in full."""
        if self._progress is not None:
            self._done += Path(path).stat().st_size
            self._report(self._done)

    def _report(self, done: int) -> None:
        if done > self._shown:
            self._shown = done
            assert self._progress is not None
            self._progress(done, self.total, {"stage": "read"})


def read_text(
    path: Path,
    layout: TextLayout,
    *,
    on_bad_rows: OnBadRows = "error",
    on_read: Callable[[int], None] | None = None,
) -> TextTable:
    """Read one delimited file; bad rows raise a :class:`DataError` naming file, line and column.

    ``on_read(bytes)``: called with the bytes of the file read so far, once per block (4 MiB).
    """
    try:
        table = _read_fast(path, layout, on_read)
        labels = _labels_or_none(table.column(layout.label), layout.label_rule)
        if labels is not None:
            return _to_text_table(table, layout, labels, skipped=0)
    except pa.ArrowInvalid:
        pass
    return _read_careful(path, layout, on_bad_rows)


class _CountingFile(io.RawIOBase):
    """A binary file that reports the bytes read so far after every read (pyarrow reads by blocks)."""

    def __init__(self, path: Path, on_read: Callable[[int], None]) -> None:
        self._file = path.open("rb")
        self._on_read = on_read
        self._read = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[no-untyped-def, override]
        n = self._file.readinto(buffer)
        self._read += n
        self._on_read(self._read)
        return n

    def close(self) -> None:
        self._file.close()
        super().close()


def _read_fast(path: Path, layout: TextLayout, on_read: Callable[[int], None] | None = None) -> pa.Table:
    if on_read is None:
        return _read_csv(path, layout)
    try:  # a compressed file is counted by its compressed bytes, which are what its size says
        codec: str | None = pa.Codec.detect(str(path)).name
    except (TypeError, ValueError):
        codec = None
    with _CountingFile(path, on_read) as raw:
        return _read_csv(pa.input_stream(raw, compression=codec) if codec else raw, layout)


def _read_csv(source: Path | pa.NativeFile | io.RawIOBase, layout: TextLayout) -> pa.Table:
    wanted = {layout.label, *layout.dense, *layout.sparse}
    types: dict[str, pa.DataType] = {layout.label: pa.float64()}
    types.update({c: pa.float32() for c in layout.dense})
    types.update({c: _CATEGORICAL for c in layout.sparse})
    return pacsv.read_csv(
        source,
        read_options=pacsv.ReadOptions(
            column_names=list(layout.columns), skip_rows=int(layout.header), block_size=_BLOCK_SIZE
        ),
        parse_options=pacsv.ParseOptions(
            delimiter=layout.delimiter, quote_char='"' if layout.quoted else False
        ),
        convert_options=pacsv.ConvertOptions(
            column_types=types,
            include_columns=[c for c in layout.columns if c in wanted],
            strings_can_be_null=True,
            quoted_strings_can_be_null=False,
        ),
    )


def _labels_or_none(column: pa.ChunkedArray, rule: LabelRule) -> np.ndarray | None:
    """The 0/1 labels, or None if any label is missing or not a click label."""
    if column.null_count:
        return None
    values = column.to_numpy()
    ok = (values == 0) | (values == 1) if rule == "binary" else (values >= 0) & (values == np.floor(values))
    if not ok.all():
        return None
    return (values > 0).astype(np.uint8)


def _to_text_table(table: pa.Table, layout: TextLayout, labels: np.ndarray, skipped: int) -> TextTable:
    dense = np.empty((table.num_rows, len(layout.dense)), dtype=np.float32)
    for j, name in enumerate(layout.dense):
        dense[:, j] = table.column(name).to_numpy()  # nulls become NaN
    sparse = {name: _as_categorical(table.column(name)) for name in layout.sparse}
    return TextTable(labels=labels, dense=dense, sparse=sparse, skipped=skipped)


def _as_categorical(column: pa.ChunkedArray) -> pa.ChunkedArray:
    if pa.types.is_dictionary(column.type):
        return column
    return pc.dictionary_encode(column)


# --- careful path ------------------------------------------------------------------------------


def file_lines(path: Path) -> pa.LargeStringArray:
    """Every physical line of a file (without its line break), zero-copy over a memory map."""
    buf = pa.memory_map(str(path)).read_buffer()
    data = np.frombuffer(buf, dtype=np.uint8)
    ends = np.flatnonzero(data == 10) + 1
    if len(data) and data[-1] != 10:
        ends = np.append(ends, len(data))
    offsets = np.concatenate([[0], ends]).astype(np.int64)
    raw = pa.LargeStringArray.from_buffers(len(offsets) - 1, pa.py_buffer(offsets), buf)
    try:
        raw.validate(full=True)
    except pa.ArrowInvalid as exc:
        raise DataError(f"{path}: not valid UTF-8 text ({exc}); re-encode the file as UTF-8") from exc
    return pc.utf8_rtrim(raw, characters="\r\n")


def _read_careful(path: Path, layout: TextLayout, on_bad_rows: OnBadRows) -> TextTable:
    lines = file_lines(path)
    line_no = np.arange(1, len(lines) + 1)
    keep = pc.not_equal(pc.utf8_length(lines), 0).to_numpy(zero_copy_only=False)
    if layout.header:
        first = int(np.argmax(keep)) if keep.any() else 0
        keep[: first + 1] = False
    lines, line_no = lines.filter(pa.array(keep)), line_no[keep]
    fields = pc.split_pattern(lines, layout.delimiter)
    ncols = len(layout.columns)
    counts = pc.list_value_length(fields).to_numpy()
    bad_lines: list[np.ndarray] = []
    bad_cols: list[str] = []
    bad_reasons: list[str] = []
    wrong = np.flatnonzero(counts != ncols)
    if wrong.size:
        bad_lines.append(line_no[wrong])
        bad_cols += ["(row)"] * wrong.size
        bad_reasons += [f"expected {ncols} fields, got {counts[i]}" for i in wrong[:10]]
        bad_reasons += [""] * (wrong.size - min(wrong.size, 10))
    good = counts == ncols
    flat = pc.list_flatten(fields.filter(pa.array(good)))
    line_no = line_no[good]
    n = len(line_no)

    def column(name: str) -> pa.Array:
        j = layout.columns.index(name)
        col = flat.take(pa.array(np.arange(j, n * ncols, ncols)))
        return pc.if_else(pc.equal(col, ""), pa.scalar(None, col.type), col)

    row_ok = np.ones(n, dtype=bool)
    label_col = column(layout.label)
    label_ok = _label_text_ok(label_col, layout.label_rule)
    dense_cols: dict[str, pa.Array] = {}
    checks = [
        (
            layout.label,
            label_ok,
            "a click label (0 or 1)"
            if layout.label_rule == "binary"
            else "a non-negative integer click count",
        )
    ]
    for name in layout.dense:
        col = column(name)
        dense_cols[name] = col
        numeric = pc.match_substring_regex(pc.fill_null(col, "0"), _NUMBER).to_numpy(zero_copy_only=False)
        checks.append((name, numeric, "a number"))
    for name, ok, what in checks:
        bad = np.flatnonzero(~ok & row_ok)
        if bad.size:
            values = column(name).take(pa.array(bad[:10])).to_pylist()
            bad_lines.append(line_no[bad])
            bad_cols += [name] * bad.size
            bad_reasons += [f"expected {what}, got {v!r}" for v in values]
            bad_reasons += [""] * (bad.size - len(values))
            row_ok &= ok
    if bad_lines:
        report = _bad_rows(bad_lines, bad_cols, bad_reasons)
        if on_bad_rows == "error":
            i = int(np.argmin(report.lines))
            raise DataError(
                f"{path}, line {report.lines[i]}, column {report.columns[i]}:"
                f" {report.reasons[i] or 'bad value'}"
                f" ({len(report)} bad row(s) in this file; pass --on-bad-rows skip to drop them)"
            )
    mask = pa.array(row_ok)
    table = pa.table(
        {
            layout.label: pc.cast(pc.utf8_trim_whitespace(label_col.filter(mask)), pa.float64()),
            **{
                name: pc.cast(pc.utf8_trim_whitespace(col.filter(mask)), pa.float32())
                for name, col in dense_cols.items()
            },
            **{name: column(name).filter(mask) for name in layout.sparse},
        }
    )
    labels = _labels_or_none(table.column(layout.label), layout.label_rule)
    assert labels is not None  # every bad label was filtered above
    return _to_text_table(table, layout, labels, skipped=int(wrong.size + (~row_ok).sum()))


def _label_text_ok(col: pa.Array, rule: LabelRule) -> np.ndarray:
    pattern = r"^\s*[+]?[01](\.0*)?\s*$" if rule == "binary" else r"^\s*[+]?\d+(\.0*)?\s*$"
    return pc.fill_null(pc.match_substring_regex(col, pattern), False).to_numpy(zero_copy_only=False)


def _bad_rows(lines: list[np.ndarray], columns: list[str], reasons: list[str]) -> BadRows:
    return BadRows(lines=np.concatenate(lines), columns=columns, reasons=reasons)
