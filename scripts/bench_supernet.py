"""Benchmark: supernet training throughput (Full and Small spaces, both embedding backends) and SubNet
training / inference throughput for the two imported Criteo configs.

Setting (the reference's, NASREC_REFERENCE.md section 7.2): Criteo-shaped synthetic data (13 dense
features, 26 tables of 500,000 rows, E = 16), batch 512, LayerNorm on, single-op-any-connection
sampling (after warm-up), dense Adagrad, row-wise Adagrad embeddings (fbgemm fused / torch sparse),
gradient clipping at 5, 2 threads. One training step = sample a path, forward, BCE-with-logits,
backward, clip, dense Adagrad step, embedding update, LR schedules: the training loop's own step
(``nasrec.train.loop.train_step`` with its ``Optimizers``), so this times what training runs.

The reference implementation trains its Full supernet at about 440 examples/s (1.16 s/step) and its
Small supernet at about 1,030 examples/s (0.50 s/step) on this machine kind with these settings; the
ratios printed are against those figures.

Sampled paths differ in cost by up to 4x, so a short timed window measures its particular paths more
than the implementation: 200 steps keep that spread to a few percent.

    .venv/bin/python scripts/bench_supernet.py [--steps 200] [--rows 500000] [--backends fbgemm,torch]
"""

from __future__ import annotations

import argparse
import gc
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from nasrec.cost.latency import measure_latency
from nasrec.data.schema import Batch, DatasetSchema
from nasrec.nets import PathSampler, SuperNet, onednn_linear
from nasrec.nets.subnet import SubNet
from nasrec.space import Architecture, load_space
from nasrec.space.model_config import ModelConfig
from nasrec.train import TrainConfig
from nasrec.train.loop import TrainTask, train_step

REFERENCE_EXAMPLES_PER_S = {"nasrec_full": 440.0, "nasrec_small": 1030.0}
CONFIGS = Path(__file__).resolve().parents[1].parent / "shared" / "reference" / "nasrec_configs"
BATCH = 512
WARMUP_STEPS = 5


def criteo_batches(rows: int, count: int, seed: int = 0) -> list[Batch]:
    """Random Criteo-shaped batches: dense log-counts, uniform indices per table, Bernoulli(0.25) labels."""
    rng = np.random.default_rng(seed)
    return [
        Batch.from_numpy(
            np.log1p(rng.exponential(10.0, (BATCH, 13))).astype(np.float32),
            rng.integers(0, rows, (BATCH, 26)),
            (rng.random(BATCH) < 0.25).astype(np.float32),
        )
        for _ in range(count)
    ]


class Trainer:
    """The training loop's step for a SuperNet (with a path sampler) or a SubNet, over ``total`` steps:
    ``train_step`` with the ``Optimizers`` of a run at lr 0.01 (dense and embeddings), clipping at 5."""

    def __init__(self, model: torch.nn.Module, sampler: PathSampler | None, total: int) -> None:
        def forward(m: torch.nn.Module, batch: Batch, step: int, rng: np.random.Generator) -> torch.Tensor:
            return m(batch) if sampler is None else m(batch, sampler.sample(rng, step))

        self.task = TrainTask(model, forward, validate=None, metadata={})
        config = TrainConfig(lr=0.01, grad_clip=5.0, optimizer="adagrad")
        self.optimizers = self.task.optimizers(config, total)
        self.rng = np.random.default_rng(0)

    def step(self, batch: Batch, t: int) -> float:
        return train_step(self.task, self.optimizers, batch, t, self.rng)


def timed(step: Callable[[int], object], steps: int) -> tuple[float, float]:
    """(median, mean) seconds per step over ``steps`` steps after a warm-up."""
    for t in range(WARMUP_STEPS):
        step(t)
    times = []
    for t in range(WARMUP_STEPS, WARMUP_STEPS + steps):
        start = time.perf_counter()
        step(t)
        times.append(time.perf_counter() - start)
    return statistics.median(times), statistics.fmean(times)


