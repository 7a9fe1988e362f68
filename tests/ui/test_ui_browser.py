"""The web UI in a real headless Chromium over a real server and store: log in, see the job's live
progress and events, sort the leaderboard, see the Pareto plot, open a candidate, export it.

The job, its progress and its candidates are written through the crud functions the workers use
(``tests.support.service.seed_search_job``); everything the page shows comes through the JSON API.
Screenshots go to ``screenshots/ui/`` (or ``NASREC_SCREENSHOTS``).
"""

from __future__ import annotations

import io
import shutil
import zipfile
from pathlib import Path
from typing import Any

import httpx

from nasrec.store import Candidate, crud
from tests.support.service import Account, LiveServer, SeededJob, seed_search_job


def _login(page: Any, server: LiveServer, account: Account, then: str) -> None:
    page.goto(f"{server.url}{then}")
    page.wait_for_url("**/ui/login?next=*")  # no token yet: sent to the login page
    page.fill("#token", "nasrec_not-a-real-token")
    page.click("#login-form button[type=submit]")
    page.wait_for_selector("#login-error:not([hidden])")
    page.fill("#token", account.token)
    page.click("#login-form button[type=submit]")
    page.wait_for_url(f"**{then}")


def _column(page: Any, col: str, attr: str | None = None) -> list[float]:
    cells = page.locator(f"#leaderboard tbody td[data-col={col}]")
    raw = cells.evaluate_all(f"cells => cells.map(c => {'c.dataset.value' if attr else 'c.textContent'})")
    return [float(v) for v in raw if v not in ("", "—")]


def _candidates(server: LiveServer, job_id: int) -> list[Candidate]:
    with server.store.session() as session:
        rows, _ = crud.leaderboard(session=session, owner_id=None, job_id=job_id, limit=1000)
    return rows


def _job_page(page: Any, server: LiveServer, seeded: SeededJob, shots: Path) -> None:
    page.wait_for_selector("#job-phase:text('supernet')")
    assert page.text_content("#job-step") == "0 / 64"
    assert page.text_content("#job-state") == "running"
    # the worker moves on: the page follows by itself (polling)
    with server.store.session(write=True) as session:
        crud.set_progress(
            session=session,
            job_id=seeded.job_id,
            worker=seeded.worker,
            phase="search",
            step=40,
            total=64,
            progress=0.55,
        )
        crud.record_event(session=session, job_id=seeded.job_id, message="round 5: 4 children evaluated")
    page.wait_for_selector("#job-phase:text('search')")
    assert page.text_content("#job-step") == "40 / 64" and page.text_content("#job-progress") == "55%"
    eta = page.text_content("#job-eta")
    assert eta and eta != "—" and eta.endswith("s"), eta
    assert page.locator("#job-bar").evaluate("bar => bar.style.width") == "55%"
    page.wait_for_selector("#events li:has-text('round 5: 4 children evaluated')")
    assert page.locator("#events li:has-text('job submitted')").count() == 1


def _leaderboard(page: Any, server: LiveServer, seeded: SeededJob) -> None:
    rows = _candidates(server, seeded.job_id)
    page.wait_for_selector("#leaderboard tbody tr")
    assert page.locator("#leaderboard tbody tr").count() == min(25, len(rows))
    losses = _column(page, "val_logloss")
    assert losses == sorted(losses) and len(losses) == min(25, len(rows))  # best first by default
    page.click("#leaderboard th[data-sort=flops]")
    page.wait_for_selector("#leaderboard[data-sort=flops][data-order=asc]")
    flops = _column(page, "flops", attr="value")
    assert flops == sorted(r.flops for r in rows)[: len(flops)]
    page.click("#leaderboard th[data-sort=flops]")
    page.wait_for_selector("#leaderboard[data-sort=flops][data-order=desc]")
    flops = _column(page, "flops", attr="value")
    assert flops == sorted((r.flops for r in rows), reverse=True)[: len(flops)]
    assert page.get_attribute("#leaderboard th[data-sort=flops]", "aria-sort") == "descending"
    page.check("#feasible-only")
    page.wait_for_function("() => document.querySelectorAll('#leaderboard tbody tr.infeasible').length === 0")
    assert page.locator("#leaderboard tbody tr").count() == min(25, sum(r.feasible for r in rows))
    page.uncheck("#feasible-only")


