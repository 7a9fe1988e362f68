"""Where nasrec keeps its files: ``NASREC_HOME`` (default ``~/.nasrec``).

$NASREC_HOME/datasets/<name>/    ingested or synthesized datasets
$NASREC_HOME/runs/job-<id>/      checkpoints and artifacts of search job <id> (``run_dir_of``)
$NASREC_HOME/nasrec.db           the default SQLite database
"""

from __future__ import annotations

import os
import re
from pathlib import Path

#: A job's run directory is ``job-<id>``: the one naming rule (``run_dir_of``, ``job_id_of_run_dir``).
_RUN_DIR_NAME = re.compile(r"job-([1-9][0-9]*)")


def home() -> Path:
    """The data home, created on first use."""
    path = Path(os.environ.get("NASREC_HOME", "~/.nasrec")).expanduser()
    path.mkdir(parents=True, exist_ok=True)
    return path


def datasets_dir() -> Path:
    path = home() / "datasets"
    path.mkdir(parents=True, exist_ok=True)
    return path


def runs_dir() -> Path:
    path = home() / "runs"
    path.mkdir(parents=True, exist_ok=True)
    return path


def run_dir_of(job_id: int) -> Path:
    """Where job ``job_id``'s files live: ``runs_dir()/job-<id>`` (not created here)."""
    return runs_dir() / f"job-{job_id}"


def job_id_of_run_dir(path: str | os.PathLike[str]) -> int | None:
    """The job id a run directory's name gives (``.../job-<id>``), None for any other name."""
    match = _RUN_DIR_NAME.fullmatch(Path(path).name)
    return int(match.group(1)) if match else None


def default_database_url() -> str:
    """``NASREC_DATABASE_URL`` if set, else the SQLite file in the data home."""
    return os.environ.get("NASREC_DATABASE_URL") or f"sqlite:///{home() / 'nasrec.db'}"


def project_root() -> Path:
    """The checkout that holds ``search_spaces/`` (nasrec is installed editable)."""
    return Path(__file__).resolve().parent.parent
