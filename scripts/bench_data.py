"""Benchmark the data layer: ingest speed (vs. a plain csv-module pipeline) and loader throughput.

    .venv/bin/python scripts/bench_data.py [--rows 1000000] [--baseline-rows 200000]

Writes a synthetic raw Criteo TSV (label, I1..I13, C1..C26; Zipf ids over Criteo's table sizes scaled by
``** --cardinality-exponent``, empty cells like Criteo's) into a temp dir and prints:
  * ingest rows/s of ``nasrec data ingest criteo`` (the library call, and the whole CLI process);
  * rows/s of a plain Python ``csv``-module pipeline doing the same work on the same file (parse, label
    check, log1p(max(x, 0)) with missing -> 0, frequency vocabularies, index mapping, 8:1:1 split, .npy
    files), measured on the first --baseline-rows rows, and the ratio;
  * BatchLoader batches/s and rows/s at batch 512 over the train split (shuffled; and sequential).
Targets on a 2-core machine: ingest >= 300k rows/s and >= 10x the csv baseline; loader >= 2M rows/s.
CPU seconds are printed next to wall times, since on a shared machine wall time depends on the load
(printed first).
"""

from __future__ import annotations

import argparse
import csv
import math
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np


def csv_module_baseline(path: Path, limit: int, out: Path) -> int:
    """The per-row Python way (as in the NASRec reference pipes), doing the same transforms."""
    labels: list[int] = []
    dense: list[list[float]] = []
    cats: list[list[str]] = [[] for _ in range(26)]
    with path.open(newline="") as fh:
        for i, row in enumerate(csv.reader(fh, delimiter="\t")):
            if i >= limit:
                break
            if len(row) != 40:
                raise ValueError(f"line {i + 1}: expected 40 fields, got {len(row)}")
            label = int(row[0])
            if label not in (0, 1):
                raise ValueError(f"line {i + 1}: bad label {row[0]!r}")
            labels.append(label)
            dense.append([math.log1p(max(float(v), 0.0)) if v else 0.0 for v in row[1:14]])
            for j, v in enumerate(row[14:]):
                cats[j].append(v)
    n = len(labels)
    order = np.random.default_rng(2018).permutation(n)
    train = set(order[: int(0.8 * n)].tolist())
    columns = []
    for values in cats:
        counts = Counter(v for i, v in enumerate(values) if v and i in train)
        ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
        vocab = {v: k + 1 for k, (v, _) in enumerate(ranked)}
        columns.append([vocab.get(v, 0) for v in values])
    np.save(out / "label.npy", np.asarray(labels, dtype=np.float32)[order])
    np.save(out / "dense.npy", np.asarray(dense, dtype=np.float32)[order])
    np.save(out / "sparse.npy", np.asarray(columns, dtype=np.int32).T[order])
    return n


def bench_loader(split, batch_size: int, shuffle: bool) -> tuple[float, float]:
    import torch  # imported before the clock starts

    from nasrec.data import BatchLoader

    torch.zeros(1)
    loader = BatchLoader(split, batch_size, seed=0, shuffle=shuffle)
    start = time.perf_counter()
    batches = rows = 0
    for batch in loader:
        batches += 1
        rows += len(batch)
    seconds = time.perf_counter() - start
    return batches / seconds, rows / seconds


def line(label: str, seconds: float, rows: int, cpu: float | None = None, note: str = "") -> None:
    """One result: wall time, rows/s, and (if given) CPU seconds, which the machine's load affects less."""
    text = f"{label:<28} {seconds:6.2f} s  {rows / seconds:12,.0f} rows/s"
    if cpu is not None:
        text += f"  [{cpu:5.2f} CPU-s, {rows / cpu:10,.0f} rows/CPU-s]"
    print(text + (f"  {note}" if note else ""))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--baseline-rows", type=int, default=200_000)
    parser.add_argument("--batch-size", type=int, default=512)
    parser.add_argument(
        "--cardinality-exponent", type=float, default=0.75,
        help="table sizes are Criteo's ** this (0.75: up to ~180k distinct values per column)",
    )  # fmt: skip
    args = parser.parse_args()

    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    with tempfile.TemporaryDirectory(prefix="nasrec-bench-data-") as tmp:
        tmpdir = Path(tmp)
        os.environ["NASREC_HOME"] = str(tmpdir / "home")
        from nasrec.data import Dataset, ingest
        from nasrec.data.synth import write_criteo_tsv
        from nasrec.data.teachers import FMConfig

        raw = tmpdir / "criteo.tsv"
        start = time.perf_counter()
        write_criteo_tsv(
            raw, rows=args.rows, seed=0, config=FMConfig(cardinality_exponent=args.cardinality_exponent)
        )
        size = raw.stat().st_size / 1e6
        print(f"wrote {args.rows:,} raw Criteo rows ({size:.0f} MB) in {time.perf_counter() - start:.1f} s")
        raw.read_bytes()  # warm the page cache so neither contender pays for the first disk read

        start, cpu = time.perf_counter(), time.process_time()
        ds = ingest("criteo", [raw], name="bench")
        ingest_s, ingest_cpu = time.perf_counter() - start, time.process_time() - cpu
        line("ingest (library call)", ingest_s, args.rows, ingest_cpu, "target >= 300,000 rows/s")

        nasrec = Path(sys.executable).with_name("nasrec")
        start = time.perf_counter()
        subprocess.run(
            [str(nasrec), "data", "ingest", "criteo", str(raw), "--name", "bench-cli", "--json"],
            check=True, stdout=subprocess.DEVNULL, env=os.environ,
        )  # fmt: skip
        line("ingest (whole CLI process)", time.perf_counter() - start, args.rows)

        base_out = tmpdir / "baseline"
        base_out.mkdir()
        start, cpu = time.perf_counter(), time.process_time()
        n = csv_module_baseline(raw, min(args.baseline_rows, args.rows), base_out)
        base_s, base_cpu = time.perf_counter() - start, time.process_time() - cpu
        line("csv-module baseline", base_s, n, base_cpu, f"(first {n:,} rows)")
        wall_ratio = (args.rows / ingest_s) / (n / base_s)
        cpu_ratio = (args.rows / ingest_cpu) / (n / base_cpu)
        print(f"ingest / baseline {wall_ratio:6.1f} x wall, {cpu_ratio:.1f} x per CPU-s, target >= 10 x")

        train = Dataset.open("bench").split("train")
        for shuffle in (True, False):
            bps, rps = bench_loader(train, args.batch_size, shuffle)
            label = "shuffled" if shuffle else "sequential"
            note = "   target >= 2,000,000 rows/s" if shuffle else ""
            print(
                f"loader {label:<10} batch {args.batch_size} {bps:10,.0f} batches/s {rps:12,.0f} rows/s{note}"
            )
        print(f"dataset: {ds.info()['rows']}, {sum(ds.schema.table_rows):,} embedding rows")


if __name__ == "__main__":
    main()
