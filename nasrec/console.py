"""Progress bars of the command line: rich, on stderr (stdout stays for results such as ``--json``).

Every command that shows progress draws it with :func:`progress_bar` (one or more bars),
:func:`step_progress` (one bar fed by a ``progress(step, total, metrics)`` callback, the shape the
training loop reports in) or :func:`stage_progress` (the same callback, one bar per ``info["stage"]``,
as ingestion and synthesis report), so all bars have the same columns, time remaining included.
rich is imported inside the functions, so importing this module costs nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import Progress

__all__ = ["StepProgress", "progress_bar", "stage_progress", "step_progress"]

#: ``progress(step, total, metrics)``, as ``nasrec.train`` calls it.
StepProgress = Callable[[int, int, dict[str, Any]], None]


def progress_bar(*, fields: str = "", console: Console | None = None) -> Progress:
    """A ``rich.progress.Progress``: description, bar, done/total, time elapsed, time remaining, then
    ``fields`` (a template over the task's fields, e.g. ``"loss {task.fields[loss]}"``). On stderr
    unless ``console`` is given; bars stay on screen when done."""
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    columns = [
        TextColumn("{task.description:<16}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    ]
    if fields:
        columns.append(TextColumn(fields))
    return Progress(*columns, console=console or Console(stderr=True), transient=False)


@contextmanager
def step_progress(
    label: str, *, metric: str | None = None, quiet: bool = False, console: Console | None = None
) -> Iterator[StepProgress | None]:
    """A ``progress(step, total, metrics)`` callback drawing one bar labelled ``label`` (with the latest
    value of ``metrics[metric]`` when given); ``None`` when ``quiet`` (e.g. ``--json``), so callers
    pass it straight on."""
    if quiet:
        yield None
        return
    with progress_bar(fields=f"{metric} {{task.fields[value]}}" if metric else "", console=console) as bar:
        task = bar.add_task(label, total=None, value="-")

        def update(step: int, total: int, metrics: dict[str, Any]) -> None:
            value = metrics.get(metric) if metric else None
            shown = f"{value:.4f}" if isinstance(value, float) else "-" if value is None else str(value)
            # drawn at once: the loop already reports only every few steps (``log_every``)
            bar.update(task, completed=step, total=total, value=shown, refresh=True)

        yield update


@contextmanager
def stage_progress(
    labels: Mapping[str, str], *, quiet: bool = False, console: Console | None = None
) -> Iterator[StepProgress | None]:
    """A ``progress(done, total, info)`` callback drawing one bar per ``info["stage"]``, labelled
    ``labels[stage]`` (the stage itself when not in ``labels``), each added when its stage first
    reports; ``None`` when ``quiet`` (e.g. ``--json``)."""
    if quiet:
        yield None
        return
    with progress_bar(console=console) as bar:
        tasks: dict[str, Any] = {}

        def update(done: int, total: int, info: dict[str, Any]) -> None:
            stage = str(info.get("stage", ""))
            if stage not in tasks:
                tasks[stage] = bar.add_task(labels.get(stage, stage), total=None)
            # drawn at once: the callers report once per block, not per row
            bar.update(tasks[stage], completed=done, total=total, refresh=True)

        yield update
