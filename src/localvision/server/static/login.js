/* localvision: the sign-in page's strings, and its error message in the page's language.
 *
 * The page works without JavaScript: the server sends it in English, with the error message
 * (if any) filled in. This script puts in the translation on load (window.localvisionLocalize,
 * from i18n.js), by data-i18n keys, and turns the server's message into the sentence for its
 * code (data-code on #login-error). The language switch shows the page again by a GET that
 * keeps where to go after signing in (after a failed sign-in the page is a POST's answer, which
 * a reload would send again). Like i18n.js it is put into the page inline by the server
 * (server/login.py), so it must never hold a closing script tag, an HTML comment's opening or
 * two opening braces in a row.
 */
"use strict";

(function () {
  const ENGLISH = {
    pageTitle: "localvision: sign in",
    heading: "Sign in",
    lede: "This localvision server asks who you are.",
    username: "User name",
    password: "Password",
    signIn: "Sign in",
    helpBefore: "No account? The person who runs this server can make one with",
    helpAfter: ".",
  };
  const translate = window.localvisionLocalize;
  const T = typeof translate === "function" ? { ...ENGLISH, ...translate(ENGLISH, "login") } : ENGLISH;

  function applyStrings() {
    for (const node of document.querySelectorAll("[data-i18n]")) {
      const value = T[node.dataset.i18n];
      if (typeof value === "string") node.textContent = value;
      else console.error(`localvision: no string named ${node.dataset.i18n}`);
    }
    document.title = T.pageTitle;
  }

  /** The server's sentence (English) as the sentence for its code in the page's language. */
  function translateError() {
    const box = document.getElementById("login-error");
    const i18n = window.localvisionI18n;
    if (!box || box.hidden || !i18n) return;
    const line = box.querySelector("p");
    const text = i18n.errorText({
      code: box.dataset.code || null,
      message: line.textContent,
      retry_after: box.dataset.retryAfter,
    });
    if (text) line.textContent = text;
  }

  function start() {
    applyStrings();
    translateError();
    const next = document.querySelector("form [name=next]");
    if (window.localvisionI18n && next) {
      window.localvisionI18n.reloadAddress = () => `/login?next=${encodeURIComponent(next.value || "/")}`;
    }
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
