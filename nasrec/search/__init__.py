"""Search: job study, controllers, candidate evaluation on Ray actors, leaderboard, finalisation.

    create_search / load_search     the orchestration object of a job (``Search``)
    Entry, pareto_ranks             leaderboard rows and non-dominated sorting

Heavy modules (optuna, ray, torch) load on first use.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from nasrec.search.leaderboard import Entry, pareto_ranks
    from nasrec.search.search import Search, create_search, load_search

__all__ = ["Entry", "Search", "create_search", "load_search", "pareto_ranks"]

_LAZY = {
    "Entry": "leaderboard",
    "pareto_ranks": "leaderboard",
    "Search": "search",
    "create_search": "search",
    "load_search": "search",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(f"nasrec.search.{_LAZY[name]}"), name)
    raise AttributeError(f"module 'nasrec.search' has no attribute {name!r}")
