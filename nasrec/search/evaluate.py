"""Candidate evaluation with inherited weights, on a pool of Ray actors that load the supernet once.

Per candidate (``CandidateEvaluator.evaluate``):

1. build the standalone SubNet with the supernet's weights (``nasrec.nets.inherit_subnet``): it computes what
   the supernet's path computes, and it is a separate module, so nothing a candidate does touches the
   supernet or the next candidate;
2. optional fine-tune: ``finetune_steps`` steps on train batches of the head only (``finetune_scope:
   head``, the reference's linear-probe recalibration) or of every dense parameter (``dense``: the body
   adapts to its own path; the embedding tables stay frozen); every candidate sees the same batches,
   drawn from the job seed, so differences come from the architecture and not from the data order;
3. log loss and AUC on the first ``val_rows`` rows of the validation split (a fixed subset: the split is
   already a stratified random sample);
4. measured latency of the SubNet for one batch on this machine, when asked (``nasrec.cost.latency``).

What the reference does instead, and why this is better (its weak point 10): one fresh process per
candidate that unpickles the whole checkpoint (optimizer state included) and rebuilds data loaders.
Here an actor pays that once and then only builds a small SubNet per candidate.

The test split is never opened here: evaluation runs under ``forbid_test_split``.
"""

from __future__ import annotations

import os
import time
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from nasrec.search.search import Search
    from nasrec.space.architecture import Architecture

__all__ = [
    "FINETUNE_SCOPES",
    "ActorPoolEvaluator",
    "CandidateEvaluator",
    "Evaluator",
    "LocalEvaluator",
    "evaluation_settings",
    "finetune",
]


class Evaluator(Protocol):
    """Scores architectures. ``evaluate`` returns one dict per architecture, in order: metrics
    (``val_logloss``, ``val_auc``, ``latency_ms``, ``eval_seconds``, ``eval_rows``) or ``{"error": msg}``."""

    def evaluate(self, architectures: Sequence[Architecture]) -> list[dict[str, Any]]: ...

    def close(self) -> None: ...


def evaluation_settings(search: Search) -> dict[str, Any]:
    """The JSON-able settings an actor needs (actors get plain data, not the Search)."""
    e = search.spec.evaluation
    return {
        "checkpoint": str(search.supernet_checkpoint),
        "dataset": str(search.dataset.path),
        "finetune_steps": search.budgets()["finetune"].steps,
        "finetune_scope": e.finetune_scope,
        "finetune_batch_size": e.finetune_batch_size,
        "finetune_lr": e.finetune_lr,
        "val_rows": e.val_rows,
        "batch_size": e.batch_size,
        "latency": e.latency,
        "latency_batch_size": e.latency_batch_size,
        "seed": search.spec.seed,
    }


class CandidateEvaluator:
    """Holds one loaded supernet and the fixed evaluation data; scores one architecture at a time."""

    def __init__(self, settings: dict[str, Any], threads: int | None = None) -> None:
        import torch

        from nasrec.data import Dataset
        from nasrec.train import load_supernet

        if threads:
            torch.set_num_threads(int(threads))
        self.settings = dict(settings)
        self.supernet = load_supernet(settings["checkpoint"])
        self.supernet.requires_grad_(False)
        dataset = Dataset.open(Path(settings["dataset"]))
        self.train_view = dataset.split("train")
        self.val_view = dataset.split("val")
        self.pid = os.getpid()
        self.evaluated = 0

    def ping(self) -> int:
        return self.pid

    def evaluate(self, arch_json: str) -> dict[str, Any]:
        """Metrics of one architecture (as JSON), or ``{"error": ...}``; never raises."""
        from nasrec.space.architecture import Architecture
        from nasrec.train import forbid_test_split

        start = time.perf_counter()
        try:
            with forbid_test_split():
                arch = Architecture.from_json(arch_json)
                out = self._evaluate(arch)
        except Exception as exc:  # reported per candidate; the search records it as failed
            frames = "".join(traceback.format_tb(exc.__traceback__))
            return {"error": f"{type(exc).__name__}: {str(exc)[:800]}", "traceback": frames[-3000:]}
        out["eval_seconds"] = time.perf_counter() - start
        out["eval_worker"] = self.pid
        self.evaluated += 1
        out["worker_evaluations"] = self.evaluated
        return out

    def _evaluate(self, arch: Architecture) -> dict[str, Any]:
        from nasrec.nets import inherit_subnet
        from nasrec.train import evaluate

        s = self.settings
        model = inherit_subnet(self.supernet, arch)
        if s["finetune_steps"] > 0:
            finetune(
                model,
                self.train_view,
                scope=s["finetune_scope"],
                steps=s["finetune_steps"],
                batch_size=s["finetune_batch_size"],
                lr=s["finetune_lr"],
                seed=s["seed"],
            )
        metrics = evaluate(model, self.val_view, batch_size=s["batch_size"], max_rows=s["val_rows"])
        out = {
            "val_logloss": float(metrics["logloss"]),
            "val_auc": float(metrics["auc"]),
            "eval_rows": metrics["rows"],
        }
        if s["latency"]:
            out["latency_ms"] = self._latency_ms(model)
        return out

    def _latency_ms(self, model: Any) -> float:
        """The one latency measurement (``nasrec.cost.latency.measure_latency``) at the spec's batch size."""
        from nasrec.cost.latency import measure_latency

        return float(measure_latency(model, min(self.settings["latency_batch_size"], len(self.val_view))))


