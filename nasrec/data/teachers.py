"""Planted teachers: hidden click models p(x) over Criteo-shaped inputs, each with a different structure.

Every teacher shares the *inputs*: 13 count features (log-normal counts, some missing) and 26
categorical fields whose ids follow a Zipf law over cardinalities ``c ** cardinality_exponent`` of
Criteo's (1461 -> 38, 10 M -> 3.2 k, ...). Per-id parameters shrink along the Zipf tail (the id of rank
r is scaled by ``(1 + r / head_rows) ** -tail_decay``), so popular ids carry most of the signal, as in
real logs; that keeps every planted structure learnable from a few hundred thousand rows. ``t`` is the
standardised transformed dense vector, ``w_f`` a per-id weight of field f, ``v_f`` a per-id latent
vector (dimension k = ``latent_dim``).

A teacher's logit is a weighted sum of named terms, each rescaled to unit standard deviation, plus a
bias solved so that the mean click probability is ``positive_rate``. The teachers differ in their terms
(formulas in ``docs/teachers.md``):

* ``fm``: first order + pairwise field x field dot products + dense x field + dense linear: exactly the
  inductive bias of DLRM / DeepFM (the default, and the demo's dataset until now);
* ``cross``: first order + three- and four-field products of latent vectors, centred so that no part
  of them is a function of fewer fields (nothing a pairwise dot product can express), + dense x field;
* ``dense_gate``: a random two-layer tanh network of the dense features, and the same hidden units
  gating the per-id effects of a few fields;
* ``attention``: only a subset of fields interacts: a query from context fields and the dense features
  attends (softmax) over the embeddings of a few other fields, whose per-id values it averages.

``TEACHERS`` is the registry; :func:`make_teacher` builds one by name.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any, ClassVar

import numpy as np

from nasrec.data.formats import CRITEO_DENSE, CRITEO_SPARSE
from nasrec.errors import ConfigError

__all__ = [
    "CRITEO_CARDINALITIES",
    "TEACHERS",
    "AttentionConfig",
    "AttentionTeacher",
    "CrossConfig",
    "CrossTeacher",
    "DenseGateConfig",
    "DenseGateTeacher",
    "FMConfig",
    "FMTeacher",
    "Teacher",
    "TeacherConfig",
    "binary_entropy",
    "make_teacher",
]

CRITEO_CARDINALITIES = (
    1461, 584, 10131227, 2202609, 306, 25, 12518, 634, 4, 93146, 5684, 8351593, 3195, 28, 14993,
    5461307, 11, 5653, 2174, 5, 7046548, 19, 16, 286182, 106, 142573,
)  # fmt: skip
# Share of empty cells per dense column in the Kaggle data (rounded), reused for realism.
_DENSE_MISSING = (0.45, 0.0, 0.21, 0.22, 0.03, 0.22, 0.04, 0.0, 0.04, 0.45, 0.04, 0.77, 0.22)
NUM_DENSE, NUM_FIELDS = len(CRITEO_DENSE), len(CRITEO_SPARSE)


# -- configurations --------------------------------------------------------------------------------


@dataclass(frozen=True)
class TeacherConfig:
    """The knobs every teacher has: the inputs' shape, the Zipf tail, the click rate, first order."""

    latent_dim: int = 4
    cardinality_exponent: float = 0.5
    zipf_exponent: float = 1.2
    positive_rate: float = 0.25
    head_rows: float = 5.0
    tail_decay: float = 1.0
    first_order: float = 0.4

    def __post_init__(self) -> None:
        if self.latent_dim < 1:
            raise ConfigError(f"latent_dim must be >= 1, got {self.latent_dim}")
        if not 0 < self.positive_rate < 1:
            raise ConfigError(f"positive_rate must be in (0, 1), got {self.positive_rate}")
        if not 0 < self.cardinality_exponent <= 1:
            raise ConfigError(f"cardinality_exponent must be in (0, 1], got {self.cardinality_exponent}")
        if self.zipf_exponent <= 0:
            raise ConfigError(f"zipf_exponent must be > 0, got {self.zipf_exponent}")
        if self.head_rows <= 0:
            raise ConfigError(f"head_rows must be > 0, got {self.head_rows}")

    @property
    def cardinalities(self) -> tuple[int, ...]:
        return tuple(max(2, min(c, round(c**self.cardinality_exponent))) for c in CRITEO_CARDINALITIES)

    def _check_count(self, name: str, value: int, high: int, low: int = 0) -> None:
        if not low <= value <= high:
            raise ConfigError(f"{name} must be in [{low}, {high}], got {value}")


