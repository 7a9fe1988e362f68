"""The job spec: one validated description of a search job, for the CLI, the API and the store.

A spec is a frozen pydantic model that also loads from YAML. Unknown keys and impossible values are
rejected with a :class:`~nasrec.errors.ConfigError` whose message names every offending field, e.g.::

    job spec is invalid:
      search.candidatez: unknown key
      constraints[0]: cannot parse 'flops =< 2e6'; write it as '<metric> <= <number>', e.g. 'flops <= 2e6'

Sections: ``supernet`` (weight-sharing training budget), ``search`` (controller and its budget),
``evaluation`` (how one candidate is scored), ``objectives`` and ``constraints``, ``finalize``
(top-k retraining and baselines), ``resources`` (Ray workers and evaluation actors).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from nasrec.errors import ConfigError
from nasrec.metrics import METRICS, SEARCHABLE, Direction

__all__ = [
    "Budget",
    "Constraint",
    "EvaluationSpec",
    "FinalizeSpec",
    "HardwareSpec",
    "JobSpec",
    "Objective",
    "ResourcesSpec",
    "SearchSpec",
    "SupernetSpec",
    "load_spec",
    "resolve_budget",
]


_SUFFIX = {"k": 1e3, "K": 1e3, "m": 1e6, "M": 1e6, "g": 1e9, "G": 1e9}
_NUMBER = r"[-+]?(?:\d[\d_]*\.?\d*|\.\d+)(?:[eE][-+]?\d+)?[kKmMgG]?"
_CONSTRAINT_RE = re.compile(rf"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(<=|>=|<|>)\s*({_NUMBER})\s*$")


def _parse_number(text: str) -> float:
    text = text.replace("_", "")
    scale = 1.0
    if text and text[-1] in _SUFFIX:
        scale = _SUFFIX[text[-1]]
        text = text[:-1]
    return float(text) * scale


def _known_metric(name: str) -> str:
    if name in METRICS and name not in SEARCHABLE:
        raise ValueError(
            f"{name!r} is measured on the test split, which no search may select on; "
            f"use one of {', '.join(SEARCHABLE)}"
        )
    if name not in METRICS:
        raise ValueError(f"unknown metric {name!r}; known metrics: {', '.join(SEARCHABLE)}")
    return name


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)


class Objective(_Model):
    """A metric to optimise. ``direction`` defaults to the metric's natural one (log loss: minimise).

    YAML accepts ``val_logloss``, ``"flops:minimize"`` or ``{name: flops, direction: minimize}``.
    """

    name: str
    direction: Direction | None = None

    @model_validator(mode="before")
    @classmethod
    def _from_string(cls, data: Any) -> Any:
        if isinstance(data, str):
            name, _, direction = data.partition(":")
            return {"name": name.strip(), "direction": direction.strip() or None}
        return data

    @field_validator("name")
    @classmethod
    def _check_name(cls, value: str) -> str:
        return _known_metric(value)

    @model_validator(mode="after")
    def _default_direction(self) -> Objective:
        if self.direction is None:
            object.__setattr__(self, "direction", METRICS[self.name].direction)
        return self

    @property
    def minimize(self) -> bool:
        return self.direction == Direction.MINIMIZE


class Constraint(_Model):
    """``metric op value``, e.g. ``flops <= 2e6``. Accepts that string or ``{metric, op, value}``.

    Numbers may use ``k`` / ``M`` / ``G`` suffixes and underscores (``2M``, ``2_000_000``).
    """

    metric: str
    op: Literal["<=", "<", ">=", ">"] = "<="
    value: float

    @model_validator(mode="before")
    @classmethod
    def _from_string(cls, data: Any) -> Any:
        if isinstance(data, str):
            match = _CONSTRAINT_RE.match(data)
            if match is None:
                raise ValueError(
                    f"cannot parse {data!r}; write it as '<metric> <= <number>', e.g. 'flops <= 2e6'"
                )
            metric, op, number = match.groups()
            return {"metric": metric, "op": op, "value": _parse_number(number)}
        return data

    @field_validator("metric")
    @classmethod
    def _check_metric(cls, value: str) -> str:
        return _known_metric(value)

    @field_validator("value")
    @classmethod
    def _finite(cls, value: float) -> float:
        if not math.isfinite(value):
            raise ValueError(f"the bound must be a finite number, got {value}")
        return value

    @property
    def kind(self) -> str:
        return METRICS[self.metric].kind

    def violation(self, observed: float) -> float:
        """Optuna's convention: <= 0 when satisfied, else how far off (relative to the bound's scale)."""
        scale = max(abs(self.value), 1e-12)
        if self.op in ("<=", "<"):
            excess = observed - self.value
            if self.op == "<" and excess == 0:
                excess = 1e-12 * scale
        else:
            excess = self.value - observed
            if self.op == ">" and excess == 0:
                excess = 1e-12 * scale
        return excess / scale

    def satisfied(self, observed: float) -> bool:
        return self.violation(observed) <= 0

    def __str__(self) -> str:
        return f"{self.metric} {self.op} {self.value:g}"


PositiveInt = Annotated[int, Field(gt=0)]
NonNegativeInt = Annotated[int, Field(ge=0)]
PositiveFloat = Annotated[float, Field(gt=0)]


# ---- budgets: lengths that follow the train split ------------------------------------------------
#
# A fixed step count does not fit every dataset: the demo's 3,000 supernet steps are 1.9 epochs of its
# 800k train rows but 190 epochs of an 8k-row set (whose id tables then memorise) and 5% of an epoch of
# 30M rows. A spec can give steps (they win) or epochs; otherwise these rules derive the length from the
# train split's size. The measurements behind the constants are in the README ("Budgets").

#: Supernet: one epoch (the reference's protocol), at least SUPERNET_MIN_STEPS steps (fewer do not
#: learn the dense ops) but never more than SUPERNET_MAX_EPOCHS epochs (more memorise the id tables),
#: and at most SUPERNET_MAX_STEPS steps (the wall time of a search stays bounded on huge splits).
SUPERNET_EPOCHS = 1.0
SUPERNET_MIN_STEPS = 400
SUPERNET_MAX_EPOCHS = 6.0
SUPERNET_MAX_STEPS = 20_000
#: Validation points of a supernet run (its train and val loss curves, and the memorisation watch).
SUPERNET_VALIDATIONS = 8
#: Head fine-tune: a recalibration, not training: FINETUNE_STEPS, never more than FINETUNE_MAX_EPOCHS
#: passes over the train split (on a small split the head would fit the rows the body memorised).
FINETUNE_STEPS = 100
FINETUNE_MAX_EPOCHS = 2.0
#: Retraining from scratch: one epoch, or up to RETRAIN_MAX_EPOCHS epochs to reach RETRAIN_MIN_STEPS
#: steps on a small split; early stopping (``FinalizeSpec.patience``) ends it where validation says.
RETRAIN_MIN_STEPS = 1500
RETRAIN_MAX_EPOCHS = 3.0
#: Early-stopping validation points of a retraining run (unless ``finalize.validate_every`` is given).
RETRAIN_VALIDATIONS = 5


@dataclasses.dataclass(frozen=True)
class Budget:
    """A resolved training length: ``steps`` global batches of ``batch_size`` rows, i.e. ``epochs``
    passes over ``train_rows`` rows; ``source`` says who chose it: the spec's ``steps`` or ``epochs``,
    or the ``derived`` rule."""

    steps: int
    epochs: float
    train_rows: int
    batch_size: int
    source: Literal["steps", "epochs", "derived"]

    def to_dict(self) -> dict[str, Any]:
        return {**dataclasses.asdict(self), "epochs": round(self.epochs, 4)}

    def __str__(self) -> str:
        return f"{self.steps:,} steps ({self.epochs:.2f} epochs of {self.train_rows:,} rows, {self.source})"


def resolve_budget(
    *,
    steps: int | None,
    epochs: float | None,
    train_rows: int,
    batch_size: int,
    derive: Any,
) -> Budget:
    """``steps`` if given, else ``epochs`` of the split, else ``derive(batches_per_epoch)``.

    Incomplete batches are dropped, as the loader does, so an epoch is ``train_rows // batch_size`` steps.
    """
    per_epoch = train_rows // batch_size
    if per_epoch < 1:
        raise ConfigError(
            f"the train split has {train_rows} rows, fewer than one batch of {batch_size}; lower batch_size"
        )
    if steps is not None:
        n, source = int(steps), "steps"
    elif epochs is not None:
        n, source = max(1, math.floor(per_epoch * epochs)), "epochs"
    else:
        n, source = int(derive(per_epoch)), "derived"
    return Budget(n, n / per_epoch, train_rows, batch_size, source)  # type: ignore[arg-type]


def derived_supernet_steps(per_epoch: int) -> int:
    """The supernet rule (see ``SUPERNET_*``) for a split of ``per_epoch`` batches."""
    steps = max(
        round(SUPERNET_EPOCHS * per_epoch), min(SUPERNET_MIN_STEPS, round(SUPERNET_MAX_EPOCHS * per_epoch))
    )
    return max(1, min(steps, SUPERNET_MAX_STEPS))


def derived_finetune_steps(per_epoch: int) -> int:
    """The candidates' fine-tune rule (see ``FINETUNE_*``)."""
    return max(1, min(FINETUNE_STEPS, round(FINETUNE_MAX_EPOCHS * per_epoch)))