#: What a candidate's fine-tune trains: ``head`` (the reference's linear-probe recalibration) or
#: ``dense`` (every dense parameter, body and head, the embedding tables frozen).
FINETUNE_SCOPES = ("head", "dense")


def finetune(
    model: Any, train_view: Any, *, scope: str, steps: int, batch_size: int, lr: float, seed: int
) -> None:
    """Train ``model``'s ``scope`` for ``steps`` batches (Adagrad, cosine-decayed lr, no warm-up, no
    clipping), with the training loop's parts: ``Optimizers`` and ``train_step``.

    What is not trained gets no gradient, so no fused optimizer update can reach it: for ``head`` the
    body runs under ``no_grad`` (its output is captured at the head's input); for ``dense`` the
    embedding lookups' outputs are detached, so fbgemm's in-backward table update never runs.
    Batches are random train rows drawn from ``seed``: the same for every candidate.
    """
    import numpy as np
    import torch

    from nasrec.train import TrainConfig
    from nasrec.train.loop import TrainTask, train_step

    if scope not in FINETUNE_SCOPES:
        raise ValueError(f"unknown fine-tune scope {scope!r}; known: {FINETUNE_SCOPES}")
    captured: dict[str, Any] = {}
    if scope == "head":
        head = model.head

        def forward(m: Any, batch: Any, step: int, rng: np.random.Generator) -> Any:
            with torch.no_grad():
                m(batch)
            return head(*[a.detach() for a in captured["args"]])

        trainable = list(head.parameters())
        hook = head.register_forward_pre_hook(lambda _module, args: captured.__setitem__("args", args))
    else:

        def forward(m: Any, batch: Any, step: int, rng: np.random.Generator) -> Any:
            return m(batch)

        tables = {id(p) for p in model.embeddings.parameters()}
        trainable = [p for p in model.parameters() if id(p) not in tables]
        hook = model.embeddings.register_forward_hook(lambda _module, _args, out: out.detach())

    task = TrainTask(model, forward, validate=None, metadata={}, trainable=trainable)
    config = TrainConfig(
        steps=steps,
        batch_size=batch_size,
        lr=lr,
        min_lr=0.0,
        warmup_steps=0,
        grad_clip=None,
        optimizer="adagrad",
        weight_decay=0.0,
    )
    optimizers = task.optimizers(config, steps)
    rng = np.random.default_rng([seed, 31])
    n = len(train_view)
    was_training = model.training
    model.eval()  # no op of the space behaves differently in train mode
    try:
        for step in range(steps):
            rows = np.sort(rng.choice(n, size=min(batch_size, n), replace=False))
            train_step(task, optimizers, train_view.take(rows).to(optimizers.device), step, rng)
    finally:
        hook.remove()
        model.train(was_training)


class LocalEvaluator:
    """The same evaluation in the calling process (no Ray): for tests, benchmarks and tiny jobs."""

    def __init__(self, settings: dict[str, Any]) -> None:
        self.worker = CandidateEvaluator(settings)

    @classmethod
    def for_search(cls, search: Search) -> LocalEvaluator:
        return cls(evaluation_settings(search))

    def evaluate(self, architectures: Sequence[Architecture]) -> list[dict[str, Any]]:
        return [self.worker.evaluate(a.to_json()) for a in architectures]

    def close(self) -> None:
        pass


class ActorPoolEvaluator:
    """``num_actors`` Ray actors, each holding the supernet; candidates are spread over them.

    The actors and the Ray runtime are an ``ActorGroup`` (``nasrec.search.actors``: the process's
    runtime, or one started for the pool and stopped on ``close``). Results come back in the order
    of the architectures, whatever actor scored them.
    """

    def __init__(
        self,
        settings: dict[str, Any],
        *,
        num_actors: int = 1,
        cpus_per_actor: float = 1,
        gpus_per_actor: float = 0,
        address: str | None = None,
    ) -> None:
        from ray.util import ActorPool

        from nasrec.search.actors import ActorGroup

        self.group = ActorGroup(
            CandidateEvaluator,
            settings,
            num_actors=num_actors,
            cpus_per_actor=cpus_per_actor,
            gpus_per_actor=gpus_per_actor,
            address=address,
        )
        self.pool = ActorPool(self.group.actors)

    @classmethod
    def for_search(cls, search: Search) -> ActorPoolEvaluator:
        r = search.spec.resources
        return cls(
            evaluation_settings(search),
            num_actors=r.eval_actors,
            cpus_per_actor=r.cpus_per_actor,
            gpus_per_actor=r.gpus_per_actor,
            address=r.ray_address,
        )

    def evaluate(self, architectures: Sequence[Architecture]) -> list[dict[str, Any]]:
        from ray.exceptions import RayError
        from ray.util import ActorPool

        jobs = [a.to_json() for a in architectures]
        results: list[dict[str, Any]] = []
        try:
            results = list(self.pool.map(lambda actor, arch: actor.evaluate.remote(arch), jobs))
        except RayError as exc:  # an actor died: report the rest as failed instead of losing the round
            results += [{"error": f"evaluation actor failed: {exc}"}] * (len(jobs) - len(results))
            self.pool = ActorPool(self.group.actors)
        return results

    def close(self) -> None:
        self.group.close()

    def __enter__(self) -> ActorPoolEvaluator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
