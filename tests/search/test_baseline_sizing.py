"""Baselines are sized to the job's budget: one over an analytic constraint is scaled down (widths
only, one factor, the largest that fits); one within it is trained as published."""

from __future__ import annotations

import json
import math
from fractions import Fraction
from pathlib import Path

import pytest

from nasrec.search import Search, create_search
from nasrec.search.baselines import fit_to_budget, load_baseline, sized_baseline
from nasrec.space.architecture import Architecture


def search_under(dataset: Path, tmp_path: Path, *constraints: str, space: str = "nasrec_small") -> Search:
    spec = {"dataset": str(dataset), "space": space, "constraints": list(constraints)}
    spec["finalize"] = {"baselines": False}
    return create_search(spec, storage=f"sqlite:///{tmp_path / 'jobs.db'}", run_dir=tmp_path / "run")


def widths(arch: Architecture) -> list[int]:
    return [w for b in arch.blocks if b is not None for w in (b.dense_width, b.sparse_width) if w is not None]


WIDTHS = ("dense_width", "sparse_width")


def structure(arch: Architecture) -> list[dict[str, object] | None]:
    """Every gene but the widths."""
    return [
        None if b is None else {k: v for k, v in b.to_dict().items() if k not in WIDTHS} for b in arch.blocks
    ]


def scaled_by(arch: Architecture, factor: float) -> Architecture:
    """Every width times ``factor``, rounded down (at least 1): the test's own rule."""

    def shrink(width: int | None) -> int | None:
        return None if width is None else max(1, math.floor(factor * width + 1e-9))

    blocks = [
        None if b is None else b.with_(dense_width=shrink(b.dense_width), sparse_width=shrink(b.sparse_width))
        for b in arch.blocks
    ]
    return Architecture(tuple(blocks))


def test_an_over_budget_baseline_is_scaled_to_the_largest_size_that_fits(
    tiny_dataset: Path, tmp_path: Path
) -> None:
    search = search_under(tiny_dataset, tmp_path, "flops <= 2e5")
    published = load_baseline("autoint").architecture
    assert search.costs(published)["flops"] > 2e5  # the premise: AutoInt as published is over

    sized = sized_baseline(search, "autoint")
    fitted = sized.architecture
    assert search.costs(fitted)["flops"] <= 2e5 and search.feasible(fitted)
    fitted.validate()
    assert structure(fitted) == structure(published)  # same ops, inputs and merges
    assert all(0 < w <= p for w, p in zip(widths(fitted), widths(published), strict=True))
    assert sized.scale is not None and 0 < sized.scale < 1
    assert widths(fitted) == widths(scaled_by(published, sized.scale))
    # the largest: no factor (on a fine grid) gives a larger size that fits
    for factor in (k / 400 for k in range(1, 401)):
        candidate = scaled_by(published, factor)
        if search.feasible(candidate):
            assert all(w <= f for w, f in zip(widths(candidate), widths(fitted), strict=True)), factor
    assert "Widths scaled to" in sized.description and "flops <= 200000" in sized.description
    assert sized.description.startswith(load_baseline("autoint").description)
    assert sized_baseline(search, "autoint") == sized  # deterministic


def test_every_analytic_constraint_is_met(tiny_dataset: Path, tmp_path: Path) -> None:
    search = search_under(tiny_dataset, tmp_path, "flops <= 2e5", "params <= 1e4")
    sized = sized_baseline(search, "autoint")
    costs = search.costs(sized.architecture)
    assert costs["flops"] <= 2e5 and costs["params"] <= 1e4
    assert "flops <= 200000; params <= 10000" in sized.description


@pytest.mark.parametrize(("name", "constraints"), [("mlp", ["flops <= 2e5"]), ("autoint", [])])
def test_a_baseline_within_budget_is_unchanged(
    name: str, constraints: list[str], tiny_dataset: Path, tmp_path: Path
) -> None:
    search = search_under(tiny_dataset, tmp_path, *constraints)
    sized = sized_baseline(search, name)
    assert sized.architecture == load_baseline(name).architecture
    assert sized.scale is None and sized.description == load_baseline(name).description


def test_a_budget_no_size_meets_keeps_the_published_size(tiny_dataset: Path, tmp_path: Path) -> None:
    search = search_under(tiny_dataset, tmp_path, "flops <= 10")
    sized = sized_baseline(search, "autoint")
    assert sized.architecture == load_baseline("autoint").architecture and sized.scale is None
    assert "trained at its published size" in sized.description


def test_a_baseline_that_names_a_space_keeps_to_its_widths(
    tiny_dataset: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import nasrec.search.baselines as baselines_module
    from nasrec.space import load_space

    shipped = json.loads((baselines_module.baselines_dir() / "nasrec_criteo_small.json").read_text())
    mine = tmp_path / "baselines"
    mine.mkdir()
    (mine / "mine.json").write_text(json.dumps({**shipped, "space": "nasrec_small"}))
    monkeypatch.setattr(baselines_module, "baselines_dir", lambda: mine)

    published = load_baseline("mine").architecture
    budget = search_under(tiny_dataset, tmp_path, "flops <= 1").costs(published)["flops"] / 3
    (tmp_path / "job").mkdir()
    search = search_under(tiny_dataset, tmp_path / "job", f"flops <= {budget:.0f}")
    sized = sized_baseline(search, "mine")
    space = load_space("nasrec_small")
    assert sized.scale is not None and search.feasible(sized.architecture)
    sized.architecture.validate(space)
    for b in sized.architecture.blocks:
        if b is not None:
            assert b.dense_width is None or b.dense_width in space.dense_widths
            assert b.sparse_width is None or b.sparse_width in space.sparse_widths


def test_fit_to_budget_searches_the_exact_factors_at_which_a_width_changes() -> None:
    """A budget on the sum of widths: the factor is a ratio ``v / w`` of the widths, never rounded up."""
    arch = load_baseline("autoint").architecture
    total = sum(widths(arch))

    def broken(a: Architecture) -> list[str]:
        return ["too wide"] if sum(widths(a)) > total // 2 else []

    fitted, factor = fit_to_budget(arch, broken=broken)
    assert isinstance(factor, Fraction) and sum(widths(fitted)) <= total // 2
    assert any(factor == Fraction(v, w) for w in widths(arch) for v in range(1, w + 1))
    assert fit_to_budget(fitted, broken=broken) == (fitted, None)  # already fits: unchanged


def test_the_leaderboard_shows_a_scaled_baseline_with_its_factor() -> None:
    from rich.console import Console

    from nasrec.search.cli import leaderboard_table
    from nasrec.search.leaderboard import Entry

    metrics = {"val_logloss": 0.4, "width_scale": 0.86}
    scaled = Entry(
        name="autoint", kind="baseline", architecture={}, arch_hash="a", feasible=True, metrics=metrics
    )
    console = Console(width=200, record=True)
    console.print(leaderboard_table([scaled]))
    assert "autoint (0.86x widths)" in console.export_text()
