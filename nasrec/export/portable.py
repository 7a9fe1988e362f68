"""The portable form of a SubNet: the same blocks and head, embeddings as one plain ``F.embedding``.

A SubNet's tables live in fbgemm (or in the torch backend, next to optimizer state); neither belongs
in an artifact meant to run anywhere. ``PortableModel`` keeps the SubNet's blocks and head (built by
the same ``SubNet`` code, so the function is identical) and all tables concatenated into one
``embeddings.weight`` (sum of rows x E), field f's index i reading row ``offsets[f] + i``. Its forward
is TorchScript-able and traceable, and uses only core aten ops (no fbgemm, no nasrec code at run time).

Shapes: B batch, D dense features, F sparse fields, E embedding dim.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from nasrec.data.schema import DatasetSchema
from nasrec.errors import ConfigError
from nasrec.space import Architecture
from nasrec.space.model_config import ModelConfig

__all__ = [
    "ModelSpec",
    "PortableEmbeddings",
    "PortableModel",
    "build_portable",
    "portable_from_subnet",
    "reference_logits",
]


@dataclass(frozen=True)
class ModelSpec:
    """Everything that fixes the portable network's shapes besides the architecture (JSON-able, flat:
    the dataset's shape and the ``ModelConfig`` keys side by side)."""

    num_dense: int
    table_rows: tuple[int, ...]
    model: ModelConfig

    def to_dict(self) -> dict[str, Any]:
        return {"num_dense": self.num_dense, "table_rows": list(self.table_rows), **self.model.to_dict()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelSpec:
        try:
            return cls(
                num_dense=int(data["num_dense"]),
                table_rows=tuple(int(r) for r in data["table_rows"]),
                model=ModelConfig.from_dict({k: data[k] for k in ModelConfig.field_names() if k in data}),
            )
        except (KeyError, TypeError, ValueError, ConfigError) as exc:
            raise ConfigError(f"invalid model description in architecture.json: {exc!r}") from exc

    @classmethod
    def of_subnet(cls, subnet: Any) -> ModelSpec:
        return cls(subnet.schema.num_dense, tuple(subnet.schema.table_rows), subnet.model)


class PortableEmbeddings(nn.Module):
    """All tables in one (sum of rows) x E weight. sparse B x F int64 -> B x F x E.

    Indices must lie in ``[0, table_rows[f])``; the graph does not check (a feature map never produces
    anything else), so an out-of-range index would read a neighbouring table's row. The weight starts
    as a shape-only placeholder (meta device): load it with ``load_state_dict(..., assign=True)``, so a
    large table is never allocated twice.
    """

    def __init__(self, table_rows: Sequence[int], dim: int) -> None:
        super().__init__()
        weight = torch.empty(sum(table_rows), dim, device="meta")
        self.weight = nn.Parameter(weight, requires_grad=False)
        offsets = torch.tensor([0, *table_rows[:-1]], dtype=torch.int64).cumsum(0)
        self.register_buffer("offsets", offsets, persistent=False)

    def forward(self, sparse: Tensor) -> Tensor:
        return F.embedding(sparse + self.offsets, self.weight)


class PortableModel(nn.Module):
    """dense B x D float32, sparse B x F int64 -> logits B (float32). What every artifact holds."""

    def __init__(self, embeddings: PortableEmbeddings, blocks: nn.ModuleList, head: nn.Module) -> None:
        super().__init__()
        self.embeddings = embeddings
        self.blocks = blocks
        self.head = head

    def forward(self, dense: Tensor, sparse: Tensor) -> Tensor:
        return self.forward_embedded(dense, self.embeddings(sparse))

    def forward_embedded(self, dense: Tensor, embedded: Tensor) -> Tensor:
        """dense B x D, embedded B x F x E -> logits B (the body of ``SubNet.forward_tensors``)."""
        dense_list = [dense]
        sparse_list = [embedded.transpose(1, 2)]
        for block in self.blocks:
            d, s = block(dense_list, sparse_list)
            dense_list.append(d)
            sparse_list.append(s)
        return self.head(dense_list[-1], sparse_list[-1])


def build_portable(arch: Architecture, spec: ModelSpec) -> PortableModel:
    """A PortableModel for ``arch`` with placeholder weights (load with ``load_state_dict(assign=True)``).

    The blocks and head come from ``SubNet`` itself (built over one-row tables, so no real table is
    allocated twice); the caller's torch RNG is left untouched.
    """
    from nasrec.nets.subnet import SubNet

    tiny = DatasetSchema.of_shape(spec.num_dense, [1] * len(spec.table_rows))
    with torch.random.fork_rng(devices=[]):
        shell = SubNet(arch, tiny, spec.model, embedding_backend="torch", embedding_seed=0, device="cpu")
    embeddings = PortableEmbeddings(spec.table_rows, spec.model.embedding_dim)
    model = PortableModel(embeddings, shell.blocks, shell.head)
    return model.eval().requires_grad_(False)


def portable_state(subnet: Any) -> dict[str, Tensor]:
    """The SubNet's weights in PortableModel naming, on the CPU, contiguous (safetensors-ready)."""
    state = {
        key: value.detach().to("cpu").contiguous().clone()
        for key, value in subnet.state_dict().items()
        if key.startswith(("blocks.", "head."))
    }
    tables = [t.to("cpu", torch.float32) for t in subnet.embeddings.get_weights()]
    state["embeddings.weight"] = torch.cat(tables).contiguous()
    return state


def reference_logits(model: PortableModel, dense: Tensor, sparse: Tensor) -> Tensor:
    """Float64 logits of ``model``: the yardstick for float32 rounding when comparing two runtimes.

    Without LayerNorm, activations can reach the hundreds, and two correct float32 runtimes (say
    PyTorch and onnxruntime) then differ by far more than 1e-5; how far each is from this float64
    result says how much of a difference is rounding. Embedding rows are looked up exactly in float32
    (no table is copied); everything after runs in float64.
    """
    blocks, head = copy.deepcopy(model.blocks).double(), copy.deepcopy(model.head).double()
    shell = PortableModel(model.embeddings, blocks, head)  # the tables stay float32 and shared
    with torch.no_grad():
        return shell.forward_embedded(dense.double(), model.embeddings(sparse).double())


def portable_from_subnet(subnet: Any) -> tuple[PortableModel, ModelSpec]:
    """The PortableModel computing what ``subnet`` computes (CPU, float32, eval mode) and its spec."""
    spec = ModelSpec.of_subnet(subnet)
    model = build_portable(subnet.arch, spec)
    model.load_state_dict(portable_state(subnet), strict=True, assign=True)
    return model, spec
