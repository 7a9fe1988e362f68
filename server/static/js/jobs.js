// Jobs list (polled) and the submit form.
"use strict";

(() => {
  const { el, request, num, time, badge } = nasrec;
  const tbody = document.querySelector("#jobs-table tbody");
  const form = document.getElementById("submit-form");
  const DEFAULT_SPACE = "nasrec_small";  // the job spec's default

  function progressCell(job) {
    const bar = el("div", { class: "bar" });
    bar.style.width = Math.round(job.progress * 100) + "%";
    return el("td", {}, el("div", { class: "progress small" }, bar), " ", Math.round(job.progress * 100) + "%");
  }

  function row(job) {
    const state = el("span");
    badge(state, job.state);
    return el("tr", { dataset: { jobId: job.id } },
      el("td", {}, el("a", { href: "/ui/jobs/" + job.id }, job.id)),
      el("td", {}, el("a", { href: "/ui/jobs/" + job.id }, job.name || "(unnamed)")),
      el("td", {}, state),
      el("td", {}, job.phase || "—"),
      progressCell(job),
      el("td", {}, time(job.created_at)));
  }

  async function refresh() {
    const jobs = await request("GET", "/jobs", { query: { limit: 100 } });
    tbody.replaceChildren(...jobs.data.map(row));
    document.getElementById("jobs-count").textContent =
      jobs.count > jobs.data.length ? `${jobs.data.length} newest of ${num(jobs.count)} jobs` : `${jobs.count} jobs`;
  }

  async function fillChoices() {
    const [datasets, spaces] = await Promise.all([
      request("GET", "/datasets", { query: { limit: 500 } }),
      request("GET", "/spaces"),
    ]);
    form.dataset.replaceChildren(...datasets.data.map((d) => el("option", { value: d.name }, d.name)));
    if (!datasets.data.length) form.dataset.append(el("option", { value: "" }, "(no datasets yet)"));
    form.space.replaceChildren(...spaces.data.map((s) =>
      el("option", { value: s.name, title: s.description, selected: s.name === DEFAULT_SPACE },
        `${s.name} (${s.num_blocks} blocks)`)));
  }

  function spec() {
    let extra = {};
    const text = form.extra.value.trim();
    if (text) {
      try {
        extra = JSON.parse(text);
      } catch (error) {
        throw new Error("more of the spec: not valid JSON (" + error.message + ")");
      }
      if (typeof extra !== "object" || extra === null || Array.isArray(extra)) {
        throw new Error("more of the spec: give a JSON object, e.g. {\"supernet\": {\"steps\": 500}}");
      }
    }
    const lines = (value) => value.split(/[\n,]/).map((s) => s.trim()).filter(Boolean);
    const body = {
      ...extra,
      dataset: form.dataset.value,
      space: form.space.value,
      seed: Number(form.seed.value),
      search: { ...(extra.search || {}), controller: form.controller.value, candidates: Number(form.candidates.value) },
      objectives: lines(form.objectives.value),
      constraints: lines(form.constraints.value),
    };
    if (form.name.value.trim()) body.name = form.name.value.trim();
    return body;
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      const job = await request("POST", "/jobs", { json: spec() });
      location.assign("/ui/jobs/" + job.id);
    } catch (error) {
      nasrec.showError(error, "submit-error");
    }
  });

  fillChoices().catch((error) => nasrec.showError(error));
  nasrec.poll(refresh, 2000);
})();
