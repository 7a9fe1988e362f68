"""Leaderboard ordering and non-dominated sorting."""

from __future__ import annotations

from nasrec.search.leaderboard import Entry, pareto_ranks, rank_entries


def test_pareto_ranks_two_objectives() -> None:
    points = [(1, 5), (2, 2), (5, 1), (3, 3), (4, 4), (2, 2), (6, 6)]
    assert pareto_ranks(points, [True, True]) == [0, 0, 0, 1, 2, 0, 3]
    # maximising the second objective turns the picture around
    assert pareto_ranks(points, [True, False])[0] == 0
    assert pareto_ranks(points, [True, False])[1] == 1


def test_pareto_ranks_single_objective_is_sorting() -> None:
    assert pareto_ranks([(0.3,), (0.1,), (0.2,), (0.1,)], [True]) == [2, 0, 1, 0]


def _entry(name: str, loss: float | None, flops: float, feasible: bool = True) -> Entry:
    metrics = {"flops": flops} | ({} if loss is None else {"val_logloss": loss})
    return Entry(name=name, kind="found", architecture={}, arch_hash=name, feasible=feasible, metrics=metrics)


def test_rank_entries_feasible_first_then_primary_objective() -> None:
    entries = [
        _entry("a", 0.40, 10),
        _entry("b", 0.30, 100, feasible=False),
        _entry("c", 0.35, 50),
        _entry("d", None, 5),
        _entry("e", 0.45, 1),
    ]
    ranked = rank_entries(entries, [("val_logloss", True), ("flops", True)])
    assert [e.name for e in ranked] == ["c", "a", "e", "d", "b"]
    ranks = {e.name: e.pareto_rank for e in ranked}
    assert ranks == {"c": 0, "a": 0, "e": 0, "d": None, "b": None}
    only_loss = rank_entries(entries, [("val_logloss", True)])
    assert {e.name: e.pareto_rank for e in only_loss}["a"] == 1


def test_entry_json_has_the_documented_keys() -> None:
    e = Entry(
        name="found-1",
        kind="found",
        architecture={"blocks": []},
        arch_hash="x",
        feasible=True,
        metrics={"val_logloss": 0.4, "val_auc": 0.7, "test_logloss": 0.41, "flops": 3.0, "params": 2.0},
    )
    data = e.to_dict()
    for key in (
        "name",
        "kind",
        "architecture",
        "val_logloss",
        "test_logloss",
        "val_auc",
        "flops",
        "params",
        "feasible",
    ):
        assert key in data
    assert data["val_auc"] == 0.7
    assert Entry.from_dict(data).metrics["val_auc"] == 0.7


def test_table_columns_follow_the_registry_and_the_objectives() -> None:
    from nasrec.search.cli import leaderboard_table

    found = Entry(
        name="found-1",
        kind="found",
        architecture={"blocks": []},
        arch_hash="x",
        feasible=True,
        metrics={"val_logloss": 0.4, "val_auc": 0.7, "test_logloss": 0.41, "flops": 140_832, "params": 2e6},
        pareto_rank=0,
    )
    headers = [c.header for c in leaderboard_table([found]).columns]
    assert headers == [
        "#",
        "name",
        "kind",
        "val logloss",
        "val AUC",
        "test logloss",
        "FLOPs",
        "params",
        "feasible",
    ]
    cells = [next(iter(c.cells)) for c in leaderboard_table([found]).columns]
    assert cells[3:8] == ["0.4000", "0.7000", "0.4100", "140.83k", "2.00M"]
    with_pareto = [c.header for c in leaderboard_table([found], bayes=0.39, pareto=True).columns]
    assert with_pareto[-2:] == ["Pareto", "feasible"] and "excess" in with_pareto
