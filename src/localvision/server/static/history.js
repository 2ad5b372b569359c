/* localvision: the History page. A paged table over GET /api/v1/history (newest first), 25 rows a
 * page; the page number lives in the address (?page=N) so Back and reload keep it.
 * Text from the server is only ever set with textContent. */
"use strict";

(function () {
  const PAGE_SIZE = 25;
  const $ = (id) => document.getElementById(id);
  const ui = {
    body: $("history-body"),
    count: $("history-count"),
    empty: $("history-empty"),
    message: $("message"),
    prev: $("prev"),
    next: $("next"),
    pageInfo: $("page-info"),
    table: $("history-table"),
  };
  const state = { page: pageFromUrl(), total: 0, loading: false };

  function el(tag, props, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(props || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (key === "style") node.style.cssText = value;
      else if (key in node) node[key] = value;
      else node.setAttribute(key, value === true ? "" : value);
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : String(child));
    }
    return node;
  }

  function pageFromUrl() {
    const n = parseInt(new URLSearchParams(location.search).get("page") || "1", 10);
    return Number.isFinite(n) && n > 0 ? n : 1;
  }

  function percentText(p) {
    const v = p * 100;
    if (v > 0 && v < 0.1) return "<0.1%";
    return `${v.toFixed(1)}%`;
  }

  /** The server stores UTC; a timestamp without an offset must not be read as local time. */
  function parseUtc(iso) {
    if (typeof iso !== "string") return null;
    const hasZone = /(Z|[+-]\d\d:?\d\d)$/i.test(iso);
    const d = new Date(hasZone ? iso : `${iso.replace(" ", "T")}Z`);
    return Number.isNaN(d.getTime()) ? null : d;
  }

  function timeCell(iso) {
    const d = parseUtc(iso);
    if (!d) return el("td", { className: "cell-time" }, iso || "\u2014");
    const text = d.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "medium" });
    const utc = d.toISOString();
    return el("td", { className: "cell-time" }, el("time", { dateTime: utc, title: utc }, text));
  }

  function showMessage(text) {
    ui.message.textContent = "";
    ui.message.className = "message message-error";
    ui.message.append(el("p", {}, text));
    ui.message.hidden = false;
  }

  async function fetchPage(page) {
    const offset = (page - 1) * PAGE_SIZE;
    let response;
    try {
      response = await fetch(`/api/v1/history?limit=${PAGE_SIZE}&offset=${offset}`, {
        headers: { Accept: "application/json" },
      });
    } catch (err) {
      throw new Error("Could not reach the localvision server. Check that it is still running, " +
        "then reload this page.");
    }
    let body = null;
    try {
      body = await response.json();
    } catch (err) {
      body = null;
    }
    if (response.status === 401 && window.localvisionAuth) window.localvisionAuth.signIn();
    if (!response.ok || !body || !Array.isArray(body.items)) {
      const error = body && typeof body.error === "object" && body.error ? body.error : {};
      const message = typeof error.message === "string" && error.message.trim();
      throw new Error(message || `The history could not be loaded (HTTP ${response.status}). ` +
        "Try reloading the page.");
    }
    return body;
  }

  function row(item) {
    const preds = Array.isArray(item.predictions) ? item.predictions : [];
    let labelCell;
    if (item.error || !preds.length) {
      const message = item.error && item.error.message ? item.error.message : "Not recognized.";
      labelCell = el("td", { className: "cell-error" },
        el("span", { className: "error-badge" }, "Not recognized"), " ", message);
    } else {
      const top = preds[0];
      const width = `${Math.max(0, Math.min(100, top.probability * 100)).toFixed(1)}%`;
      labelCell = el("td", { className: "cell-label" },
        el("span", { className: "label" }, top.label),
        el("span", { className: "mini-confidence" },
          el("span", { className: "bar-track", "aria-hidden": "true" },
            el("span", { className: "bar", style: `width: ${width}` })),
          el("span", { className: "percent" }, percentText(top.probability))));
    }
    const latency = typeof item.latency_ms === "number" ? `${Math.round(item.latency_ms)} ms` : "\u2014";
    return el("tr", { className: item.error ? "history-row error-row" : "history-row" },
      timeCell(item.created_at),
      el("td", { className: "cell-file" },
        el("span", { className: "file-name", title: item.filename || "" }, item.filename || "\u2014")),
      labelCell,
      el("td", { className: "cell-model" }, item.model || "\u2014"),
      el("td", { className: "cell-latency" }, latency));
  }

  async function load(page, push) {
    if (state.loading) return;
    state.loading = true;
    ui.prev.disabled = true;
    ui.next.disabled = true;
    ui.table.setAttribute("aria-busy", "true");
    let data;
    try {
      data = await fetchPage(page);
    } catch (err) {
      showMessage(err.message);
      ui.count.textContent = "";
      state.loading = false;
      ui.table.removeAttribute("aria-busy");
      return;
    }
    state.loading = false;
    ui.table.removeAttribute("aria-busy");
    ui.message.hidden = true;
    const total = Number(data.total) || 0;
    const pages = Math.max(1, Math.ceil(total / PAGE_SIZE));
    if (!data.items.length && total > 0 && page > pages) {
      load(pages, false); // an old link past the end: show the last page instead
      return;
    }
    state.page = page;
    state.total = total;
    if (push) history.pushState({ page }, "", page === 1 ? location.pathname : `?page=${page}`);

    ui.body.textContent = "";
    for (const item of data.items) ui.body.append(row(item));
    ui.empty.hidden = total > 0;
    ui.table.hidden = total === 0;

    const first = total ? (page - 1) * PAGE_SIZE + 1 : 0;
    const last = (page - 1) * PAGE_SIZE + data.items.length;
    const noun = total === 1 ? "recognition" : "recognitions";
    ui.count.textContent = total
      ? `Showing ${first}\u2013${last} of ${total.toLocaleString("en")} ${noun}, newest first.`
      : "Nothing recognized yet.";
    ui.pageInfo.textContent = total ? `Page ${page} of ${pages}` : "";
    ui.prev.disabled = page <= 1;
    ui.next.disabled = page >= pages;
  }

  ui.prev.addEventListener("click", () => load(state.page - 1, true));
  ui.next.addEventListener("click", () => load(state.page + 1, true));
  window.addEventListener("popstate", () => load(pageFromUrl(), false));
  load(state.page, false);
})();
