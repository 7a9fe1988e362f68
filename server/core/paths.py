"""Confining user-given paths to the data root."""

from __future__ import annotations

from pathlib import Path, PurePosixPath

from nasrec.errors import DataError


def confine(root: Path, user_path: str) -> Path:
    """The existing file or directory ``user_path`` names inside ``root``, resolved.

    ``user_path`` is relative to ``root`` (or absolute, inside it). Rejected with a DataError: any
    ``..`` component, a path outside the root, a symlink that leads out of it, a missing path.
    """
    if not user_path or "\x00" in user_path:
        raise DataError("path must be a non-empty string without NUL bytes")
    if ".." in PurePosixPath(user_path).parts:
        raise DataError(f"path {user_path!r} contains '..': give a path inside the data root")
    root = root.resolve()
    given = Path(user_path)
    resolved = (given if given.is_absolute() else root / given).resolve()
    if not resolved.is_relative_to(root):
        lexical = given if given.is_absolute() else root / given
        how = "leads (through a symlink) outside" if lexical.is_relative_to(root) else "is outside"
        raise DataError(f"path {user_path!r} {how} the data root; give a path inside it")
    if not resolved.exists():
        raise DataError(f"path {user_path!r} does not exist under the data root")
    return resolved
