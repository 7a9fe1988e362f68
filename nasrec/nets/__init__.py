"""The model package: operators, embeddings, the weight-sharing supernet, paths, SubNet, inheritance.

SuperNet                        all architectures of a space in one network; ``supernet(batch, arch_or_path)``
SupernetPath / BlockPath        what a supernet forward computes (an Architecture, or several ops /
as_path                         inputs per block)
PathSampler / STRATEGIES        per-step path sampling (single-op-any-connection, single-path, any-path,
                                full-path) with the full-path warm-up schedule
full_path                       every op, every connection, max widths
SubNet                          the standalone network of one architecture (retrained, measured, exported)
plan_subnet                     which blocks and ops an architecture builds, at which shapes
inherit_subnet / inherited_state  a SubNet with the supernet's weights (the same slicing as its forward)
Embeddings / RowWiseAdagrad     all embedding tables (fbgemm fused row-wise Adagrad, or torch sparse)

Every network is built with the space's ``ModelConfig`` (``nasrec.space.model_config``).
"""

from nasrec.nets.embeddings import BACKENDS, Embeddings, RowWiseAdagrad
from nasrec.nets.inherit import inherit_subnet, inherited_state
from nasrec.nets.paths import STRATEGIES, BlockPath, PathSampler, SupernetPath, as_path, full_path
from nasrec.nets.plan import plan_subnet
from nasrec.nets.subnet import SubNet
from nasrec.nets.supernet import SuperNet

__all__ = [
    "BACKENDS",
    "STRATEGIES",
    "BlockPath",
    "Embeddings",
    "PathSampler",
    "RowWiseAdagrad",
    "SubNet",
    "SuperNet",
    "SupernetPath",
    "as_path",
    "full_path",
    "inherit_subnet",
    "inherited_state",
    "plan_subnet",
]
