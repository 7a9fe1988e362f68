// Shared by every page: the API client (bearer token from localStorage) and safe DOM helpers.
// Data from the API only ever reaches the page as text (textContent), never as markup.
"use strict";

const nasrec = (() => {
  const body = document.body.dataset;
  const API = body.api;
  const NO_AUTH = body.noAuth === "true";
  const TOKEN_KEY = "nasrec.token";

  class ApiError extends Error {
    constructor(status, detail) {
      super(detail);
      this.status = status;
    }
  }

  const token = () => localStorage.getItem(TOKEN_KEY);
  const setToken = (value) => localStorage.setItem(TOKEN_KEY, value);
  const clearToken = () => localStorage.removeItem(TOKEN_KEY);

  function toLogin() {
    const next = location.pathname + location.search;
    location.assign("/ui/login?next=" + encodeURIComponent(next));
  }

  function authHeaders(explicit) {
    if (NO_AUTH) return {};
    const value = explicit || token();
    if (!value) {
      toLogin();
      throw new ApiError(401, "not logged in");
    }
    return { Authorization: "Bearer " + value };
  }

  // request("GET", "/jobs", {query, json, raw, token}): the parsed JSON (or the Response if raw).
  async function request(method, path, options = {}) {
    const url = new URL(API + path, location.origin);
    for (const [key, value] of Object.entries(options.query || {})) {
      if (value !== undefined && value !== null && value !== "") url.searchParams.set(key, value);
    }
    const headers = authHeaders(options.token);
    let payload;
    if (options.json !== undefined) {
      headers["Content-Type"] = "application/json";
      payload = JSON.stringify(options.json);
    }
    const response = await fetch(url, { method, headers, body: payload });
    if (response.status === 401 && !NO_AUTH && !options.token) {
      clearToken();
      toLogin();
    }
    if (!response.ok) {
      let detail = response.status + " " + response.statusText;
      try {
        detail = (await response.json()).detail || detail;
      } catch (_) { /* not JSON */ }
      throw new ApiError(response.status, detail);
    }
    return options.raw ? response : response.json();
  }

  // el("td", {class: "num", title: "..."}, "text", otherNode): text children become text nodes.
  function el(tag, attrs = {}, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs)) {
      if (value === undefined || value === null || value === false) continue;
      if (key === "class") node.className = value;
      else if (key === "dataset") Object.assign(node.dataset, value);
      else node.setAttribute(key, value === true ? "" : value);
    }
    for (const child of children) {
      if (child === null || child === undefined) continue;
      node.append(child instanceof Node ? child : String(child));
    }
    return node;
  }

  function num(value, digits = 4) {
    if (value === null || value === undefined) return "—";
    if (typeof value !== "number") return String(value);
    const abs = Math.abs(value);
    if (Number.isInteger(value) && abs < 1e4) return String(value);
    if (abs >= 1e3) {
      const units = [[1e12, "T"], [1e9, "G"], [1e6, "M"], [1e3, "k"]];
      const [scale, unit] = units.find(([s]) => abs >= s);
      return (value / scale).toPrecision(3) + unit;
    }
    return Number(value.toPrecision(digits)).toString();
  }

  function duration(seconds) {
    if (!Number.isFinite(seconds) || seconds < 0) return "—";
    const s = Math.round(seconds);
    const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
    return h ? `${h}h ${m}m` : m ? `${m}m ${r}s` : `${r}s`;
  }

  function time(iso) {
    return iso ? new Date(iso).toLocaleString() : "—";
  }

  function badge(node, state) {
    node.textContent = state;
    node.className = "badge state-" + String(state).replace(/[^a-z]/g, "");
  }

  function showError(error, id = "page-error") {
    const node = document.getElementById(id);
    if (!node) return;
    node.textContent = error ? (error.message || String(error)) : "";
    node.hidden = !error;
  }

  // Poll fn every `ms` while it returns true; errors are shown and polling goes on.
  function poll(fn, ms) {
    let timer = null;
    const tick = async () => {
      let again = true;
      try {
        again = (await fn()) !== false;
        showError(null);
      } catch (error) {
        if (error.status !== 401) showError(error);
      }
      if (again) timer = setTimeout(tick, ms);
    };
    tick();
    return { stop: () => clearTimeout(timer), now: () => { clearTimeout(timer); tick(); } };
  }

  async function whoAmI() {
    const who = document.getElementById("who");
    const logout = document.getElementById("logout");
    if (logout) {
      logout.hidden = NO_AUTH || !token();
      logout.addEventListener("click", () => { clearToken(); toLogin(); });
    }
    if (body.page === "login" || (!NO_AUTH && !token())) return;
    try {
      const me = await request("GET", "/users/me");
      who.textContent = me.name;
    } catch (_) { /* the page shows its own errors */ }
  }
  whoAmI();

  // The metric registry (nasrec.metrics): name, kind, direction, label, description, unit.
  const METRICS = JSON.parse(document.body.dataset.metrics || "[]");

  return { API, NO_AUTH, ApiError, METRICS, request, token, setToken, clearToken, el, num, duration, time,
           badge, showError, poll };
})();