def _pareto(page: Any, server: LiveServer, seeded: SeededJob) -> None:
    rows = _candidates(server, seeded.job_id)
    infeasible = sum(not r.feasible for r in rows)
    assert 0 < infeasible < len(rows)
    page.wait_for_selector("#pareto .scatterlayer .trace path.point")
    points = page.locator("#pareto .scatterlayer .trace").evaluate_all(
        "traces => traces.map(t => t.querySelectorAll('path.point').length)"
    )
    front = int(page.get_attribute("#pareto", "data-front"))
    assert points == [len(rows) - infeasible, infeasible, front], points
    assert front >= 1
    # hover a point: the label names the candidate
    box = page.locator("#pareto .scatterlayer .trace").nth(1).locator("path.point").first.bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    label = page.wait_for_selector("#pareto .hoverlayer .hovertext")
    assert "trial-" in label.text_content() and "feasible: no" in label.text_content()
    page.select_option("#pareto-cost", "params")
    page.wait_for_function("() => document.querySelector('#pareto .xtitle').textContent === 'params'")
    assert int(page.get_attribute("#pareto", "data-points")) == len(rows)


def _submit(page: Any, server: LiveServer) -> None:
    page.wait_for_selector("#f-dataset option[value=criteo]", state="attached")
    assert page.input_value("#f-space") == "nasrec_small"
    page.fill("#f-candidates", "4")  # evolution's population (16) cannot exceed the candidates
    page.click("#submit-form button[type=submit]")
    error = page.wait_for_selector("#submit-error:not([hidden])")
    assert "population (16) <= candidates (4)" in error.text_content()
    page.fill("#f-candidates", "32")
    page.fill("#f-name", "from-the-form")
    page.fill("#f-constraints", "flops <= 2e6")
    page.click("#submit-form button[type=submit]")
    page.wait_for_url("**/ui/jobs/*")
    page.wait_for_selector("#job-state:text('queued')")
    job_id = int(page.url.rsplit("/", 1)[1])
    with server.store.session() as session:
        job = crud.get_job(session=session, owner_id=None, job_id=job_id)
    assert job.name == "from-the-form" and job.spec["search"]["candidates"] == 32
    assert job.spec["constraints"] == [{"metric": "flops", "op": "<=", "value": 2e6}]


def _candidate(page: Any, server: LiveServer, seeded: SeededJob, shots: Path) -> int:
    page.click("#leaderboard th[data-sort=flops]")  # smallest network first: quickest to export
    page.wait_for_selector("#leaderboard[data-sort=flops][data-order=asc]")
    first = page.locator("#leaderboard tbody tr").first
    name = first.locator("td:nth-child(2) a").text_content()
    candidate_id = int(first.get_attribute("data-candidate-id"))
    first.locator("td:nth-child(2) a").click()
    page.wait_for_url(f"**/ui/candidates/{candidate_id}")
    page.wait_for_selector(f"#cand-title:has-text('{name}')")
    page.wait_for_selector("#diagram svg g.block")
    with server.store.session() as session:
        stored = crud.get_candidate(session=session, owner_id=None, candidate_id=candidate_id)
    assert page.locator("#diagram svg g.block").count() == len(stored.architecture["blocks"])
    assert page.locator("#diagram svg g.block.live").count() >= 1
    assert page.locator("#metrics tr[data-key=val_logloss] td").text_content() == f"{stored.val_logloss:.6g}"
    assert page.locator("#costs tr[data-key=flops]").count() == 1
    assert page.get_attribute("#back-to-job", "href") == f"/ui/jobs/{seeded.job_id}"
    page.screenshot(path=str(shots / "candidate.png"), full_page=True)
    return candidate_id


