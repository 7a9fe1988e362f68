"""Search controllers: ``propose`` + ``observe`` (see ``base``); ``random`` is the reference one."""

from __future__ import annotations

from nasrec.errors import ConfigError
from nasrec.search.controllers.base import Controller, ControllerContext, Proposal
from nasrec.search.controllers.evolution import EvolutionController, mutation_count, num_generations
from nasrec.search.controllers.nsga2 import NSGA2Controller
from nasrec.search.controllers.random import RandomController
from nasrec.search.controllers.tpe import TPEController

CONTROLLERS: dict[str, type[Controller]] = {
    c.name: c for c in (EvolutionController, RandomController, TPEController, NSGA2Controller)
}

__all__ = [
    "CONTROLLERS",
    "Controller",
    "ControllerContext",
    "EvolutionController",
    "NSGA2Controller",
    "Proposal",
    "RandomController",
    "TPEController",
    "make_controller",
    "mutation_count",
    "num_generations",
]


def make_controller(name: str, context: ControllerContext) -> Controller:
    try:
        cls = CONTROLLERS[name]
    except KeyError:
        raise ConfigError(f"unknown controller {name!r}; choose one of {sorted(CONTROLLERS)}") from None
    return cls(context)
