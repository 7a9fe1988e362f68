"""libFM files: ``label idx:val idx:val ...`` with one-hot categorical fields.

The label is 1 / -1 or 1 / 0. Each ``idx`` is a global feature index; the field a token belongs to is
either given (``field_starts``: the first global index of each field) or recovered from index ranges:
when every row has the same number of tokens and the k-th token of every row falls in a range of
indices disjoint from (and below) the (k+1)-th's, the k-th token is field k. The vocabulary value of a
field is the global index as text. Values must be 1 (one-hot); other values are rejected.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from nasrec.data.formats import FormatOptions, RawData
from nasrec.data.readers import OnBadRows, ReadProgress, file_lines
from nasrec.errors import ConfigError, DataError

__all__ = ["read_libfm"]

_TOKEN = r"^(?P<idx>\d+):(?P<val>[^:]+)$"


class _Parsed:
    """Tokens of one file: row of each token, its position in the row, global index; per-row label."""

    def __init__(self, path: Path, on_bad_rows: OnBadRows) -> None:
        lines = pc.utf8_trim_whitespace(file_lines(path))
        keep = pc.not_equal(pc.utf8_length(lines), 0).to_numpy(zero_copy_only=False)
        self.path = path
        self.line_no = np.flatnonzero(keep) + 1
        tokens = pc.utf8_split_whitespace(lines.filter(pa.array(keep)))
        label_text = pc.list_element(tokens, 0)
        label_ok = pc.match_substring_regex(label_text, r"^[+-]?[01](\.0*)?$").to_numpy(zero_copy_only=False)
        label_val = pc.cast(pc.if_else(pa.array(label_ok), label_text, "0"), pa.float64()).to_numpy()
        features = pc.list_slice(tokens, 1)
        flat = pc.list_flatten(features)
        self.token_row = pc.list_parent_indices(features).to_numpy()
        starts = np.concatenate([[0], np.cumsum(pc.list_value_length(features).to_numpy())])
        self.token_pos = np.arange(len(flat)) - starts[self.token_row]
        parts = pc.extract_regex(flat, _TOKEN)
        token_ok = pc.is_valid(parts).to_numpy(zero_copy_only=False)
        idx_text = pc.if_else(pa.array(token_ok), pc.struct_field(parts, "idx"), "0")
        val_text = pc.if_else(pa.array(token_ok), pc.struct_field(parts, "val"), "1")
        val_ok = pc.match_substring_regex(val_text, r"^[+]?1(\.0*)?$").to_numpy(zero_copy_only=False)
        self.token_idx = pc.cast(idx_text, pa.int64()).to_numpy()
        self.labels = (label_val > 0).astype(np.uint8)
        self.num_rows = len(self.labels)
        self.row_ok = label_ok.copy()
        self.bad: list[tuple[int, str, str]] = []
        for i in np.flatnonzero(~label_ok)[:1]:
            self.bad.append(
                (int(self.line_no[i]), "label", f"expected 1, -1 or 0, got {label_text[int(i)].as_py()!r}")
            )
        tok_bad = np.flatnonzero(~token_ok | ~val_ok)
        if tok_bad.size:
            t = int(tok_bad[0])
            text = flat[t].as_py()
            why = "expected idx:val" if not token_ok[t] else "expected value 1 (one-hot)"
            self.bad.append(
                (
                    int(self.line_no[self.token_row[t]]),
                    f"token {self.token_pos[t] + 1}",
                    f"{why}, got {text!r}",
                )
            )
            self.row_ok[self.token_row[tok_bad]] = False
        self.on_bad_rows = on_bad_rows

    def fail_or_count(self) -> int:
        """Raise on the first bad row in error mode; else the number of bad rows dropped."""
        bad_rows = int((~self.row_ok).sum())
        if bad_rows and self.on_bad_rows == "error":
            line, column, why = min(self.bad)
            raise DataError(
                f"{self.path}, line {line}, column {column}: {why}"
                f" ({bad_rows} bad row(s) in this file; pass --on-bad-rows skip to drop them)"
            )
        return bad_rows


def read_libfm(
    paths: list[Path], options: FormatOptions, on_bad_rows: OnBadRows, progress: ReadProgress | None = None
) -> RawData:
    parsed = []
    for path in paths:  # each file is memory-mapped and split at once: progress counts whole files
        parsed.append(_Parsed(path, on_bad_rows))
        if progress is not None:
            progress.finished(path)
    for p in parsed:
        p.fail_or_count()  # label and token errors first
    starts = (
        np.asarray(options.field_starts, dtype=np.int64) if options.field_starts else _recover_starts(parsed)
    )
    if np.any(np.diff(starts) <= 0):
        raise ConfigError(f"field starts must be strictly increasing, got {starts.tolist()}")
    num_fields = len(starts)
    names = tuple(options.fields) if options.fields else tuple(f"f{j}" for j in range(num_fields))
    if len(names) != num_fields:
        raise ConfigError(f"{len(names)} field names given for {num_fields} fields: {list(names)}")
    matrices, labels, file_rows = [], [], []
    for p in parsed:
        field = np.searchsorted(starts, p.token_idx, side="right") - 1
        below = field < 0
        if below.any():
            t = int(np.flatnonzero(below)[0])
            p.bad.append(
                (
                    int(p.line_no[p.token_row[t]]),
                    f"token {p.token_pos[t] + 1}",
                    f"index {p.token_idx[t]} is below the first field start {starts[0]}",
                )
            )
            p.row_ok[p.token_row[below]] = False
        field = np.maximum(field, 0)
        matrix = np.full((p.num_rows, num_fields), -1, dtype=np.int64)
        key = p.token_row * num_fields + field
        uniq, first = np.unique(key, return_index=True)
        if len(uniq) != len(key):
            dup = np.setdiff1d(np.arange(len(key)), first)
            t = int(dup[0])
            p.bad.append(
                (
                    int(p.line_no[p.token_row[t]]),
                    f"token {p.token_pos[t] + 1}",
                    f"a second token for field {names[field[t]]!r} (multi-hot fields are not supported)",
                )
            )
            p.row_ok[p.token_row[dup]] = False
        matrix[p.token_row, field] = p.token_idx
        p.fail_or_count()  # field errors
        ok = p.row_ok
        matrices.append(matrix[ok])
        labels.append(p.labels[ok])
        file_rows.append(int(ok.sum()))
    skipped = sum(int((~p.row_ok).sum()) for p in parsed)
    matrix = np.concatenate(matrices)
    sparse = []
    for j in range(num_fields):
        col = matrix[:, j]
        present = col >= 0
        uniq, inverse = np.unique(col[present], return_inverse=True)
        codes = np.full(len(col), -1, dtype=np.int32)
        codes[present] = inverse
        sparse.append((codes, pc.cast(pa.array(uniq), pa.string())))
    return RawData(
        label="label", dense_names=(), sparse_names=names, labels=np.concatenate(labels),
        dense=np.zeros((len(matrix), 0)), sparse=sparse, file_rows=tuple(file_rows), skipped=skipped,
        extra={"libfm_field_starts": starts.tolist()},
    )  # fmt: skip


def _recover_starts(parsed: list[_Parsed]) -> np.ndarray:
    """First global index of each field, from the per-position index ranges (see module docstring)."""
    counts = np.concatenate(
        [np.bincount(p.token_row[p.row_ok[p.token_row]], minlength=p.num_rows)[p.row_ok] for p in parsed]
    )
    if counts.size == 0:
        raise DataError("no rows to read in the libFM input")
    if counts.min() != counts.max():
        raise ConfigError(
            f"libFM rows have between {counts.min()} and {counts.max()} tokens, so fields cannot be recovered"
            " from token positions; pass the fields' first indices with --field-starts"
        )
    width = int(counts[0])
    lo = np.full(width, np.iinfo(np.int64).max)
    hi = np.full(width, -1)
    for p in parsed:
        ok = p.row_ok[p.token_row]
        np.minimum.at(lo, p.token_pos[ok], p.token_idx[ok])
        np.maximum.at(hi, p.token_pos[ok], p.token_idx[ok])
    if np.any(hi[:-1] >= lo[1:]):
        j = int(np.flatnonzero(hi[:-1] >= lo[1:])[0])
        raise ConfigError(
            f"libFM token positions {j + 1} and {j + 2} share index ranges ([{lo[j]}, {hi[j]}] vs"
            f" [{lo[j + 1]}, {hi[j + 1]}]), so fields cannot be recovered; pass --field-starts"
        )
    return lo
