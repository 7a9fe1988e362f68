"""Benchmark: supernet training speed at the reference's search setting, against this machine's own
matmul peak; SubNet training and inference for the two imported Criteo configs.

Setting (the reference's, NASREC_REFERENCE.md sections 5.4 and 7.2): Criteo-shaped synthetic data (13
dense features, 26 tables, E = 16), batch 512, LayerNorm on, single-op-any-connection sampling after a
5-step full-path warm-up, dense Adagrad, row-wise Adagrad embeddings (fbgemm fused / torch sparse),
gradient clipping at 5, 2 threads (``--threads``). One training step is the training loop's own
(``nasrec.train.loop.train_step`` with its ``Optimizers``): sample a path, forward, BCE-with-logits,
backward, clip, dense Adagrad, embedding update, LR schedules. Tables (``--tables``, comma separated):

    capped        the reference's search setting (default): the Criteo Kaggle vocabularies
                  (``nasrec.data.teachers.CRITEO_CARDINALITIES``) capped at 500,000 rows, 3,069,317 rows
    uniform-500k  26 tables of 500,000 rows, 13,000,000 rows

Indices are uniform over each table (no popular head, so lookups rarely hit the cache).

Noise: the models are built once per table setting, then ``--repeats`` cycles each run every
configuration for ``--steps`` steps in turn, so a change of load hits all of them. Every cycle trains
the same paths (the sampler's Generator restarts at seed 0), so the spread over cycles is the machine's,
and the two backends train the same paths. Sampled paths differ widely in cost (training FLOPs per
example: 1-32 MFLOP from the 1st to the 99th percentile, coefficient of variation 0.6): a window's ex/s is
that of its paths (the default 200 are within about 5% of the space's mean cost), which the GFLOP/s and
MFU figures take into account. Before each cycle the 1-minute load average is printed: on a machine
shared with other work, libgomp's threads spin while waiting for each other and lose most of a step
(at load 6 on 2 cores, 2-thread SubNet steps ran 4-10x slower than with ``OMP_WAIT_POLICY=PASSIVE``).

Figures per configuration (median over cycles, min-max beside it):

    ex/s            examples per second of training
    ex/s/peak       ex/s per peak GFLOP/s, the figure that travels between machines
    GFLOP/s         analytic training FLOPs of the paths trained, over the wall time
    MFU             GFLOP/s / peak
    peak            this machine's best fp32 matmul in this run, at the same thread count: torch.mm
                    (MKL) and oneDNN (what nasrec's large linears use) on n x n matrices, 2 n^3 / t,
                    best of a few, before each cycle

FLOPs: a multiply-add is 2 FLOPs (as in the peak). Per example, the forward's multiply-adds are those
of the sampled architecture's matrix products (``nasrec.cost.op_costs``: live ops only; LayerNorm,
elementwise ops and embedding lookups are not counted), the backward is 2x the forward, so a training
example costs 3 x 2 x MACs.

Breakdown (ms per step, mean over the timed steps): ``perf_counter`` marks set by hooks on the loop's own
calls, each charging the time since the previous mark to a part (CPU ops run synchronously, so a mark
closes exactly the work before it; hooks and marks cost some tens of microseconds per step):

    sample+plan   the path draw, ``as_path``, ``check_path`` and liveness: up to the embedding lookup
    emb lookup    the Embeddings module's forward
    dense fwd     the rest of the forward
    backward      the loss and the backward pass down to the embedding output's gradient (autograd runs
                  the lookup's backward last, as the lookup comes first in the forward: no dense
                  parameter gets its gradient after that mark)
    dense opt     gradient norm, clipping and the fused dense Adagrad step
    emb update    the embeddings' backward and row-wise Adagrad: fbgemm fuses the update into its
                  backward; torch builds a sparse gradient there and steps ``RowWiseAdagrad`` after
    other         zero_grad, the fused update's lr, LR schedules, reading the loss

The SubNets (the reference's best Criteo architectures, fbgemm embeddings) train with the same step
(no path to sample) and are measured the same way; their inference is ``nasrec.cost.latency`` at batch
1 and 512 (whose latency gives the inference ex/s). ``--json`` prints, per configuration, ``setting``,
``examples_per_s``, ``peak_gflops``, ``achieved_gflops``, ``mfu``, ``breakdown_ms`` (means, adding up to
the mean step) and ``breakdown_ms_median``, with every cycle's figures; and the machine and the peak of
every cycle and library.

    .venv/bin/python scripts/bench_supernet.py [--tables capped,uniform-500k] [--steps 200]
        [--repeats 3] [--backends fbgemm,torch] [--threads 2] [--skip-subnets] [--bf16] [--json]

``--bf16`` trains with ``TrainConfig.bf16`` (bfloat16 autocast, float32 weights); the default is float32.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from nasrec.cost import op_costs
from nasrec.cost.latency import measure_latency
from nasrec.data.schema import Batch, DatasetSchema
from nasrec.data.teachers import CRITEO_CARDINALITIES
from nasrec.nets import PathSampler, SuperNet, SupernetPath, onednn_linear
from nasrec.nets.subnet import SubNet
from nasrec.space import Architecture, load_space
from nasrec.space.architecture import Block
from nasrec.space.model_config import ModelConfig
from nasrec.train import TrainConfig
from nasrec.train.loop import TrainTask, train_step

CONFIGS = Path(__file__).resolve().parents[1].parent / "shared" / "reference" / "nasrec_configs"
CAP = 500_000
TABLES = {
    "capped": tuple(min(rows, CAP) for rows in CRITEO_CARDINALITIES),
    "uniform-500k": (CAP,) * len(CRITEO_CARDINALITIES),
}
BATCH = 512
WARMUP_STEPS = 5
PEAK_N = 2048
PARTS = ("sample+plan", "emb lookup", "dense fwd", "backward", "dense opt", "emb update", "other")


# ---- the machine ------------------------------------------------------------------------------------------


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo (Linux), else what ``platform`` knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def cpu_features() -> list[str]:
    """The vector and matrix extensions that decide fp32 / bf16 matmul speed, as /proc/cpuinfo names them."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return []
    flags = next(
        (line.split(":", 1)[1].split() for line in text.splitlines() if line.startswith("flags")), []
    )
    return [f for f in ("avx2", "avx512f", "avx512_bf16", "amx_bf16") if f in flags]


