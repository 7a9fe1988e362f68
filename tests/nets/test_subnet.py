"""The standalone SubNet: what it builds, deterministic init, state_dict round trips, TorchScript."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
import torch

from nasrec.cost import params
from nasrec.data.schema import DatasetSchema
from nasrec.nets import SuperNet, inherit_subnet, inherited_state
from nasrec.nets.subnet import SubNet
from nasrec.space import DENSE_OPS, SPARSE_OPS, Architecture, load_space, sample_architecture
from nasrec.space.model_config import ModelConfig
from tests.support.needs import REFERENCE_CONFIGS, missing

from .conftest import TINY, tiny_batch


def archs(space_name: str, n: int, seed: int) -> list[Architecture]:
    rng = np.random.default_rng(seed)
    space = load_space(space_name)
    return [sample_architecture(space, rng) for _ in range(n)]


@pytest.mark.parametrize("space_name", ["nasrec_small", "nasrec_full", "nasrec_cross"])
def test_builds_only_live_blocks_and_ops(space_name: str) -> None:
    for arch in archs(space_name, 8, seed=0):
        for layernorm in (True, False):
            net = SubNet(arch, TINY, ModelConfig(layernorm=layernorm), embedding_backend="torch")
            assert [b.index for b in net.blocks] == list(arch.alive_blocks())
            built = sum(p.numel() for p in net.dense_parameters())
            assert built == params(arch, TINY, ModelConfig(layernorm=layernorm))
            for block, live in zip(
                net.blocks, [arch.liveness()[i] for i in arch.alive_blocks()], strict=True
            ):
                b = arch.blocks[block.index]
                assert b is not None
                dense = [n for n in DENSE_OPS if getattr(block, n) is not None]
                sparse = [n for n in SPARSE_OPS if getattr(block, n) is not None]
                assert dense == ([b.dense_op] if live.dense_op else [])
                assert sparse == ([b.sparse_op] if live.sparse_op else [])
                assert (block.fm is not None) == live.fm
                assert (block.ds is not None) == live.dense_to_sparse


def test_init_is_deterministic_given_manual_seed() -> None:
    arch = archs("nasrec_full", 1, seed=1)[0]
    states = []
    for seed in (0, 0, 1):
        torch.manual_seed(seed)
        states.append(SubNet(arch, TINY, ModelConfig(), embedding_backend="torch").state_dict())
    assert states[0].keys() == states[1].keys()
    assert all(torch.equal(states[0][k], states[1][k]) for k in states[0])
    assert not all(torch.equal(states[0][k], states[2][k]) for k in states[0])


@pytest.mark.parametrize("backend", ["fbgemm", "torch"])
def test_state_dict_round_trip(backend: str) -> None:
    batch = tiny_batch(dtype=torch.float32)
    for arch in archs("nasrec_full", 3, seed=2):
        torch.manual_seed(0)
        source = SubNet(arch, TINY, ModelConfig(), embedding_backend=backend, device="cpu")
        buffer = io.BytesIO()
        torch.save(source.state_dict(), buffer)
        torch.manual_seed(1)
        # fresh, never run
        target = SubNet(arch, TINY, ModelConfig(), embedding_backend=backend, device="cpu")
        assert not torch.equal(target(batch), source(batch))
        buffer.seek(0)
        target.load_state_dict(torch.load(buffer))
        torch.testing.assert_close(target(batch), source(batch), rtol=0, atol=0)
        torch.testing.assert_close(target(batch.dense, batch.sparse), source(batch), rtol=0, atol=0)


@pytest.mark.parametrize("backend", ["fbgemm", "torch"])
def test_from_architecture_and_from_supernet_are_the_same_module(backend: str) -> None:
    space = load_space("nasrec_full")
    supernet = SuperNet(TINY, space, embedding_backend=backend, device="cpu")
    batch = tiny_batch(dtype=torch.float32)
    for arch in archs("nasrec_full", 5, seed=3):
        fresh = SubNet(arch, TINY, ModelConfig(), embedding_backend=backend, device="cpu")
        inherited = inherit_subnet(supernet, arch)
        assert inherited.embeddings.backend == backend
        a, b = fresh.state_dict(), inherited.state_dict()
        assert a.keys() == b.keys()
        assert all(a[k].shape == b[k].shape for k in a)
        fresh.load_state_dict(b)
        torch.testing.assert_close(fresh(batch), supernet(batch, arch), rtol=1e-5, atol=1e-5)
        state = inherited_state(supernet, arch)
        assert set(state) == {k for k in b if not k.startswith("embeddings.")}


def test_torchscript_matches_eager() -> None:
    batch = tiny_batch(dtype=torch.float32)
    for space_name in ("nasrec_small", "nasrec_full"):
        for arch in archs(space_name, 4, seed=4):
            net = SubNet(arch, TINY, ModelConfig(), embedding_backend="torch").eval()
            expected = net(batch)
            scripted = torch.jit.script(net)
            # eager float32 attention runs the fused kernel, scripted code torch's SDPA: float rounding apart
            torch.testing.assert_close(scripted(batch.dense, batch.sparse), expected, rtol=1e-5, atol=1e-6)
            traced = torch.jit.trace(net, (batch.dense, batch.sparse))
            other = tiny_batch(size=5, seed=9, dtype=torch.float32)
            torch.testing.assert_close(traced(other.dense, other.sparse), net(other), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("name", ["autoctr", "xlarge"])
def test_reference_criteo_configs(name: str) -> None:
    path = REFERENCE_CONFIGS / f"ea_criteo_kaggle_{name}_best_1shot.json"
    if not path.is_file():
        missing("shared", f"reference config not found at {path}")
    arch = Architecture.from_nasrec_json(json.loads(path.read_text()))
    schema = DatasetSchema.of_shape(13, [10] * 26)
    net = SubNet(arch, schema, ModelConfig(layernorm=False), embedding_backend="torch")
    batch = tiny_batch(schema, size=4, dtype=torch.float32)
    assert net(batch).shape == (4,)
    assert (
        len(net.blocks) == len(arch.alive_blocks()) < arch.num_blocks
    )  # the shipped configs have dead blocks


@pytest.mark.parametrize("backend", ["fbgemm", "torch"])
def test_onnx_export_matches_eager(backend: str) -> None:
    ort = pytest.importorskip("onnxruntime")
    arch = archs("nasrec_full", 1, seed=3)[0]
    torch.manual_seed(0)
    net = SubNet(arch, TINY, ModelConfig(), embedding_backend=backend, device="cpu").eval()
    batch = tiny_batch(size=4, dtype=torch.float32)
    with torch.no_grad():
        expected = net(batch.dense, batch.sparse).numpy()
        program = torch.onnx.export(net, (batch.dense, batch.sparse), dynamo=True, verbose=False)
    session = ort.InferenceSession(program.model_proto.SerializeToString())
    feeds = {
        i.name: t.numpy() for i, t in zip(session.get_inputs(), (batch.dense, batch.sparse), strict=True)
    }
    np.testing.assert_allclose(session.run(None, feeds)[0], expected, rtol=1e-5, atol=1e-5)
