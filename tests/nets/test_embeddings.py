"""Both embedding backends: same forward from the same weights, same row-wise Adagrad update, learning,
and a state_dict round trip that continues training exactly."""

from __future__ import annotations

import io

import pytest
import torch
import torch.nn.functional as F

from nasrec.errors import ConfigError
from nasrec.nets import Embeddings, RowWiseAdagrad, SuperNet
from nasrec.space import load_space

from .conftest import TINY

ROWS = [50, 30, 20, 7]
DIM = 16


def indices(batch: int, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    out = torch.stack([torch.randint(0, r, (batch,), generator=g) for r in ROWS], dim=1)
    out[:4] = 1  # repeated rows in one batch: their gradients must be summed before the update
    return out


def train_steps(emb: Embeddings, steps: range, lr_scale: float = 1.0) -> list[float]:
    """Regress the looked-up vectors on fixed targets; one fused / sparse update per step."""
    losses = []
    for step in steps:
        sparse = indices(64, seed=step)
        target = torch.randn(64, len(ROWS), DIM, generator=torch.Generator().manual_seed(1000 + step))
        loss = (emb(sparse) - target).square().sum() * lr_scale
        opt = emb.optimizer()
        if opt is not None:
            opt.zero_grad(set_to_none=True)
        loss.backward()
        if opt is not None:
            opt.step()
        losses.append(loss.item())
    return losses


def pair(lr: float = 0.1) -> tuple[Embeddings, Embeddings]:
    return (
        Embeddings(ROWS, DIM, backend="fbgemm", lr=lr, seed=3, device="cpu"),
        Embeddings(ROWS, DIM, backend="torch", lr=lr, seed=3, device="cpu"),
    )


def test_same_seed_same_tables_and_same_forward() -> None:
    fb, th = pair()
    for a, b in zip(fb.get_weights(), th.get_weights(), strict=True):
        assert a.shape == b.shape and torch.equal(a, b)
    new = [torch.randn(r, DIM) for r in ROWS]
    fb.set_weights(new)
    th.set_weights(new)
    sparse = indices(32, seed=0)
    out = fb(sparse)
    assert out.shape == (32, len(ROWS), DIM)
    torch.testing.assert_close(out, th(sparse), rtol=0, atol=0)
    torch.testing.assert_close(out[:, 2], new[2][sparse[:, 2]], rtol=0, atol=0)
    for emb in (fb, th):  # evaluation: no_grad and inference_mode give the same lookup
        with torch.no_grad():
            torch.testing.assert_close(emb(sparse), out, rtol=0, atol=0)
        with torch.inference_mode():
            torch.testing.assert_close(emb(sparse), out, rtol=0, atol=0)


def test_same_rowwise_adagrad_update() -> None:
    fb, th = pair()
    assert fb.optimizer() is None and isinstance(th.optimizer(), RowWiseAdagrad)
    loss_fb = train_steps(fb, range(6))
    loss_th = train_steps(th, range(6))
    assert loss_fb == pytest.approx(loss_th, rel=1e-5)
    for a, b in zip(fb.get_weights(), th.get_weights(), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
    for a, b in zip(fb.get_optimizer_state(), th.get_optimizer_state(), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


def test_untouched_rows_keep_weights_and_state() -> None:
    for emb in pair():
        before = emb.get_weights()
        sparse = torch.zeros(8, len(ROWS), dtype=torch.int64)  # only row 0 of every table
        loss = emb(sparse).sum()
        if emb.optimizer() is not None:
            emb.optimizer().zero_grad()
        loss.backward()
        if emb.optimizer() is not None:
            emb.optimizer().step()
        after, state = emb.get_weights(), emb.get_optimizer_state()
        for b, a, s in zip(before, after, state, strict=True):
            assert not torch.equal(a[0], b[0]) and s[0] > 0
            assert torch.equal(a[1:], b[1:]) and (s[1:] == 0).all()


@pytest.mark.parametrize("backend", ["fbgemm", "torch"])
def test_backend_learns_a_small_problem(backend: str) -> None:
    """Each row has a hidden label; logistic regression on the summed embedding learns it."""
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(1)
    emb = Embeddings(ROWS, DIM, backend=backend, lr=0.2, seed=0, device="cpu")
    hidden = [torch.randn(r, generator=g) for r in ROWS]
    readout = torch.ones(DIM) / DIM

    def loss_on(sparse: torch.Tensor) -> torch.Tensor:
        logits = (emb(sparse) * readout).sum(dim=(1, 2))
        truth = sum(h[sparse[:, f]] for f, h in enumerate(hidden))
        return F.binary_cross_entropy_with_logits(logits, (truth > 0).float())

    probe = indices(256, seed=999)
    with torch.no_grad():
        start = loss_on(probe).item()
    for step in range(60):
        loss = loss_on(indices(128, seed=step))
        if emb.optimizer() is not None:
            emb.optimizer().zero_grad()
        loss.backward()
        if emb.optimizer() is not None:
            emb.optimizer().step()
    with torch.no_grad():
        end = loss_on(probe).item()
    assert end < 0.7 * start


@pytest.mark.parametrize("backend", ["fbgemm", "torch"])
def test_state_dict_round_trip_continues_identically(backend: str) -> None:
    emb = Embeddings(ROWS, DIM, backend=backend, lr=0.1, seed=5, device="cpu")
    train_steps(emb, range(4))
    buffer = io.BytesIO()
    torch.save(emb.state_dict(), buffer)
    train_steps(emb, range(4, 8))
    resumed = Embeddings(ROWS, DIM, backend=backend, lr=0.1, seed=77, device="cpu")  # other init
    buffer.seek(0)
    resumed.load_state_dict(torch.load(buffer))
    train_steps(resumed, range(4, 8))
    for a, b in zip(emb.get_weights(), resumed.get_weights(), strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    for a, b in zip(emb.get_optimizer_state(), resumed.get_optimizer_state(), strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


@pytest.mark.parametrize("backend", ["fbgemm", "torch"])
def test_set_learning_rate(backend: str) -> None:
    slow = Embeddings(ROWS, DIM, backend=backend, lr=0.1, seed=5, device="cpu")
    fast = Embeddings(ROWS, DIM, backend=backend, lr=0.1, seed=5, device="cpu")
    fast.set_learning_rate(0.2)
    assert fast.learning_rate == 0.2
    start = slow.get_weights()
    train_steps(slow, range(1))
    train_steps(fast, range(1))
    # the first row-wise Adagrad step has size lr * g / |g|_rms: twice the lr, twice the step
    for s0, a, b in zip(start, slow.get_weights(), fast.get_weights(), strict=True):
        torch.testing.assert_close(b - s0, 2 * (a - s0), rtol=1e-4, atol=1e-6)


def test_bad_configurations_are_rejected() -> None:
    with pytest.raises(ConfigError, match="backend"):
        Embeddings(ROWS, DIM, backend="numpy")
    with pytest.raises(ConfigError, match="row"):
        Embeddings([10, 0], DIM, backend="torch")
    emb = Embeddings(ROWS, DIM, backend="torch")
    with pytest.raises(ConfigError, match="table 1"):
        emb.set_weights([torch.zeros(r + (f == 1), DIM) for f, r in enumerate(ROWS)])


@pytest.mark.parametrize("backend", ["fbgemm", "torch"])
def test_dense_parameters_exclude_the_tables(backend: str) -> None:
    net = SuperNet(TINY, load_space("nasrec_small"), embedding_backend=backend, device="cpu")
    dense = {id(p) for p in net.dense_parameters()}
    tables = {id(p) for p in net.embeddings.parameters()}
    assert dense and tables and not dense & tables
    assert dense | tables == {id(p) for p in net.parameters()}


def test_fbgemm_backward_runs_on_one_thread_with_the_same_update(monkeypatch: pytest.MonkeyPatch) -> None:
    """The fused update's backward runs single-threaded (``_one_thread_backward``), the caller's thread
    count comes back after it, and the tables and their state end up exactly as with two threads."""
    from nasrec.nets import embeddings as module

    def train(hooked: bool) -> tuple[dict[str, torch.Tensor], list[int]]:
        with monkeypatch.context() as m:
            if not hooked:
                m.setattr(module, "_one_thread_backward", lambda node: None)
            emb = Embeddings(ROWS, DIM, backend="fbgemm", seed=0, device="cpu", lr=0.1)
            seen: list[int] = []
            for step in range(3):
                out = emb(indices(64, step))
                tbe = out.grad_fn.next_functions[0][0]  # the view's input: fbgemm's lookup
                tbe.register_prehook(lambda grads: seen.append(torch.get_num_threads()))
                (out.square().sum() + out.sum()).backward()
                assert torch.get_num_threads() == 2
        return emb.state_dict(), seen

    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        (ours, seen), (plain, plain_seen) = train(True), train(False)
    finally:
        torch.set_num_threads(before)
    assert seen == [1, 1, 1] and plain_seen == [2, 2, 2]
    assert ours.keys() == plain.keys()
    assert all(torch.equal(ours[k], plain[k]) for k in ours)
