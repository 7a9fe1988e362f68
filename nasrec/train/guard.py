"""The test-split guard: no training or selection code may read the test split.

Training functions and the search's selection run inside ``forbid_test_split()``; while it is active,
asking a dataset for its test split through ``train_split`` / ``val_split`` is impossible and
``check_split_allowed`` (called by ``evaluate`` and ``train_loop``) refuses a test-split view. Only the
final, once-only test evaluation runs outside the guard.
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from nasrec.errors import ConfigError

_FORBIDDEN: contextvars.ContextVar[bool] = contextvars.ContextVar("nasrec_no_test_split", default=False)


@contextmanager
def forbid_test_split() -> Iterator[None]:
    """Within this block the test split cannot be evaluated or trained on."""
    token = _FORBIDDEN.set(True)
    try:
        yield
    finally:
        _FORBIDDEN.reset(token)


def split_name(view: Any) -> str | None:
    """The split a view was taken from (``train`` / ``val`` / ``test``), when the view says so."""
    for attr in ("split", "name"):
        value = getattr(view, attr, None)
        if isinstance(value, str):
            return value
    return None


def check_split_allowed(view: Any, *, training: bool = False) -> None:
    """Refuse the test split for training always, and for evaluation inside ``forbid_test_split``."""
    if split_name(view) == "test" and (training or _FORBIDDEN.get()):
        raise ConfigError(
            "the test split may not be used for training or selection; use the val split "
            "(the test split is evaluated once, on the final model, outside training and search)"
        )