def matmul_gflops(product: Callable[[torch.Tensor, torch.Tensor], object], n: int, repeats: int = 5) -> float:
    """Best rate of ``product`` on two n x n fp32 matrices over ``repeats`` calls after one, in GFLOP/s."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    product(a, b)
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        product(a, b)
        best = min(best, time.perf_counter() - start)
    return 2 * n**3 / best / 1e9


def onednn_mm(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """``a @ b.T`` through oneDNN, the call ``nasrec.nets.onednn_linear`` makes for large linears."""
    return torch.ops.mkldnn._linear_pointwise(a, b, None, "none", [], "")


def matmul_peak(n: int = PEAK_N) -> dict[str, float]:
    """GFLOP/s of each fp32 matmul library torch uses here (on AMD CPUs MKL takes an AVX2 path)."""
    rates = {"mkl": matmul_gflops(torch.mm, n)}
    if onednn_linear.AVAILABLE:
        rates["onednn"] = matmul_gflops(onednn_mm, n)
    return rates


# ---- data and FLOPs ---------------------------------------------------------------------------------------


def criteo_batches(table_rows: tuple[int, ...], count: int, seed: int = 0) -> list[Batch]:
    """Random Criteo-shaped batches: dense log-counts, uniform indices per table, Bernoulli(0.25) labels."""
    rng = np.random.default_rng(seed)
    rows = np.asarray(table_rows)
    return [
        Batch.from_numpy(
            np.log1p(rng.exponential(10.0, (BATCH, 13))).astype(np.float32),
            rng.integers(0, rows, (BATCH, len(rows))),
            (rng.random(BATCH) < 0.25).astype(np.float32),
        )
        for _ in range(count)
    ]


def training_flops(arch: Architecture, schema: DatasetSchema, model: ModelConfig) -> int:
    """Training FLOPs per example: (forward + backward at 2x) x 2 FLOPs per multiply-add x the forward's
    matrix-product multiply-adds."""
    return 3 * 2 * sum(c.macs for c in op_costs(arch, schema, model))


def architecture_of(path: SupernetPath) -> Architecture:
    """The Architecture a single-op path computes (``SupernetPath.from_architecture`` inverted)."""

    def one(values: tuple[Any, ...]) -> Any:
        if len(values) > 1:
            raise ValueError(f"not a single-op path: {values}")
        return values[0] if values else None

    return Architecture(
        tuple(
            None
            if bp is None
            else Block(
                dense_op=one(bp.dense_ops),
                sparse_op=one(bp.sparse_ops),
                dense_width=bp.dense_width,
                sparse_width=bp.sparse_width,
                dense_inputs=bp.dense_inputs or None,
                sparse_inputs=bp.sparse_inputs or None,
                left=one(bp.left),
                right=one(bp.right),
                dense_to_sparse=bp.dense_to_sparse,
                fm=bp.fm,
            )
            for bp in path.blocks
        )
    )


# ---- timing a training step by parts ----------------------------------------------------------------------


class StepClock:
    """Splits the wall time of a training step into ``PARTS``: ``mark(part)`` charges to ``part`` the
    time since the previous mark (or ``start``)."""

    def __init__(self) -> None:
        self.totals = dict.fromkeys(PARTS, 0.0)
        self._last = 0.0

    def start(self) -> None:
        self.totals = dict.fromkeys(PARTS, 0.0)
        self._last = time.perf_counter()

    def mark(self, part: str) -> None:
        now = time.perf_counter()
        self.totals[part] += now - self._last
        self._last = now

    def take(self) -> dict[str, float]:
        """The seconds charged to each part since ``start`` (which starts a new dict)."""
        return self.totals


def mark_after(obj: Any, name: str, clock: StepClock, part: str) -> None:
    """Make ``obj.name(...)`` mark ``part`` when it returns."""
    call = getattr(obj, name)

    @functools.wraps(call)  # keeps the marker LR schedulers put on optimizer.step
    def marked(*args: Any, **kwargs: Any) -> Any:
        out = call(*args, **kwargs)
        clock.mark(part)
        return out

    setattr(obj, name, marked)


def mark_embeddings(embeddings: torch.nn.Module, clock: StepClock) -> None:
    """Marks at the embedding lookup's start and end, and when the backward reaches its output."""

    def before(module: torch.nn.Module, args: Any) -> None:
        clock.mark("sample+plan")

    def after(module: torch.nn.Module, args: Any, output: torch.Tensor) -> None:
        clock.mark("emb lookup")
        if output.requires_grad:  # not under the latency measurement's inference mode
            output.register_hook(lambda grad: clock.mark("backward"))

    embeddings.register_forward_pre_hook(before)
    embeddings.register_forward_hook(after)