@dataclass(frozen=True)
class FMConfig(TeacherConfig):
    """``fm``: the pairwise teacher; the defaults are the demo's dataset."""

    field_pairs: int = 16
    dense_field_pairs: int = 10
    pairwise: float = 1.6
    dense_field: float = 1.2
    dense_linear: float = 0.3

    def __post_init__(self) -> None:
        super().__post_init__()
        self._check_count("field_pairs", self.field_pairs, NUM_FIELDS * (NUM_FIELDS - 1) // 2)
        self._check_count("dense_field_pairs", self.dense_field_pairs, NUM_DENSE * NUM_FIELDS)


@dataclass(frozen=True)
class CrossConfig(TeacherConfig):
    """``cross``: ``triples`` three-field and ``quads`` four-field products, next to dense x field.

    The crosses live on the head ids (``head_rows`` 2, ``tail_decay`` 2): measured, the default tail
    (5, 1) spreads them over so many ids that no model learned any of them in one epoch of 240k rows."""

    head_rows: float = 2.0
    tail_decay: float = 2.0
    triples: int = 4
    quads: int = 2
    third_order: float = 1.2
    fourth_order: float = 0.8
    centred: bool = True
    dense_field_pairs: int = 10
    dense_field: float = 1.0

    def __post_init__(self) -> None:
        super().__post_init__()
        self._check_count("triples", self.triples, 200)
        self._check_count("quads", self.quads, 200)
        self._check_count("dense_field_pairs", self.dense_field_pairs, NUM_DENSE * NUM_FIELDS)


@dataclass(frozen=True)
class DenseGateConfig(TeacherConfig):
    """``dense_gate``: a random tanh network of the dense features gating ``gated_fields`` fields."""

    first_order: float = 0.3
    hidden: int = 16
    dense_gain: float = 1.5
    gated_fields: int = 4
    dense_nonlinear: float = 1.2
    gated: float = 1.2

    def __post_init__(self) -> None:
        super().__post_init__()
        self._check_count("hidden", self.hidden, 1024, low=1)
        self._check_count("gated_fields", self.gated_fields, NUM_FIELDS)
        if self.dense_gain <= 0:
            raise ConfigError(f"dense_gain must be > 0, got {self.dense_gain}")


@dataclass(frozen=True)
class AttentionConfig(TeacherConfig):
    """``attention``: ``context_fields`` and the dense features query ``attended_fields`` other fields."""

    context_fields: int = 4
    attended_fields: int = 6
    sharpness: float = 2.0
    attention: float = 1.6

    def __post_init__(self) -> None:
        super().__post_init__()
        self._check_count("context_fields", self.context_fields, NUM_FIELDS - 2, low=1)
        self._check_count("attended_fields", self.attended_fields, NUM_FIELDS - self.context_fields, low=2)
        if self.sharpness < 0:
            raise ConfigError(f"sharpness must be >= 0, got {self.sharpness}")


# -- the shared machinery --------------------------------------------------------------------------


class Teacher:
    """A hidden click model: parameters drawn from ``seed``, p(x) for raw ids and transformed dense.

    A subclass draws its parameters in ``__init__`` (calling :meth:`_draw_inputs` on the generator
    ``np.random.default_rng([seed, 1])``), names its terms in ``logit_terms`` and their weights in
    ``term_weights``, and may add its structure (which fields interact) to :meth:`describe`.
    """

    name: ClassVar[str]
    config_type: ClassVar[type[TeacherConfig]]

    def __init__(self, config: TeacherConfig, seed: int) -> None:
        if not isinstance(config, self.config_type):
            raise ConfigError(
                f"teacher {self.name!r} takes a {self.config_type.__name__}, got a {type(config).__name__}"
            )
        self.config = config
        self.seed = seed
        self.cardinalities = config.cardinalities

    def _draw_inputs(self, rng: np.random.Generator) -> None:
        """The input distribution: Zipf rank -> id per field, the tail scale of each id, the dense law."""
        cfg = self.config
        # Zipf rank -> id, so frequent ids are not the small ones
        self.rank_to_id = [rng.permutation(c) for c in self.cardinalities]
        self.id_scale, self.id_prob = [], []
        for f, card in enumerate(self.cardinalities):
            ranks = np.arange(card)
            scale, prob = np.empty(card), np.empty(card)
            # popular ids carry strong effects, the long tail weak ones: (1 + rank / head_rows) ** -tail_decay
            scale[self.rank_to_id[f]] = (1 + ranks / cfg.head_rows) ** -cfg.tail_decay
            weights = (ranks + 1.0) ** -cfg.zipf_exponent
            prob[self.rank_to_id[f]] = weights / weights.sum()
            self.id_scale.append(scale)
            self.id_prob.append(prob)
        self.dense_mu = rng.uniform(0.5, 4.0, NUM_DENSE)
        self.dense_sigma = rng.uniform(0.6, 1.6, NUM_DENSE)

    def _id_weights(self, rng: np.random.Generator, fields: Any = None) -> dict[int, np.ndarray]:
        """A tail-scaled standard normal weight per id of each of ``fields`` (default: all)."""
        fields = range(NUM_FIELDS) if fields is None else fields
        return {f: rng.standard_normal(self.cardinalities[f]) * self.id_scale[f] for f in fields}

    def _id_vectors(self, rng: np.random.Generator, fields: Any, *, centred: bool = False) -> dict[int, Any]:
        """A tail-scaled latent vector (k) per id of each of ``fields``; ``centred``: mean 0 over the
        Zipf id distribution, so a product with such a vector has no part that depends on fewer fields."""
        out = {}
        for f in fields:
            v = (
                rng.standard_normal((self.cardinalities[f], self.config.latent_dim))
                * self.id_scale[f][:, None]
            )
            out[f] = v - self.id_prob[f] @ v if centred else v
        return out

    def sample_inputs(
        self, rows: int, seed: int, *, on_field: Callable[[int], None] | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Raw inputs: N x 13 float64 counts (NaN = missing) and 26 x N int32 ids (one row per field).

        ``on_field(f)``: called after the ids of field ``f`` are drawn."""
        rng = np.random.default_rng([seed, 2])
        s = self.config.zipf_exponent
        ids = np.empty((len(self.cardinalities), rows), dtype=np.int32)
        for f, card in enumerate(self.cardinalities):
            cdf = np.cumsum(np.arange(1, card + 1, dtype=np.float64) ** -s)
            ranks = np.searchsorted(cdf, rng.random(rows) * cdf[-1], side="right")
            ids[f] = self.rank_to_id[f][np.minimum(ranks, card - 1)]
            if on_field is not None:
                on_field(f)
        counts = np.floor(np.exp(rng.normal(self.dense_mu, self.dense_sigma, (rows, NUM_DENSE)))) - 1
        counts[rng.random(counts.shape) < np.asarray(_DENSE_MISSING)] = np.nan
        return counts, ids

    def logit_terms(self, dense: np.ndarray, ids: np.ndarray) -> dict[str, np.ndarray]:
        """The unscaled logit terms (each N) for transformed dense (N x 13) and raw ids (26 x N)."""
        raise NotImplementedError

    def term_weights(self) -> dict[str, float]:
        """The weight of each term of ``logit_terms`` (applied after rescaling it to unit std)."""
        raise NotImplementedError

    def probabilities(self, dense: np.ndarray, ids: np.ndarray) -> np.ndarray:
        """True click probability of each row (dense already transformed, as the model sees it)."""
        weights = self.term_weights()
        logit = np.zeros(ids.shape[1])
        for key, term in self.logit_terms(dense, ids).items():
            std = term.std()
            if weights[key] and std > 0:
                logit += weights[key] * (term - term.mean()) / std
        return _sigmoid(logit + _solve_bias(logit, self.config.positive_rate))

    def describe(self) -> dict[str, Any]:
        """What ``meta["teacher"]`` records: the name, every knob, the seed, the tables' sizes."""
        return {"name": self.name, **asdict(self.config), "seed": self.seed,
                "cardinalities": list(self.cardinalities)}  # fmt: skip

    @staticmethod
    def _standardised(dense: np.ndarray) -> np.ndarray:
        """``t``: 13 x N, every dense column standardised over the rows."""
        return ((dense - dense.mean(axis=0)) / (dense.std(axis=0) + 1e-6)).T.copy()

    @staticmethod
    def _pick_fields(rng: np.random.Generator, count: int, exclude: tuple[int, ...] = ()) -> tuple[int, ...]:
        pool = np.setdiff1d(np.arange(NUM_FIELDS), exclude)
        return tuple(sorted(int(f) for f in rng.choice(pool, size=count, replace=False)))

    @staticmethod
    def _pick_tuples(rng: np.random.Generator, order: int, count: int) -> list[tuple[int, ...]]:
        """``count`` distinct sets of ``order`` fields, in drawing order."""
        picked: list[tuple[int, ...]] = []
        while len(picked) < count:
            fields = tuple(sorted(int(f) for f in rng.choice(NUM_FIELDS, size=order, replace=False)))
            if fields not in picked:
                picked.append(fields)
        return picked


def _names(fields: Any) -> list[str]:
    return [CRITEO_SPARSE[f] for f in fields]


def _dense_pair_names(pairs: list[tuple[int, int]]) -> list[list[str]]:
    return [[CRITEO_DENSE[j], CRITEO_SPARSE[f]] for j, f in pairs]


def _pick_dense_field_pairs(rng: np.random.Generator, count: int) -> list[tuple[int, int]]:
    """``count`` distinct (dense feature j, field f) pairs."""
    dense_pairs = [(j, f) for j in range(NUM_DENSE) for f in range(NUM_FIELDS)]
    picks = rng.choice(len(dense_pairs), size=count, replace=False)
    return [dense_pairs[i] for i in sorted(picks)]


def _dense_field(
    t: np.ndarray, ids: np.ndarray, pairs: list[tuple[int, int]], a: np.ndarray, v: Any
) -> np.ndarray:
    """``sum_{(j, f)} t_j <a_j, v_f> / sqrt(k)``: dense features scaling the effect of a field's id."""
    scale = 1.0 / np.sqrt(a.shape[1])
    out = np.zeros(ids.shape[1])
    for j, f in pairs:
        out += t[j] * (v[f] @ a[j].astype(np.float32))[ids[f]] * scale
    return out


# -- the teachers ----------------------------------------------------------------------------------


class FMTeacher(Teacher):
    """``fm``: first order, field x field and dense x field dot products, dense linear (DLRM's bias).

    logit = s1 sum_f w_f + s2 sum_{(f, g) in P} <v_f, v_g> / sqrt(k)
          + s3 sum_{(j, f) in Q} t_j <a_j, v_f> / sqrt(k) + s4 sum_j beta_j t_j
    """

    name = "fm"
    config_type = FMConfig
    config: FMConfig

    def __init__(self, config: FMConfig, seed: int) -> None:
        super().__init__(config, seed)
        # The drawing order is the one of the first (only) teacher: the same seed gives the same data.
        rng = np.random.default_rng([seed, 1])
        k = config.latent_dim
        self.w = [rng.standard_normal(c) for c in self.cardinalities]
        self.v = [rng.standard_normal((c, k)).astype(np.float32) for c in self.cardinalities]
        self.a = rng.standard_normal((NUM_DENSE, k))
        self.beta = rng.standard_normal(NUM_DENSE)
        all_pairs = [(f, g) for f in range(NUM_FIELDS) for g in range(f + 1, NUM_FIELDS)]
        picks = rng.choice(len(all_pairs), size=config.field_pairs, replace=False)
        self.field_pairs = [all_pairs[i] for i in sorted(picks)]
        self.dense_field_pairs = _pick_dense_field_pairs(rng, config.dense_field_pairs)
        self._draw_inputs(rng)
        for f in range(NUM_FIELDS):
            self.w[f] *= self.id_scale[f]
            self.v[f] *= self.id_scale[f][:, None].astype(np.float32)

    def logit_terms(self, dense: np.ndarray, ids: np.ndarray) -> dict[str, np.ndarray]:
        scale = 1.0 / np.sqrt(self.config.latent_dim)
        t = self._standardised(dense)
        first = sum(self.w[f][ids[f]] for f in range(len(ids)))
        vecs = {f: self.v[f][ids[f]] for f in sorted({f for pair in self.field_pairs for f in pair})}
        pairwise = np.zeros(ids.shape[1])
        for f, g in self.field_pairs:
            pairwise += np.einsum("nk,nk->n", vecs[f], vecs[g]) * scale
        return {
            "first_order": first,
            "pairwise": pairwise,
            "dense_field": _dense_field(t, ids, self.dense_field_pairs, self.a, self.v),
            "dense_linear": self.beta @ t,
        }

    def term_weights(self) -> dict[str, float]:
        cfg = self.config
        return {"first_order": cfg.first_order, "pairwise": cfg.pairwise, "dense_field": cfg.dense_field,
                "dense_linear": cfg.dense_linear}  # fmt: skip

    def describe(self) -> dict[str, Any]:
        return {
            **super().describe(),
            "field_pairs": [_names(pair) for pair in self.field_pairs],
            "dense_field_pairs": _dense_pair_names(self.dense_field_pairs),
        }


class CrossTeacher(Teacher):
    """``cross``: first order and three- / four-field products of centred latent vectors.

    logit = s1 sum_f w_f + s3 sum_{(f, g, h) in T} sum_k v_fk v_gk v_hk
          + s4 sum_{(f, g, h, i) in U} sum_k v_fk v_gk v_hk v_ik
          + s5 sum_{(j, f) in Q} t_j <a_j, d_f> / sqrt(k)

    The crossed fields' vectors v are centred (``centred``); the dense x field term (separate vectors d)
    is what DLRM does well, so a model must have both kinds of interaction to win.
    """

    name = "cross"
    config_type = CrossConfig
    config: CrossConfig

    def __init__(self, config: CrossConfig, seed: int) -> None:
        super().__init__(config, seed)
        rng = np.random.default_rng([seed, 1])
        self._draw_inputs(rng)
        self.w = self._id_weights(rng)
        self.triples = self._pick_tuples(rng, 3, config.triples)
        self.quads = self._pick_tuples(rng, 4, config.quads)
        self.v = self._id_vectors(
            rng, sorted({f for c in self.triples + self.quads for f in c}), centred=config.centred
        )
        self.dense_field_pairs = _pick_dense_field_pairs(rng, config.dense_field_pairs)
        self.a = rng.standard_normal((NUM_DENSE, config.latent_dim))
        self.dense_v = {
            f: v.astype(np.float32)
            for f, v in self._id_vectors(rng, sorted({f for _, f in self.dense_field_pairs})).items()
        }

    def _products(self, ids: np.ndarray, crosses: list[tuple[int, ...]]) -> np.ndarray:
        out = np.zeros(ids.shape[1])
        for fields in crosses:
            prod = np.ones((ids.shape[1], self.config.latent_dim))
            for f in fields:
                prod *= self.v[f][ids[f]]
            out += prod.sum(axis=1)
        return out

    def logit_terms(self, dense: np.ndarray, ids: np.ndarray) -> dict[str, np.ndarray]:
        return {
            "first_order": sum(self.w[f][ids[f]] for f in range(len(ids))),
            "third_order": self._products(ids, self.triples),
            "fourth_order": self._products(ids, self.quads),
            "dense_field": _dense_field(
                self._standardised(dense), ids, self.dense_field_pairs, self.a, self.dense_v
            ),
        }

    def term_weights(self) -> dict[str, float]:
        cfg = self.config
        return {
            "first_order": cfg.first_order,
            "third_order": cfg.third_order,
            "fourth_order": cfg.fourth_order,
            "dense_field": cfg.dense_field,
        }

    def describe(self) -> dict[str, Any]:
        return {
            **super().describe(),
            "triples": [_names(c) for c in self.triples],
            "quads": [_names(c) for c in self.quads],
            "dense_field_pairs": _dense_pair_names(self.dense_field_pairs),
        }


class DenseGateTeacher(Teacher):
    """``dense_gate``: a random tanh network h of the dense features, and h gating a few fields.

    h = tanh(W2 tanh(W1 t + b1) + b2)        (hidden units, W ~ N(0, gain^2 / fan_in))
    logit = s1 sum_f w_f + s_d <c, h> + s_g sum_{f in G} <g_f, h> u_f
    """

    name = "dense_gate"
    config_type = DenseGateConfig
    config: DenseGateConfig

    def __init__(self, config: DenseGateConfig, seed: int) -> None:
        super().__init__(config, seed)
        rng = np.random.default_rng([seed, 1])
        self._draw_inputs(rng)
        self.w = self._id_weights(rng)
        n, gain = config.hidden, config.dense_gain
        self.w1 = rng.standard_normal((n, NUM_DENSE)) * gain / np.sqrt(NUM_DENSE)
        self.b1 = rng.standard_normal(n)
        self.w2 = rng.standard_normal((n, n)) * gain / np.sqrt(n)
        self.b2 = rng.standard_normal(n)
        self.c = rng.standard_normal(n)
        self.gated_fields = self._pick_fields(rng, config.gated_fields)
        self.gates = rng.standard_normal((len(self.gated_fields), n)) / np.sqrt(n)
        self.u = self._id_weights(rng, self.gated_fields)

    def hidden(self, dense: np.ndarray) -> np.ndarray:
        """h: hidden x N."""
        t = self._standardised(dense)
        return np.tanh(self.w2 @ np.tanh(self.w1 @ t + self.b1[:, None]) + self.b2[:, None])

    def logit_terms(self, dense: np.ndarray, ids: np.ndarray) -> dict[str, np.ndarray]:
        h = self.hidden(dense)
        gates = self.gates @ h  # G x N
        gated = sum(gates[i] * self.u[f][ids[f]] for i, f in enumerate(self.gated_fields))
        return {
            "first_order": sum(self.w[f][ids[f]] for f in range(len(ids))),
            "dense_nonlinear": self.c @ h,
            "gated": gated if self.gated_fields else np.zeros(ids.shape[1]),
        }

    def term_weights(self) -> dict[str, float]:
        cfg = self.config
        return {"first_order": cfg.first_order, "dense_nonlinear": cfg.dense_nonlinear, "gated": cfg.gated}

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "gated_fields": _names(self.gated_fields)}


class AttentionTeacher(Teacher):
    """``attention``: a query from context fields and dense attends over the embeddings of a few fields.

    q = sum_{c in C} v_c + A t                                        (k)
    alpha_s = softmax_{s in S} (sharpness <q, v_s> / sqrt(k))
    logit = s1 sum_f w_f + s_a sum_{s in S} alpha_s u_s
    """

    name = "attention"
    config_type = AttentionConfig
    config: AttentionConfig

    def __init__(self, config: AttentionConfig, seed: int) -> None:
        super().__init__(config, seed)
        rng = np.random.default_rng([seed, 1])
        self._draw_inputs(rng)
        self.w = self._id_weights(rng)
        self.context_fields = self._pick_fields(rng, config.context_fields)
        self.attended_fields = self._pick_fields(rng, config.attended_fields, exclude=self.context_fields)
        self.v = self._id_vectors(rng, self.context_fields + self.attended_fields)
        self.a = rng.standard_normal((config.latent_dim, NUM_DENSE)) / np.sqrt(NUM_DENSE)
        self.u = self._id_weights(rng, self.attended_fields)

    def attention_weights(self, dense: np.ndarray, ids: np.ndarray) -> np.ndarray:
        """alpha: N x |S|, each row sums to 1."""
        cfg = self.config
        query = self.a @ self._standardised(dense)  # k x N
        query = query.T + sum(self.v[c][ids[c]] for c in self.context_fields)
        scores = np.stack([np.einsum("nk,nk->n", query, self.v[s][ids[s]]) for s in self.attended_fields], 1)
        scores *= cfg.sharpness / np.sqrt(cfg.latent_dim)
        scores -= scores.max(axis=1, keepdims=True)
        alpha = np.exp(scores)
        return alpha / alpha.sum(axis=1, keepdims=True)

    def logit_terms(self, dense: np.ndarray, ids: np.ndarray) -> dict[str, np.ndarray]:
        alpha = self.attention_weights(dense, ids)
        values = np.stack([self.u[s][ids[s]] for s in self.attended_fields], 1)
        return {
            "first_order": sum(self.w[f][ids[f]] for f in range(len(ids))),
            "attention": (alpha * values).sum(axis=1),
        }

    def term_weights(self) -> dict[str, float]:
        return {"first_order": self.config.first_order, "attention": self.config.attention}

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "context_fields": _names(self.context_fields),
                "attended_fields": _names(self.attended_fields)}  # fmt: skip


