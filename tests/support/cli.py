"""Running the ``nasrec`` console script in-process, as a user runs it."""

from __future__ import annotations

import sys

import pytest

__all__ = ["run_cli"]


def run_cli(
    argv: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *, code: int
) -> tuple[str, str]:
    """``nasrec ARGV`` (``server.cli.main``), which must exit with ``code`` (0: done, 1: a nasrec
    error, 2: a usage error) and print no traceback; returns its (stdout, stderr)."""
    from server.cli import main

    monkeypatch.setattr(sys, "argv", ["nasrec", *argv])
    with pytest.raises(SystemExit) as exit_info:
        main()
    out, err = capsys.readouterr()
    assert exit_info.value.code == code, err
    assert "Traceback" not in err
    return out, err
