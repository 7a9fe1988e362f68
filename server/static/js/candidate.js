// A candidate: facts, metrics, costs, the architecture diagram (SVG from the API) and the export.
"use strict";

(() => {
  const { el, request, num } = nasrec;
  const id = document.body.dataset.candidateId;
  const base = "/candidates/" + id;

  function facts(c) {
    const rows = [
      ["job", el("a", { href: "/ui/jobs/" + c.job_id }, "job " + c.job_id)],
      ["kind", c.kind], ["stage", c.stage], ["trial", num(c.trial_number)],
      ["Pareto rank", num(c.pareto_rank)], ["architecture hash", el("code", {}, c.arch_hash)],
      ["updated", nasrec.time(c.updated_at)],
    ];
    return rows.flatMap(([k, v]) => [el("dt", {}, k), el("dd", {}, v)]);
  }

  function kvRows(values) {
    const keys = Object.keys(values).sort();
    if (!keys.length) return [el("tr", {}, el("td", { class: "muted" }, "none recorded"))];
    return keys.map((k) => {
      const v = values[k];
      const text = typeof v === "object" && v !== null ? JSON.stringify(v) : num(v, 6);
      return el("tr", { dataset: { key: k } }, el("th", {}, k), el("td", { class: "num", title: String(v) }, text));
    });
  }

  async function showDiagram() {
    const response = await request("GET", base + "/diagram.svg", { raw: true });
    const doc = new DOMParser().parseFromString(await response.text(), "image/svg+xml");
    const svg = doc.documentElement;
    if (svg.nodeName !== "svg") throw new Error("the diagram could not be read");
    for (const bad of svg.querySelectorAll("script, foreignObject")) bad.remove();
    document.getElementById("diagram").replaceChildren(document.importNode(svg, true));
  }

  async function show() {
    const c = await request("GET", base);
    document.getElementById("cand-title").textContent = `Candidate ${c.id}: ${c.name || c.arch_hash}`;
    document.title = `Candidate ${c.id} · nasrec`;
    const feasible = document.getElementById("cand-feasible");
    feasible.textContent = c.feasible ? "feasible" : "infeasible";
    feasible.className = "badge " + (c.feasible ? "state-succeeded" : "state-failed");
    const back = document.getElementById("back-to-job");
    back.href = "/ui/jobs/" + c.job_id;
    back.textContent = "← job " + c.job_id;
    document.getElementById("cand-facts").replaceChildren(...facts(c));
    const isCost = (m) => m.kind === "analytic" || m.kind === "measured";
    const columns = nasrec.METRICS.filter((m) => !isCost(m)).map((m) => m.name);
    const costColumns = nasrec.METRICS.filter(isCost).map((m) => m.name);
    const pick = (keys) => Object.fromEntries(keys.filter((k) => c[k] !== null).map((k) => [k, c[k]]));
    document.querySelector("#metrics tbody").replaceChildren(...kvRows({ ...pick(columns), ...c.metrics }));
    document.querySelector("#costs tbody").replaceChildren(...kvRows({ ...pick(costColumns), ...c.costs }));
    document.getElementById("arch-json").textContent = JSON.stringify(c.architecture, null, 2);
  }

  // The export: POST starts the build in the background (202, state "building"); the page polls
  // GET .../export until the state is "ready" (then downloads .../export.zip) or "failed".
  const button = document.getElementById("export");
  const status = document.getElementById("export-status");
  const link = document.getElementById("export-link");
  const POLL_MS = 1000;
  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

  async function settled(state) {
    const started = Date.now();
    while (state.state === "building") {
      const seconds = Math.round((Date.now() - started) / 1000);
      status.textContent = `building the export bundle… ${seconds} s`;
      await sleep(POLL_MS);
      state = await request("GET", base + "/export");
    }
    return state;
  }

  async function download(state) {
    status.textContent = "downloading…";
    const response = await request("GET", base + "/export.zip", { raw: true });
    const blob = await response.blob();
    const name = `nasrec-candidate-${id}.zip`;
    if (link.href) URL.revokeObjectURL(link.href);
    link.href = URL.createObjectURL(blob);
    link.download = name;
    link.textContent = `${name} (${num(blob.size)} bytes)`;
    link.hidden = false;
    const sha256 = state.export && state.export.sha256;
    status.textContent = sha256 ? `sha256 ${sha256.slice(0, 12)}…` : "ready";
    link.click();
  }

  const failed = (state) => "export failed: " + state.error + " (Export bundle tries again)";

  button.addEventListener("click", async () => {
    button.disabled = true;
    link.hidden = true;
    status.textContent = "starting the export…";
    try {
      const state = await settled(await request("POST", base + "/export"));
      if (state.state === "failed") status.textContent = failed(state);
      else await download(state);
    } catch (error) {
      status.textContent = "export failed: " + error.message;
    } finally {
      button.disabled = false;
    }
  });

  // An export started earlier (in this page or another): say where it stands.
  async function showExport() {
    let state;
    try {
      state = await request("GET", base + "/export");
    } catch (error) {
      if (error.status === 404) return; // never exported
      throw error;
    }
    if (state.state === "building") {
      button.disabled = true;
      try {
        state = await settled(state);
      } finally {
        button.disabled = false;
      }
    }
    if (state.state === "failed") status.textContent = failed(state);
    else status.textContent = "built: Export bundle downloads it";
  }

  show().catch((error) => nasrec.showError(error));
  showExport().catch((error) => {
    status.textContent = "export status unavailable: " + error.message;
  });
  showDiagram().catch((error) => {
    document.getElementById("diagram").replaceChildren(el("p", { class: "error" }, error.message));
  });
})();
