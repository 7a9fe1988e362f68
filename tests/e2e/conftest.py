"""End-to-end tests: real ``nasrec serve`` / ``nasrec worker`` processes (with their own Ray) over
real stores (SQLite and PostgreSQL), driven over HTTP or through the store.

Every process starts in a new session; at the end of a test whatever is left of it (Ray's helper
processes included) is stopped: SIGTERM first, then SIGKILL for the whole session.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.store import database_url, store  # noqa: F401


def session_members(sid: int) -> list[int]:
    """Pids of the live processes in session ``sid`` (read from /proc)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[3]) == sid and fields[0] != "Z":
            pids.append(int(entry.name))
    return pids


def session_left(sid: int, timeout: float = 15) -> list[int]:
    """Pids still in session ``sid`` after waiting up to ``timeout`` s for it to empty (helpers
    such as Ray's or multiprocessing's notice their parent is gone a moment after it exits)."""
    deadline = time.monotonic() + timeout
    while (members := session_members(sid)) and time.monotonic() < deadline:
        time.sleep(0.2)
    return members


@dataclass
class Proc:
    """A process started by ``spawn`` (the leader of its own session), output in ``log``."""

    popen: subprocess.Popen[bytes]
    log: Path

    @property
    def pid(self) -> int:
        return self.popen.pid

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def kill_session(self) -> None:
        """SIGKILL the process and everything it started (its Ray included): a machine dying."""
        for pid in session_members(self.pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self.popen.wait(timeout=30)

    def terminate(self, timeout: float = 60) -> int:
        """SIGTERM and wait; the exit code."""
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
        return self.popen.wait(timeout=timeout)

    def wait_for_line(self, prefix: str, timeout: float = 60) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in self.output().splitlines():
                if line.startswith(prefix):
                    return line
            if self.popen.poll() is not None:
                break
            time.sleep(0.1)
        raise AssertionError(f"no line starting with {prefix!r} in the output:\n{self.output()[-3000:]}")


def service_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "server.cli", *args]


@pytest.fixture
def spawn(tmp_path: Path) -> Iterator[Callable[..., Proc]]:
    """``spawn(args, name, env=...)``: start a process in a new session (one torch thread)."""
    started: list[Proc] = []

    def start(args: list[str], name: str, env: dict[str, str] | None = None) -> Proc:
        log = tmp_path / f"{name}.log"
        full_env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1", **(env or {})}
        with log.open("wb") as out:
            popen = subprocess.Popen(
                args, stdout=out, stderr=subprocess.STDOUT, env=full_env, start_new_session=True
            )
        started.append(Proc(popen, log))
        return started[-1]

    yield start
    for proc in started:
        if proc.popen.poll() is None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.terminate(timeout=60)
        if session_left(proc.pid):
            proc.kill_session()
