/* localvision: the sign-in page's strings, and its error message in the page's language.
 *
 * The page works without JavaScript: the server sends it in English, with the error message
 * (if any) filled in. This script puts in the page's strings on load (i18n.js's, in the page's
 * language), by data-i18n keys (page.js), and turns the server's message into the sentence for
 * its code (data-code on #login-error). The language switch shows the page again by a GET that
 * keeps where to go after signing in (after a failed sign-in the page is a POST's answer, which
 * a reload would send again). Like i18n.js and page.js it is put into the page inline by the
 * server (server/login.py), so it must never hold a closing script tag, an HTML comment's
 * opening or two opening braces in a row.
 */
"use strict";

(function () {
  const I18N = window.localvisionI18n;
  const T = I18N.strings("login");

  /** The server's sentence (English) as the sentence for its code in the page's language. */
  function translateError() {
    const box = document.getElementById("login-error");
    if (!box || box.hidden) return;
    const line = box.querySelector("p");
    const text = I18N.errorText({
      code: box.dataset.code || null,
      message: line.textContent,
      retry_after: box.dataset.retryAfter,
    });
    if (text) line.textContent = text;
  }

  function start() {
    window.localvisionPage.applyStrings(T);
    translateError();
    const next = document.querySelector("form [name=next]");
    if (next) {
      I18N.reloadAddress = () => `/login?next=${encodeURIComponent(next.value || "/")}`;
    }
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
