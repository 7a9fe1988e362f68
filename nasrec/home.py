"""Where nasrec keeps its files: ``NASREC_HOME`` (default ``~/.nasrec``).

    $NASREC_HOME/datasets/<name>/    ingested or synthesized datasets
    $NASREC_HOME/runs/<job>/         checkpoints and artifacts of search jobs
    $NASREC_HOME/nasrec.db           the default SQLite database
"""

from __future__ import annotations

import os
from pathlib import Path


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


def default_database_url() -> str:
    """``NASREC_DATABASE_URL`` if set, else the SQLite file in the data home."""
    return os.environ.get("NASREC_DATABASE_URL") or f"sqlite:///{home() / 'nasrec.db'}"


def project_root() -> Path:
    """The checkout that holds ``search_spaces/`` (nasrec is installed editable)."""
    return Path(__file__).resolve().parent.parent
