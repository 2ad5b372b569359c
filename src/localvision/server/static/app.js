/* localvision: the Recognize page.
 *
 * Files arrive by drop, file chooser, camera, paste or a click on an example photo; each is
 * checked here (type, size) before any upload, so the common mistakes get an answer at once.
 * Photos go to /api/v1/classify in chunks, each ZIP to /api/v1/classify/zip; one photo shows its
 * labels as bars, anything more a table that can be saved as CSV (the server writes it from the
 * rows shown: POST /api/v1/results.csv). ZIP members get thumbnails read from the ZIP the browser
 * already holds (zip.js). Every failure becomes one sentence in #message: the server's own
 * `message` where it sent one, never raw JSON.
 *
 * The model line says which model answers; when the server serves several it is a picker (the
 * ready ones, each with its classes, speed, ImageNet accuracy and precision; those still loading
 * say so, and the list is asked for again until none is). The choice is sent as ?model= with
 * every request and remembered in localStorage, like the "Show groups" toggle (?group=true) and
 * the "Read text" one (?text=true: the lines read in the photo, drawn as numbered boxes over it
 * and listed beside its labels, text.js; in the table, on one line under the file's name). An
 * answer the server marks `uncertain` (under its confidence floor) is shown as "Not sure" with its
 * guesses, never as a confident answer; labels in another language keep their English one
 * (label_en) small beside them on the card.
 *
 * Every string this page shows is i18n.js's (localvisionI18n.strings("app"), in the page's
 * language; the HTML's own text is replaced from it at start, by data-i18n keys), and so are the
 * sentences for the server's error codes, shared by every page. The helpers it shares with the
 * other pages are page.js's (window.localvisionPage).
 *
 * Text from files and the server is only ever set with textContent (never innerHTML).
 */
"use strict";

