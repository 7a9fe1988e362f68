"""``nasrec search JOB.yaml``: run a whole job here, as a worker runs it, and print its leaderboard.

The job goes through ``nasrec.jobs.local`` (recorded in the store, run under a local lease by the one
phase sequence); its progress is drawn with ``nasrec.search.cli``'s bars.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from nasrec.search.cli import bayes_logloss, phase_progress, print_leaderboard

if TYPE_CHECKING:
    from rich.console import Console

    from nasrec.jobs.local import LocalRun

__all__ = ["run_job_here", "search_command"]


def search_command(
    job: Annotated[Path, typer.Argument(help="The job spec (YAML).", exists=False)],
    json_output: Annotated[
        bool, typer.Option("--json", help="Print the final leaderboard as JSON on stdout.")
    ] = False,
    storage: Annotated[
        str | None,
        typer.Option(help="SQLAlchemy URL of the job database (default: NASREC_DATABASE_URL or SQLite)."),
    ] = None,
) -> None:
    """Run a search job (supernet, search, finalisation) and print its leaderboard.

    The job runs as a worker runs it (``nasrec.jobs.local``) and is stored with the others. Running
    the same job again resumes it: finished phases and evaluated candidates are kept.
    """
    from nasrec.spec import load_spec

    run = run_job_here(load_spec(job), database_url=storage)
    if json_output:
        result = {
            "job": run.job_id,
            "name": run.search.spec.job_name,
            "reused": run.reused,
            "seconds": run.seconds,
            "leaderboard": [e.to_dict() for e in run.entries],
        }
        typer.echo(json.dumps(result, indent=2))
        return
    bayes = bayes_logloss(run.search.dataset.meta)
    title = f"{run.search.spec.job_name} (job {run.job_id}): final leaderboard"
    spec = run.search.spec
    also = [o.name for o in spec.objectives] + [c.metric for c in spec.constraints]
    print_leaderboard(
        run.entries, json_output=False, bayes=bayes, pareto=len(spec.objectives) > 1, also=also, title=title
    )


def run_job_here(spec: Any, *, database_url: str | None = None, console: Console | None = None) -> LocalRun:
    """Run ``spec`` locally with progress bars on stderr, saying where it is stored and what it reused."""
    from rich.console import Console

    from nasrec.jobs.local import run_local

    console = console or Console(stderr=True)
    with phase_progress(console) as progress:
        run = run_local(spec, database_url=database_url, listener=progress)
    where = f"database {run.database_url}, files {run.search.run_dir}"
    took = _took(run.seconds)
    if run.reused:
        console.print(
            f"[bold]job {run.job_id}[/] had already finished{took}: its stored results are shown ({where})"
        )
    else:
        console.print(f"[bold]job {run.job_id}[/] done{took} ({where})")
    return run


def _took(seconds: dict[str, float]) -> str:
    """`` in 7.7 min (supernet 2.1, search 1.0, finalize 4.5)``, or "" when not known."""
    if "total" not in seconds:
        return ""
    phases = ", ".join(f"{name} {value / 60:.1f}" for name, value in seconds.items() if name != "total")
    return f" in {seconds['total'] / 60:.1f} min ({phases})"
