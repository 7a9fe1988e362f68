"""Costs of an architecture: analytic FLOPs and parameters (per op, reusable by other cost models).

The PIM cost model is ``nasrec.cost.pim`` (imported on its own: it loads hardware profiles).
"""

from nasrec.cost.flops import Gemm, OpCost, embedding_params, flops, op_costs, params

__all__ = ["Gemm", "OpCost", "embedding_params", "flops", "op_costs", "params"]
