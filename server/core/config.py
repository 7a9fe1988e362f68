"""Server settings, from arguments or ``NASREC_*`` environment variables.

NASREC_DATABASE_URL       the store (default: SQLite file in NASREC_HOME)
NASREC_DATA_ROOT          the only directory datasets may be registered from (default NASREC_HOME/data)
NASREC_MAX_BODY_BYTES     request body limit for every endpoint but upload (default 1 MiB)
NASREC_MAX_UPLOAD_BYTES   upload size limit (default 2 GiB)
NASREC_MAX_SYNTH_ROWS     largest synthetic dataset a request may ask for (default 5,000,000)
NASREC_NO_AUTH            single-user mode: no tokens, every request is the user "local"
NASREC_THREADS            threads per server process for requests (default 2, see server.main)
NASREC_LONG_THREADS       threads per server process for ingests and syntheses, and as many for export
                          builds in the background (default 2)
"""

from __future__ import annotations

import ipaddress
from pathlib import Path

from pydantic import Field, PositiveInt
from pydantic_settings import BaseSettings, SettingsConfigDict

from nasrec.home import default_database_url, home

API_PREFIX = "/api/v1"
MiB = 1 << 20


def _default_data_root() -> Path:
    return home() / "data"


def _default_upload_dir() -> Path:
    return home() / "uploads"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="NASREC_", extra="ignore", frozen=True)

    database_url: str = Field(default_factory=default_database_url)
    data_root: Path = Field(default_factory=_default_data_root)
    upload_dir: Path = Field(default_factory=_default_upload_dir, description="where uploads are staged")
    max_body_bytes: PositiveInt = 1 * MiB
    max_upload_bytes: PositiveInt = 2048 * MiB
    max_synth_rows: PositiveInt = 5_000_000
    no_auth: bool = False
    threads: PositiveInt = 2
    long_threads: PositiveInt = 2


def is_loopback(host: str) -> bool:
    """Whether binding ``host`` only serves this machine (``--no-auth`` is off by default otherwise)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
