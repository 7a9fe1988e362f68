"""The dataset-name rule, the one the library, the store and the API all check names with.

A dataset name becomes a directory name (``$NASREC_HOME/datasets/<name>``) and a store column
(``datasets.name``, 128 characters): 1 to ``DATASET_NAME_MAX_LENGTH`` letters, digits, ``_``, ``.`` or
``-``, starting with a letter or digit (so never a path, ``.``, ``..`` or a hidden directory).
``DATASET_NAME_PATTERN`` is the same rule as a regular expression, for schemas (the API's
``pattern=``).
"""

from __future__ import annotations

import re

from nasrec.errors import ConfigError

__all__ = ["DATASET_NAME_MAX_LENGTH", "DATASET_NAME_PATTERN", "check_dataset_name"]

#: The store's ``datasets.name`` column (``String(128)``) holds every valid name.
DATASET_NAME_MAX_LENGTH = 128
DATASET_NAME_PATTERN = rf"^[A-Za-z0-9][A-Za-z0-9_.-]{{0,{DATASET_NAME_MAX_LENGTH - 1}}}$"
_DATASET_NAME = re.compile(DATASET_NAME_PATTERN)


def check_dataset_name(name: str) -> str:
    """``name`` if it is a valid dataset name, else ConfigError (saying what a name may be)."""
    if not isinstance(name, str) or _DATASET_NAME.fullmatch(name) is None:
        raise ConfigError(
            f"invalid dataset name {name!r}: use 1-{DATASET_NAME_MAX_LENGTH} letters, digits, '_', '.' "
            "or '-', starting with a letter or digit"
        )
    return name
