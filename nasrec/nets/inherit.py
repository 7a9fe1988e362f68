"""Weight inheritance: the standalone SubNet of an architecture with its supernet's weights.

``inherited_state(supernet, arch)`` slices the supernet's shared weights by the architecture's plan
(``nasrec.nets.plan``), the same slicing rule the supernet's forward uses (``export`` of each shared op
in ``nasrec.nets.shared``); ``inherit_subnet`` loads that state into a freshly built ``SubNet`` and
copies the embedding tables. The result computes exactly what ``supernet(batch, arch)`` computes.
"""

from __future__ import annotations

import torch
from torch import Tensor

from nasrec.nets.paths import as_path
from nasrec.nets.plan import plan_subnet
from nasrec.nets.subnet import SubNet
from nasrec.nets.supernet import SuperNet
from nasrec.space import Architecture

__all__ = ["inherit_subnet", "inherited_state"]


@torch.no_grad()
def inherited_state(supernet: SuperNet, arch: Architecture, *, copy: bool = True) -> dict[str, Tensor]:
    """The non-embedding state dict of ``SubNet(arch, ...)`` sliced from ``supernet``.

    ``copy=False`` returns views of the supernet's parameters where a slice allows it (for a caller
    that copies them anyway, as ``load_state_dict`` does).
    """
    supernet.check_path(as_path(arch))
    plan = plan_subnet(arch, supernet.schema, supernet.model)
    state: dict[str, Tensor] = {}
    for pos, bplan in enumerate(plan.blocks):
        block = supernet.blocks[bplan.index]
        for name, (op, args) in bplan.modules().items():
            owner = block.ops[op] if op in block.ops else getattr(block, op)
            state.update({f"blocks.{pos}.{name}.{k}": v for k, v in owner.export(*args).items()})
    out = plan.output
    head = supernet.head.export(out.dense, out.tokens, out.ds_tokens > 0)
    state.update({f"head.{k}": v for k, v in head.items()})
    return {k: v.clone() for k, v in state.items()} if copy else state


def inherit_subnet(supernet: SuperNet, arch: Architecture, **options: object) -> SubNet:
    """The SubNet of ``arch`` with weights inherited from ``supernet`` (copies, not views).

    ``options`` override the SubNet's embedding settings, which default to the supernet's.
    """
    settings: dict[str, object] = {
        "embedding_backend": supernet.embeddings.backend,
        "embedding_lr": supernet.embeddings.learning_rate,
        "embedding_eps": supernet.embeddings.eps,
        "embedding_seed": 0,
        "initialize_embeddings": False,
        **options,
    }
    subnet = SubNet(arch, supernet.schema, supernet.model, **settings)  # type: ignore[arg-type]
    ref = next(supernet.dense_parameters())
    subnet.to(device=ref.device)
    if ref.dtype != torch.float32:  # e.g. a float64 supernet in tests (torch embedding backend)
        subnet.to(dtype=ref.dtype)
    missing, unexpected = subnet.load_state_dict(inherited_state(supernet, arch, copy=False), strict=False)
    missing = [k for k in missing if not k.startswith("embeddings.")]
    if missing or unexpected:
        raise RuntimeError(
            f"inherited state does not match the subnet: missing {missing}, unexpected {unexpected}"
        )
    subnet.embeddings.copy_from(supernet.embeddings)
    return subnet