@dataclass
class Window:
    """Some timed steps: each step's seconds per part, and the training FLOPs done."""

    steps: list[dict[str, float]] = field(default_factory=list)
    flops: int = 0

    @property
    def seconds(self) -> float:
        return sum(sum(parts.values()) for parts in self.steps)

    @property
    def examples_per_s(self) -> float:
        return BATCH * len(self.steps) / self.seconds

    @property
    def gflops(self) -> float:
        return self.flops / self.seconds / 1e9


class Trainer:
    """The training loop's step for a SuperNet (with a path sampler) or a SubNet, timed by parts:
    ``train_step`` with the ``Optimizers`` of a ``total``-step run at lr 0.01 (dense and embeddings),
    clipping at 5. ``flops_of(path)``: training FLOPs per example of the step's path (None for a SubNet)."""

    def __init__(
        self,
        model: torch.nn.Module,
        sampler: PathSampler | None,
        total: int,
        flops_of: Callable[[SupernetPath | None], int],
        bf16: bool = False,
    ) -> None:
        self.clock = StepClock()
        self.bf16 = bf16
        self.flops_of = flops_of
        self.path: SupernetPath | None = None
        self.step_index = 0

        def forward(m: torch.nn.Module, batch: Batch, step: int, rng: np.random.Generator) -> torch.Tensor:
            self.clock.mark("other")  # zero_grad, the fused update's lr
            if sampler is None:
                logits = m(batch)
            else:
                self.path = sampler.sample(rng, step)
                logits = m(batch, self.path)
            self.clock.mark("dense fwd")
            return logits

        self.task = TrainTask(model, forward, validate=None, metadata={})
        config = TrainConfig(lr=0.01, grad_clip=5.0, optimizer="adagrad")
        self.optimizers = self.task.optimizers(config, total)
        mark_embeddings(model.embeddings, self.clock)
        # Optimizers.step: clip + dense step, then the torch embeddings' step, then the schedules
        mark_after(self.optimizers.dense, "step", self.clock, "dense opt")
        if self.optimizers.sparse is not None:
            mark_after(self.optimizers.sparse, "step", self.clock, "emb update")
        step_begin = self.optimizers.step

        def optimizers_step() -> None:
            self.clock.mark("emb update")  # the backward's last part: the embeddings' own
            step_begin()

        self.optimizers.step = optimizers_step  # type: ignore[method-assign]

    def warm_up(self, batches: list[Batch]) -> None:
        """The first ``WARMUP_STEPS`` steps (full-path with falling probability), untimed."""
        rng = np.random.default_rng(1)
        for _ in range(WARMUP_STEPS):
            self._step(batches, rng)

    def run(self, batches: list[Batch], steps: int, rng: np.random.Generator) -> Window:
        """``steps`` training steps drawing paths from ``rng``, timed; their FLOPs counted after."""
        window = Window()
        paths = []
        for _ in range(steps):
            self.clock.start()
            self._step(batches, rng)
            self.clock.mark("other")  # LR schedules, reading the loss
            window.steps.append(self.clock.take())
            paths.append(self.path)
        window.flops = BATCH * sum(self.flops_of(path) for path in paths)
        return window

    def _step(self, batches: list[Batch], rng: np.random.Generator) -> None:
        t = self.step_index
        train_step(self.task, self.optimizers, batches[t % len(batches)], t, rng, bf16=self.bf16)
        self.step_index += 1


