"""Small shape rules shared by the space, the FLOPs counter and the supernet."""

from __future__ import annotations

import math

ATTENTION_HEADS = 8  # attention: multi-head self-attention over E with 8 heads (head dim E / 8)


def dot_tokens(dense_width: int) -> int:
    """Token count k of a width-``d`` Dot-Product: ``round(sqrt(2 d))``.

    Chosen (as in NASRec) so that the k(k+1)/2 pairwise products roughly match d:
    16 -> 6, 32 -> 8, 64 -> 11, 128 -> 16, 256 -> 23, 512 -> 32, 768 -> 39, 1024 -> 45.
    """
    if dense_width < 1:
        raise ValueError(f"dense width must be >= 1, got {dense_width}")
    return round(math.sqrt(2 * dense_width))


def dot_pairs(dense_width: int) -> int:
    """Number of strictly-lower-triangle products of the (k+1) x (k+1) Gram matrix: k(k+1)/2."""
    k = dot_tokens(dense_width)
    return k * (k + 1) // 2