#: name -> teacher class; ``fm`` is the default everywhere.
TEACHERS: dict[str, type[Teacher]] = {
    t.name: t for t in (FMTeacher, CrossTeacher, DenseGateTeacher, AttentionTeacher)
}


def make_teacher(name: str = "fm", config: TeacherConfig | None = None, seed: int = 0) -> Teacher:
    """The teacher ``name`` with ``config`` (default: its config class's defaults) drawn from ``seed``."""
    if name not in TEACHERS:
        raise ConfigError(f"teacher must be one of {', '.join(TEACHERS)}; got {name!r}")
    cls = TEACHERS[name]
    return cls(config if config is not None else cls.config_type(), seed)


def binary_entropy(p: np.ndarray) -> np.ndarray:
    """Per-row entropy of a Bernoulli(p): the Bayes log loss of each row."""
    p = np.clip(p, 1e-12, 1 - 1e-12)
    return -(p * np.log(p) + (1 - p) * np.log1p(-p))


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _solve_bias(logit: np.ndarray, rate: float) -> float:
    """The b with mean(sigmoid(logit + b)) == rate (bisection; the mean is monotone in b)."""
    lo, hi = -30.0, 30.0
    for _ in range(45):  # 60 / 2**45 < 1e-12
        mid = (lo + hi) / 2
        if _sigmoid(logit + mid).mean() < rate:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2
