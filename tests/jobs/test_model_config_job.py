"""The space's model config reaches every consumer: a space with ``embedding_dim: 32`` is searched,
costed, retrained and exported at 32, and every leaderboard row's FLOPs and params are those of the
model that is exported (LayerNorm on). Real Ray, a real SQLite store, real export bundles."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

from nasrec.cost import flops, params
from nasrec.jobs import run_local
from nasrec.search.records import final_records

pytestmark = pytest.mark.slow


SPACE: dict[str, Any] = {
    "name": "wide32",
    "num_blocks": 3,
    "dense_ops": ["fc", "dot"],
    "sparse_ops": ["efc"],
    "dense_widths": [16, 32, 64],
    "sparse_widths": [16, 32],
    "embedding_dim": 32,
    "ds_tokens": 4,
    "layernorm": True,
}


def test_a_32_wide_space_is_searched_retrained_and_exported_at_32(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from nasrec.data import synthesize
    from nasrec.export import export_bundle, load_exported
    from nasrec.train import load_subnet

    monkeypatch.setenv("NASREC_HOME", str(tmp_path / "home"))
    dataset = synthesize("tiny", rows=1500, seed=0)
    spec = {
        "dataset": "tiny",
        "space": SPACE,
        "seed": 0,
        "supernet": {"steps": 10, "batch_size": 64, "warmup_k": 2, "checkpoint_every": 10},
        "search": {"controller": "random", "candidates": 3, "batch_size": 3},
        "evaluation": {"finetune_steps": 0, "val_rows": 128, "batch_size": 128, "latency": False},
        "finalize": {"top_k": 1, "retrain_steps": 3, "batch_size": 64, "baselines": ["dlrm"]},
        "resources": {"eval_actors": 1},
    }
    run = run_local(spec, database_url=f"sqlite:///{tmp_path / 'nasrec.db'}")
    final = final_records(run.search.study)
    assert sorted(final) == ["dlrm", "found-1"]
    one_shot = {e.arch_hash: e for e in run.search.leaderboard()}
    for name, record in final.items():
        subnet = load_subnet(record.checkpoint)
        assert subnet.model.embedding_dim == 32 and subnet.model.ds_tokens == 4 and subnet.model.layernorm
        bundle = export_bundle(subnet, dataset=dataset, out_dir=tmp_path / "exports" / name, zip=False)
        exported = load_exported(bundle.path)
        assert exported.spec.model == subnet.model
        assert exported.embeddings.weight.shape[1] == 32
        # what the leaderboard shows is what the exported model costs
        built = sum(p.numel() for key, p in exported.named_parameters() if not key.startswith("embeddings."))
        assert (
            record.metrics["params"]
            == built
            == params(exported.architecture, exported.schema, exported.spec.model)
        )
        assert record.metrics["flops"] == flops(exported.architecture, exported.schema, exported.spec.model)
        if name == "found-1":  # and so does its row of the search leaderboard (one-shot scores)
            row = one_shot[record.arch_hash]
            assert (row.metric("flops"), row.metric("params")) == (
                record.metrics["flops"],
                record.metrics["params"],
            )
        with torch.no_grad():
            batch = dataset.split("val").batch(0, 8)
            torch.testing.assert_close(
                exported(batch.dense, batch.sparse), subnet(batch), rtol=1e-4, atol=1e-5
            )