def bench_supernets(schema: DatasetSchema, batches: list[Batch], steps: int, backends: list[str]) -> None:
    print(f"\n== SuperNet training (batch {BATCH}, LayerNorm on, single-op-any-connection after warm-up)")
    print(
        f"{'space':14s} {'backend':8s} {'s/step':>8s} {'ex/s':>8s} {'mean ex/s':>10s} {'vs reference':>13s}"
    )
    for space_name in ("nasrec_full", "nasrec_small"):
        space = load_space(space_name)
        for backend in backends:
            torch.manual_seed(0)
            model = SuperNet(schema, space, embedding_backend=backend, embedding_lr=0.01)
            # warm-up: the first WARMUP_STEPS steps are full-path, then single-op-any-connection
            trainer = Trainer(model, PathSampler(space, warmup_steps=WARMUP_STEPS), WARMUP_STEPS + steps)
            median, mean = timed(lambda t, tr=trainer: tr.step(batches[t % len(batches)], t), steps)
            ratio = BATCH / median / REFERENCE_EXAMPLES_PER_S[space_name]
            print(
                f"{space_name:14s} {backend:8s} {median:8.3f} {BATCH / median:8.0f} {BATCH / mean:10.0f} "
                f"{ratio:12.1f}x"
            )
            del model, trainer
            gc.collect()


def bench_subnets(schema: DatasetSchema, batches: list[Batch], steps: int) -> None:
    print(f"\n== SubNet (imported Criteo configs, batch {BATCH}, LayerNorm on, fbgemm embeddings)")
    header = ("config", "blocks", "train ex/s", "infer ex/s", "latency b1", "b512")
    print("{:9s} {:>6s} {:>11s} {:>11s} {:>11s} {:>9s}".format(*header))
    for name in ("autoctr", "xlarge"):
        path = CONFIGS / f"ea_criteo_kaggle_{name}_best_1shot.json"
        if not path.is_file():
            print(f"{name}: reference config not found at {path}")
            continue
        arch = Architecture.from_nasrec_json(path.read_text())
        torch.manual_seed(0)
        model = SubNet(arch, schema, ModelConfig(), embedding_backend="fbgemm")
        trainer = Trainer(model, None, WARMUP_STEPS + steps)
        train_median, _ = timed(lambda t, tr=trainer: tr.step(batches[t % len(batches)], t), steps)
        # inference: the one latency measurement (nasrec.cost.latency), whose batch-512 figure is
        # also the inference throughput
        lat1 = measure_latency(model, 1, repeats=50, warmup=5)
        lat512 = measure_latency(model, BATCH, repeats=steps, warmup=WARMUP_STEPS)
        print(
            f"{name:9s} {len(model.blocks):6d} {BATCH / train_median:11.0f} {BATCH / lat512 * 1e3:11.0f} "
            f"{lat1:9.2f}ms {lat512:7.1f}ms"
        )
        del model, trainer
        gc.collect()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--steps", type=int, default=200, help="timed steps per configuration")
    parser.add_argument("--rows", type=int, default=500_000, help="rows per embedding table")
    parser.add_argument("--backends", default="fbgemm,torch", help="embedding backends, comma separated")
    parser.add_argument("--skip-subnets", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(2)
    schema = DatasetSchema.of_shape(13, [args.rows] * 26)
    batches = criteo_batches(args.rows, count=16)
    threads = torch.get_num_threads()
    matmul = (
        f"oneDNN from {onednn_linear.MIN_MACS:,} multiply-adds, MKL below"
        if onednn_linear.AVAILABLE
        else "MKL"
    )
    print(f"torch {torch.__version__}, {threads} threads, 26 tables x {args.rows:,} rows, E = 16")
    print(f"dense matmuls: {matmul} (nasrec.nets.onednn_linear; NASREC_ONEDNN=0 for MKL only)")
    bench_supernets(schema, batches, args.steps, args.backends.split(","))
    if not args.skip_subnets:
        bench_subnets(schema, batches, args.steps)


if __name__ == "__main__":
    main()
