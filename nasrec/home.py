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


def read_named_yaml(name_or_path: str | Path, directory: Path, what: str) -> tuple[Path, object]:
    """A shipped ``directory/<name>.yaml`` by name, or a YAML file by path (a ``Path``, a string with a
    ``/`` or a ``.yaml`` suffix): its path and contents, a mapping given its file's stem as ``name``
    if it has none. ``what`` ("search space") names it in the errors."""
    import yaml

    from nasrec.errors import ConfigError, NotFoundError

    text = str(name_or_path)
    path = Path(text)
    if not (isinstance(name_or_path, Path) or "/" in text or path.suffix in (".yaml", ".yml")):
        path = directory / f"{text}.yaml"
        if not path.is_file():
            shipped = sorted(p.stem for p in directory.glob("*.yaml")) if directory.is_dir() else []
            raise NotFoundError(f"{what} {text!r} not found; available: {', '.join(shipped) or 'none'}")
    elif not path.is_file():
        raise NotFoundError(f"{what} file {text!r} not found")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise ConfigError(f"{what} {path.name}: not valid YAML: {exc}") from None
    if isinstance(data, dict) and "name" not in data:
        data = {"name": path.stem, **data}
    return path, data