def _export(
    page: Any, server: LiveServer, account: Account, trainer: Any, candidate_id: int, shots: Path
) -> None:
    page.click("#export")  # no trained weights recorded yet: the API says so
    page.wait_for_selector("#export-status:has-text('no trained weights yet')")
    with server.store.session(write=True) as session:
        candidate = crud.get_candidate(session=session, owner_id=None, candidate_id=candidate_id)
        run_dir = trainer.train(candidate.architecture)
        crud.add_artifact(
            session=session,
            job_id=candidate.job_id,
            candidate_id=candidate_id,
            kind="subnet",
            path=str(run_dir),
        )
    with page.expect_download(timeout=180_000) as download_info:
        page.click("#export")
        page.wait_for_selector("#export-status:has-text('building the export bundle')")  # polling
    download = download_info.value
    assert download.suggested_filename == f"nasrec-candidate-{candidate_id}.zip"
    with zipfile.ZipFile(io.BytesIO(Path(download.path()).read_bytes())) as bundle:
        names = {Path(n).name for n in bundle.namelist()}
    assert {"model.onnx", "model.pt", "weights.safetensors", "manifest.json", "feature_map.json"} <= names
    page.wait_for_selector("#export-status:has-text('sha256')")
    page.screenshot(path=str(shots / "candidate-exported.png"))

    with server.store.session() as session:
        exports = crud.list_artifacts(
            session=session, owner_id=None, job_id=candidate.job_id, candidate_id=candidate_id, kind="export"
        )
    assert len(exports) == 1 and exports[0].size_bytes == Path(download.path()).stat().st_size
    # built once: exporting again returns the same bundle
    again = httpx.post(f"{server.url}/api/v1/candidates/{candidate_id}/export", headers=account.headers)
    assert (
        again.status_code == 200 and again.json()["state"] == "ready" and again.json()["id"] == exports[0].id
    )
    page.reload()  # the page says where an earlier export stands
    page.wait_for_selector("#export-status:has-text('built: Export bundle downloads it')")


def test_job_page_leaderboard_pareto_and_candidate(
    page: Any, live_server: LiveServer, alice: Account, trainer: Any, screenshots: Path
) -> None:
    seeded = seed_search_job(live_server.store, alice, candidates=30, dataset_path=trainer.dataset_path)
    _login(page, live_server, alice, "/ui/jobs")
    page.wait_for_selector(f"#jobs-table tr[data-job-id='{seeded.job_id}']")
    assert "running" in page.text_content(f"#jobs-table tr[data-job-id='{seeded.job_id}']")
    page.screenshot(path=str(screenshots / "jobs.png"), full_page=True)
    _submit(page, live_server)

    page.goto(f"{live_server.url}/ui/jobs")
    page.click(f"#jobs-table tr[data-job-id='{seeded.job_id}'] a >> nth=0")
    page.wait_for_url(f"**/ui/jobs/{seeded.job_id}")
    _job_page(page, live_server, seeded, screenshots)
    _leaderboard(page, live_server, seeded)
    _pareto(page, live_server, seeded)
    page.mouse.move(0, 0)
    page.screenshot(path=str(screenshots / "job.png"), full_page=True)
    candidate_id = _candidate(page, live_server, seeded, screenshots)
    _export(page, live_server, alice, trainer, candidate_id, screenshots)


def test_a_failed_export_is_shown_and_tried_again(
    page: Any, live_server: LiveServer, alice: Account, trainer: Any, tmp_path: Path, screenshots: Path
) -> None:
    seeded = seed_search_job(live_server.store, alice, candidates=1, dataset_path=trainer.dataset_path)
    candidate_id = seeded.candidate_ids[0]
    with live_server.store.session(write=True) as session:
        candidate = crud.get_candidate(session=session, owner_id=None, candidate_id=candidate_id)
        run_dir = tmp_path / "run"
        shutil.copytree(trainer.train(candidate.architecture), run_dir)
        crud.add_artifact(
            session=session, job_id=seeded.job_id, candidate_id=candidate_id, kind="subnet", path=str(run_dir)
        )
    shutil.move(run_dir / "checkpoints", tmp_path / "kept")  # the build will find no checkpoint
    _login(page, live_server, alice, f"/ui/candidates/{candidate_id}")
    page.wait_for_selector("#diagram svg g.block")
    page.click("#export")
    page.wait_for_selector("#export-status:has-text('export failed: no checkpoint at')", timeout=120_000)
    assert page.is_enabled("#export") and page.is_hidden("#export-link")
    page.screenshot(path=str(screenshots / "candidate-export-failed.png"))
    shutil.move(tmp_path / "kept", run_dir / "checkpoints")
    with page.expect_download(timeout=180_000) as download_info:
        page.click("#export")
    assert download_info.value.suggested_filename == f"nasrec-candidate-{candidate_id}.zip"
    page.wait_for_selector("#export-status:has-text('sha256')")


def test_swagger_ui_renders_offline(page: Any, live_server: LiveServer, screenshots: Path) -> None:
    page.goto(f"{live_server.url}/docs")
    page.wait_for_selector(".opblock-tag")
    paths = httpx.get(f"{live_server.url}/openapi.json").json()["paths"]
    assert page.locator(".opblock").count() == sum(len(ops) for ops in paths.values())
    page.screenshot(path=str(screenshots / "docs.png"))