(function () {
  const I18N = window.localvisionI18n;
  const T = I18N.strings("app");
  const PAGE = window.localvisionPage;
  const { el, percentText, barWidth, quoted, saved, save, ApiError } = PAGE;
  const TEXT = window.localvisionText;

  const API = {
    models: "/api/v1/models",
    classify: "/api/v1/classify",
    classifyZip: "/api/v1/classify/zip",
    resultsCsv: "/api/v1/results.csv",
  };
  // The one-click examples (static/examples/, see its README.md for sources and licences); their
  // captions are in STRINGS.examples.
  const EXAMPLES = ["coffee", "chelsea", "astronaut", "rocket", "grace_hopper"];
  const EXAMPLE_URL = (name) => `/static/examples/${name}.jpg`;
  const ZIP_TYPES = new Set(["application/zip", "application/x-zip-compressed", "application/x-zip"]);
  const ZIP_EXT = /\.zip$/i;
  const MB = 1024 * 1024; // the server counts max_upload_mb in MiB
  // Photos per request: small enough for steady progress and modest memory on both sides,
  // large enough to fill one model batch (the server's default batch is 16).
  const CHUNK = 16;
  const POLL_MS = 5000; // how often a page whose model is not ready asks again
  const LOADING_POLL_MS = 1000; // ... and while the model is still loading
  // ZIP member thumbnails: drawn this many device pixels square (the cell shows 48 CSS px), two
  // members read at a time, only for rows near the viewport.
  const THUMB_PX = 96;
  const THUMB_WORKERS = 2;

  const $ = (id) => document.getElementById(id);
  const ui = {
    bannerModel: $("banner-model"),
    bannerNotice: $("banner-notice"),
    bannerError: $("banner-error"),
    form: $("upload-form"),
    dropzone: $("dropzone"),
    fileInput: $("file-input"),
    cameraInput: $("camera-input"),
    limitsText: $("limits-text"),
    selection: $("selection"),
    previews: $("previews"),
    clear: $("clear"),
    recognize: $("recognize"),
    status: $("status"),
    message: $("message"),
    results: $("results"),
    examples: $("example-list"),
    groupsField: $("groups-field"),
    groups: $("show-groups"),
    readText: $("read-text"),
  };
  // What this browser remembers between visits (localStorage): the model chosen in the picker,
  // whether groups are shown, whether text is read.
  const SAVED_MODEL = "localvision.model";
  const SAVED_GROUPS = "localvision.groups";
  const SAVED_TEXT = "localvision.text";

  const state = {
    ready: false, // the chosen model can answer
    models: [], // the served models, as GET /api/v1/models describes them (default first)
    model: null, // the name sent as ?model= (null: the server's own default, an older server)
    picked: null, // the model picked on this page (it wins over the saved one)
    modelKey: null, // what the model line shows now, so a poll does not redraw an open picker
    limits: { max_upload_mb: 10, max_pixels: 50000000, max_files: 16, top_k: 3 },
    items: [], // {file, kind: "image" | "zip", url}
    busy: false,
    recognized: false, // the selection has been recognized; the next file starts a new one
    pasteCount: 0,
    pollTimer: null,
    bannerKey: null, // what the error banner shows now, so a poll does not re-announce it
    thumbs: null, // the ZIP thumbnails of the results shown: {observer, queue, urls, running}
  };

  // ---------------------------------------------------------------------------------------------
  // Small helpers

  function formatBytes(bytes) {
    if (bytes < 1024) return T.bytes(bytes);
    if (bytes < MB) return T.kb((bytes / 1024).toFixed(0));
    return T.mb((bytes / MB).toFixed(1));
  }

  function formatMb(mb) {
    return T.mb(Number(Number(mb).toFixed(1)));
  }

  /** End with a full stop. Case is kept: a reason may start with a name like "resnet18". */
  function sentence(text) {
    const t = String(text || "").trim();
    return !t || /[.!?)]$/.test(t) ? t : `${t}.`;
  }

  /** "image", "zip", or null for a file this page will not send. */
  function kindOf(file) {
    const type = (file.type || "").toLowerCase();
    if (ZIP_TYPES.has(type) || ZIP_EXT.test(file.name)) return "zip";
    return PAGE.isImage(file) ? "image" : null;
  }

  // ---------------------------------------------------------------------------------------------
  // Messages and errors

  const showMessage = (text, level) => PAGE.showMessage(ui.message, text, level);
  const clearMessage = () => PAGE.clearMessage(ui.message);

  function setStatus(text) {
    ui.status.textContent = text || "";
  }

  // When the server sent no sentence of its own (a proxy's HTML page, an empty body), a status
  // without a code is read as the code it most likely means.
  const STATUS_CODES = { 503: "model_not_ready", 429: "overloaded", 413: "file_too_large",
    415: "unsupported_format" };

  /** What the error sentences may name: this server's limits, as the page shows them. */
  function errorContext() {
    const { max_upload_mb: mb, max_zip_mb: zipMb, max_request_mb: requestMb, max_pixels: pixels } =
      state.limits;
    return {
      mb: mb ? formatMb(mb) : null,
      zipMb: zipMb ? formatMb(zipMb) : null,
      requestMb: requestMb ? formatMb(requestMb) : null,
      mp: pixels ? Number((pixels / 1e6).toFixed(1)) : null,
    };
  }

  function fallbackMessage(status, code) {
    const known = I18N.codeText(code, errorContext()) ||
      I18N.codeText(STATUS_CODES[status], errorContext());
    if (known) return known;
    if (status >= 500) return T.serverProblem(status);
    if (status) return T.refused(status);
    return T.notRecognizable;
  }

  /** The sentence for a JSON error object {code, message}: the server's message (in English) or
   * the sentence for its code (in another language), else a fallback for its code or status. */
  function errorSentence(error, status) {
    const code = error && typeof error.code === "string" ? error.code : null;
    // The server's own message leaves the fix to its hint, written for the command line; the
    // page's sentence names the extra to install, in either language.
    if (code === "text_reading_unavailable") return I18N.codeText(code, errorContext());
    const message = error && typeof error.message === "string" ? error.message.trim() : "";
    const text = I18N.errorText(error, errorContext());
    if (!text) return fallbackMessage(status || 0, code);
    if (text === message && code === "overloaded" && !/again/i.test(message)) {
      return `${message} ${T.tryAgainSoon}`;
    }
    return text;
  }

  /** A JSON request; every failure is an ApiError with a sentence for people. */
  function fetchJson(url, options) {
    return PAGE.requestJson(url, options, {
      describe: errorSentence,
      unreachable: T.unreachable,
      unreadable: T.unreadable,
    });
  }

  // ---------------------------------------------------------------------------------------------
  // Banners: which model answers, a notice, or why nothing can

  async function loadModel() {
    clearTimeout(state.pollTimer);
    let info;
    try {
      info = await fetchJson(API.models);
    } catch (err) {
      state.ready = false;
      ui.bannerModel.hidden = true;
      state.modelKey = null;
      renderNotReady(err.message, null);
      schedulePoll(POLL_MS);
      updateButton();
      return;
    }
    if (info.limits) Object.assign(state.limits, info.limits);
    renderLimits();
    state.models = servedModels(info);
    state.model = chooseModel(state.models, info.default);
    const chosen = chosenModel();
    // An older server (or one that lists no models) says only whether its one model is ready.
    state.ready = state.models.length ? Boolean(chosen && chosen.state === "ready")
      : Boolean(info.ready);
    renderModel(info);
    renderNotice(info.notice, info.notice_code);
    renderGroupsToggle();
    if (state.ready) {
      ui.bannerError.hidden = true;
      state.bannerKey = null;
      // Another model is still loading: ask again, so it can be picked once it is ready.
      if (state.models.some((m) => m.state === "loading")) schedulePoll(LOADING_POLL_MS);
    } else if (info.status === "loading" || (chosen && chosen.state === "loading")) {
      renderLoading();
      schedulePoll(LOADING_POLL_MS);
    } else {
      renderNotReady(info.reason || T.notLoaded, info.hint);
      schedulePoll(POLL_MS);
    }
    updateButton();
  }

  /** The served models worth listing (unloaded ones are not offered), the default first. */
  function servedModels(info) {
    if (!Array.isArray(info.models)) return [];
    const models = info.models.filter((m) => m && typeof m.name === "string" && m.state !== "unloaded");
    const model = info.model && typeof info.model === "object" ? info.model : null;
    // The default's full description is also in the older `model` field.
    return models.map((m) => (model && m.name === model.name ? { ...model, ...m } : m));
  }

  /** The model to send: the one picked on this page, else the saved one, else the default, as
   * long as it is ready; else the first ready one; else the default (not ready: the banner says
   * why). A saved model still loading is taken once a later poll finds it ready. */
  function chooseModel(models, defaultName) {
    const ready = new Set(models.filter((m) => m.state === "ready").map((m) => m.name));
    for (const name of [state.picked, saved(SAVED_MODEL), defaultName]) {
      if (name && ready.has(name)) return name;
    }
    if (ready.size) return models.find((m) => ready.has(m.name)).name;
    return defaultName || (models[0] ? models[0].name : null);
  }

  function chosenModel() {
    return state.models.find((m) => m.name === state.model) || null;
  }

  function savedGroups() {
    return saved(SAVED_GROUPS) === "true";
  }

  function formatNumber(n) {
    return Number(n).toLocaleString(I18N.locale || "en");
  }

  /** What a model is, in short: classes, speed, accuracy (each only when known). */
  function modelFacts(model) {
    const facts = [];
    if (model.num_labels) facts.push(T.classesCount(formatNumber(model.num_labels)));
    const ms = Number(model.latency_ms);
    if (model.latency_ms !== null && model.latency_ms !== undefined && ms > 0) {
      facts.push(T.speed(formatNumber(ms < 10 ? ms.toFixed(1) : Math.round(ms))));
    }
    const top1 = model.metrics && Number(model.metrics.imagenet_top1);
    if (top1 > 0) facts.push(T.accuracy(formatNumber(top1.toFixed(1))));
    return facts;
  }

  function renderModel(info) {
    const models = state.models;
    // With one model (or an older server) a line of text; with several, a picker.
    const key = JSON.stringify([state.ready, state.model, models, models.length ? null : info.model]);
    if (key === state.modelKey && !ui.bannerModel.hidden) return;
    state.modelKey = key;
    const focused = document.activeElement && document.activeElement.id === "model-picker";
    ui.bannerModel.textContent = "";
    if (models.length > 1) {
      renderPicker(models);
      if (focused) $("model-picker").focus(); // a poll redrew it under the keyboard
      return;
    }
    const model = models.length ? { ...(info.model || {}), ...models[0] } : info.model;
    ui.bannerModel.hidden = !model;
    if (!model) return;
    const stats = [
      ...modelFacts(model),
      [model.backend, model.device, model.precision].filter(Boolean).join(" \u00b7 "),
    ].filter(Boolean);
    const title = model.title && model.title !== model.name ? model.title : null;
    ui.bannerModel.append(
      el("span", { className: "banner-label" }, state.ready ? T.modelLabel : T.modelNotReadyLabel),
      " ",
      el("strong", { className: "model-name" }, model.name),
      title ? el("span", { className: "model-title" }, ` \u2014 ${title}`) : null,
      stats.length ? el("span", { className: "model-stats" }, ` \u00b7 ${stats.join(" \u00b7 ")}`) : null,
    );
  }

  /** A select of the served models: the ready ones can be picked, the others say why not. */
  function renderPicker(models) {
    const select = el("select", { id: "model-picker", className: "model-picker",
      dataset: { testid: "model-picker" }, "aria-describedby": "model-details" });
    for (const model of models) {
      let text;
      if (model.state === "ready") {
        text = [model.name, ...modelFacts(model), model.precision].filter(Boolean).join(" \u00b7 ");
      } else if (model.state === "loading") {
        text = T.modelLoading(model.name);
      } else {
        text = T.modelUnavailable(model.name);
      }
      select.append(el("option", { value: model.name, disabled: model.state !== "ready",
        selected: model.name === state.model, title: model.reason || null,
        dataset: { state: model.state } }, text));
    }
    select.value = state.model || "";
    select.addEventListener("change", () => pickModel(select.value));
    ui.bannerModel.append(
      el("label", { className: "banner-label", htmlFor: "model-picker" },
        state.ready ? T.modelLabel : T.modelNotReadyLabel),
      " ", select,
      el("span", { id: "model-details", className: "model-details" }, modelDetails(chosenModel())),
    );
    ui.bannerModel.hidden = false;
  }

  /** Under the picker: what the chosen model is and where it runs. */
  function modelDetails(model) {
    if (!model) return "";
    return [model.title && model.title !== model.name ? model.title : null,
      [model.backend, model.device].filter(Boolean).join(" \u00b7 ")].filter(Boolean).join(" \u00b7 ");
  }

  function pickModel(name) {
    const model = state.models.find((m) => m.name === name);
    if (!model || model.state !== "ready") return;
    state.picked = name;
    state.model = name;
    save(SAVED_MODEL, name);
    const details = $("model-details");
    if (details) details.textContent = modelDetails(model);
    renderGroupsToggle();
    updateButton();
  }

  /** The groups toggle, for models that have groups (an older server: shown, the server decides). */
  function renderGroupsToggle() {
    const model = chosenModel();
    ui.groupsField.hidden = Boolean(model) && model.groups === false;
  }

  /** The server's notice (why `auto` chose another model), in this page's language when its
   * code has a sentence here, else as the server said it. */
  function renderNotice(notice, code) {
    ui.bannerNotice.textContent = "";
    ui.bannerNotice.hidden = !notice;
    if (!notice) return;
    const said = (code && T.notices && T.notices[code]) || notice;
    ui.bannerNotice.append(
      el("span", { className: "banner-icon", "aria-hidden": "true" }, "i"),
      el("p", {}, said),
    );
  }

  /** Show `nodes` in the red banner, unless it already shows the same (role=alert re-reads). */
  function setErrorBanner(key, loading, nodes) {
    if (state.bannerKey === key && !ui.bannerError.hidden) return;
    state.bannerKey = key;
    const box = ui.bannerError;
    box.textContent = "";
    box.classList.toggle("is-loading", loading);
    box.append(...nodes);
    box.hidden = false;
  }

  function renderNotReady(reason, hint) {
    const body = el("div", { className: "banner-body" },
      el("p", {}, el("strong", {}, T.unavailable), sentence(reason)));
    if (hint) {
      const code = el("code", { className: "hint-command" }, hint);
      const copy = el("button", { type: "button", className: "link-button copy-hint" }, T.copy);
      copy.addEventListener("click", () => copyText(hint, code, copy));
      body.append(el("p", { className: "hint" }, T.fixIt, code, " ", copy));
    }
    body.append(el("p", { className: "banner-small" }, T.checksAgain));
    setErrorBanner(`failed\n${reason}\n${hint}`, false,
      [el("span", { className: "banner-icon", "aria-hidden": "true" }, "!"), body]);
  }

  function renderLoading() {
    setErrorBanner("loading", true, [
      el("span", { className: "banner-icon", "aria-hidden": "true" }, "\u2026"),
      el("div", { className: "banner-body" }, el("p", {},
        el("strong", {}, T.loading), T.loadingSoon)),
    ]);
  }

  async function copyText(text, node, button) {
    try {
      await navigator.clipboard.writeText(text);
      button.textContent = T.copied;
    } catch (err) {
      // No clipboard here (an insecure origin): select the command so Ctrl+C works.
      const range = document.createRange();
      range.selectNodeContents(node);
      const selection = window.getSelection();
      selection.removeAllRanges();
      selection.addRange(range);
    }
  }

  function schedulePoll(ms) {
    clearTimeout(state.pollTimer);
    state.pollTimer = setTimeout(() => {
      if (document.hidden) schedulePoll(ms);
      else loadModel();
    }, ms);
  }

  function renderLimits() {
    ui.limitsText.textContent = T.limits(formatMb(state.limits.max_upload_mb));
  }

  // ---------------------------------------------------------------------------------------------
  // Choosing files

  function addFiles(fileList, source) {
    const files = Array.from(fileList || []);
    if (!files.length) return;
    if (state.recognized) {
      // A new choice after a finished recognition starts a new selection.
      clearResults();
      resetSelection();
    }
    clearMessage();
    const wrongType = [];
    const tooBig = [];
    const maxBytes = state.limits.max_upload_mb * MB;
    for (let file of files) {
      const kind = kindOf(file);
      if (!kind) {
        wrongType.push(file);
        continue;
      }
      if (kind === "image" && file.size > maxBytes) {
        tooBig.push(file);
        continue;
      }
      if (source === "paste") {
        state.pasteCount += 1;
        file = PAGE.pastedFile(file, state.pasteCount);
      }
      if (state.items.some((it) => sameFile(it.file, file))) continue;
      state.items.push({ file, kind, url: kind === "image" ? URL.createObjectURL(file) : null });
    }
    const problems = [];
    if (wrongType.length) problems.push(wrongTypeMessage(wrongType));
    for (const file of tooBig) {
      problems.push(T.tooBig(quoted(file.name), formatBytes(file.size),
        formatMb(state.limits.max_upload_mb)));
    }
    if (problems.length) showMessage(problems, "error");
    renderPreviews();
    updateButton();
  }

  function sameFile(a, b) {
    return a.name === b.name && a.size === b.size && a.lastModified === b.lastModified;
  }

  function wrongTypeMessage(files) {
    if (files.length === 1) return T.wrongTypeOne(quoted(files[0].name), T.wrongTypeHint);
    return T.wrongTypeMany(files.length, files.map((f) => f.name).join(", "), T.wrongTypeHint);
  }

  function removeItem(item) {
    if (item.url) URL.revokeObjectURL(item.url);
    state.items = state.items.filter((it) => it !== item);
    renderPreviews();
    updateButton();
  }

  /** Forget the chosen files. Their thumbnails may be in the results: clear those first. */
  function resetSelection() {
    for (const item of state.items) if (item.url) URL.revokeObjectURL(item.url);
    state.items = [];
    state.recognized = false;
    renderPreviews();
  }

  function renderPreviews() {
    ui.previews.textContent = "";
    for (const item of state.items) {
      const { file } = item;
      const thumb = item.kind === "image"
        ? el("img", { className: "preview-thumb", src: item.url, alt: "", decoding: "async" })
        : el("span", { className: "preview-thumb preview-zip", "aria-hidden": "true" }, T.zipTile);
      // This browser cannot draw it (not an image after all, or a TIFF): show a plain tile; the
      // server, which reads the bytes, has the last word.
      if (item.kind === "image") thumb.addEventListener("error", () => thumb.replaceWith(noPreview()));
      const remove = el("button", { type: "button", className: "preview-remove",
        "aria-label": T.remove(file.name), title: T.removeTitle }, "\u00d7");
      remove.addEventListener("click", () => removeItem(item));
      const size = item.kind === "zip" ? T.zipSize(formatBytes(file.size)) : formatBytes(file.size);
      ui.previews.append(el("li", { className: "preview" },
        thumb,
        el("span", { className: "preview-name", title: file.name }, file.name),
        el("span", { className: "preview-size" }, size),
        remove));
    }
    ui.selection.hidden = state.items.length === 0;
    const photos = state.items.filter((it) => it.kind === "image").length;
    const zips = state.items.length - photos;
    const parts = [];
    if (photos) parts.push(T.photos(photos));
    if (zips) parts.push(T.zips(zips));
    setStatus(parts.length ? T.chosen(parts.length === 2 ? T.and(...parts) : parts[0]) : "");
  }

  function noPreview() {
    return el("span", { className: "preview-thumb preview-none", "aria-hidden": "true" }, "?");
  }

  function updateButton() {
    const button = ui.recognize;
    button.disabled = !state.ready || state.busy || state.items.length === 0;
    button.classList.toggle("is-busy", state.busy);
    button.setAttribute("aria-busy", String(state.busy));
    button.querySelector(".button-text").textContent = state.busy ? T.recognizing : T.recognize;
    if (!state.ready) button.title = T.notReadyTitle;
    else if (!state.items.length) button.title = T.chooseFirst;
    else button.removeAttribute("title");
  }

  // ---------------------------------------------------------------------------------------------
  // Recognizing

  /** What every classify request of one recognition asks for: the labels in the page's
   * language (else the server would follow Accept-Language, which the language switch does not
   * change), the chosen model, the groups if shown. Taken once, so a change made while it runs
   * does not mix two models in one table. */
  function askFor() {
    const params = new URLSearchParams({ top_k: String(state.limits.top_k || 3) });
    if (I18N.lang) params.set("lang", I18N.lang);
    if (state.model) params.set("model", state.model);
    const groups = !ui.groupsField.hidden && ui.groups.checked;
    if (groups) params.set("group", "true");
    const text = ui.readText.checked;
    if (text) params.set("text", "true");
    return { query: params.toString(), groups, text };
  }

  function postFiles(url, files, ask) {
    const form = new FormData();
    for (const file of files) form.append("file", file, file.name);
    return fetchJson(`${url}?${ask.query}`, { method: "POST", body: form });
  }

  function chunks(list, size) {
    const out = [];
    for (let i = 0; i < list.length; i += size) out.push(list.slice(i, i + size));
    return out;
  }

  /** Send everything chosen; returns {rows, results, model, elapsed, failure}. `results`: the
   * server's rows exactly as they came (for the CSV); `rows`: the same, each with what this page
   * knows of its photo (its thumbnail, its file or ZIP). Both keep their order. */
  async function send(images, zips, ask) {
    const out = { rows: [], results: [], model: null, elapsed: 0, failure: null };
    const take = (data) => {
      out.model = data.model || out.model;
      out.elapsed += Number(data.elapsed_ms) || 0;
      const results = Array.isArray(data.results) ? data.results : [];
      out.results.push(...results);
      return results;
    };
    const total = images.length + zips.length;
    let done = 0;
    try {
      for (const chunk of chunks(images, Math.max(1, Math.min(CHUNK, state.limits.max_files || CHUNK)))) {
        const results = take(await postFiles(API.classify, chunk.map((it) => it.file), ask));
        results.forEach((row, i) => out.rows.push({ ...row, thumb: chunk[i] ? chunk[i].url : null,
          file: chunk[i] ? chunk[i].file : null }));
        done += chunk.length;
        if (total > 1) setStatus(T.sent(done, T.files(total)));
      }
      for (const zip of zips) {
        const results = take(await postFiles(API.classifyZip, [zip.file], ask));
        const rows = results.map((row) => ({ ...row, thumb: null, zip: zip.file }));
        await matchMembers(zip.file, rows);
        out.rows.push(...rows);
        done += 1;
        if (total > 1) setStatus(T.sent(done, T.files(total)));
      }
    } catch (err) {
      out.failure = err;
    }
    return out;
  }

  async function recognize() {
    if (state.busy || !state.items.length || !state.ready) return;
    const images = state.items.filter((it) => it.kind === "image");
    const zips = state.items.filter((it) => it.kind === "zip");
    state.busy = true;
    updateButton();
    clearMessage();
    ui.results.setAttribute("aria-busy", "true");
    setStatus(T.recognizingFiles(T.files(state.items.length)));

    const ask = askFor();
    const { rows, results, model, elapsed, failure } = await send(images, zips, ask);

    state.busy = false;
    state.recognized = !failure; // after a failure, the same files can be tried again
    ui.results.removeAttribute("aria-busy");
    updateButton();
    clearResults();
    if (failure) {
      const lines = [failure.message];
      if (failure.code === "text_reading_unavailable") lines.push(T.textOffHint);
      if (rows.length) lines.push(T.partial);
      showMessage(lines, "error");
      setStatus("");
      // The chosen model went away (unloaded, failed): the picker shows what is served now.
      if (failure.code === "model_not_ready" || failure.code === "unknown_model") loadModel();
    }
    if (!rows.length) return;
    const shown = { model, elapsed, results, groups: ask.groups, text: ask.text,
      lang: I18N.lang || "en" };
    rememberPhotos(rows);
    if (rows.length === 1 && zips.length === 0) renderSingle(rows[0], shown);
    else renderTable(rows, shown);
    if (!failure) setStatus(summaryText(rows));
  }

  function summaryText(rows) {
    const failed = rows.filter((r) => r.error).length;
    if (failed === rows.length) return rows.length === 1 ? "" : T.nothing;
    const ok = T.files(rows.length - failed);
    return failed ? T.doneSome(ok, failed) : T.done(ok);
  }

  function clearResults() {
    stopThumbs();
    ui.results.textContent = "";
  }

  function bar(p) {
    return el("span", { className: "bar-track", "aria-hidden": "true" },
      el("span", { className: "bar", style: `width: ${barWidth(p)}` }));
  }

  function metaLine(model, elapsed) {
    const parts = [];
    if (model) parts.push(T.answeredBy(model));
    if (elapsed) parts.push(T.ms(Math.round(elapsed)));
    return parts.length ? el("p", { className: "result-meta" }, parts.join(" \u00b7 ")) : null;
  }

  /** A label, with its English label small beside it when the labels are in another
   * language (label_en). `className`: the label's own class. */
  function labelNodes(p, className) {
    const english = typeof p.label_en === "string" && p.label_en && p.label_en !== p.label
      ? el("span", { className: "label-en", lang: "en" }, p.label_en) : null;
    return [el("span", { className }, p.label), english ? " " : null, english];
  }

  /** The groups worth showing: the top one, and any other with at least 5%. */
  function shownGroups(row) {
    const groups = Array.isArray(row.groups) ? row.groups : [];
    return groups.filter((g, i) => i === 0 || g.probability >= 0.05);
  }

  function groupChips(row) {
    const groups = shownGroups(row);
    if (!groups.length) return null;
    return el("div", { className: "group-block" },
      el("p", { className: "eyebrow" }, T.groupTitle),
      el("ul", { className: "groups", "aria-label": T.groupsOf(row.filename) },
        groups.map((g, i) => el("li", { className: i ? "group" : "group is-top",
          dataset: { group: g.id } },
          labelNodes(g, "group-label"), " ",
          el("span", { className: "group-percent" }, percentText(g.probability))))));
  }

  /** The headline: "Most likely <label>", or, under the confidence floor, "Not sure" and
   * "maybe <label>?", so a weak guess never looks like an answer. */
  function headline(row) {
    const top = row.predictions[0];
    const percent = el("span", { className: "top-percent" }, percentText(top.probability));
    if (!row.uncertain) {
      return [
        el("p", { className: "eyebrow" }, T.mostLikely),
        el("p", { className: "top-label" }, labelNodes(top, "top-label-text"), " ", percent),
      ];
    }
    const floor = Number(state.limits.min_confidence);
    return [
      el("p", { className: "eyebrow" }, el("span", { className: "unsure-badge",
        dataset: { testid: "not-sure" } }, T.notSure)),
      el("p", { className: "top-label" },
        el("span", { className: "maybe" }, T.maybeBefore), labelNodes(top, "top-label-text")[0],
        el("span", { className: "maybe" }, T.maybeAfter), labelNodes(top, "top-label-text").slice(1),
        " ", percent),
      el("p", { className: "unsure-why" },
        T.notSureWhy(percentText(top.probability),
          floor > 0 ? `${Number((floor * 100).toFixed(1))}%` : null)),
    ];
  }

  function renderSingle(row, shown) {
    const preds = row.predictions || [];
    if (row.error || !preds.length) {
      showMessage(T.couldNotRecognize(quoted(row.filename), errorSentence(row.error)));
      return;
    }
    const items = preds.map((p, i) => el("li", { className: i ? "prediction" : "prediction is-top" },
      el("span", { className: "label-cell" }, labelNodes(p, "label")),
      bar(p.probability),
      el("span", { className: "percent" }, percentText(p.probability))));
    const thumb = row.thumb
      ? el("img", { className: "single-thumb", src: row.thumb, alt: T.yourPhoto(row.filename) })
      : null;
    // The text read in it (asked for, and sent: an older server sends none).
    const text = shown.text && Array.isArray(row.text)
      ? TEXT.view(row.text, T, thumb, row.filename) : null;
    ui.results.append(
      el("h2", { className: "results-title" }, T.resultTitle),
      el("article", { className: row.uncertain ? "card single is-uncertain" : "card single",
        dataset: { testid: "result-card" } },
        thumb ? el("div", { className: "single-figure" }, thumb, text && text.overlay) : null,
        el("div", { className: "single-body" },
          headline(row),
          shown.groups ? groupChips(row) : null,
          el("ol", { className: "predictions",
            "aria-label": T.topLabels(preds.length, row.filename) }, items),
          text ? text.panel : null,
          el("p", { className: "result-file" }, row.filename),
          metaLine(shown.model, shown.elapsed),
          feedbackControl(row, shown.model))),
    );
  }

  function tableRow(row, shown) {
    const empty = () => el("span", { className: "row-thumb row-thumb-empty", "aria-hidden": "true" });
    const thumb = row.thumb ? el("img", { className: "row-thumb", src: row.thumb, alt: "" }) : empty();
    if (row.thumb) thumb.addEventListener("error", () => thumb.replaceWith(empty()));
    // A ZIP member the server read: its thumbnail comes from the ZIP here, once it is in view.
    if (row.zip && row.member && !row.error) watchThumb(thumb, row);
    const cells = [
      el("td", { className: "cell-thumb" }, thumb),
      el("td", { className: "cell-file" },
        el("span", { className: "file-name", title: row.filename }, row.filename),
        shown.text && Array.isArray(row.text) ? TEXT.inRow(row.text, T) : null),
    ];
    const preds = row.predictions || [];
    const failed = row.error || !preds.length;
    if (failed) {
      cells.push(el("td", { className: "cell-error", colSpan: shown.groups ? 4 : 3 },
        el("span", { className: "error-badge" }, T.notRecognized), " ", errorSentence(row.error)));
    } else {
      const top = preds[0];
      const english = top.label_en && top.label_en !== top.label ? top.label_en : null;
      cells.push(el("td", { className: "cell-label" },
        row.uncertain ? el("span", { className: "unsure-badge", dataset: { testid: "not-sure" } },
          T.notSure) : null,
        row.uncertain ? " " : null,
        el("span", { className: "label", title: english }, top.label),
        feedbackControl(row, shown.model)));
      if (shown.groups) {
        const group = (row.groups || [])[0];
        // On a phone the table has no header row: the cell names itself there.
        cells.push(el("td", { className: "cell-group" }, group
          ? [el("span", { className: "cell-caption" }, T.colGroup),
            el("span", { className: "group-label", title: group.label_en !== group.label
              ? group.label_en : null }, group.label), " ",
            el("span", { className: "percent" }, percentText(group.probability))]
          : null));
      }
      cells.push(
        el("td", { className: "cell-confidence" }, el("span", { className: "confidence" },
          bar(top.probability), el("span", { className: "percent" }, percentText(top.probability)))),
        el("td", { className: "cell-more" }, preds.slice(1).map((p) =>
          el("span", { className: "more-label" }, `${p.label} ${percentText(p.probability)}`))),
      );
    }
    let className = "result-row";
    if (failed) className += " error-row";
    else if (row.uncertain) className += " is-uncertain";
    return el("tr", { className, dataset: { filename: row.filename } }, cells);
  }

  function renderTable(rows, shown) {
    const failed = rows.filter((r) => r.error).length;
    const recognized = T.summary(T.files(rows.length), rows.length - failed);
    const summary = failed ? T.summaryFailed(recognized, failed) : recognized;
    const download = el("button", { type: "button", id: "download-csv",
      className: "button button-secondary", dataset: { testid: "download-csv" } }, T.downloadCsv);
    download.addEventListener("click", () => downloadCsv(shown, download));
    const th = (text, className) => el("th", { scope: "col", className }, text);
    ui.results.append(
      el("div", { className: "results-head" },
        el("div", {},
          el("h2", { className: "results-title" }, T.resultsTitle),
          el("p", { className: "results-summary" }, summary)),
        download),
      el("div", { className: "table-wrap card" },
        el("table", { id: "results-table", className: shown.groups ? "data-table has-groups" : "data-table",
          dataset: { testid: "results-table" } },
          el("caption", { className: "visually-hidden" }, T.tableCaption(summary)),
          el("thead", {}, el("tr", {},
            th(el("span", { className: "visually-hidden" }, T.colPhoto), "cell-thumb"),
            th(T.colFile), th(T.colLabel), shown.groups ? th(T.colGroup, "cell-group") : null,
            th(T.colConfidence), th(T.colOther, "cell-more"))),
          el("tbody", {}, rows.map((row) => tableRow(row, shown))))),
      metaLine(shown.model, shown.elapsed),
    );
  }

  // ---------------------------------------------------------------------------------------------
  // ZIP member thumbnails, read from the ZIP the browser already holds (zip.js)

  /** Pair the server's rows for one ZIP with the ZIP's entries: by name, in directory order (the
   * server reads the members in that order and reports each under its name). */
  async function matchMembers(file, rows) {
    if (!window.localvisionZip) return;
    let entries;
    try {
      entries = await window.localvisionZip.entries(file);
    } catch (err) {
      return; // not a ZIP this page can read: the rows keep their placeholders
    }
    const byName = new Map();
    for (const entry of entries) {
      if (entry.directory) continue;
      if (!byName.has(entry.name)) byName.set(entry.name, []);
      byName.get(entry.name).push(entry);
    }
    for (const row of rows) {
      const same = byName.get(row.filename);
      if (same && same.length) row.member = same.shift();
    }
  }

  /** The thumbnail work of the results shown now, made on first use. */
  function thumbWork() {
    if (state.thumbs) return state.thumbs;
    const work = { queue: [], pending: new Map(), urls: [], running: 0, observer: null };
    if ("IntersectionObserver" in window) {
      work.observer = new IntersectionObserver((seen) => {
        for (const entry of seen) {
          if (!entry.isIntersecting) continue;
          work.observer.unobserve(entry.target);
          enqueueThumb(work, entry.target);
        }
      }, { rootMargin: "400px" });
    }
    state.thumbs = work;
    return work;
  }

  /** Give `placeholder` (a row's striped tile) its member's thumbnail once it is near the view. */
  function watchThumb(placeholder, row) {
    const work = thumbWork();
    work.pending.set(placeholder, row);
    if (work.observer) work.observer.observe(placeholder);
    else enqueueThumb(work, placeholder);
  }

  function enqueueThumb(work, placeholder) {
    work.queue.push(placeholder);
    pumpThumbs(work);
  }

  function pumpThumbs(work) {
    while (work.running < THUMB_WORKERS && work.queue.length) {
      const placeholder = work.queue.shift();
      const row = work.pending.get(placeholder);
      work.pending.delete(placeholder);
      work.running += 1;
      zipThumb(row)
        .then((url) => {
          if (!url) return;
          if (state.thumbs !== work) {
            URL.revokeObjectURL(url); // the results were replaced meanwhile
            return;
          }
          work.urls.push(url);
          placeholder.replaceWith(el("img", { className: "row-thumb", src: url, alt: "" }));
        })
        .finally(() => {
          work.running -= 1;
          if (state.thumbs === work) pumpThumbs(work);
        });
    }
  }

  /** A small square JPEG of one ZIP member, as an object URL; null when this browser cannot
   * read or draw it (another compression method, a TIFF...). Only the small copy is kept, so a
   * large ZIP costs a few KB per row, not its photos' size. */
  async function zipThumb(row) {
    try {
      const blob = await window.localvisionZip.read(row.zip, row.member);
      const bitmap = await createImageBitmap(blob); // EXIF orientation applied
      const side = Math.min(bitmap.width, bitmap.height);
      const canvas = el("canvas", { width: THUMB_PX, height: THUMB_PX });
      const ctx = canvas.getContext("2d");
      ctx.fillStyle = "#fff"; // under a transparent PNG
      ctx.fillRect(0, 0, THUMB_PX, THUMB_PX);
      ctx.drawImage(bitmap, (bitmap.width - side) / 2, (bitmap.height - side) / 2, side, side,
        0, 0, THUMB_PX, THUMB_PX);
      bitmap.close();
      const small = await new Promise((resolve) => canvas.toBlob(resolve, "image/jpeg", 0.85));
      return small ? URL.createObjectURL(small) : null;
    } catch (err) {
      return null;
    }
  }

  function stopThumbs() {
    const work = state.thumbs;
    if (!work) return;
    state.thumbs = null;
    if (work.observer) work.observer.disconnect();
    for (const url of work.urls) URL.revokeObjectURL(url);
  }

  // ---------------------------------------------------------------------------------------------
  // Example photos: one click recognizes one, like a photo of one's own

  function renderExamples() {
    if (!ui.examples) return;
    ui.examples.textContent = "";
    for (const name of EXAMPLES) {
      const caption = T.examples[name];
      const button = el("button", { type: "button", className: "example",
        dataset: { example: name }, "aria-label": T.exampleTry(caption), title: caption },
        el("img", { className: "example-thumb", src: EXAMPLE_URL(name), alt: "", decoding: "async" }),
        el("span", { className: "example-caption" }, caption));
      button.addEventListener("click", () => tryExample(name));
      ui.examples.append(el("li", { className: "example-item" }, button));
    }
  }

  async function tryExample(name) {
    if (state.busy) return;
    let file;
    try {
      const response = await fetch(EXAMPLE_URL(name));
      PAGE.checkSignedIn(response);
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      file = new File([await response.blob()], `${name}.jpg`, { type: "image/jpeg" });
    } catch (err) {
      showMessage(T.exampleFailed);
      return;
    }
    clearResults();
    resetSelection();
    clearMessage();
    state.items.push({ file, kind: "image", url: URL.createObjectURL(file) });
    renderPreviews();
    updateButton();
    await recognize();
  }

  // ---------------------------------------------------------------------------------------------
  // "Wrong? It is...": a correction becomes a training example of the model that answered
  // (POST /api/v1/feedback; the Teach page lists it). The field offers the model's labels in the
  // page's language; a label picked from them is sent as the model's own (English) class name,
  // so one class never becomes two folders by language; any other name is a new class.

  /** The photos just recognized, for the Teach page's "From recent photos" (recent.js: this
   * browser's IndexedDB, never the server). */
  function rememberPhotos(rows) {
    const files = rows.filter((row) => !row.error && row.file).map((row) => row.file);
    if (files.length && window.localvisionRecent) window.localvisionRecent.add(files);
  }

  /** The model's labels in `lang`, asked for once per page. */
  function modelLabels(model, lang) {
    const key = `${model}\n${lang}`;
    state.labels = state.labels || new Map();
    if (!state.labels.has(key)) {
      const url = `/api/v1/models/${encodeURIComponent(model)}/labels?lang=${encodeURIComponent(lang)}`;
      const asked = fetchJson(url).then((body) => (Array.isArray(body.labels) ? body.labels : []));
      asked.catch(() => state.labels.delete(key)); // asked again next time
      state.labels.set(key, asked);
    }
    return state.labels.get(key);
  }

  /** The photo of a row as a Blob: the chosen file, or its member read from the ZIP here. */
  async function rowPhoto(row) {
    if (row.file) return row.file;
    if (row.zip && row.member && window.localvisionZip) {
      return window.localvisionZip.read(row.zip, row.member);
    }
    return null;
  }

  /** The "Wrong?" button under a result; null where there is nothing to correct. */
  function feedbackControl(row, model) {
    const preds = row.predictions || [];
    if (row.error || !preds.length || !model || !(row.file || (row.zip && row.member))) return null;
    const box = el("div", { className: "feedback", dataset: { testid: "feedback" } });
    const button = el("button", { type: "button", className: "link-button feedback-open",
      title: T.wrongTitle }, T.wrong);
    button.addEventListener("click", () => openFeedback(box, row, model));
    box.append(button);
    return box;
  }

  async function openFeedback(box, row, model) {
    const lang = I18N.lang || "en";
    const id = `feedback-${Math.random().toString(36).slice(2)}`;
    const input = el("input", { id, className: "feedback-input", type: "text", required: true,
      autocomplete: "off", spellcheck: false, placeholder: T.itIsPlaceholder,
      dataset: { testid: "feedback-label" } });
    input.setAttribute("list", `${id}-labels`); // input.list is read-only
    const list = el("datalist", { id: `${id}-labels` });
    const saveButton = el("button", { type: "submit", className: "button feedback-save" },
      T.saveExample);
    const cancel = el("button", { type: "button", className: "link-button" }, T.cancelExample);
    const form = el("form", { className: "feedback-form", noValidate: true },
      el("label", { htmlFor: id, className: "feedback-label" }, T.itIs), input, list, saveButton, cancel);
    const said = el("p", { className: "feedback-said", role: "status" });
    box.textContent = "";
    box.append(form, said);
    input.focus();
    cancel.addEventListener("click", () => box.replaceWith(feedbackControl(row, model)));
    let labels = [];
    let english = [];
    modelLabels(model, lang).then((shown) => {
      labels = shown;
      for (const label of shown) list.append(el("option", { value: label }));
    }).catch(() => {}); // no suggestions: a name can still be typed
    if (lang !== "en") modelLabels(model, "en").then((en) => { english = en; }).catch(() => {});
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const typed = input.value.trim();
      if (!typed) return;
      const index = labels.indexOf(typed);
      const label = index >= 0 && english[index] ? english[index] : typed;
      const top = row.predictions[0];
      saveButton.disabled = true;
      said.className = "feedback-said";
      said.textContent = T.savingExample;
      try {
        const photo = await rowPhoto(row).catch(() => null);
        if (!photo) throw new ApiError(T.feedbackNoPhoto, "no_file", 0);
        const body = new FormData();
        body.append("file", photo, row.filename || photo.name || "photo.jpg");
        body.append("model", model);
        body.append("label", label);
        body.append("predicted", top.label_en || top.label);
        const made = await fetchJson("/api/v1/feedback", { method: "POST", body });
        const project = made.project || model;
        form.remove();
        said.textContent = "";
        // The words the user picked (a label in the page's language), else the class it became.
        const shownLabel = label !== typed ? typed : (made.class || label);
        said.append(T.savedExample(shownLabel, model), " ",
          el("a", { href: `/teach?project=${encodeURIComponent(project)}` }, T.seeTeach));
        said.dataset.testid = "feedback-saved";
      } catch (err) {
        saveButton.disabled = false;
        said.className = "feedback-said feedback-error";
        said.setAttribute("role", "alert");
        said.textContent = err instanceof ApiError ? err.message : T.unreachable;
      }
    });
  }

  // ---------------------------------------------------------------------------------------------
  // CSV: the server writes it (its one CSV writer, the columns of every CSV it writes) from the
  // rows it returned, in the language they were asked in

  /** POST the rows shown to /api/v1/results.csv and save the answer as a file. */
  async function downloadCsv(shown, button) {
    button.disabled = true;
    try {
      const blob = await fetchCsv(shown);
      const url = URL.createObjectURL(blob);
      const stamp = new Date().toISOString().replace(/[-:]/g, "").replace("T", "-").slice(0, 15);
      const a = el("a", { href: url, download: `localvision-results-${stamp}.csv`, hidden: true });
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10000);
    } catch (err) {
      showMessage(err instanceof ApiError ? err.message : T.unreachable);
    } finally {
      button.disabled = false;
    }
  }

  /** The server's CSV of `shown.results`, as a Blob; an ApiError (a sentence) when it fails. */
  async function fetchCsv(shown) {
    const params = new URLSearchParams({ lang: shown.lang });
    let response;
    try {
      response = await fetch(`${API.resultsCsv}?${params}`, {
        method: "POST",
        headers: PAGE.headers({ Accept: "text/csv", "Accept-Language": shown.lang,
          "Content-Type": "application/json" }),
        body: JSON.stringify({ results: shown.results, groups: Boolean(shown.groups) }),
      });
    } catch (err) {
      throw new ApiError(T.unreachable, "network_error", 0);
    }
    PAGE.checkSignedIn(response);
    if (!response.ok) {
      let body = null;
      try {
        body = await response.json();
      } catch (err) {
        body = null; // not JSON: a proxy's page
      }
      const error = body && typeof body.error === "object" && body.error ? body.error : null;
      throw new ApiError(errorSentence(error, response.status),
        error && error.code, response.status);
    }
    return response.blob();
  }

  // ---------------------------------------------------------------------------------------------
  // Wiring

  function wire() {
    for (const [input, source] of [[ui.fileInput, "chooser"], [ui.cameraInput, "camera"]]) {
      input.addEventListener("change", () => {
        addFiles(input.files, source);
        input.value = ""; // so choosing the same file again fires "change" again
      });
    }
    ui.dropzone.addEventListener("click", (event) => {
      if (event.target.closest("label, input, button, a")) return;
      ui.fileInput.click();
    });

    // The whole window takes a drop (a near miss must not make the browser open the file
    // instead); the zone lights up while files are dragged over the page.
    let dragDepth = 0;
    window.addEventListener("dragenter", (event) => {
      if (!PAGE.hasFiles(event)) return;
      dragDepth += 1;
      ui.dropzone.classList.add("is-dragover");
    });
    window.addEventListener("dragleave", () => {
      dragDepth = Math.max(0, dragDepth - 1);
      if (!dragDepth) ui.dropzone.classList.remove("is-dragover");
    });
    window.addEventListener("dragover", (event) => {
      if (!PAGE.hasFiles(event)) return;
      event.preventDefault();
      event.dataTransfer.dropEffect = "copy";
    });
    window.addEventListener("drop", (event) => {
      if (!PAGE.hasFiles(event)) return;
      event.preventDefault();
      dragDepth = 0;
      ui.dropzone.classList.remove("is-dragover");
      addFiles(event.dataTransfer.files, "drop");
    });

    document.addEventListener("paste", (event) => {
      const files = event.clipboardData ? PAGE.filesFromClipboard(event.clipboardData) : [];
      if (!files.length) return;
      event.preventDefault();
      addFiles(files, "paste");
    });

    ui.clear.addEventListener("click", () => {
      clearResults();
      resetSelection();
      clearMessage();
      updateButton();
    });

    ui.form.addEventListener("submit", (event) => {
      event.preventDefault();
      recognize();
    });

    ui.groups.checked = savedGroups();
    ui.groups.addEventListener("change", () => save(SAVED_GROUPS, String(ui.groups.checked)));
    ui.readText.checked = saved(SAVED_TEXT) === "true";
    ui.readText.addEventListener("change", () => save(SAVED_TEXT, String(ui.readText.checked)));

    document.addEventListener("visibilitychange", () => {
      if (!document.hidden && !state.ready && !state.busy) loadModel();
    });
  }

  PAGE.applyStrings(T);
  renderExamples();
  renderLimits();
  wire();
  updateButton();
  loadModel();
})();
