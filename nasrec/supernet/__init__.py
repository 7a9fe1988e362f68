"""The weight-sharing supernet, its operators, embeddings and path samplers.

SuperNet                      all architectures of a space in one network; ``supernet(batch, arch_or_path)``
Path / BlockPath / as_path    what a forward computes (an Architecture, or several ops / inputs per block)
PathSampler / STRATEGIES      per-step path sampling (single-op-any-connection, single-path, any-path,
                              full-path) with the full-path warm-up schedule
full_path                     every op, every connection, max widths
Embeddings / RowWiseAdagrad   all embedding tables (fbgemm fused row-wise Adagrad, or torch sparse)

The standalone network built from one architecture is ``nasrec.subnet.SubNet``.
"""

from nasrec.supernet.embeddings import BACKENDS, Embeddings, RowWiseAdagrad
from nasrec.supernet.paths import STRATEGIES, BlockPath, Path, PathSampler, as_path, full_path
from nasrec.supernet.supernet import SuperNet

__all__ = [
    "BACKENDS",
    "STRATEGIES",
    "BlockPath",
    "Embeddings",
    "Path",
    "PathSampler",
    "RowWiseAdagrad",
    "SuperNet",
    "as_path",
    "full_path",
]
