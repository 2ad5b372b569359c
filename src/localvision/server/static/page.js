/* localvision: the helpers every page script shares, loaded after i18n.js and before the page's
 * own script (a plain script: no bundler, nothing from outside this machine).
 *
 * window.localvisionPage holds them:
 * - el(): build an element; text is only ever set as text (never innerHTML).
 * - applyStrings(T): put a page's strings (i18n.js: localvisionI18n.strings(name)) into its HTML,
 *   by data-i18n (the text) and data-i18n-<attribute> (aria-label, title, placeholder, alt).
 * - showMessage / clearMessage / showNotice: the page's #message (an error, one <p> a line) and
 *   #notice (a status line).
 * - percentText, barWidth, quoted, parseUtc: how numbers, names and times are shown.
 * - isImage, hasFiles, filesFromClipboard, pastedFile: files arriving by chooser, drop or paste.
 * - saved / save: what this browser remembers (localStorage), where storage may be blocked.
 * - ApiError and requestJson(): a JSON request whose every failure is one sentence for people.
 *
 * Like i18n.js it is put into the sign-in page inline by the server (server/login.py), so it must
 * never hold a closing script tag, an HTML comment's opening or two opening braces in a row.
 */
"use strict";

(function () {
  // Formats the server decodes (localvision.imaging.FORMATS), by MIME type and by extension:
  // some systems hand the browser an empty type, so the extension is the fallback.
  const IMAGE_TYPES = new Set([
    "image/jpeg", "image/jpg", "image/pjpeg", "image/png", "image/webp", "image/bmp",
    "image/x-ms-bmp", "image/gif", "image/tiff",
  ]);
  const IMAGE_EXT = /\.(jpe?g|jfif|png|webp|bmp|gif|tiff?)$/i;
  const I18N_ATTRIBUTES = ["aria-label", "title", "placeholder", "alt"];

  // ---------------------------------------------------------------------------------------------
  // Elements and strings

  /** Build an element: el("td", {className: "x", dataset: {a: 1}}, "text", childNode, ...).
   * A prop that is null, undefined or false is left out; children likewise. */
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

  /** Put the strings `T` into the HTML under `root` (data-i18n, data-i18n-<attribute>) and the
   * page's title (T.pageTitle). A key `T` lacks is a console error (the tests watch for them). */
  function applyStrings(T, root) {
    const scope = root || document;
    const text = (key) => {
      if (typeof T[key] === "string") return T[key];
      console.error(`localvision: no string named ${key}`);
      return null;
    };
    for (const node of scope.querySelectorAll("[data-i18n]")) {
      const value = text(node.dataset.i18n);
      if (value !== null) node.textContent = value;
    }
    for (const attr of I18N_ATTRIBUTES) {
      for (const node of scope.querySelectorAll(`[data-i18n-${attr}]`)) {
        const value = text(node.getAttribute(`data-i18n-${attr}`));
        if (value !== null) node.setAttribute(attr, value);
      }
    }
    document.title = T.pageTitle;
  }

  // ---------------------------------------------------------------------------------------------
  // Messages

  /** Show `lines` (a sentence or a list of them) in `box`, one paragraph each. */
  function showMessage(box, lines, level) {
    box.textContent = "";
    box.className = `message message-${level || "error"}`;
    for (const line of Array.isArray(lines) ? lines : [lines]) box.append(el("p", {}, line));
    box.hidden = false;
  }

  function clearMessage(box) {
    box.hidden = true;
    box.textContent = "";
  }

  /** A status line: shown with `text`, hidden without. */
  function showNotice(box, text) {
    box.textContent = text || "";
    box.hidden = !text;
  }

  // ---------------------------------------------------------------------------------------------
  // Numbers, names, times

  /** 0.8734 -> "87.3%"; tiny values say so rather than rounding to a misleading 0.0%. */
  function percentText(p) {
    const v = Number(p) * 100;
    if (!Number.isFinite(v)) return "\u2014";
    if (v > 0 && v < 0.1) return "<0.1%";
    return `${v.toFixed(1)}%`;
  }

  /** A probability as a bar's CSS width, within 0-100%. */
  function barWidth(p) {
    return `${Math.max(0, Math.min(100, p * 100)).toFixed(1)}%`;
  }

  function quoted(name) {
    return `\u201c${name}\u201d`;
  }

  /** The server stores UTC; a timestamp without an offset must not be read as local time. */
  function parseUtc(iso) {
    if (typeof iso !== "string") return null;
    const hasZone = /(Z|[+-]\d\d:?\d\d)$/i.test(iso);
    const d = new Date(hasZone ? iso : `${iso.replace(" ", "T")}Z`);
    return Number.isNaN(d.getTime()) ? null : d;
  }

  // ---------------------------------------------------------------------------------------------
  // Files

  /** A file the server may decode: a known image type, or no (generic) type and a known
   * extension (the server sniffs the bytes anyway). */
  function isImage(file) {
    const type = (file.type || "").toLowerCase();
    if (IMAGE_TYPES.has(type)) return true;
    return (!type || type === "application/octet-stream") && IMAGE_EXT.test(file.name || "");
  }

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

  /** Browsers call every pasted image "image.png": the n-th paste, named so rows can be told
   * apart (pasted-3.jpg). */
  function pastedFile(file, n) {
    const ext = (file.type.split("/")[1] || "png").replace("jpeg", "jpg");
    return new File([file], `pasted-${n}.${ext}`, { type: file.type });
  }

  // ---------------------------------------------------------------------------------------------
  // What this browser remembers

  function saved(key) {
    try {
      return localStorage.getItem(key);
    } catch (err) {
      return null; // storage blocked (a privacy setting): the page works, it just forgets
    }
  }

  function save(key, value) {
    try {
      localStorage.setItem(key, value);
    } catch (err) {
      // storage blocked: the choice holds for this page only
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Talking to the server

  /** A failed request, already turned into a sentence for people. */
  class ApiError extends Error {
    constructor(message, code, status) {
      super(message);
      this.code = code;
      this.status = status;
    }
  }

  /** The headers a request sends: JSON wanted, the CSRF token when signed in (auth.js). */
  function headers(extra) {
    const auth = window.localvisionAuth ? window.localvisionAuth.headers() : {};
    return { Accept: "application/json", ...auth, ...(extra || {}) };
  }

  /** When the server says the sign-in has ended, go and sign in again. */
  function checkSignedIn(response) {
    if (response.status === 401 && window.localvisionAuth) window.localvisionAuth.signIn();
  }

  /** A JSON request; resolves to its body (an object). Every failure is an ApiError whose
   * message is a sentence: `how.describe(error, status)` for an answer that is not OK (`error`:
   * the server's {code, message}, or null), `how.unreachable` when no answer came,
   * `how.unreadable` for an OK answer that is not a JSON object (unless `how.allowEmpty`; a 204
   * is always fine and gives null). */
  async function requestJson(url, options, how) {
    let response;
    try {
      response = await fetch(url, { ...(options || {}),
        headers: headers((options || {}).headers) });
    } catch (err) {
      throw new ApiError(how.unreachable, "network_error", 0);
    }
    let body = null;
    try {
      body = response.status === 204 ? null : await response.json();
    } catch (err) {
      body = undefined; // not JSON: a proxy's HTML page, or an empty body
    }
    checkSignedIn(response);
    if (!response.ok) {
      const error = body && typeof body.error === "object" && body.error ? body.error : null;
      const code = error && typeof error.code === "string" ? error.code : null;
      throw new ApiError(how.describe(error, response.status), code, response.status);
    }
    if ((body === null || body === undefined || typeof body !== "object") &&
        !(how.allowEmpty || response.status === 204)) {
      throw new ApiError(how.unreadable, "bad_response", response.status);
    }
    return body;
  }

  window.localvisionPage = {
    el,
    applyStrings,
    showMessage,
    clearMessage,
    showNotice,
    percentText,
    barWidth,
    quoted,
    parseUtc,
    isImage,
    hasFiles,
    filesFromClipboard,
    pastedFile,
    saved,
    save,
    ApiError,
    headers,
    checkSignedIn,
    requestJson,
  };
})();