# ---- the benchmark ----------------------------------------------------------------------------------------


@dataclass
class Config:
    """One benchmarked configuration and its timed windows (one per cycle)."""

    facts: dict[str, Any]
    trainer: Trainer
    windows: list[Window] = field(default_factory=list)


def supernet_configs(schema: DatasetSchema, backends: list[str], total: int, bf16: bool) -> list[Config]:
    configs = []
    for space_name in ("nasrec_full", "nasrec_small"):
        space = load_space(space_name)

        def flops_of(path: SupernetPath | None, space: Any = space) -> int:
            assert path is not None
            return training_flops(architecture_of(path), schema, space.model)

        for backend in backends:
            torch.manual_seed(0)
            model = SuperNet(schema, space, embedding_backend=backend, embedding_lr=0.01)
            trainer = Trainer(model, PathSampler(space, warmup_steps=WARMUP_STEPS), total, flops_of, bf16)
            facts = {"kind": "supernet", "name": space_name, "backend": backend}
            configs.append(Config(facts, trainer))
    return configs


def subnet_configs(schema: DatasetSchema, total: int, bf16: bool) -> list[Config]:
    configs = []
    for name in ("autoctr", "xlarge"):
        path = CONFIGS / f"ea_criteo_kaggle_{name}_best_1shot.json"
        if not path.is_file():
            print(f"{name}: reference config not found at {path}", file=sys.stderr)
            continue
        arch = Architecture.from_nasrec_json(path.read_text())
        torch.manual_seed(0)
        model = SubNet(arch, schema, ModelConfig(), embedding_backend="fbgemm")
        flops = training_flops(arch, schema, ModelConfig())
        trainer = Trainer(model, None, total, lambda _path, flops=flops: flops, bf16=bf16)
        facts = {"kind": "subnet", "name": name, "backend": "fbgemm", "blocks": len(model.blocks)}
        configs.append(Config(facts, trainer))
    return configs


def run_cycles(configs: list[Config], batches: list[Batch], steps: int, repeats: int) -> list[dict[str, Any]]:
    """Warm every configuration up, then ``repeats`` cycles of ``steps`` steps each in turn. Before each
    cycle, the machine's load (other processes share its cores) and its matmul peak, which are returned."""
    for config in configs:
        config.trainer.warm_up(batches)
    cycles = []
    for _ in range(repeats):
        cycles.append({"load_1min": os.getloadavg()[0], "peak_gflops": matmul_peak()})
        for config in configs:
            config.windows.append(config.trainer.run(batches, steps, np.random.default_rng(0)))
    return cycles


