"""The cross op is DCNv2's cross layer, ``x_0 * (W x_l + b) + x_l``, with left as x_0 and right as x_l
(docs/operators.md), written out here with plain tensor ops."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from nasrec.nets.ops import Cross


def test_cross_is_dcnv2s_formula_after_padding() -> None:
    torch.manual_seed(0)
    left, right = torch.randn(4, 3, dtype=torch.float64), torch.randn(4, 5, dtype=torch.float64)
    op = Cross(3, 5, 5, layernorm=False).double()  # w = 5 == d: no output projection
    assert op.out_proj.weight is None and op.out_proj.ln_weight is None
    w, b = op.linear.weight, op.linear.bias
    x0 = torch.cat([left, torch.zeros(4, 2, dtype=torch.float64)], dim=1)
    expected = x0 * (right @ w.T + b) + right
    torch.testing.assert_close(op(left, right), expected, rtol=1e-12, atol=1e-12)
    assert torch.equal(op(left, right)[:, 3:], right[:, 3:])  # x_0's padding: only the residual is left


def test_cross_projects_and_normalises_like_the_other_binary_ops() -> None:
    torch.manual_seed(1)
    left, right = torch.randn(4, 6, dtype=torch.float64), torch.randn(4, 2, dtype=torch.float64)
    op = Cross(6, 2, 3, layernorm=True).double()  # w = 6 -> d = 3: R without bias, then LN
    assert op.out_proj.weight is not None and op.out_proj.bias is None
    with torch.no_grad():
        op.out_proj.ln_weight.uniform_(0.5, 1.5)
        op.out_proj.ln_bias.uniform_(-0.3, 0.3)
    w, b = op.linear.weight, op.linear.bias
    xl = torch.cat([right, torch.zeros(4, 4, dtype=torch.float64)], dim=1)
    crossed = left * (xl @ w.T + b) + xl
    projected = crossed @ op.out_proj.weight.T
    expected = F.layer_norm(projected, (3,), op.out_proj.ln_weight, op.out_proj.ln_bias, 1e-5)
    torch.testing.assert_close(op(left, right), expected, rtol=1e-12, atol=1e-12)
