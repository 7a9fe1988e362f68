"""``export_checkpoint``: a bundle from a subnet checkpoint (as trained) or a supernet checkpoint
(inherited weights), and its refusals. A small planted dataset, a few training steps."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch

from nasrec.errors import ConfigError, ConflictError, NotFoundError

STEPS = dict(steps=2, batch_size=64, eval_rows=64, checkpoint_every=2, log_every=2, embedding_backend="torch")


@pytest.fixture(scope="module")
def setting(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """(dataset, space, two different architectures of it)."""
    import numpy as np

    from nasrec.data import synthesize
    from nasrec.space import load_space, sample_architecture

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("NASREC_HOME", str(tmp_path_factory.mktemp("home")))
        dataset = synthesize("export-ckpt", rows=1000, seed=0)
    space = load_space("nasrec_small")
    rng = np.random.default_rng(0)
    first = sample_architecture(space, rng)
    second = sample_architecture(space, rng)
    while second.canonical_hash() == first.canonical_hash():
        second = sample_architecture(space, rng)
    return dataset, space, first, second


@pytest.fixture(scope="module")
def subnet_run(setting: Any, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from nasrec.train import TrainConfig, train_subnet

    dataset, space, arch, _ = setting
    run = tmp_path_factory.mktemp("subnet-run")
    train_subnet(arch, dataset=dataset, model=space.model, config=TrainConfig(**STEPS), run_dir=run)
    return run


def test_a_subnet_checkpoint_is_exported_as_trained(setting: Any, subnet_run: Path, tmp_path: Path) -> None:
    from nasrec.export import export_checkpoint, load_exported
    from nasrec.train import load_subnet

    dataset, _, arch, _ = setting
    bundle = export_checkpoint(
        arch.to_dict(), checkpoint=subnet_run, dataset=dataset, out_dir=tmp_path / "b", metrics={"x": 1}
    )
    assert bundle.zip_path is not None and bundle.zip_path.is_file()
    assert json.loads(bundle.metrics.read_text()) == {"x": 1}
    assert json.loads(bundle.manifest.read_text())["canonical_hash"] == arch.canonical_hash()
    trained = load_subnet(subnet_run)
    batch = dataset.split("val").batch(0, 16)
    with torch.no_grad():
        expected = trained(batch.dense, batch.sparse)
    got = load_exported(bundle.zip_path)(batch.dense, batch.sparse)
    assert torch.allclose(got, expected, atol=1e-4)


def test_a_supernet_checkpoint_gives_the_inherited_weights(setting: Any, tmp_path: Path) -> None:
    from nasrec.export import export_checkpoint
    from nasrec.train import TrainConfig, train_supernet

    dataset, space, arch, _ = setting
    run = tmp_path / "supernet"
    train_supernet(dataset=dataset, space=space, config=TrainConfig(**STEPS), run_dir=run)
    bundle = export_checkpoint(arch, checkpoint=run, dataset=dataset, out_dir=tmp_path / "b", zip=False)
    assert bundle.zip_path is None
    assert json.loads(bundle.architecture.read_text())["canonical_hash"] == arch.canonical_hash()


def test_refusals_write_nothing(setting: Any, subnet_run: Path, tmp_path: Path) -> None:
    from nasrec.export import export_checkpoint

    dataset, _, _, other = setting
    out = tmp_path / "b"
    with pytest.raises(ConflictError, match="holds architecture .*, not "):
        export_checkpoint(other, checkpoint=subnet_run, dataset=dataset, out_dir=out)
    with pytest.raises(NotFoundError, match="no checkpoint at"):
        export_checkpoint(other, checkpoint=tmp_path, dataset=dataset, out_dir=out)
    fake = tmp_path / "fake"
    fake.mkdir()
    (fake / "metadata.json").write_text(json.dumps({"kind": "optimizer"}))
    with pytest.raises(ConfigError, match="holds a 'optimizer' checkpoint"):
        export_checkpoint(other, checkpoint=fake, dataset=dataset, out_dir=out)
    assert not out.exists() and not out.with_name("b.zip").exists()
