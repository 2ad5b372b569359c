/* localvision: the History page. A paged table over GET /api/v1/history (newest first), 25 rows a
 * page, searched by top label, file name, the text read in the photo and a date range; each row
 * can be deleted, and so can everything the search matches (after a confirmation). The search and
 * the page number live in the address (?label=&filename=&text=&from=&to=&page=N) so Back and
 * reload keep them; the CSV link exports what the search matches.
 *
 * Dates are the user's local days: "from" is that day's first moment here, "to" the end of that
 * day here, sent to the server as UTC instants.
 *
 * Every string this page shows is i18n.js's (localvisionI18n.strings("history"), in the page's
 * language; the HTML's own text is replaced from it at start, by data-i18n keys), and so are the
 * sentences for the server's error codes. The helpers it shares with the other pages are
 * page.js's (window.localvisionPage).
 *
 * Text from the server is only ever set with textContent.
 */
"use strict";

(function () {
  const I18N = window.localvisionI18n;
  const T = I18N.strings("history");
  const { el, percentText, barWidth, parseUtc, requestJson } = window.localvisionPage;

  const PAGE_SIZE = 25;
  const FIELDS = ["label", "filename", "text", "from", "to"]; // the search, as the address has it
  const $ = (id) => document.getElementById(id);
  const ui = {
    body: $("history-body"),
    count: $("history-count"),
    empty: $("history-empty"),
    none: $("history-none"),
    message: $("message"),
    notice: $("notice"),
    prev: $("prev"),
    next: $("next"),
    pageInfo: $("page-info"),
    table: $("history-table"),
    csv: $("history-csv"),
    form: $("history-filter"),
    reset: $("filter-reset"),
    inputs: { label: $("filter-label"), filename: $("filter-filename"), text: $("filter-text"),
      from: $("filter-from"), to: $("filter-to") },
    deleteShown: $("delete-shown"),
    dialog: $("confirm-delete"),
    dialogText: $("confirm-text"),
  };
  const state = { page: 1, search: {}, total: 0, loading: false, queued: null };

  // ---------------------------------------------------------------------------------------------
  // The search and the page, in the address

  const DAY = /^\d{4}-\d{2}-\d{2}$/;

  function fromUrl() {
    const params = new URLSearchParams(location.search);
    const search = {};
    for (const name of FIELDS) {
      const value = (params.get(name) || "").trim();
      if (value && (!["from", "to"].includes(name) || DAY.test(value))) search[name] = value;
    }
    const n = parseInt(params.get("page") || "1", 10);
    return { search, page: Number.isFinite(n) && n > 0 ? n : 1 };
  }

  function toUrl(search, page) {
    const params = new URLSearchParams();
    for (const name of FIELDS) if (search[name]) params.set(name, search[name]);
    if (page > 1) params.set("page", String(page));
    const query = params.toString();
    return query ? `?${query}` : location.pathname;
  }

  function isFiltered(search) {
    return FIELDS.some((name) => search[name]);
  }

  /** A local day's first moment, `days` later, as a UTC instant for the server. */
  function localDayStart(day, days) {
    const [y, m, d] = day.split("-").map(Number);
    return new Date(y, m - 1, d + days).toISOString();
  }

  /** The search as the API's query parameters (the end of a "to" day is the next day's start). */
  function apiParams(search) {
    const params = new URLSearchParams();
    if (search.label) params.set("label", search.label);
    if (search.filename) params.set("filename", search.filename);
    if (search.text) params.set("text", search.text);
    if (search.from) params.set("from", localDayStart(search.from, 0));
    if (search.to) params.set("to", localDayStart(search.to, 1));
    return params;
  }

  function readForm() {
    const search = {};
    for (const name of FIELDS) {
      const value = ui.inputs[name].value.trim();
      if (value) search[name] = value;
    }
    return search;
  }

  function fillForm(search) {
    for (const name of FIELDS) ui.inputs[name].value = search[name] || "";
  }

  // ---------------------------------------------------------------------------------------------
  // Talking to the server

  /** A JSON request; its failure is an error whose message is a sentence for people: the
   * server's, else `fallback(status)`. */
  function request(method, url, fallback) {
    return requestJson(url, { method }, {
      describe: (error, status) => I18N.errorText(error) || fallback(status),
      unreachable: T.unreachable,
      unreadable: fallback(200),
    });
  }

  async function fetchPage(search, page) {
    const params = apiParams(search);
    params.set("limit", String(PAGE_SIZE));
    params.set("offset", String((page - 1) * PAGE_SIZE));
    const body = await request("GET", `/api/v1/history?${params}`, T.loadFailed);
    if (!Array.isArray(body.items)) throw new Error(T.loadFailed(200));
    return body;
  }

  // ---------------------------------------------------------------------------------------------
  // Showing it

  function timeCell(iso) {
    const d = parseUtc(iso);
    if (!d) return el("td", { className: "cell-time" }, iso || "\u2014");
    const text = d.toLocaleString(I18N.locale, { dateStyle: "medium", timeStyle: "medium" });
    const utc = d.toISOString();
    return el("td", { className: "cell-time" }, el("time", { dateTime: utc, title: utc }, text));
  }

  const showMessage = (text) => window.localvisionPage.showMessage(ui.message, text);
  const showNotice = (text) => window.localvisionPage.showNotice(ui.notice, text);

  function row(item) {
    const preds = Array.isArray(item.predictions) ? item.predictions : [];
    let labelCell;
    if (item.error || !preds.length) {
      const message = I18N.errorText(item.error) || T.notRecognizedText;
      labelCell = el("td", { className: "cell-error" },
        el("span", { className: "error-badge" }, T.notRecognized), " ", message);
    } else {
      const top = preds[0];
      labelCell = el("td", { className: "cell-label" },
        el("span", { className: "label" }, top.label),
        el("span", { className: "mini-confidence" },
          el("span", { className: "bar-track", "aria-hidden": "true" },
            el("span", { className: "bar", style: `width: ${barWidth(top.probability)}` })),
          el("span", { className: "percent" }, percentText(top.probability))));
    }
    const latency = typeof item.latency_ms === "number" ? T.ms(Math.round(item.latency_ms)) : "\u2014";
    const name = item.filename || "\u2014";
    const remove = el("button", { type: "button", className: "link-button row-delete",
      "aria-label": T.deleteRowLabel(name), title: T.deleteRowLabel(name) }, T.deleteRow);
    remove.addEventListener("click", () => deleteRow(item, remove));
    return el("tr", { className: item.error ? "history-row error-row" : "history-row",
      dataset: { id: String(item.id) } },
      timeCell(item.created_at),
      el("td", { className: "cell-file" },
        el("span", { className: "file-name", title: item.filename || "" }, name),
        // the text read in it, when it was asked for (null: it was not)
        Array.isArray(item.text) ? window.localvisionText.inRow(item.text, T) : null),
      labelCell,
      el("td", { className: "cell-model" }, item.model || "\u2014"),
      el("td", { className: "cell-latency" }, latency),
      el("td", { className: "cell-actions" }, remove));
  }

  function render(data, search, page) {
    const total = Number(data.total) || 0;
    const pages = Math.max(1, Math.ceil(total / PAGE_SIZE));
    const filtered = isFiltered(search);
    ui.body.textContent = "";
    for (const item of data.items) ui.body.append(row(item));
    ui.table.hidden = total === 0;
    ui.empty.hidden = total > 0 || filtered;
    ui.none.hidden = total > 0 || !filtered;

    const first = total ? (page - 1) * PAGE_SIZE + 1 : 0;
    const last = (page - 1) * PAGE_SIZE + data.items.length;
    const of = T.recognitions(total);
    if (total) ui.count.textContent = (filtered ? T.showingMatching : T.showing)(first, last, of);
    else ui.count.textContent = filtered ? T.nothingMatches : T.nothingYet;
    ui.pageInfo.textContent = total ? T.pageOf(page, pages) : "";
    ui.prev.disabled = page <= 1;
    ui.next.disabled = page >= pages;

    const params = apiParams(search).toString();
    ui.csv.setAttribute("href", params ? `/api/v1/history.csv?${params}` : "/api/v1/history.csv");
    ui.deleteShown.textContent = filtered ? T.deleteMatching : T.deleteAll;
    ui.deleteShown.disabled = total === 0;
  }

  /** Show `page` of `search`; `push`: a new entry in the browser's history. Asked while a page
   * is on its way (a second search soon after the first), it runs once that one has arrived, and
   * the answer on its way is not shown: the newest request wins. */
  async function load(search, page, push) {
    if (state.loading) {
      state.queued = [search, page, push];
      return;
    }
    state.loading = true;
    ui.prev.disabled = true;
    ui.next.disabled = true;
    ui.table.setAttribute("aria-busy", "true");
    let data;
    try {
      data = await fetchPage(search, page);
    } catch (err) {
      state.loading = false;
      ui.table.removeAttribute("aria-busy");
      if (runQueued()) return;
      showMessage(err.message);
      ui.count.textContent = "";
      return;
    }
    state.loading = false;
    ui.table.removeAttribute("aria-busy");
    if (runQueued()) return;
    ui.message.hidden = true;
    const total = Number(data.total) || 0;
    const pages = Math.max(1, Math.ceil(total / PAGE_SIZE));
    if (!data.items.length && total > 0 && page > pages) {
      load(search, pages, push); // an old link past the end (or rows deleted): the last page
      return;
    }
    state.page = page;
    state.search = search;
    state.total = total;
    if (push) history.pushState({ page }, "", toUrl(search, page));
    else history.replaceState(history.state, "", toUrl(search, page));
    render(data, search, page);
  }

  /** Start the request asked for while the last one was on its way; false when there is none. */
  function runQueued() {
    const next = state.queued;
    if (!next) return false;
    state.queued = null;
    load(...next);
    return true;
  }

  // ---------------------------------------------------------------------------------------------
  // Deleting

  async function deleteRow(item, button) {
    button.disabled = true;
    showNotice("");
    try {
      await request("DELETE", `/api/v1/history/${encodeURIComponent(item.id)}`, T.deleteFailed);
      showNotice(T.deleted(item.filename || ""));
    } catch (err) {
      showMessage(err.message); // e.g. someone else deleted it first: the reload shows that
    }
    await load(state.search, state.page, false);
  }

  /** Ask in the page's own dialog; resolves to true when the user chose Delete. */
  function confirmDelete(text) {
    ui.dialogText.textContent = text;
    return new Promise((resolve) => {
      ui.dialog.addEventListener("close", () => resolve(ui.dialog.returnValue === "delete"),
        { once: true });
      ui.dialog.returnValue = "";
      ui.dialog.showModal();
      $("confirm-no").focus(); // the safe choice is the default one
    });
  }

  async function deleteShown() {
    const search = state.search;
    const filtered = isFiltered(search);
    const what = T.recognitions(state.total);
    if (!(await confirmDelete(filtered ? T.confirmMatching(what) : T.confirmAll(what)))) return;
    const params = apiParams(search);
    if (!filtered) params.set("all", "true"); // no filter means everything: say so explicitly
    showNotice("");
    try {
      const body = await request("DELETE", `/api/v1/history?${params}`, T.deleteFailed);
      showNotice(T.deletedMany(T.recognitions(Number(body.deleted) || 0)));
    } catch (err) {
      showMessage(err.message);
    }
    await load(search, 1, false);
  }

  // ---------------------------------------------------------------------------------------------
  // Wiring

  ui.form.addEventListener("submit", (event) => {
    event.preventDefault();
    showNotice("");
    load(readForm(), 1, true);
  });
  ui.reset.addEventListener("click", () => {
    fillForm({});
    showNotice("");
    load({}, 1, true);
  });
  ui.deleteShown.addEventListener("click", deleteShown);
  ui.prev.addEventListener("click", () => load(state.search, state.page - 1, true));
  ui.next.addEventListener("click", () => load(state.search, state.page + 1, true));
  window.addEventListener("popstate", () => {
    const { search, page } = fromUrl();
    fillForm(search);
    load(search, page, false);
  });

  window.localvisionPage.applyStrings(T);
  const start = fromUrl();
  fillForm(start.search);
  load(start.search, start.page, false);
})();
