"""Where datasets live on disk and how one is written without ever leaving half a dataset behind."""

from __future__ import annotations

import shutil
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from nasrec.errors import ConflictError
from nasrec.home import datasets_dir
from nasrec.names import check_dataset_name

__all__ = ["dataset_names", "staging_dir"]


def dataset_names() -> list[str]:
    """Names of the complete datasets in ``datasets_dir()``, sorted."""
    return sorted(
        p.name
        for p in datasets_dir().iterdir()
        if p.is_dir() and (p / "meta.json").is_file() and not p.name.startswith(".")
    )


@contextmanager
def staging_dir(name: str, *, force: bool = False) -> Iterator[Path]:
    """A temp directory that becomes ``datasets_dir()/name`` only if the block finishes.

    An existing dataset is replaced only with ``force``; on any error the temp directory is removed and
    the old dataset, if any, is left as it was.
    """
    check_dataset_name(name)
    root = datasets_dir()
    dest = root / name
    if dest.exists() and not force:
        raise ConflictError(
            f"dataset {name!r} already exists at {dest}; pass --force (force=True) to replace it"
        )
    tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{name}-", dir=root))
    try:
        yield tmp
        if dest.exists():
            if not force:
                raise ConflictError(
                    f"dataset {name!r} was created meanwhile at {dest}; pass --force to replace it"
                )
            trash = root / f".trash-{name}-{uuid.uuid4().hex[:8]}"
            dest.rename(trash)
            tmp.rename(dest)
            shutil.rmtree(trash, ignore_errors=True)
        else:
            tmp.rename(dest)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
