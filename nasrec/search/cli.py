"""What ``nasrec search`` and ``nasrec demo`` show: per-phase progress bars and the leaderboard.

Progress goes to stderr; the leaderboard (a table, or with ``--json`` a JSON list) to stdout, so
``nasrec search job.yaml --json > board.json`` captures only the result. The command itself runs a
job, so it lives above the job layer (``nasrec.jobs.cli``).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import typer

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table

    from nasrec.search.leaderboard import Entry

__all__ = ["bayes_logloss", "leaderboard_table", "phase_progress", "print_leaderboard"]

PHASES = {"supernet": "train supernet", "search": "search", "retrain": "retrain", "finalize": "finalize"}


def print_leaderboard(
    entries: Sequence[Entry], *, json_output: bool, bayes: float | None = None, title: str = "leaderboard"
) -> None:
    """The leaderboard on stdout: a JSON list, or a table (with the Bayes log loss when known)."""
    if json_output:
        typer.echo(json.dumps([e.to_dict() for e in entries], indent=2))
        return
    from rich.console import Console

    console = Console()
    if not console.is_terminal:  # a pipe or a log file: no terminal width to respect, keep every column
        console = Console(width=160)
    console.print(leaderboard_table(entries, bayes=bayes, title=title))
    if bayes is not None:
        console.print(f"Bayes log loss of the test split (the best any model can do): {bayes:.4f}")


def leaderboard_table(entries: Sequence[Entry], *, bayes: float | None = None, title: str = "") -> Table:
    from rich.table import Table

    table = Table(title=title, title_justify="left")
    for header, justify in (
        ("#", "right"), ("name", "left"), ("kind", "left"), ("val logloss", "right"), ("val AUC", "right"),
        ("test logloss", "right"), ("excess", "right"), ("FLOPs", "right"), ("params", "right"),
        ("Pareto", "right"), ("feasible", "left"),
    ):  # fmt: skip
        table.add_column(header, justify=justify)  # type: ignore[arg-type]
    for i, e in enumerate(entries, 1):
        test = e.metric("test_logloss")
        excess = None if test is None or bayes is None else test - bayes
        name = f"[bold]{e.name}[/] (winner)" if e.winner else e.name
        table.add_row(
            str(i),
            name,
            e.kind,
            _fmt(e.metric("val_logloss"), 4),
            _fmt(e.metric("val_auc"), 4),
            _fmt(test, 4),
            _fmt(excess, 4),
            _si(e.metric("flops")),
            _si(e.metric("params")),
            "" if e.pareto_rank is None else str(e.pareto_rank),
            "yes" if e.feasible else "[red]no[/] " + "; ".join(e.violations),
        )
    return table


@contextmanager
def phase_progress(console: Console | None = None) -> Iterator[Any]:
    """A ``progress(phase, done, total, info)`` callback drawing one rich bar per phase on stderr."""
    from nasrec.console import progress_bar

    bars = progress_bar(fields="{task.fields[info]}", console=console)
    tasks: dict[str, Any] = {}

    def update(phase: str, done: int, total: int, info: dict[str, Any]) -> None:
        label = PHASES.get(phase, phase)
        if phase == "retrain" and "model" in info:
            label = f"retrain {info['model']}"
            phase = f"retrain:{info['model']}"
        if phase not in tasks:
            tasks[phase] = bars.add_task(label, total=max(total, 1), info="")
        bars.update(tasks[phase], completed=done, total=max(total, 1), info=_info(info))

    with bars:
        yield update


def _info(info: dict[str, Any]) -> str:
    parts = []
    for key in ("train_loss", "evaluated", "duplicate", "infeasible", "failed"):
        value = info.get(key)
        if isinstance(value, float):
            parts.append(f"{key} {value:.4f}")
        elif isinstance(value, int) and value:
            parts.append(f"{key} {value}")
    return " ".join(parts)


def bayes_logloss(search: Any) -> float | None:
    try:
        value = search.dataset.meta.get("bayes_logloss", {})
    except Exception:
        return None
    if isinstance(value, dict):
        value = value.get("test")
    return float(value) if isinstance(value, int | float) else None


def _fmt(value: float | None, digits: int) -> str:
    return "" if value is None or math.isnan(value) else f"{value:.{digits}f}"


def _si(value: float | None) -> str:
    if value is None:
        return ""
    for unit, scale in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(value) >= scale:
            return f"{value / scale:.2f}{unit}"
    return f"{value:.0f}"
