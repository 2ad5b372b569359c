/* localvision: the Recognize page.
 *
 * Files arrive by drop, file chooser, camera or paste; each is checked here (type, size) before
 * any upload, so the common mistakes get an answer at once. Photos go to /api/v1/classify in
 * chunks, each ZIP to /api/v1/classify/zip; one photo shows its labels as bars, anything more a
 * table that can be saved as CSV. Every failure becomes one sentence in #message: the server's own
 * `message` where it sent one, never raw JSON.
 *
 * Text from files and the server is only ever set with textContent (never innerHTML).
 */
"use strict";

(function () {
  const API = {
    models: "/api/v1/models",
    classify: "/api/v1/classify",
    classifyZip: "/api/v1/classify/zip",
  };
  // Formats the server decodes (localvision.imaging.FORMATS), by MIME type and by extension:
  // some systems hand the browser an empty type, so the extension is the fallback.
  const IMAGE_TYPES = new Set([
    "image/jpeg", "image/jpg", "image/pjpeg", "image/png", "image/webp", "image/bmp",
    "image/x-ms-bmp", "image/gif", "image/tiff",
  ]);
  const IMAGE_EXT = /\.(jpe?g|jfif|png|webp|bmp|gif|tiff?)$/i;
  const ZIP_TYPES = new Set(["application/zip", "application/x-zip-compressed", "application/x-zip"]);
  const ZIP_EXT = /\.zip$/i;
  const FORMAT_NAMES = "JPEG, PNG, WebP, BMP, GIF or TIFF";
  const MB = 1024 * 1024; // the server counts max_upload_mb in MiB
  // Photos per request: small enough for steady progress and modest memory on both sides,
  // large enough to fill one model batch (the server's default batch is 16).
  const CHUNK = 16;
  const POLL_MS = 5000; // how often a page whose model is not ready asks again
  const LOADING_POLL_MS = 1000; // ... and while the model is still loading

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
  };

  const state = {
    ready: false,
    limits: { max_upload_mb: 10, max_pixels: 50000000, max_files: 16, top_k: 3 },
    items: [], // {file, kind: "image" | "zip", url}
    busy: false,
    recognized: false, // the selection has been recognized; the next file starts a new one
    pasteCount: 0,
    pollTimer: null,
    bannerKey: null, // what the error banner shows now, so a poll does not re-announce it
  };

  // ---------------------------------------------------------------------------------------------
  // Small helpers

  /** Build an element: el("td", {className: "x", dataset: {a: 1}}, "text", childNode, ...). */
  function el(tag, props, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(props || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (key === "dataset") Object.assign(node.dataset, value);
      else if (key === "style") node.style.cssText = value;
      else if (key in node) node[key] = value;
      else node.setAttribute(key, value === true ? "" : value);
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : String(child));
    }
    return node;
  }

  function formatBytes(bytes) {
    if (bytes < 1024) return `${bytes} B`;
    if (bytes < MB) return `${(bytes / 1024).toFixed(0)} KB`;
    return `${(bytes / MB).toFixed(1)} MB`;
  }

  function formatMb(mb) {
    return `${Number(Number(mb).toFixed(1))} MB`;
  }

  /** 0.8734 -> "87.3%"; tiny values say so rather than rounding to a misleading 0.0%. */
  function percentText(p) {
    const v = p * 100;
    if (v > 0 && v < 0.1) return "<0.1%";
    return `${v.toFixed(1)}%`;
  }

  function barWidth(p) {
    return `${Math.max(0, Math.min(100, p * 100)).toFixed(1)}%`;
  }

  function plural(n, one, many) {
    return `${n} ${n === 1 ? one : many || one + "s"}`;
  }

  function quoted(name) {
    return `\u201c${name}\u201d`;
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
    if (IMAGE_TYPES.has(type)) return "image";
    // No type, or a generic one: trust a known extension (the server sniffs the bytes anyway).
    if ((!type || type === "application/octet-stream") && IMAGE_EXT.test(file.name)) {
      return "image";
    }
    return null;
  }

  // ---------------------------------------------------------------------------------------------
  // Messages and errors

  function showMessage(text, level) {
    ui.message.textContent = "";
    ui.message.className = `message message-${level || "error"}`;
    for (const line of Array.isArray(text) ? text : [text]) ui.message.append(el("p", {}, line));
    ui.message.hidden = false;
  }

  function clearMessage() {
    ui.message.hidden = true;
    ui.message.textContent = "";
  }

  function setStatus(text) {
    ui.status.textContent = text || "";
  }

  /** A failed request, already turned into a sentence for people. */
  class ApiError extends Error {
    constructor(message, code, status) {
      super(message);
      this.code = code;
      this.status = status;
    }
  }

  // Sentences for when the server sent none of its own (a proxy's HTML page, an empty body).
  const CODE_MESSAGES = {
    model_not_ready:
      "The model is not ready yet, so nothing can be recognized. See the banner at the top.",
    overloaded: "The server is busy right now. Try again in a few seconds.",
    file_too_large: () =>
      "That file is too large: the server accepts at most " +
      `${formatMb(state.limits.max_upload_mb)} per photo.`,
    image_too_large: "That image has too many pixels for the server to open safely.",
    unsupported_format: `That file is not an image localvision can read (${FORMAT_NAMES}).`,
    corrupt_image: "That image is damaged and could not be opened.",
    empty_file: "That file is empty.",
    invalid_archive: "That ZIP could not be read; it may be damaged.",
  };
  const STATUS_CODES = { 503: "model_not_ready", 429: "overloaded", 413: "file_too_large",
    415: "unsupported_format" };

  function fallbackMessage(status, code) {
    const known = CODE_MESSAGES[code] || CODE_MESSAGES[STATUS_CODES[status]];
    if (known) return typeof known === "function" ? known() : known;
    if (status >= 500) {
      return `The server ran into a problem (HTTP ${status}). Try again; if it keeps ` +
        "happening, look at the server's log.";
    }
    if (status) return `The server refused the request (HTTP ${status}).`;
    return "This file could not be recognized.";
  }

  /** The sentence for a JSON error object {code, message}, or a fallback for its code. */
  function errorSentence(error, status) {
    const code = error && typeof error.code === "string" ? error.code : null;
    const message = error && typeof error.message === "string" ? error.message.trim() : "";
    if (!message) return fallbackMessage(status || 0, code);
    if (code === "overloaded" && !/again/i.test(message)) {
      return `${message} Try again in a few seconds.`;
    }
    return message;
  }

  async function fetchJson(url, options) {
    let response;
    try {
      const auth = window.localvisionAuth ? window.localvisionAuth.headers() : {};
      response = await fetch(url, { headers: { Accept: "application/json", ...auth }, ...options });
    } catch (err) {
      throw new ApiError(
        "Could not reach the localvision server. Check that it is still running, then try again.",
        "network_error",
        0,
      );
    }
    let body = null;
    try {
      body = await response.json();
    } catch (err) {
      body = null; // not JSON: an HTML error page from a proxy, or an empty body
    }
    if (response.status === 401 && window.localvisionAuth) window.localvisionAuth.signIn();
    if (!response.ok) {
      const error = body && typeof body.error === "object" ? body.error : null;
      const code = error && typeof error.code === "string" ? error.code : null;
      throw new ApiError(errorSentence(error, response.status), code, response.status);
    }
    if (body === null || typeof body !== "object") {
      throw new ApiError("The server sent an answer this page cannot read. Try again.",
        "bad_response", response.status);
    }
    return body;
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
      renderNotReady(err.message, null);
      schedulePoll(POLL_MS);
      updateButton();
      return;
    }
    if (info.limits) Object.assign(state.limits, info.limits);
    renderLimits();
    state.ready = Boolean(info.ready);
    renderModel(info.model);
    renderNotice(info.notice);
    if (state.ready) {
      ui.bannerError.hidden = true;
      state.bannerKey = null;
    } else if (info.status === "loading") {
      renderLoading();
      schedulePoll(LOADING_POLL_MS);
    } else {
      renderNotReady(info.reason || "The model has not been loaded.", info.hint);
      schedulePoll(POLL_MS);
    }
    updateButton();
  }

  function renderModel(model) {
    ui.bannerModel.textContent = "";
    ui.bannerModel.hidden = !model;
    if (!model) return;
    const stats = [
      model.num_labels ? `${Number(model.num_labels).toLocaleString("en")} labels` : null,
      [model.backend, model.device, model.precision].filter(Boolean).join(" \u00b7 "),
    ].filter(Boolean);
    const title = model.title && model.title !== model.name ? model.title : null;
    ui.bannerModel.append(
      el("span", { className: "banner-label" }, state.ready ? "Model" : "Model (not ready)"),
      " ",
      el("strong", { className: "model-name" }, model.name),
      title ? el("span", { className: "model-title" }, ` \u2014 ${title}`) : null,
      stats.length ? el("span", { className: "model-stats" }, ` \u00b7 ${stats.join(" \u00b7 ")}`) : null,
    );
  }

  function renderNotice(notice) {
    ui.bannerNotice.textContent = "";
    ui.bannerNotice.hidden = !notice;
    if (!notice) return;
    ui.bannerNotice.append(
      el("span", { className: "banner-icon", "aria-hidden": "true" }, "i"),
      el("p", {}, notice),
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
      el("p", {}, el("strong", {}, "Recognition is unavailable: "), sentence(reason)));
    if (hint) {
      const code = el("code", { className: "hint-command" }, hint);
      const copy = el("button", { type: "button", className: "link-button copy-hint" }, "Copy");
      copy.addEventListener("click", () => copyText(hint, code, copy));
      body.append(el("p", { className: "hint" }, "To fix it, run: ", code, " ", copy));
    }
    body.append(el("p", { className: "banner-small" }, "This page checks again every few seconds."));
    setErrorBanner(`failed\n${reason}\n${hint}`, false,
      [el("span", { className: "banner-icon", "aria-hidden": "true" }, "!"), body]);
  }

  function renderLoading() {
    setErrorBanner("loading", true, [
      el("span", { className: "banner-icon", "aria-hidden": "true" }, "\u2026"),
      el("div", { className: "banner-body" }, el("p", {},
        el("strong", {}, "The model is loading. "), "Recognize will be ready in a few seconds.")),
    ]);
  }

  async function copyText(text, node, button) {
    try {
      await navigator.clipboard.writeText(text);
      button.textContent = "Copied";
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
    ui.limitsText.textContent = `${FORMAT_NAMES} photos up to ` +
      `${formatMb(state.limits.max_upload_mb)} each, or a ZIP of them.`;
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
        // Browsers call every pasted image "image.png"; number them so rows can be told apart.
        state.pasteCount += 1;
        const ext = (file.type.split("/")[1] || "png").replace("jpeg", "jpg");
        file = new File([file], `pasted-${state.pasteCount}.${ext}`, { type: file.type });
      }
      if (state.items.some((it) => sameFile(it.file, file))) continue;
      state.items.push({ file, kind, url: kind === "image" ? URL.createObjectURL(file) : null });
    }
    const problems = [];
    if (wrongType.length) problems.push(wrongTypeMessage(wrongType));
    for (const file of tooBig) {
      problems.push(`${quoted(file.name)} is too large (${formatBytes(file.size)}): the server ` +
        `accepts photos up to ${formatMb(state.limits.max_upload_mb)}. Try a smaller copy of it.`);
    }
    if (problems.length) showMessage(problems, "error");
    renderPreviews();
    updateButton();
  }

  function sameFile(a, b) {
    return a.name === b.name && a.size === b.size && a.lastModified === b.lastModified;
  }

  function wrongTypeMessage(files) {
    const what = `Choose ${FORMAT_NAMES} images, or a ZIP of them.`;
    if (files.length === 1) return `${quoted(files[0].name)} is not a photo or a ZIP. ${what}`;
    const names = files.map((f) => f.name).join(", ");
    return `${files.length} files are not photos or ZIPs and were left out (${names}). ${what}`;
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
        : el("span", { className: "preview-thumb preview-zip", "aria-hidden": "true" }, "ZIP");
      // This browser cannot draw it (not an image after all, or a TIFF): show a plain tile; the
      // server, which reads the bytes, has the last word.
      if (item.kind === "image") thumb.addEventListener("error", () => thumb.replaceWith(noPreview()));
      const remove = el("button", { type: "button", className: "preview-remove",
        "aria-label": `Remove ${file.name}`, title: "Remove" }, "\u00d7");
      remove.addEventListener("click", () => removeItem(item));
      const size = item.kind === "zip" ? `ZIP \u00b7 ${formatBytes(file.size)}` : formatBytes(file.size);
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
    if (photos) parts.push(plural(photos, "photo"));
    if (zips) parts.push(plural(zips, "ZIP"));
    setStatus(parts.length ? `${parts.join(" and ")} chosen` : "");
  }

  function noPreview() {
    return el("span", { className: "preview-thumb preview-none", "aria-hidden": "true" }, "?");
  }

  function updateButton() {
    const button = ui.recognize;
    button.disabled = !state.ready || state.busy || state.items.length === 0;
    button.classList.toggle("is-busy", state.busy);
    button.setAttribute("aria-busy", String(state.busy));
    button.querySelector(".button-text").textContent = state.busy ? "Recognizing\u2026" : "Recognize";
    if (!state.ready) button.title = "The model is not ready (see the banner above).";
    else if (!state.items.length) button.title = "Choose a photo first.";
    else button.removeAttribute("title");
  }

  // ---------------------------------------------------------------------------------------------
  // Recognizing

  function postFiles(url, files) {
    const form = new FormData();
    for (const file of files) form.append("file", file, file.name);
    const topK = encodeURIComponent(state.limits.top_k || 3);
    return fetchJson(`${url}?top_k=${topK}`, { method: "POST", body: form });
  }

  function chunks(list, size) {
    const out = [];
    for (let i = 0; i < list.length; i += size) out.push(list.slice(i, i + size));
    return out;
  }

  /** Send everything chosen; returns {rows, model, elapsed, failure}. Rows keep their order. */
  async function send(images, zips) {
    const out = { rows: [], model: null, elapsed: 0, failure: null };
    const take = (data) => {
      out.model = data.model || out.model;
      out.elapsed += Number(data.elapsed_ms) || 0;
      return Array.isArray(data.results) ? data.results : [];
    };
    const total = images.length + zips.length;
    let done = 0;
    try {
      for (const chunk of chunks(images, Math.max(1, Math.min(CHUNK, state.limits.max_files || CHUNK)))) {
        const results = take(await postFiles(API.classify, chunk.map((it) => it.file)));
        results.forEach((row, i) => out.rows.push({ ...row, thumb: chunk[i] ? chunk[i].url : null }));
        done += chunk.length;
        if (total > 1) setStatus(`Recognizing\u2026 ${done} of ${plural(total, "file")} sent`);
      }
      for (const zip of zips) {
        const results = take(await postFiles(API.classifyZip, [zip.file]));
        for (const row of results) out.rows.push({ ...row, thumb: null });
        done += 1;
        if (total > 1) setStatus(`Recognizing\u2026 ${done} of ${plural(total, "file")} sent`);
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
    setStatus(`Recognizing ${plural(state.items.length, "file")}\u2026`);

    const { rows, model, elapsed, failure } = await send(images, zips);

    state.busy = false;
    state.recognized = !failure; // after a failure, the same files can be tried again
    ui.results.removeAttribute("aria-busy");
    updateButton();
    clearResults();
    if (failure) {
      const lines = [failure.message];
      if (rows.length) lines.push("The files before it were recognized; their results are below.");
      showMessage(lines, "error");
      setStatus("");
      if (failure.code === "model_not_ready") loadModel();
    }
    if (!rows.length) return;
    if (rows.length === 1 && zips.length === 0) renderSingle(rows[0], model, elapsed);
    else renderTable(rows, model, elapsed);
    if (!failure) setStatus(summaryText(rows, "Done: "));
  }

  function summaryText(rows, prefix) {
    const failed = rows.filter((r) => r.error).length;
    if (failed === rows.length) return rows.length === 1 ? "" : "Nothing could be recognized.";
    return `${prefix}${plural(rows.length - failed, "file")} recognized` +
      (failed ? `, ${failed} could not be read.` : ".");
  }

  function clearResults() {
    ui.results.textContent = "";
  }

  function bar(p) {
    return el("span", { className: "bar-track", "aria-hidden": "true" },
      el("span", { className: "bar", style: `width: ${barWidth(p)}` }));
  }

  function metaLine(model, elapsed) {
    const parts = [];
    if (model) parts.push(`Answered by ${model}`);
    if (elapsed) parts.push(`${Math.round(elapsed)} ms`);
    return parts.length ? el("p", { className: "result-meta" }, parts.join(" \u00b7 ")) : null;
  }

  function renderSingle(row, model, elapsed) {
    const preds = row.predictions || [];
    if (row.error || !preds.length) {
      showMessage(`Could not recognize ${quoted(row.filename)}: ${errorSentence(row.error)}`);
      return;
    }
    const top = preds[0];
    const items = preds.map((p, i) => el("li", { className: i ? "prediction" : "prediction is-top" },
      el("span", { className: "label" }, p.label),
      bar(p.probability),
      el("span", { className: "percent" }, percentText(p.probability))));
    ui.results.append(
      el("h2", { className: "results-title" }, "Result"),
      el("article", { className: "card single" },
        row.thumb
          ? el("img", { className: "single-thumb", src: row.thumb, alt: `Your photo, ${row.filename}` })
          : null,
        el("div", { className: "single-body" },
          el("p", { className: "eyebrow" }, "Most likely"),
          el("p", { className: "top-label" },
            el("span", { className: "top-label-text" }, top.label), " ",
            el("span", { className: "top-percent" }, percentText(top.probability))),
          el("ol", { className: "predictions",
            "aria-label": `Top ${preds.length} labels for ${row.filename}` }, items),
          el("p", { className: "result-file" }, row.filename),
          metaLine(model, elapsed))),
    );
  }

  function tableRow(row) {
    const empty = () => el("span", { className: "row-thumb row-thumb-empty", "aria-hidden": "true" });
    const thumb = row.thumb ? el("img", { className: "row-thumb", src: row.thumb, alt: "" }) : empty();
    if (row.thumb) thumb.addEventListener("error", () => thumb.replaceWith(empty()));
    const cells = [
      el("td", { className: "cell-thumb" }, thumb),
      el("td", { className: "cell-file" },
        el("span", { className: "file-name", title: row.filename }, row.filename)),
    ];
    const preds = row.predictions || [];
    if (row.error || !preds.length) {
      cells.push(el("td", { className: "cell-error", colSpan: 3 },
        el("span", { className: "error-badge" }, "Not recognized"), " ", errorSentence(row.error)));
    } else {
      const top = preds[0];
      cells.push(
        el("td", { className: "cell-label" }, el("span", { className: "label" }, top.label)),
        el("td", { className: "cell-confidence" }, el("span", { className: "confidence" },
          bar(top.probability), el("span", { className: "percent" }, percentText(top.probability)))),
        el("td", { className: "cell-more" }, preds.slice(1).map((p) =>
          el("span", { className: "more-label" }, `${p.label} ${percentText(p.probability)}`))),
      );
    }
    const className = row.error || !preds.length ? "result-row error-row" : "result-row";
    return el("tr", { className, dataset: { filename: row.filename } }, cells);
  }

  function renderTable(rows, model, elapsed) {
    const failed = rows.filter((r) => r.error).length;
    const summary = `${plural(rows.length, "file")}: ${rows.length - failed} recognized` +
      (failed ? `, ${failed} could not be read` : "");
    const download = el("button", { type: "button", id: "download-csv",
      className: "button button-secondary", dataset: { testid: "download-csv" } }, "Download CSV");
    download.addEventListener("click", () => downloadCsv(rows));
    const th = (text, className) => el("th", { scope: "col", className }, text);
    ui.results.append(
      el("div", { className: "results-head" },
        el("div", {},
          el("h2", { className: "results-title" }, "Results"),
          el("p", { className: "results-summary" }, summary)),
        download),
      el("div", { className: "table-wrap card" },
        el("table", { id: "results-table", className: "data-table",
          dataset: { testid: "results-table" } },
          el("caption", { className: "visually-hidden" }, `Recognition results, ${summary}`),
          el("thead", {}, el("tr", {},
            th(el("span", { className: "visually-hidden" }, "Photo"), "cell-thumb"),
            th("File"), th("Top label"), th("Confidence"), th("Other labels", "cell-more"))),
          el("tbody", {}, rows.map(tableRow)))),
      metaLine(model, elapsed),
    );
  }

  // ---------------------------------------------------------------------------------------------
  // CSV, built here from the JSON the server returned

  function csvField(value) {
    const s = value === null || value === undefined ? "" : String(value);
    return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
  }

  /** filename, label_1, probability_1, ..., label_k, probability_k, error_code, error_message */
  function buildCsv(rows) {
    const k = Math.max(1, state.limits.top_k || 0, ...rows.map((r) => (r.predictions || []).length));
    const header = ["filename"];
    for (let i = 1; i <= k; i++) header.push(`label_${i}`, `probability_${i}`);
    header.push("error_code", "error_message");
    const lines = [header];
    for (const row of rows) {
      const line = [row.filename];
      const preds = row.predictions || [];
      for (let i = 0; i < k; i++) {
        const p = preds[i];
        line.push(p ? p.label : "", p ? Number(p.probability.toFixed(6)) : "");
      }
      const error = row.error || {};
      line.push(error.code || "", error.message || "");
      lines.push(line);
    }
    return lines.map((l) => l.map(csvField).join(",")).join("\r\n") + "\r\n";
  }

  function downloadCsv(rows) {
    const blob = new Blob([buildCsv(rows)], { type: "text/csv;charset=utf-8" });
    const url = URL.createObjectURL(blob);
    const stamp = new Date().toISOString().replace(/[-:]/g, "").replace("T", "-").slice(0, 15);
    const a = el("a", { href: url, download: `localvision-results-${stamp}.csv`, hidden: true });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
  }

  // ---------------------------------------------------------------------------------------------
  // Wiring

  function hasFiles(event) {
    return Boolean(event.dataTransfer) &&
      Array.from(event.dataTransfer.types || []).includes("Files");
  }

  function filesFromClipboard(data) {
    const files = Array.from(data.files || []);
    if (files.length) return files;
    return Array.from(data.items || [])
      .filter((item) => item.kind === "file")
      .map((item) => item.getAsFile())
      .filter(Boolean);
  }

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
      if (!hasFiles(event)) return;
      dragDepth += 1;
      ui.dropzone.classList.add("is-dragover");
    });
    window.addEventListener("dragleave", () => {
      dragDepth = Math.max(0, dragDepth - 1);
      if (!dragDepth) ui.dropzone.classList.remove("is-dragover");
    });
    window.addEventListener("dragover", (event) => {
      if (!hasFiles(event)) return;
      event.preventDefault();
      event.dataTransfer.dropEffect = "copy";
    });
    window.addEventListener("drop", (event) => {
      if (!hasFiles(event)) return;
      event.preventDefault();
      dragDepth = 0;
      ui.dropzone.classList.remove("is-dragover");
      addFiles(event.dataTransfer.files, "drop");
    });

    document.addEventListener("paste", (event) => {
      const files = event.clipboardData ? filesFromClipboard(event.clipboardData) : [];
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

    document.addEventListener("visibilitychange", () => {
      if (!document.hidden && !state.ready && !state.busy) loadModel();
    });
  }

  renderLimits();
  wire();
  updateButton();
  loadModel();
})();
