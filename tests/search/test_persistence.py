"""The study lives in the job's database: another process can read it, and a search resumes from it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from optuna.trial import TrialState

from nasrec.errors import ConflictError, NotFoundError
from nasrec.search import create_search, load_search

from .conftest import ScriptedEvaluator, make_spec


def test_a_second_process_reads_the_study(tiny_dataset: Path, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'jobs.db'}"
    spec = make_spec(tiny_dataset, name="shared-job", search={"candidates": 6})
    search = create_search(spec, storage=url)
    search.run_search(ScriptedEvaluator())
    board = [e.to_dict() for e in search.leaderboard()]

    code = (
        "import json, sys\n"
        "from nasrec.search import load_search\n"
        "s = load_search('shared-job', storage=sys.argv[1])\n"
        "print(json.dumps({'spec': s.spec.to_dict(), 'counts': s.counts(), "
        "'board': [e.to_dict() for e in s.leaderboard()]}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code, url], capture_output=True, text=True, check=True)
    other = json.loads(out.stdout)
    assert other["spec"] == spec.to_dict()
    assert other["counts"]["evaluated"] == 6
    assert other["board"] == json.loads(json.dumps(board))


def test_create_refuses_and_load_reports_clearly(tiny_dataset: Path, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'jobs.db'}"
    spec = make_spec(tiny_dataset, name="job-a")
    create_search(spec, storage=url)
    with pytest.raises(ConflictError, match="already exists"):
        create_search(spec, storage=url)
    assert create_search(spec, storage=url, load_if_exists=True).name == "job-a"
    with pytest.raises(ConflictError, match="different spec"):
        create_search(make_spec(tiny_dataset, name="job-a", seed=99), storage=url, load_if_exists=True)
    with pytest.raises(NotFoundError, match="job-a"):
        load_search("job-b", storage=url)


@pytest.mark.parametrize("controller", ["evolution", "tpe"])
def test_resume_never_reevaluates_and_continues_the_same_trajectory(
    controller: str, tiny_dataset: Path, tmp_path: Path
) -> None:
    search_cfg = {
        "controller": controller,
        "candidates": 9,
        "population": 4,
        "children": 3,
        "batch_size": 3,
        "startup_trials": 3,
    }
    spec = make_spec(tiny_dataset, name="resumable", search=search_cfg)

    reference = create_search(spec, storage=f"sqlite:///{tmp_path / 'a.db'}")
    reference.run_search(ScriptedEvaluator())
    expected = [t.user_attrs["arch_hash"] for t in reference.trials()]

    url = f"sqlite:///{tmp_path / 'b.db'}"
    crashing = ScriptedEvaluator(fail_after=5)  # dies in the middle of the second round
    with pytest.raises(KeyboardInterrupt):
        create_search(spec, storage=url).run_search(crashing)

    resumed = load_search("resumable", storage=url)  # as a new process would
    states = [t.state for t in resumed.trials()]
    assert TrialState.RUNNING in states  # the interrupted round was asked but never told
    completed = {t.user_attrs["arch_hash"] for t in resumed.trials() if t.state == TrialState.COMPLETE}
    assert completed

    evaluator = ScriptedEvaluator()
    counts = resumed.run_search(evaluator)
    assert counts["evaluated"] == 9
    assert not completed & set(evaluator.calls)  # completed trials are never evaluated again
    assert all(t.state in (TrialState.COMPLETE, TrialState.PRUNED) for t in resumed.trials())
    assert [t.user_attrs["arch_hash"] for t in resumed.trials()] == expected
