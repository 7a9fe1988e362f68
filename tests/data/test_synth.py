"""The planted synthetic dataset: reproducible, Criteo-shaped, known Bayes log loss, architecture matters."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from nasrec.data import Batch, BatchLoader, Dataset, synthesize
from nasrec.data.synth import write_criteo_tsv
from nasrec.data.teachers import FMConfig


def test_same_seed_same_dataset_other_seed_other_dataset() -> None:
    a = synthesize("a", rows=4_000, seed=11)
    b = synthesize("b", rows=4_000, seed=11)
    c = synthesize("c", rows=4_000, seed=12)
    for key in ("dense", "sparse", "labels"):
        np.testing.assert_array_equal(np.asarray(getattr(a, key)), np.asarray(getattr(b, key)))
    assert a.meta["bayes_logloss"] == b.meta["bayes_logloss"]
    assert a.schema == b.schema
    assert not np.array_equal(np.asarray(a.labels), np.asarray(c.labels))


def test_shape_label_rate_and_bayes_logloss() -> None:
    ds = synthesize("shape", rows=60_000, seed=0)
    info = ds.info()
    assert info["rows"] == {"train": 48_000, "val": 6_000, "test": 6_000}
    assert len(info["dense_features"]) == 13 and len(info["sparse_features"]) == 26
    assert 0.2 <= info["positive_rate"] <= 0.3
    rows = [f["rows"] for f in info["sparse_features"]]
    assert max(rows) > 1_000 and min(rows) <= 5  # a Criteo-like spread of table sizes
    assert all(0.2 < share <= 1.0 for share in info["hot_rows"].values())  # Zipf: the top 1% serve a lot
    base_entropy = -(0.25 * np.log(0.25) + 0.75 * np.log(0.75))
    for split in ("train", "val", "test"):
        bayes = info["bayes_logloss"][split]
        p = np.asarray(ds.split_array("true_prob", split), dtype=np.float64)
        y = np.asarray(ds.split(split).labels)
        entropy = -(p * np.log(p) + (1 - p) * np.log1p(-p))
        assert bayes == pytest.approx(entropy.mean(), abs=1e-5)
        realized = -(y * np.log(p) + (1 - y) * np.log1p(-p)).mean()
        assert realized == pytest.approx(bayes, abs=0.02)  # labels really are draws of p
        assert bayes < base_entropy - 0.1  # the features explain a lot


def test_teacher_config_validates() -> None:
    from nasrec.errors import ConfigError

    with pytest.raises(ConfigError, match="positive_rate"):
        FMConfig(positive_rate=1.5)
    cfg = FMConfig(positive_rate=0.1, pairwise=0.0)
    ds = synthesize("sparse-clicks", rows=20_000, seed=1, config=cfg)
    assert ds.info()["positive_rate"] == pytest.approx(0.1, abs=0.015)
    assert ds.meta["teacher"]["pairwise"] == 0.0


def test_raw_criteo_writer_round_trips_through_ingest(tmp_path) -> None:
    from nasrec.data import ingest

    path = write_criteo_tsv(tmp_path / "raw.txt", rows=5_000, seed=3)
    lines = path.read_text().splitlines()
    assert len(lines) == 5_000 and all(len(line.split("\t")) == 40 for line in lines[:50])
    ds = ingest("criteo", [path], name="raw")
    assert 0.2 <= ds.info()["positive_rate"] <= 0.3
    assert ds.schema.num_dense == 13 and ds.schema.num_sparse == 26


# --- architecture matters: the true interaction structure beats a plain MLP ---------------------

EMBED = 8


class Tables(nn.Module):
    """All 26 tables as one embedding with per-field offsets: B x F -> B x F x E."""

    def __init__(self, rows: tuple[int, ...], dim: int) -> None:
        super().__init__()
        self.offsets = torch.tensor(np.concatenate([[0], np.cumsum(rows)[:-1]]))
        self.table = nn.Embedding(int(sum(rows)), dim)
        nn.init.normal_(self.table.weight, std=0.1)

    def forward(self, sparse: torch.Tensor) -> torch.Tensor:
        return self.table(sparse + self.offsets)


class PlainMLP(nn.Module):
    """Concatenated dense and embeddings -> 256 -> 128 -> 1."""

    def __init__(self, rows: tuple[int, ...]) -> None:
        super().__init__()
        self.emb = Tables(rows, EMBED)
        self.net = nn.Sequential(
            nn.Linear(13 + len(rows) * EMBED, 256),
            nn.ReLU(),
            nn.Linear(256, 128),
            nn.ReLU(),
            nn.Linear(128, 1),
        )

    def forward(self, b: Batch) -> torch.Tensor:
        return self.net(torch.cat([b.dense, self.emb(b.sparse).flatten(1)], dim=1)).squeeze(1)


class DotInteraction(nn.Module):
    """First order + dense projected into embedding space + weighted pairwise dot products (FwFM / DLRM)."""

    def __init__(self, rows: tuple[int, ...]) -> None:
        super().__init__()
        self.emb = Tables(rows, EMBED)
        self.first = Tables(rows, 1)
        self.bottom = nn.Linear(13, EMBED)
        n = len(rows) + 1
        self.pairs = torch.triu_indices(n, n, 1)
        self.top = nn.Linear(13 + n * (n - 1) // 2, 1)

    def forward(self, b: Batch) -> torch.Tensor:
        z = torch.cat([self.bottom(b.dense).unsqueeze(1), self.emb(b.sparse)], dim=1)
        dots = torch.bmm(z, z.transpose(1, 2))[:, self.pairs[0], self.pairs[1]]
        return self.top(torch.cat([b.dense, dots], dim=1)).squeeze(1) + self.first(b.sparse).sum(dim=(1, 2))


def train_and_validate(model: nn.Module, ds: Dataset, steps: int) -> float:
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    batches = BatchLoader(ds.split("train"), 512, seed=0).repeat()
    for _ in range(steps):
        b = next(batches)
        loss = nn.functional.binary_cross_entropy_with_logits(model(b), b.labels)
        opt.zero_grad()
        loss.backward()
        opt.step()
    val = ds.split("val")
    vb = val.batch(0, len(val))
    with torch.no_grad():
        return float(nn.functional.binary_cross_entropy_with_logits(model(vb), vb.labels))


def test_interaction_model_beats_plain_mlp() -> None:
    ds = synthesize("demo-like", rows=120_000, seed=0)
    rows = ds.schema.table_rows
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        torch.manual_seed(0)
        mlp = train_and_validate(PlainMLP(rows), ds, steps=200)
        torch.manual_seed(0)
        dot = train_and_validate(DotInteraction(rows), ds, steps=200)
    finally:
        torch.set_num_threads(threads)
    bayes = ds.meta["bayes_logloss"]["val"]
    constant = -(0.25 * np.log(0.25) + 0.75 * np.log(0.75))
    assert bayes < dot < mlp < constant
    assert mlp - dot > 0.015, (mlp, dot, bayes)
    assert (dot - bayes) < 0.7 * (mlp - bayes), (mlp, dot, bayes)  # clearly closer to the Bayes log loss