def derived_retrain_steps(per_epoch: int) -> int:
    """The retraining rule (see ``RETRAIN_*``): the most steps; early stopping usually ends sooner."""
    return max(per_epoch, min(RETRAIN_MIN_STEPS, round(RETRAIN_MAX_EPOCHS * per_epoch)))


class SupernetSpec(_Model):
    """Budget of the weight-sharing supernet training (pipeline step 2).

    Length: ``steps`` if given (it wins over ``epochs``), else ``epochs`` passes over the train split,
    else the rule of :func:`derived_supernet_steps` (one epoch, with a floor and a cap). ``warmup_k``
    (full-path warm-up) defaults to 20% of the resolved steps and is cut to them when longer.
    The supernet is validated every ``validate_every`` steps (default: ``SUPERNET_VALIDATIONS`` times
    per run) on ``evaluation.val_rows`` rows (at most 20k), so memorisation shows while it trains.
    """

    steps: PositiveInt | None = None
    epochs: PositiveFloat | None = None
    batch_size: PositiveInt = 512
    lr: PositiveFloat = 0.05
    sparse_lr: PositiveFloat | None = None
    warmup_k: NonNegativeInt | None = Field(
        default=None,
        description="full-path warm-up: P(full path) = max(0, 1 - step / warmup_k); default 20% of the steps",
    )
    sampler: Literal["single-op-any-connection", "single-path", "any-path", "full-path"] = (
        "single-op-any-connection"
    )
    sandwich_paths: NonNegativeInt = Field(
        default=0,
        description="0: one sampled path per step; n > 0: the sandwich rule, the largest, the smallest "
        "and n sampled paths per step",
    )
    distill: bool = Field(
        default=True, description="sandwich rule: the other paths learn the largest path's predictions"
    )
    checkpoint_every: PositiveInt = 500
    validate_every: PositiveInt | None = None

    @model_validator(mode="after")
    def _check(self) -> SupernetSpec:
        if self.steps is not None and self.epochs is not None:
            object.__setattr__(self, "epochs", None)  # steps win, as in finalize
        if self.steps is not None and self.warmup_k is not None and self.warmup_k > self.steps:
            raise ValueError(f"warmup_k ({self.warmup_k}) cannot exceed steps ({self.steps})")
        return self

    def budget(self, train_rows: int) -> Budget:
        """The supernet's length on a train split of ``train_rows`` rows."""
        return resolve_budget(
            steps=self.steps,
            epochs=self.epochs,
            train_rows=train_rows,
            batch_size=self.batch_size,
            derive=derived_supernet_steps,
        )

    def resolved_validate_every(self, steps: int) -> int:
        """Steps between the supernet's validation points in a ``steps``-step run."""
        return self.validate_every or max(1, steps // SUPERNET_VALIDATIONS)


class SearchSpec(_Model):
    """Controller and budget. ``candidates`` counts distinct evaluated architectures; infeasible and
    duplicate proposals are recorded but not counted (at most ``max_proposals_factor * candidates``
    proposals in all, so an over-tight budget ends the search instead of looping)."""

    controller: Literal["evolution", "random", "tpe", "nsga2"] = "evolution"
    candidates: PositiveInt = 64
    population: Annotated[int, Field(ge=2)] = 16
    sample_size: PositiveInt = 8
    children: PositiveInt = 4
    batch_size: PositiveInt = Field(
        default=4,
        description="proposals per round for random / tpe / nsga2; fixed by the spec, not by the number "
        "of actors, so results do not depend on the hardware",
    )
    startup_trials: NonNegativeInt = Field(
        default=8, description="tpe: architectures drawn from the space's own distribution first"
    )
    max_proposals_factor: PositiveInt = 20

    @model_validator(mode="after")
    def _check(self) -> SearchSpec:
        if self.sample_size > self.population:
            raise ValueError(f"sample_size ({self.sample_size}) cannot exceed population ({self.population})")
        if self.controller == "evolution" and self.population > self.candidates:
            raise ValueError(
                f"evolution needs population ({self.population}) <= candidates ({self.candidates})"
            )
        return self


class EvaluationSpec(_Model):
    """How one candidate is scored with inherited weights (pipeline step 3).

    Fine-tune length: ``finetune_steps`` if given (0: none; it wins over ``finetune_epochs``),
    else ``finetune_epochs`` passes over the train split, else :func:`derived_finetune_steps`.
    """

    finetune_steps: NonNegativeInt | None = None
    finetune_epochs: PositiveFloat | None = None
    finetune_scope: Literal["head", "dense"] = Field(
        default="head",
        description="what the fine-tune trains: the head only, or every dense parameter (tables frozen)",
    )
    finetune_batch_size: PositiveInt = 512
    finetune_lr: PositiveFloat = 0.01
    val_rows: PositiveInt = 20_000
    batch_size: PositiveInt = 4096
    latency: bool = True
    latency_batch_size: PositiveInt = 256

    @model_validator(mode="after")
    def _check(self) -> EvaluationSpec:
        if self.finetune_steps is not None and self.finetune_epochs is not None:
            object.__setattr__(self, "finetune_epochs", None)  # steps win
        return self

    def finetune_budget(self, train_rows: int) -> Budget:
        """The candidates' fine-tune length on a train split of ``train_rows`` rows."""
        if self.finetune_steps == 0:
            return Budget(0, 0.0, train_rows, self.finetune_batch_size, "steps")
        return resolve_budget(
            steps=self.finetune_steps,
            epochs=self.finetune_epochs,
            train_rows=train_rows,
            batch_size=self.finetune_batch_size,
            derive=derived_finetune_steps,
        )


class FinalizeSpec(_Model):
    """Top-k retraining from scratch, selection on validation, one test evaluation (pipeline step 4).

    Length: ``retrain_steps`` if given (it wins over ``retrain_epochs``), else ``retrain_epochs``, else
    :func:`derived_retrain_steps`; that is the most a model trains. Early stopping, the same for found
    models and baselines: validate every ``validate_every`` steps (default: ``RETRAIN_VALIDATIONS`` times
    per run) on ``val_rows`` val rows (default all), keep the best checkpoint, stop after ``patience``
    validations without a lower log loss; the model and its metrics are the best checkpoint's.
    ``patience: 0`` turns early stopping off (the last weights, validated once at the end).
    """

    top_k: NonNegativeInt = 3
    retrain_steps: PositiveInt | None = None
    retrain_epochs: PositiveFloat | None = None
    batch_size: PositiveInt = 512
    lr: PositiveFloat = 0.05
    baselines: bool | list[str] = True
    val_rows: PositiveInt | None = None
    patience: NonNegativeInt = 2
    validate_every: PositiveInt | None = None

    @model_validator(mode="after")
    def _check(self) -> FinalizeSpec:
        if self.retrain_steps is not None and self.retrain_epochs is not None:
            # Steps win; keep the spec unambiguous rather than guessing.
            object.__setattr__(self, "retrain_epochs", None)
        if isinstance(self.baselines, list):
            bad = [b for b in self.baselines if not re.fullmatch(r"[A-Za-z0-9_.-]+", b)]
            if bad:
                raise ValueError(f"baseline names must be file stems, got {bad}")
        return self

    def retrain_budget(self, train_rows: int) -> Budget:
        """The most steps one retraining takes on a train split of ``train_rows`` rows."""
        return resolve_budget(
            steps=self.retrain_steps,
            epochs=self.retrain_epochs,
            train_rows=train_rows,
            batch_size=self.batch_size,
            derive=derived_retrain_steps,
        )

    def retrain_validate_every(self, steps: int) -> int | None:
        """Steps between early-stopping validations of a ``steps``-step retraining; None: no early stop."""
        if self.patience == 0:
            return None
        return self.validate_every or max(1, steps // RETRAIN_VALIDATIONS)


class ResourcesSpec(_Model):
    """Ray resources: supernet training workers and candidate-evaluation actors."""

    workers: PositiveInt = 1
    cpus_per_worker: PositiveFloat = 1
    gpus_per_worker: Annotated[float, Field(ge=0)] = 0
    eval_actors: PositiveInt = 1
    cpus_per_actor: PositiveFloat = 1
    gpus_per_actor: Annotated[float, Field(ge=0)] = 0
    ray_address: str | None = None


class HardwareSpec(_Model):
    """The PIM design the ``pim_*`` metrics are costed on (``nasrec.cost.pim``, docs/pim.md)."""

    profile: str = Field(
        default="isaac32",
        min_length=1,
        description="a profile in search_spaces/hardware/ (by name) or a profile YAML (by path)",
    )
    embedding_bits: int = Field(default=8, description="precision of the embedding tables: 8 or 16")

    @field_validator("embedding_bits")
    @classmethod
    def _check_embedding_bits(cls, value: int) -> int:
        from nasrec.space.codesign import EMBEDDING_BITS

        if value not in EMBEDDING_BITS:
            raise ValueError(f"must be one of {', '.join(map(str, EMBEDDING_BITS))}, got {value}")
        return value


class JobSpec(_Model):
    """A whole search job. Load with :func:`load_spec` or :meth:`JobSpec.parse`."""

    name: str | None = Field(default=None, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")
    dataset: str
    space: str | dict[str, Any] = Field(
        default="nasrec_small",
        description="a shipped space's name, a YAML path, or an inline space definition (a mapping)",
    )
    seed: NonNegativeInt = 0
    supernet: SupernetSpec = SupernetSpec()
    search: SearchSpec = SearchSpec()
    evaluation: EvaluationSpec = EvaluationSpec()
    objectives: list[Objective] = Field(default_factory=lambda: [Objective(name="val_logloss")], min_length=1)
    constraints: list[Constraint] = Field(default_factory=list)
    finalize: FinalizeSpec = FinalizeSpec()
    hardware: HardwareSpec = HardwareSpec()
    resources: ResourcesSpec = ResourcesSpec()

    @field_validator("space")
    @classmethod
    def _check_space(cls, value: str | dict[str, Any]) -> str | dict[str, Any]:
        if isinstance(value, dict):
            from nasrec.space.space import SearchSpace

            try:
                return SearchSpace.from_dict(value, source="inline space").to_dict()
            except ConfigError as exc:
                raise ValueError(str(exc)) from None
        if not value:
            raise ValueError("give a space name, a YAML path or an inline definition")
        return value

    @model_validator(mode="after")
    def _check(self) -> JobSpec:
        names = [o.name for o in self.objectives]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"objectives are listed twice: {dupes}")
        if self.objectives[0].name not in ("val_logloss", "val_auc"):
            raise ValueError(
                "the first (primary) objective must be val_logloss or val_auc, "
                f"got {self.objectives[0].name!r}"
            )
        if self.search.controller == "nsga2" and len(self.objectives) < 2:
            raise ValueError("controller nsga2 is multi-objective: list at least two objectives")
        if self.search.controller == "evolution" and len(self.objectives) > 1:
            raise ValueError(
                "controller evolution ranks by one objective; use nsga2 for several objectives "
                "(or turn the others into constraints)"
            )
        uses_latency = "latency_ms" in names or any(c.metric == "latency_ms" for c in self.constraints)
        if uses_latency and not self.evaluation.latency:
            raise ValueError("latency_ms is used as an objective or constraint but evaluation.latency is off")
        return self

    # ---- construction -------------------------------------------------------------------------

    @classmethod
    def parse(cls, data: Any) -> JobSpec:
        """Validate a dict (or an existing spec); raise ``ConfigError`` naming every bad field."""
        if isinstance(data, JobSpec):
            return data
        if not isinstance(data, dict):
            raise ConfigError(f"a job spec must be a mapping of keys to values, got {type(data).__name__}")
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            raise ConfigError(_readable(exc)) from None

    @classmethod
    def from_yaml(cls, text: str) -> JobSpec:
        import yaml

        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise ConfigError(f"job spec is not valid YAML: {exc}") from None
        return cls.parse(data if data is not None else {})

    @classmethod
    def from_json(cls, text: str) -> JobSpec:
        return cls.parse(json.loads(text))

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    def to_yaml(self) -> str:
        import yaml

        return yaml.safe_dump(self.to_dict(), sort_keys=False)

    # ---- derived ------------------------------------------------------------------------------

    @property
    def fingerprint(self) -> str:
        """Stable hash of everything but the name and resources (which do not change results)."""
        data = self.to_dict()
        data.pop("name")
        data.pop("resources")
        return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:10]

    @property
    def job_name(self) -> str:
        """The study / run-directory name: ``name`` or ``<dataset>-<space>-<controller>-s<seed>-<hash>``."""
        if self.name:
            return self.name
        space = self.space if isinstance(self.space, str) else self.space.get("name", "space")
        dataset = Path(self.dataset).name if "/" in self.dataset else self.dataset
        space = Path(space).stem if "/" in space else space
        return f"{dataset}-{space}-{self.search.controller}-s{self.seed}-{self.fingerprint}"

    @property
    def primary(self) -> Objective:
        return self.objectives[0]

    @property
    def multi_objective(self) -> bool:
        return len(self.objectives) > 1


def load_spec(path: str | Path) -> JobSpec:
    """Read a job spec from a YAML (or JSON) file."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"job spec file not found: {path}")
    return JobSpec.from_yaml(path.read_text())


def _readable(exc: ValidationError) -> str:
    lines = []
    for err in exc.errors():
        loc = _loc(err.get("loc", ()))
        kind = err.get("type", "")
        if kind == "extra_forbidden":
            msg = "unknown key"
        elif kind == "missing":
            msg = "required key is missing"
        else:
            msg = str(err.get("msg", "invalid"))
            msg = msg.removeprefix("Value error, ").removeprefix("Assertion failed, ")
            if "input" in err and kind not in ("value_error",) and not isinstance(err["input"], dict | list):
                msg = f"{msg} (got {err['input']!r})"
        lines.append(f"  {loc or '(top level)'}: {msg}")
    return "job spec is invalid:\n" + "\n".join(lines)


def _loc(parts: tuple[Any, ...]) -> str:
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        elif isinstance(part, str) and part.startswith("function-") or part in ("str", "dict"):
            continue
        else:
            out += ("." if out else "") + str(part)
    return out
