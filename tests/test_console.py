"""The command line's progress bars (``nasrec.console``): stderr, time remaining, quiet for --json."""

from __future__ import annotations

import io
import re

import pytest
from rich.console import Console

from nasrec.console import progress_bar, step_progress

CLOCK = r"\d+:\d\d:\d\d"


def _terminal(buffer: io.StringIO) -> Console:
    return Console(file=buffer, force_terminal=True, width=120, color_system=None)


def _lines(buffer: io.StringIO) -> list[str]:
    """What the terminal showed, one entry per redraw (rich redraws a bar in place with ``\\r``)."""
    plain = re.sub(r"\x1b\[[0-9;?]*[a-zA-Z]", "", buffer.getvalue())  # drop cursor / erase codes
    return [line.strip() for line in re.split(r"[\r\n]", plain)]


def test_step_progress_shows_steps_metric_elapsed_and_time_remaining() -> None:
    out = io.StringIO()
    with step_progress("training", metric="train_loss", console=_terminal(out)) as progress:
        assert progress is not None
        progress(5, 20, {"train_loss": 0.51234})
        progress(20, 20, {"train_loss": 0.44})
    lines = _lines(out)
    # mid-run, one report: no rate yet, so the time remaining is unknown
    assert any(re.search(rf"^training .* 5/20 {CLOCK} -:--:-- train_loss 0\.5123$", line) for line in lines)
    # finished: nothing remains
    assert re.search(rf"^training .* 20/20 {CLOCK} 0:00:00 train_loss 0\.4400$", [x for x in lines if x][-1])


def test_step_progress_is_silent_when_quiet(capsys: pytest.CaptureFixture[str]) -> None:
    with step_progress("training", metric="train_loss", quiet=True) as progress:
        assert progress is None
    assert capsys.readouterr() == ("", "")


def test_progress_bar_draws_on_stderr_with_the_given_fields(capsys: pytest.CaptureFixture[str]) -> None:
    assert progress_bar().console.stderr
    out = io.StringIO()
    with progress_bar(fields="{task.fields[info]}", console=_terminal(out)) as bars:
        task = bars.add_task("search", total=10, info="evaluated 3")
        bars.update(task, completed=3, refresh=True)
    assert any(re.search(rf"^search .* 3/10 {CLOCK} -:--:-- evaluated 3$", line) for line in _lines(out))
    assert capsys.readouterr().out == ""
