"""The one exception tree of nasrec.

    NasrecError
     +-- ConfigError        a search space, job spec or architecture is invalid
     +-- DataError          input data cannot be parsed, or a dataset is missing / already exists
     +-- NotFoundError      a named dataset, space, job or candidate does not exist
     +-- ConflictError      the request conflicts with existing state (e.g. name taken)

Messages name the offending value and say what to do about it. The CLI prints them without a
traceback; the server maps them to 4xx responses in one handler.
"""

from __future__ import annotations


class NasrecError(Exception):
    """Root of every error nasrec raises on purpose."""


class ConfigError(NasrecError, ValueError):
    """A search space, job spec or architecture is invalid."""


class DataError(NasrecError, ValueError):
    """Input data cannot be parsed or does not fit the expected layout."""


class NotFoundError(NasrecError, LookupError):
    """A named dataset, space, job or candidate does not exist."""


class ConflictError(NasrecError):
    """The request conflicts with existing state, e.g. a dataset name that is already taken."""
