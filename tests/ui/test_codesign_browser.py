"""A co-design job in the browser: submitted over REST to the live server, run to the end by a real
Worker (``tests.support.codesign``: objectives val_logloss and pim_energy_nj, a PIM latency budget,
the ``nasrec_small_pim`` space), then its job page in a real Chromium. The Pareto plot starts with
the job's second objective, PIM energy, as its x axis (its unit from the metric registry), and the
front it draws is the Pareto endpoint's: the same candidates at the same values (the job's DLRM
baseline is plotted too, but is no part of the search's front, even where it beats found ones)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from nasrec.metrics import METRICS
from tests.support.codesign import SPEC, run_codesign_job, synthesize_dataset
from tests.support.service import Account, LiveServer

pytestmark = pytest.mark.slow

# The plotted "Pareto front" trace: candidate ids (customdata[0]) and the point's x, y.
FRONT_TRACE = """() => {
  const trace = document.getElementById("pareto").data.find((t) => t.name === "Pareto front");
  return trace.customdata.map((c, i) => [c[0], trace.x[i], trace.y[i]]);
}"""


def test_a_codesign_jobs_pareto_plot_draws_the_endpoints_front(
    page: Any, live_server: LiveServer, alice: Account, screenshots: Path
) -> None:
    cost = SPEC["objectives"][1]
    assert cost == "pim_energy_nj"
    with httpx.Client(base_url=live_server.url, timeout=300) as client:
        synthesize_dataset(client, alice)
        job_id = run_codesign_job(client, live_server.store, alice)["id"]
        front = client.get(f"/api/v1/jobs/{job_id}/pareto", headers=alice.headers).json()["data"]
        board = client.get(f"/api/v1/jobs/{job_id}/leaderboard?limit=500", headers=alice.headers).json()
    assert board["count"] == len(board["data"])
    assert front, "the job has no Pareto front"

    page.goto(f"{live_server.url}/ui/jobs/{job_id}")
    page.wait_for_url("**/ui/login?next=*")
    page.fill("#token", alice.token)
    page.click("#login-form button[type=submit]")
    page.wait_for_url(f"**/ui/jobs/{job_id}")
    page.wait_for_selector("#job-state:text('succeeded')")

    # the x axis defaults to the job's second objective, titled with the registry's label and unit
    page.wait_for_selector(f"#pareto[data-cost={cost}] .scatterlayer .trace path.point")
    assert page.input_value("#pareto-cost") == cost
    metric = METRICS[cost]
    title = page.text_content("#pareto .xtitle")
    assert metric.unit == "nJ" and title.endswith(metric.unit) and title.count(metric.unit) == 1, title
    assert metric.label in title, title

    # every candidate with both values is plotted; the front drawn is the endpoint's, point for point
    both = [c for c in board["data"] if c["val_logloss"] is not None and c[cost] is not None]
    assert int(page.get_attribute("#pareto", "data-points")) == len(both)
    assert any(c["kind"] == "baseline" for c in both)  # plotted, but not a search result: off the front
    plotted = sorted(page.evaluate(FRONT_TRACE))
    expected = sorted([c["id"], c[cost], c["val_logloss"]] for c in front)
    assert [p[0] for p in plotted] == [e[0] for e in expected]
    for (_, x, y), (_, ex, ey) in zip(plotted, expected, strict=True):
        assert x == pytest.approx(ex, rel=1e-9) and y == pytest.approx(ey, rel=1e-9)
    assert int(page.get_attribute("#pareto", "data-front")) == len(front)
    # drawn: each candidate once, and each front point once more, as the front's marker
    assert page.locator("#pareto .scatterlayer path.point").count() == len(both) + len(front)

    # another cost as the x axis: the title follows; back to energy, the same front again
    page.select_option("#pareto-cost", "flops")
    flops = METRICS["flops"]
    page.wait_for_function(
        "title => document.querySelector('#pareto .xtitle').textContent === title",
        arg=f"{flops.label} ({flops.unit})",
    )
    page.select_option("#pareto-cost", cost)
    page.wait_for_selector(f"#pareto[data-cost={cost}]")
    assert sorted(page.evaluate(FRONT_TRACE)) == plotted

    page.locator("#pareto").scroll_into_view_if_needed()
    page.screenshot(path=str(screenshots / "job-codesign-pareto.png"), full_page=True)
