"""Regularized evolution: the reference's mutation schedule, tournament, children and aging."""

from __future__ import annotations

from pathlib import Path

import pytest

from nasrec.search import create_search
from nasrec.search.controllers import mutation_count, num_generations
from nasrec.space import Architecture

from .conftest import ScriptedEvaluator, make_spec


def test_mutation_schedule_matches_the_reference() -> None:
    """m = floor((240 - g) / max(20, 240 // 5)) + 1: 6 at g=0; 5 for 1-48; 4: 49-96; ...; 1: 193-239."""
    counts = [mutation_count(g, 240) for g in range(240)]
    assert counts[0] == 6
    assert set(counts[1:49]) == {5}
    assert set(counts[49:97]) == {4}
    assert set(counts[97:145]) == {3}
    assert set(counts[145:193]) == {2}
    assert set(counts[193:240]) == {1}
    assert counts == sorted(counts, reverse=True)


def test_small_budgets_use_single_mutations() -> None:
    assert [mutation_count(g, 10) for g in range(10)] == [1] * 10  # max(20, 10 // 5) = 20 > 10 - g
    assert mutation_count(0, 40) == 3 and mutation_count(39, 40) == 1
    assert num_generations(2048, 128, 8) == 240  # the reference's budget
    assert num_generations(10, 4, 3) == 2


def test_generations_follow_the_algorithm(tiny_dataset: Path, tmp_path: Path) -> None:
    spec = make_spec(
        tiny_dataset,
        search={
            "controller": "evolution",
            "candidates": 10,
            "population": 4,
            "sample_size": 2,
            "children": 3,
        },
    )
    search = create_search(spec, storage=f"sqlite:///{tmp_path / 'db.sqlite'}")
    search.run_search(ScriptedEvaluator())
    trials = search.trials()
    init = [t for t in trials if t.user_attrs["role"] == "init"]
    children = [t for t in trials if t.user_attrs["role"] == "child"]
    assert len(init) == 4 and len(children) == 6
    assert [t.user_attrs["generation"] for t in children] == [0, 0, 0, 1, 1, 1]
    controller = search.controller
    for gen in (0, 1):
        gen_children = [t for t in children if t.user_attrs["generation"] == gen]
        before = [t for t in trials if t.number < gen_children[0].number]
        population = controller.population(before)
        assert len(population) == 4
        # aging: the population is the 4 most recent members when the generation starts
        members = [t.number for t in before if t.user_attrs["role"] in ("init", "child")]
        assert [m.number for m in population] == members[-4:]
        parents = {t.user_attrs["parent"] for t in gen_children}
        assert len(parents) == 1 and parents <= {m.number for m in population}
        assert {t.user_attrs["mutations"] for t in gen_children} == {
            mutation_count(gen, controller.generations)
        }
        parent = Architecture.from_json(
            next(t for t in trials if t.number in parents).user_attrs["architecture"]
        )
        for child in gen_children:
            assert child.user_attrs["arch_hash"] != parent.canonical_hash()  # never a no-op
    assert len({t.user_attrs["arch_hash"] for t in trials}) == len(trials)


@pytest.mark.parametrize("minimize", [True, False])
def test_tournament_picks_the_best_of_the_sample(minimize: bool) -> None:
    import numpy as np

    from nasrec.search.controllers.evolution import EvolutionController, Member

    controller = EvolutionController.__new__(EvolutionController)
    controller.minimize = minimize

    class Settings:
        sample_size = 3

    class Context:
        settings = Settings()

    controller.context = Context()  # type: ignore[assignment]
    population = [Member(i, float(v), "{}") for i, v in enumerate([0.5, 0.1, 0.9, 0.3, 0.7])]
    for seed in range(20):
        rng = np.random.default_rng(seed)
        picks = sorted(np.random.default_rng(seed).choice(5, size=3, replace=False))
        sample = [population[i] for i in picks]
        best = (min if minimize else max)(sample, key=lambda m: m.fitness)
        assert controller.tournament(population, rng) == best