def summary(config: Config, setting: str, peak: float) -> dict[str, Any]:
    """The figures of one configuration over its windows (see the module docstring)."""
    windows = config.windows
    ex_s = [w.examples_per_s for w in windows]
    gflops = [w.gflops for w in windows]
    steps = [parts for w in windows for parts in w.steps]
    achieved = statistics.median(gflops)
    return {
        **config.facts,
        "setting": setting,
        "table_rows": sum(TABLES[setting]),
        "examples_per_s": statistics.median(ex_s),
        "examples_per_s_cycles": ex_s,
        "examples_per_s_per_peak_gflops": statistics.median(ex_s) / peak,
        "peak_gflops": peak,
        "achieved_gflops": achieved,
        "achieved_gflops_cycles": gflops,
        "mfu": achieved / peak,
        "train_mflop_per_example": sum(w.flops for w in windows) / (BATCH * len(steps)) / 1e6,
        "step_ms_median": 1e3 * statistics.median(sum(parts.values()) for parts in steps),
        # the means add up to the mean step; the medians resist the odd step slowed by other load
        "breakdown_ms": {p: 1e3 * statistics.fmean(parts[p] for parts in steps) for p in PARTS},
        "breakdown_ms_median": {p: 1e3 * statistics.median(parts[p] for parts in steps) for p in PARTS},
    }


def add_inference(result: dict[str, Any], model: SubNet, steps: int) -> None:
    """The SubNet's inference latency (nasrec.cost.latency) at batch 1 and 512; the latter is also its
    inference throughput."""
    lat1 = measure_latency(model, 1, repeats=50, warmup=5)
    lat512 = measure_latency(model, BATCH, repeats=steps, warmup=WARMUP_STEPS)
    result.update(latency_ms_b1=lat1, latency_ms_b512=lat512, infer_examples_per_s=BATCH / lat512 * 1e3)


