"""Search spaces and the Architecture genotype.

SearchSpace / load_space / list_spaces     what may be built (search_spaces/*.yaml)
Architecture / Block                       one network; validate, canonical, canonical_hash
sample_architecture / mutate               NASRec's sampler and mutation, one input-count distribution
dot_tokens                                 Dot-Product token count round(sqrt(2 d))
"""

from nasrec.space.architecture import BINARY_OPS, DENSE_OPS, SPARSE_OPS, Architecture, Block
from nasrec.space.liveness import BlockLiveness
from nasrec.space.ops import dot_tokens
from nasrec.space.reference import reference_space_name
from nasrec.space.sampling import mutate, sample_architecture
from nasrec.space.space import SearchSpace, SpaceSize, list_spaces, load_space

__all__ = [
    "BINARY_OPS",
    "DENSE_OPS",
    "SPARSE_OPS",
    "Architecture",
    "Block",
    "BlockLiveness",
    "SearchSpace",
    "SpaceSize",
    "dot_tokens",
    "list_spaces",
    "load_space",
    "mutate",
    "reference_space_name",
    "sample_architecture",
]
