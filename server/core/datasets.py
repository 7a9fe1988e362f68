"""The files behind the dataset endpoints: register from the data root, upload, synthesize.

Each user's datasets are written to ``NASREC_HOME/datasets/u<owner>-<name>-<random>`` (so users'
names never collide on disk; a long name is cut there so that the whole is a valid dataset name) and
recorded in the store under the user's name for them. A name is
checked free before any work; if recording fails anyway (a concurrent request took the name), the
files just written are removed: nothing is left half-written.
"""

from __future__ import annotations

import re
import secrets
import shutil
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from nasrec.errors import ConfigError, DataError, NasrecError
from nasrec.home import datasets_dir
from nasrec.names import DATASET_NAME_MAX_LENGTH
from nasrec.store import Dataset, User, crud
from server.core.config import Settings
from server.core.paths import confine
from server.models import IngestOptions

if TYPE_CHECKING:
    from nasrec.data import Dataset as DataDir

_FILENAME = re.compile(r"[^A-Za-z0-9_.-]+")


def public_info(info: dict[str, Any], *, name: str, data_root: Path) -> dict[str, Any]:
    """The ``data info`` summary without server paths: sources relative to the data root."""
    out = {k: v for k, v in info.items() if k != "path"}
    out["name"] = name
    sources = info.get("source")
    if isinstance(sources, list):
        out["source"] = [_relative(Path(s), data_root) for s in sources if isinstance(s, str)]
    return out


@contextmanager
def scrubbed(settings: Settings, *more: Path) -> Iterator[None]:
    """Re-raise nasrec errors with server directories cut out of the message (a user sees paths
    relative to the data root, and the name of their upload)."""
    try:
        yield
    except NasrecError as exc:
        message = str(exc)
        for directory in (*more, settings.data_root, settings.upload_dir, datasets_dir()):
            for form in {str(directory), str(directory.resolve())}:
                message = message.replace(form + "/", "")
        message = message.replace("--on-bad-rows skip", "on_bad_rows=skip")
        if message == str(exc):
            raise
        raise type(exc)(message) from exc


def _relative(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root.resolve()))
    except ValueError:
        return path.name


def _record(
    session: Session,
    settings: Settings,
    owner: User,
    name: str,
    source: str,
    build: Callable[[str], DataDir],
    *scrub: Path,
) -> Dataset:
    """Build the dataset files under a fresh on-disk name, then record them (or remove them)."""
    crud.ensure_dataset_name_free(session=session, owner_id=owner.id, name=name)
    session.commit()  # no transaction (on SQLite: no write lock) while the files are built
    disk_name = _disk_name(owner.id, name)
    with scrubbed(settings, *scrub):
        data = build(disk_name)
    try:
        return crud.create_dataset(
            session=session,
            owner_id=owner.id,
            name=name,
            path=str(data.path),
            source=source,
            info=public_info(data.info(), name=name, data_root=settings.data_root),
        )
    except BaseException:
        shutil.rmtree(data.path, ignore_errors=True)
        raise


def _disk_name(owner_id: int, name: str) -> str:
    """``u<owner>-<name>-<random>``, the name cut so that the whole stays within the name rule's length."""
    prefix, suffix = f"u{owner_id}-", f"-{secrets.token_hex(3)}"
    return prefix + name[: DATASET_NAME_MAX_LENGTH - len(prefix) - len(suffix)] + suffix


def register_dataset(
    *,
    session: Session,
    settings: Settings,
    owner: User,
    name: str,
    paths: list[str],
    options: IngestOptions | None,
) -> Dataset:
    """Register paths under the data root: a nasrec dataset directory is recorded where it is;
    raw files (one, or train/val/test) are ingested in ``format``."""
    from nasrec.data import Dataset as DataDir

    crud.ensure_dataset_name_free(session=session, owner_id=owner.id, name=name)
    resolved = [confine(settings.data_root, p) for p in paths]
    if options is None:
        if len(resolved) != 1 or not resolved[0].is_dir():
            raise ConfigError(
                "give `ingest` options (at least the format) to ingest raw files, "
                "or the `path` of one nasrec dataset directory to register it"
            )
        if not (resolved[0] / "meta.json").is_file():
            raise DataError(
                f"path {paths[0]!r} is a directory but not a nasrec dataset; to ingest raw files, "
                "give their path(s) and `ingest` options (at least the format)"
            )
        with scrubbed(settings):
            data = DataDir(resolved[0])
        return crud.create_dataset(
            session=session,
            owner_id=owner.id,
            name=name,
            path=str(data.path),
            source="registered",
            info=public_info(data.info(), name=name, data_root=settings.data_root),
        )
    for given, path in zip(paths, resolved, strict=True):
        if not path.is_file():
            raise DataError(f"path {given!r} is a directory; ingest takes files")
    return _record(
        session,
        settings,
        owner,
        name,
        "ingested",
        lambda disk: _ingest(disk, resolved, options),
    )


def _ingest(disk_name: str, paths: list[Path], options: IngestOptions) -> DataDir:
    from nasrec.data import FormatOptions, ingest
    from nasrec.data.dense import parse_transform_options

    knobs = FormatOptions(
        label=options.label,
        dense=tuple(options.dense),
        sparse=tuple(options.sparse),
        delimiter=options.delimiter,
    )
    transforms, default = parse_transform_options(options.dense_transform)
    return ingest(
        options.format,
        paths,
        name=disk_name,
        on_bad_rows=options.on_bad_rows,
        options=knobs,
        dense_transforms=transforms,
        dense_default=default,
    )


def upload_path(settings: Settings, owner: User, filename: str) -> Path:
    """A fresh staging path for an upload (the file name is reduced to safe characters)."""
    safe = _FILENAME.sub("_", Path(filename).name).strip("._") or "upload"
    directory = settings.upload_dir / f"u{owner.id}" / secrets.token_hex(8)
    directory.mkdir(parents=True, exist_ok=False)
    return directory / safe


async def save_stream(chunks: AsyncIterator[bytes], path: Path) -> int:
    """Write a request body to ``path`` as it arrives; how many bytes. Removes the file on error
    (e.g. the body-size limit tripping half-way)."""
    size = 0
    try:
        with path.open("wb") as out:
            async for chunk in chunks:
                out.write(chunk)
                size += len(chunk)
    except BaseException:
        shutil.rmtree(path.parent, ignore_errors=True)
        raise
    if size == 0:
        shutil.rmtree(path.parent, ignore_errors=True)
        raise DataError("the upload is empty: send the file as the request body")
    return size


def ingest_upload(
    *,
    session: Session,
    settings: Settings,
    owner: User,
    name: str,
    path: Path,
    options: IngestOptions,
) -> Dataset:
    """Ingest an uploaded file as dataset ``name``; the upload itself is removed either way."""
    try:
        return _record(
            session,
            settings,
            owner,
            name,
            "uploaded",
            lambda disk: _ingest(disk, [path], options),
            path.parent,
        )
    finally:
        shutil.rmtree(path.parent, ignore_errors=True)


def synthesize_dataset(
    *, session: Session, settings: Settings, owner: User, name: str, rows: int, seed: int
) -> Dataset:
    """A planted synthetic dataset (Criteo-shaped, known teacher) of ``rows`` rows."""
    from nasrec.data import synthesize

    if rows > settings.max_synth_rows:
        raise ConfigError(f"rows must be at most {settings.max_synth_rows} on this server, got {rows}")
    return _record(
        session, settings, owner, name, "synthesized", lambda disk: synthesize(disk, rows=rows, seed=seed)
    )
