"""Pagination limits shared by every list function."""

from __future__ import annotations

from nasrec.errors import ConfigError

MAX_PAGE = 1000


def check_page(limit: int, offset: int) -> None:
    if not 1 <= limit <= MAX_PAGE:
        raise ConfigError(f"limit must be between 1 and {MAX_PAGE}, got {limit}")
    if offset < 0:
        raise ConfigError(f"offset must be >= 0, got {offset}")
