"""What ``nasrec search`` and ``nasrec demo`` show: per-phase progress bars and the leaderboard.

Progress goes to stderr; the leaderboard (a table, or with ``--json`` a JSON list) to stdout, so
``nasrec search job.yaml --json > board.json`` captures only the result. The command itself runs a
job, so it lives above the job layer (``nasrec.jobs.cli``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import typer

from nasrec.metrics import METRICS

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table

    from nasrec.search.leaderboard import Entry

__all__ = ["bayes_logloss", "leaderboard_table", "phase_progress", "print_leaderboard"]

PHASES = {"supernet": "train supernet", "search": "search", "retrain": "retrain", "finalize": "finalize"}


def print_leaderboard(
    entries: Sequence[Entry],
    *,
    json_output: bool,
    bayes: float | None = None,
    pareto: bool = False,
    also: Sequence[str] = (),
    title: str = "leaderboard",
) -> None:
    """The leaderboard on stdout: a JSON list, or a table (with the Bayes log loss when known, and
    the Pareto rank when the job has several objectives; ``also``: metrics to show besides
    ``TABLE_METRICS``, e.g. the job's objectives and constraints)."""
    if json_output:
        typer.echo(json.dumps([e.to_dict() for e in entries], indent=2))
        return
    from rich.console import Console

    console = Console()
    if not console.is_terminal:  # a pipe or a log file: no terminal width to respect, keep every column
        console = Console(width=160)
    console.print(leaderboard_table(entries, bayes=bayes, pareto=pareto, also=also, title=title))
    if bayes is not None:
        floor = METRICS["test_logloss"].format(bayes)
        console.print(f"Bayes log loss of the test split (the best any model can do): {floor}")


#: The registry's metrics a leaderboard table shows, in this order (latency only when measured).
TABLE_METRICS = ("val_logloss", "val_auc", "test_logloss", "flops", "params", "latency_ms")


def leaderboard_table(
    entries: Sequence[Entry],
    *,
    bayes: float | None = None,
    pareto: bool = False,
    also: Sequence[str] = (),
    title: str = "",
) -> Table:
    from rich.table import Table

    names = [*TABLE_METRICS, *(m for m in also if m not in TABLE_METRICS)]
    shown = [METRICS[m] for m in names if any(e.metric(m) is not None for e in entries)]
    table = Table(title=title, title_justify="left")
    for header, justify in (("#", "right"), ("name", "left"), ("kind", "left")):
        table.add_column(header, justify=justify)  # type: ignore[arg-type]
    for metric in shown:
        table.add_column(metric.label, justify="right")
        if metric.name == "test_logloss" and bayes is not None:
            table.add_column("excess", justify="right")
    if pareto:
        table.add_column("Pareto", justify="right")
    table.add_column("feasible", justify="left")
    for i, e in enumerate(entries, 1):
        name = f"[bold]{e.name}[/] (winner)" if e.winner else e.name
        scale = e.metric("width_scale")
        if scale is not None:  # a baseline scaled down to the job's budget
            name += f" ({scale:.2g}x widths)"
        cells = [str(i), name, e.kind]
        for metric in shown:
            value = e.metric(metric.name)
            cells.append(metric.format(value))
            if metric.name == "test_logloss" and bayes is not None:
                cells.append(metric.format(None if value is None else value - bayes))
        if pareto:
            cells.append("" if e.pareto_rank is None else str(e.pareto_rank))
        cells.append("yes" if e.feasible else "[red]no[/] " + "; ".join(e.violations))
        table.add_row(*cells)
    return table


@contextmanager
def phase_progress(console: Console | None = None) -> Iterator[Any]:
    """A ``progress(phase, done, total, info)`` callback drawing one rich bar per phase on stderr,
    with a line for the job's budgets and for each warning (``phase`` "budgets" / "warning").

    The bars appear with the first phase: an error before it (a bad spec) is the only output."""
    from rich.markup import escape

    from nasrec.console import progress_bar

    bars = progress_bar(fields="{task.fields[info]}", console=console)
    tasks: dict[str, Any] = {}

    def update(phase: str, done: int, total: int, info: dict[str, Any]) -> None:
        if phase == "resumed":
            bars.console.print(f"resumed: kept {info['kept']}")
            return
        if phase == "budgets":
            bars.console.print(info["message"], highlight=False)
            return
        if phase == "warning":  # a health finding (nasrec.search.health): said, not fatal
            bars.console.print(f"[yellow]warning:[/] {escape(info['message'])}", highlight=False)
            return
        if not tasks:
            bars.start()
        label = PHASES.get(phase, phase)
        if phase == "retrain" and "model" in info:
            label = f"retrain {info['model']}"
            phase = f"retrain:{info['model']}"
        if phase not in tasks:
            tasks[phase] = bars.add_task(label, total=max(total, 1), info="")
        bars.update(tasks[phase], completed=done, total=max(total, 1), info=_info(info))

    try:
        yield update
    finally:
        if tasks:
            bars.stop()


def _info(info: dict[str, Any]) -> str:
    parts = []
    if "validation" in info:  # a validation point of a training run
        parts.append(f"val_logloss {info['validation']['val_logloss']:.4f}")
    for key in ("train_loss", "evaluated", "duplicate", "infeasible", "failed"):
        value = info.get(key)
        if isinstance(value, float):
            parts.append(f"{key} {value:.4f}")
        elif isinstance(value, int) and value:
            parts.append(f"{key} {value}")
    return " ".join(parts)


def bayes_logloss(meta: dict[str, Any]) -> float | None:
    """The test split's Bayes log loss from a dataset's ``meta`` (planted data knows it), else None."""
    value = meta.get("bayes_logloss")
    if isinstance(value, dict):
        value = value.get("test")
    return float(value) if isinstance(value, int | float) else None