def bench_setting(
    setting: str, steps: int, repeats: int, backends: list[str], subnets: bool, bf16: bool
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Every configuration at one table setting: (its cycles' load and peaks, one summary per
    configuration)."""
    schema = DatasetSchema.of_shape(13, list(TABLES[setting]))
    batches = criteo_batches(TABLES[setting], count=16)
    total = WARMUP_STEPS + steps * repeats
    configs = supernet_configs(schema, backends, total, bf16)
    if subnets:
        configs += subnet_configs(schema, total, bf16)
    cycles = run_cycles(configs, batches, steps, repeats)
    best = max(rate for cycle in cycles for rate in cycle["peak_gflops"].values())
    results = [summary(c, setting, best) for c in configs]
    for config, result in zip(configs, results, strict=True):
        if config.facts["kind"] == "subnet":
            add_inference(result, config.trainer.task.model, steps)
    return {"setting": setting, "peak_gflops": best, "cycles": cycles}, results


# ---- output -----------------------------------------------------------------------------------------------


def print_machine(machine: dict[str, Any]) -> None:
    print(f"CPU: {machine['cpu']} ({' '.join(machine['cpu_features'])}), {machine['threads']} threads")
    print(
        f"torch {machine['torch']}; {'bfloat16 autocast; ' if machine['bf16'] else ''}"
        f"dense matmuls: {machine['matmul']}; OMP_WAIT_POLICY {machine['omp_wait_policy']}"
    )
    print(
        f"batch {BATCH}, LayerNorm on, single-op-any-connection after {WARMUP_STEPS} full-path warm-up "
        f"steps; {machine['repeats']} interleaved cycles of {machine['steps']} steps per configuration"
    )


def print_setting(measured: dict[str, Any], results: list[dict[str, Any]], threads: int) -> None:
    setting = measured["setting"]
    what = "Criteo Kaggle vocabularies capped at 500,000" if setting == "capped" else "26 x 500,000"
    print(f"\n== tables {setting}: {what} ({sum(TABLES[setting]):,} rows), E = 16")
    cycles = "; ".join(
        ", ".join(f"{k} {v:.0f}" for k, v in c["peak_gflops"].items()) + f" at load {c['load_1min']:.1f}"
        for c in measured["cycles"]
    )
    peak = measured["peak_gflops"]
    print(f"fp32 matmul peak, {threads} threads, n = {PEAK_N}: {peak:.0f} GFLOP/s (cycles: {cycles})")
    print(f"\n{'training':26s} {'ex/s':>7s} {'(min-max)':>13s} {'ex/s/peak':>9s} {'MFLOP/ex':>9s} "
          f"{'GFLOP/s':>8s} {'MFU':>6s} {'median ms':>9s}")  # fmt: skip
    for r in results:
        ex = r["examples_per_s_cycles"]
        print(
            f"{_label(r):26s} {r['examples_per_s']:7,.0f} {f'({min(ex):,.0f}-{max(ex):,.0f})':>13s} "
            f"{r['examples_per_s_per_peak_gflops']:9.2f} {r['train_mflop_per_example']:9.2f} "
            f"{r['achieved_gflops']:8.1f} {r['mfu']:6.1%} {r['step_ms_median']:9.1f}"
        )
    print(f"\n{'per step, ms (mean)':26s} " + " ".join(f"{p:>11s}" for p in PARTS) + f" {'total':>8s}")
    for r in results:
        parts = r["breakdown_ms"]
        print(
            f"{_label(r):26s} "
            + " ".join(f"{parts[p]:11.1f}" for p in PARTS)
            + f" {sum(parts.values()):8.1f}"
        )
    inference = [r for r in results if "infer_examples_per_s" in r]
    if inference:
        print(f"\n{'SubNet inference':26s} {'blocks':>6s} {'ex/s':>8s} {'latency b1':>11s} {'b512':>9s}")
        for r in inference:
            print(
                f"{_label(r):26s} {r['blocks']:6d} {r['infer_examples_per_s']:8,.0f} "
                f"{r['latency_ms_b1']:9.2f}ms {r['latency_ms_b512']:7.1f}ms"
            )


def _label(result: dict[str, Any]) -> str:
    return f"{result['kind']} {result['name']} {result['backend']}"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--tables", default="capped", help=f"table settings, comma separated: {', '.join(TABLES)}"
    )
    parser.add_argument("--steps", type=int, default=200, help="timed steps per configuration and cycle")
    parser.add_argument("--repeats", type=int, default=3, help="interleaved cycles")
    parser.add_argument("--backends", default="fbgemm,torch", help="embedding backends, comma separated")
    parser.add_argument(
        "--threads", type=int, default=2, help="torch threads (the setting is 2; the peak uses the same)"
    )
    parser.add_argument("--skip-subnets", action="store_true")
    parser.add_argument("--bf16", action="store_true", help="train with TrainConfig.bf16 (bfloat16 autocast)")
    parser.add_argument("--json", action="store_true", help="print one JSON document instead of tables")
    args = parser.parse_args()
    settings = args.tables.split(",")
    for setting in settings:
        if setting not in TABLES:
            parser.error(f"--tables: {setting!r} is not one of {', '.join(TABLES)}")
    torch.set_num_threads(args.threads)
    matmul = (
        f"oneDNN from {onednn_linear.MIN_MACS:,} multiply-adds, MKL below"
        if onednn_linear.AVAILABLE
        else "MKL"
    )
    machine = {
        "cpu": cpu_model(),
        "cpu_features": cpu_features(),
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "matmul": matmul,
        # libgomp's threads spin while waiting unless PASSIVE: on a loaded machine that decides the speed
        "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY", "unset"),
        "steps": args.steps,
        "repeats": args.repeats,
        "bf16": args.bf16,
    }
    if not args.json:
        print_machine(machine)
    measured, results = [], []
    for setting in settings:
        setting_measured, setting_results = bench_setting(
            setting, args.steps, args.repeats, args.backends.split(","), not args.skip_subnets, args.bf16
        )
        if not args.json:
            print_setting(setting_measured, setting_results, machine["threads"])
        measured.append(setting_measured)
        results += setting_results
    if args.json:
        print(json.dumps({"machine": machine, "settings": measured, "results": results}, indent=2))


if __name__ == "__main__":
    main()
