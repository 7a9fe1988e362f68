"""Baselines: hand-designed architectures a job's found models are compared with, sized to its budget.

A baseline is a file ``search_spaces/baselines/<name>.json`` (nasrec Architecture JSON plus a
``description``, optionally the ``space`` it belongs to), read and checked as every architecture
file is. A job names the ones it wants in ``finalize.baselines``.

A ranking team would not compare against a hand design that breaks the budget everyone else is held
to, so a baseline whose published size breaks one of the job's analytic constraints (FLOPs, params,
PIM metrics) is scaled down to fit (``fit_to_budget``): every width (dense widths, sparse widths /
tokens) is multiplied by one factor and rounded down, to a width its space allows when it names a
space (else to any positive int); its structure and op types stay. The factor is the largest at
which every analytic constraint holds, among the distinct sizes the rounding gives. A baseline that
no smaller size fits keeps its published size, says so, and ranks infeasible.
"""

from __future__ import annotations

import json
from bisect import bisect_right
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING

from nasrec.errors import ConfigError, NasrecError, NotFoundError

if TYPE_CHECKING:
    from nasrec.search.search import Search
    from nasrec.space.architecture import Architecture
    from nasrec.space.space import SearchSpace
    from nasrec.spec import JobSpec

__all__ = [
    "Baseline",
    "SizedBaseline",
    "baselines_dir",
    "fit_to_budget",
    "job_baselines",
    "list_baselines",
    "load_baseline",
    "sized_baseline",
]


@dataclass(frozen=True)
class Baseline:
    """A baseline as published: its canonical architecture, description and the space it names."""

    name: str
    architecture: Architecture
    description: str
    space: SearchSpace | None


@dataclass(frozen=True)
class SizedBaseline:
    """A baseline at the size a job trains it: ``scale`` is None at its published size, else the
    factor its widths were multiplied by (before rounding down) to meet the job's constraints."""

    baseline: Baseline
    architecture: Architecture
    scale: float | None
    note: str  # what was scaled and why ("" when not scaled)

    @property
    def description(self) -> str:
        return f"{self.baseline.description} {self.note}".strip()


def baselines_dir() -> Path:
    from nasrec.home import project_root

    return project_root() / "search_spaces" / "baselines"


def list_baselines() -> list[str]:
    d = baselines_dir()
    return sorted(p.stem for p in d.glob("*.json")) if d.is_dir() else []


def load_baseline(name: str) -> Baseline:
    """A baseline (canonical), read and checked as every architecture file is
    (``read_architecture``; against the space it names, if any): errors name the baseline's file,
    the block and the gene."""
    from nasrec.space.arch_file import read_architecture

    path = baselines_dir() / f"{name}.json"
    if not path.is_file():
        raise NotFoundError(f"no baseline {name!r}; available: {', '.join(list_baselines())}")
    read = read_architecture(path, source=f"baseline {name} ({path})")
    data = json.loads(path.read_text())
    description = data.get("description", "") if isinstance(data, dict) else ""
    return Baseline(name, read.architecture.canonical(), str(description), read.space)


def job_baselines(spec: JobSpec) -> list[str]:
    """The baselines the job asks for (all of them for ``true``, none for ``false``, or the listed
    ones), each loaded and checked: a missing or invalid baseline is a ``ConfigError`` naming
    ``finalize.baselines`` before anything runs."""
    wanted = spec.finalize.baselines
    if wanted is True:
        names = list_baselines()
    elif wanted is False:
        names = []
    else:
        missing = [b for b in wanted if b not in list_baselines()]
        if missing:
            raise ConfigError(
                f"finalize.baselines: unknown baseline(s) {missing}; available: {list_baselines()}"
            )
        names = list(wanted)
    for name in names:
        try:
            load_baseline(name)
        except NasrecError as exc:
            raise ConfigError(f"finalize.baselines: {exc}") from None
    return names


def sized_baseline(search: Search, name: str) -> SizedBaseline:
    """Baseline ``name`` at the size the job trains it: published, or scaled down to meet the job's
    analytic constraints (``fit_to_budget`` with ``Search.costs`` / ``Search.violations``)."""
    baseline = load_baseline(name)

    def broken(arch: Architecture) -> list[str]:
        return search.violations(search.costs(arch), kinds=("analytic",))

    published = broken(baseline.architecture)
    if not published:
        return SizedBaseline(baseline, baseline.architecture, None, "")
    fitted, scale = fit_to_budget(baseline.architecture, broken=broken, space=baseline.space)
    if scale is None:
        note = f"No smaller width meets {'; '.join(published)}: trained at its published size."
        return SizedBaseline(baseline, baseline.architecture, None, note)
    before, after = search.costs(baseline.architecture), search.costs(fitted)
    note = (
        f"Widths scaled to {float(scale):.3g}x of the published ones to fit {'; '.join(published)} "
        f"(flops {before['flops']:.4g} -> {after['flops']:.4g}, params {before['params']:.4g} -> "
        f"{after['params']:.4g})."
    )
    return SizedBaseline(baseline, fitted, round(float(scale), 4), note)


def fit_to_budget(
    arch: Architecture,
    *,
    broken: Callable[[Architecture], list[str]],
    space: SearchSpace | None = None,
) -> tuple[Architecture, Fraction | None]:
    """``arch`` with its widths scaled by the largest factor at which ``broken(arch)`` is empty, and
    that factor; ``(arch, None)`` when it already fits or cannot fit at any size.

    Every width ``w`` becomes the largest allowed width ``<= factor * w`` (the space's dense or
    sparse widths that are ``<= w`` when ``space`` is given, else ``1..w``), or the smallest allowed
    one when none is. The factors tried are those at which some width changes (``v / w`` for each
    allowed ``v``), exactly (fractions), largest first. All of them, not a bisection: the costs do
    not always grow with the widths (an op skips its projection when two widths match, e.g.
    attention with as many tokens as its input has), so feasibility can come and go along them.
    """
    if not broken(arch):
        return arch, None
    allowed = _allowed_widths(arch, space)
    factors = sorted({Fraction(v, w) for (w, values) in allowed.values() for v in values}, reverse=True)
    for factor in factors[1:]:  # factors[0] == 1: the published size
        scaled = _scaled(arch, factor, allowed)
        if not broken(scaled):
            return scaled, factor
    return arch, None


def _allowed_widths(
    arch: Architecture, space: SearchSpace | None
) -> dict[tuple[int, str], tuple[int, tuple[int, ...]]]:
    """(block, gene) -> (published width, the widths it may shrink to, ascending)."""
    out = {}
    for i, block in enumerate(arch.blocks):
        if block is None:
            continue
        for gene, choices in (
            ("dense_width", space.dense_widths if space else None),
            ("sparse_width", space.sparse_widths if space else None),
        ):
            width = getattr(block, gene)
            if width is None:
                continue
            values = (
                tuple(sorted(v for v in choices if v <= width)) if choices else tuple(range(1, width + 1))
            )
            out[(i, gene)] = (width, values)
    return out


def _scaled(
    arch: Architecture, factor: Fraction, allowed: dict[tuple[int, str], tuple[int, tuple[int, ...]]]
) -> Architecture:
    from nasrec.space.architecture import Architecture

    blocks = list(arch.blocks)
    for (i, gene), (width, values) in allowed.items():
        # the allowed widths v <= factor * width are those <= its floor (v are ints): exact, no floats
        fitting = bisect_right(values, factor.numerator * width // factor.denominator)
        blocks[i] = blocks[i].with_(**{gene: values[max(fitting - 1, 0)]})  # type: ignore[union-attr]
    return Architecture(tuple(blocks)).canonical()
