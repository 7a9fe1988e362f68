// A job: live progress and events (polled), the sortable leaderboard and the Pareto plot.
"use strict";

(() => {
  const { el, request, num, duration, badge } = nasrec;
  const jobId = document.body.dataset.jobId;
  const base = "/jobs/" + jobId;
  const FINAL = new Set(["succeeded", "failed", "cancelled"]);
  const METRIC = Object.fromEntries(nasrec.METRICS.map((m) => [m.name, m]));
  const HIGHER_IS_BETTER = new Set(nasrec.METRICS.filter((m) => m.direction === "maximize").map((m) => m.name));
  // The leaderboard's metric columns, in the order the page's header lists them.
  const COLUMNS = [...document.querySelectorAll("#leaderboard th[data-metric]")].map((th) => th.dataset.metric);
  const PLOT_LIMIT = 500;  // the API's largest page
  const PLOT_PAGES = 4;    // at most 2000 candidates in the plot
  let job = null;

  // ---- progress --------------------------------------------------------------------------------

  function eta(j) {
    if (j.state !== "running" || !j.started_at || !(j.progress > 0) || j.progress >= 1) return null;
    const elapsed = (Date.now() - Date.parse(j.started_at)) / 1000;
    return elapsed * (1 - j.progress) / j.progress;
  }

  function renderJob(j) {
    document.getElementById("job-title").textContent = `Job ${j.id}: ${j.name || "(unnamed)"}`;
    document.title = `Job ${j.id} · nasrec`;
    badge(document.getElementById("job-state"), j.state);
    const pct = Math.round(j.progress * 1000) / 10;
    document.getElementById("job-bar").style.width = pct + "%";
    document.getElementById("job-phase").textContent = j.phase || "—";
    document.getElementById("job-step").textContent = j.total ? `${num(j.step)} / ${num(j.total)}` : num(j.step);
    document.getElementById("job-progress").textContent = pct + "%";
    const left = eta(j);
    document.getElementById("job-eta").textContent =
      FINAL.has(j.state) ? "finished" : left === null ? "—" : duration(left);
    document.getElementById("job-attempts").textContent = j.attempts;
    document.getElementById("job-spec").textContent = `${j.spec.dataset} · ${typeof j.spec.space === "string" ? j.spec.space : j.spec.space.name}`;
    const error = document.getElementById("job-error");
    error.textContent = j.error || "";
    error.hidden = !j.error;
    document.getElementById("cancel-job").hidden = FINAL.has(j.state) || j.cancel_requested;
  }

  let afterEvent = 0;
  async function pollEvents() {
    const events = await request("GET", base + "/events", { query: { after: afterEvent, limit: 200 } });
    const list = document.getElementById("events");
    for (const e of events.data) {
      list.prepend(el("li", { class: "level-" + e.level.replace(/[^a-z]/g, "") },
        el("time", {}, nasrec.time(e.time)), " ", el("span", { class: "level" }, e.level), " ", e.message));
    }
    while (list.children.length > 500) list.lastChild.remove();
    afterEvent = events.next_after;
  }

  async function tick() {
    const first = job === null;
    const wasFinal = job && FINAL.has(job.state);
    job = await request("GET", base);
    renderJob(job);
    if (first) {
      defaultCost(job);
      if (lastCandidates.data.length) drawPlot(lastCandidates.data, lastCandidates.count);
    }
    await pollEvents();
    if (!wasFinal && FINAL.has(job.state)) refreshResults();  // the last results
    return !FINAL.has(job.state);
  }

  document.getElementById("cancel-job").addEventListener("click", async () => {
    try {
      renderJob(await request("POST", base + "/cancel"));
    } catch (error) {
      nasrec.showError(error);
    }
  });

  // ---- leaderboard -----------------------------------------------------------------------------

  const board = { sort: "val_logloss", order: null, feasible: false, offset: 0, limit: 25, count: 0 };

  function orderOf(sort) {
    return board.order || (HIGHER_IS_BETTER.has(sort) ? "desc" : "asc");
  }

  function candidateRow(c, rank) {
    const link = "/ui/candidates/" + c.id;
    return el("tr", { dataset: { candidateId: c.id }, class: c.feasible ? "" : "infeasible" },
      el("td", {}, rank),
      el("td", {}, el("a", { href: link }, c.name || c.arch_hash)),
      el("td", {}, c.kind), el("td", {}, c.stage),
      ...COLUMNS.map((m) => el("td", { class: "num", "data-col": m, "data-value": c[m] ?? "" }, num(c[m]))),
      el("td", { class: "num", "data-col": "pareto_rank" }, num(c.pareto_rank)),
      el("td", {}, c.feasible ? "yes" : "no"));
  }

  async function refreshBoard() {
    const page = await request("GET", base + "/leaderboard", {
      query: { sort: board.sort, order: orderOf(board.sort), feasible: board.feasible, limit: board.limit,
               offset: board.offset },
    });
    board.count = page.count;
    const table = document.getElementById("leaderboard");
    table.tBodies[0].replaceChildren(...page.data.map((c, i) => candidateRow(c, board.offset + i + 1)));
    for (const th of table.querySelectorAll("th[data-sort]")) {
      const active = th.dataset.sort === board.sort;
      th.classList.toggle("sorted", active);
      th.setAttribute("aria-sort", active ? (orderOf(board.sort) === "asc" ? "ascending" : "descending") : "none");
    }
    table.dataset.sort = board.sort;
    table.dataset.order = orderOf(board.sort);
    const last = board.offset + page.data.length;
    document.getElementById("lb-range").textContent =
      page.count ? `${board.offset + 1}–${last} of ${num(page.count)}` : "no candidates yet";
    document.getElementById("lb-prev").disabled = board.offset === 0;
    document.getElementById("lb-next").disabled = last >= page.count;
  }

  for (const th of document.querySelectorAll("#leaderboard th[data-sort]")) {
    th.tabIndex = 0;
    const choose = () => {
      const sort = th.dataset.sort;
      if (sort === board.sort) board.order = orderOf(sort) === "asc" ? "desc" : "asc";
      else [board.sort, board.order] = [sort, null];
      board.offset = 0;
      refreshBoard().catch(nasrec.showError);
    };
    th.addEventListener("click", choose);
    th.addEventListener("keydown", (e) => { if (e.key === "Enter" || e.key === " ") choose(); });
  }
  document.getElementById("feasible-only").addEventListener("change", (e) => {
    board.feasible = e.target.checked;
    board.offset = 0;
    refreshBoard().catch(nasrec.showError);
  });
  document.getElementById("lb-prev").addEventListener("click", () => {
    board.offset = Math.max(0, board.offset - board.limit);
    refreshBoard().catch(nasrec.showError);
  });
  document.getElementById("lb-next").addEventListener("click", () => {
    board.offset += board.limit;
    refreshBoard().catch(nasrec.showError);
  });

  // ---- Pareto plot -----------------------------------------------------------------------------

  const costSelect = document.getElementById("pareto-cost");
  let plotted = [];

  async function allCandidates() {
    const out = [];
    for (let page = 0; page < PLOT_PAGES; page++) {
      const got = await request("GET", base + "/leaderboard",
        { query: { sort: "val_logloss", limit: PLOT_LIMIT, offset: page * PLOT_LIMIT } });
      out.push(...got.data);
      if (out.length >= got.count || !got.data.length) return { data: out, count: got.count };
    }
    return { data: out, count: out.length };
  }

  // The points no other point beats on both axes: lower log loss, and a lower cost (a higher one for
  // a metric where higher is better). Given the feasible found candidates, with the job's two
  // objectives as the axes, these are the job's Pareto front (GET /jobs/{id}/pareto). Baselines are
  // left out: they are not search results, and their log loss is after retraining.
  function front(points, higherIsBetter) {
    const sign = higherIsBetter ? -1 : 1;
    const sorted = [...points].sort((a, b) => sign * (a.x - b.x) || a.y - b.y);
    const out = [];
    let best = Infinity;
    for (const p of sorted) if (p.y < best) { out.push(p); best = p.y; }
    return out;
  }

  function trace(name, points, marker, extra = {}) {
    return {
      type: "scatter", mode: "markers", name,
      x: points.map((p) => p.x), y: points.map((p) => p.y),
      customdata: points.map((p) => [p.c.id, p.c.name || p.c.arch_hash, p.c.stage, p.c.feasible ? "yes" : "no"]),
      hovertemplate: "<b>%{customdata[1]}</b><br>candidate %{customdata[0]} · %{customdata[2]}<br>" +
        "val log loss %{y:.5g}<br>" + METRIC[costSelect.value].label + " %{x:.4s}<br>feasible: %{customdata[3]}<extra></extra>",
      marker, ...extra,
    };
  }

  // The label and its unit: "FLOPs (multiply-adds)"; a label that ends with its unit already stays
  // as it is ("PIM nJ", not "PIM nJ (nJ)").
  const axisTitle = (m) => !m.unit || m.label.endsWith(m.unit) ? m.label : `${m.label} (${m.unit})`;

  function drawPlot(candidates, count) {
    const cost = costSelect.value;
    const points = candidates
      .filter((c) => typeof c.val_logloss === "number" && typeof c[cost] === "number")
      .map((c) => ({ x: c[cost], y: c.val_logloss, c }));
    plotted = points;
    const feasible = points.filter((p) => p.c.feasible);
    const infeasible = points.filter((p) => !p.c.feasible);
    const frontier = front(feasible.filter((p) => p.c.kind === "found"), HIGHER_IS_BETTER.has(cost));
    const missing = candidates.length - points.length;
    const notes = [`${points.length} plotted`];
    if (missing) notes.push(`${missing} without val_logloss or ${cost}`);
    if (count > candidates.length) notes.push(`the best ${candidates.length} of ${count} by val_logloss`);
    document.getElementById("pareto-note").textContent = notes.join(" · ");
    const traces = [
      trace("feasible", feasible, { color: "#1f6feb", size: 8, symbol: "circle", opacity: 0.75 }),
      trace("infeasible", infeasible, { color: "#cf222e", size: 9, symbol: "x" }),
      trace("Pareto front", frontier, { color: "#1a7f37", size: 11, symbol: "diamond-open", line: { width: 2 } },
        { mode: "lines+markers", line: { color: "#1a7f37", shape: "hv" } }),
    ];
    const layout = {
      margin: { t: 20, r: 20, b: 50, l: 70 }, height: 420, hovermode: "closest",
      xaxis: { title: { text: axisTitle(METRIC[cost]) }, type: "log", exponentformat: "SI" },
      yaxis: { title: { text: "validation log loss" } },
      legend: { orientation: "h", y: -0.2 },
    };
    const div = document.getElementById("pareto");
    div.dataset.cost = cost;
    div.dataset.points = points.length;
    div.dataset.infeasible = infeasible.length;
    div.dataset.front = frontier.length;
    if (points.some((p) => p.x <= 0)) layout.xaxis.type = "linear";
    Plotly.react(div, traces, layout, { displaylogo: false, responsive: true });
    if (!div.dataset.bound) {
      div.on("plotly_click", (event) => {
        const point = event.points && event.points[0];
        if (point && point.customdata) location.assign("/ui/candidates/" + point.customdata[0]);
      });
      div.dataset.bound = "1";
    }
  }

  // The x axis starts as the job's second objective when that is a cost (a co-design job's
  // pim_energy_nj, say): the plotted front is then the front the job searched for. A job with one
  // objective starts with the first cost in the list. Once the user picks an axis, it stays.
  function defaultCost(j) {
    const second = (j.spec.objectives || [])[1];
    const name = second && (typeof second === "string" ? second.split(":")[0] : second.name);
    if (name && [...costSelect.options].some((o) => o.value === name)) costSelect.value = name;
  }

  let lastCandidates = { data: [], count: 0 };
  async function refreshPlot() {
    lastCandidates = await allCandidates();
    drawPlot(lastCandidates.data, lastCandidates.count);
  }
  costSelect.addEventListener("change", () => drawPlot(lastCandidates.data, lastCandidates.count));

  async function refreshResults() {
    await Promise.all([refreshBoard(), refreshPlot()]);
    return !(job && FINAL.has(job.state));
  }

  nasrec.poll(tick, 1500);
  setTimeout(() => nasrec.poll(refreshResults, 5000), 200);
})();
