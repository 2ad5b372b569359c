/* localvision: the signed-in user in the page header, and the CSRF token for POST requests.
 *
 * At sign-in the server sets the `localvision_csrf` cookie (readable here, unlike the HttpOnly
 * session cookie). Requests that change something send it back in X-CSRF-Token; another site can
 * neither read the cookie nor set that header, so it cannot make those requests in the user's
 * name. With auth off there is no such cookie and this script does nothing (it asks nothing).
 *
 * Its one string is i18n.js's (localvisionI18n.strings("auth")).
 */
"use strict";

(function () {
  const T = window.localvisionI18n.strings("auth");

  function cookie(name) {
    const match = document.cookie.match(new RegExp("(?:^|;\\s*)" + name + "=([^;]*)"));
    return match ? decodeURIComponent(match[1]) : null;
  }

  window.localvisionAuth = {
    // Headers to add to a state-changing request: the CSRF token when signed in, else none.
    headers() {
      const token = cookie("localvision_csrf");
      return token ? { "X-CSRF-Token": token } : {};
    },
    // Where to go when the server says the sign-in has ended (401).
    signIn() {
      const here = location.pathname + location.search;
      location.assign("/login?next=" + encodeURIComponent(here));
    },
  };

  const token = cookie("localvision_csrf");
  const box = document.getElementById("auth-user");
  if (!token || !box) return;
  fetch("/api/v1/me", { headers: { Accept: "application/json" } })
    .then((response) => (response.ok ? response.json() : null))
    .then((me) => {
      if (!me || !me.user) return;
      box.querySelector(".auth-name").textContent = me.role === "admin" ? T.admin(me.user) : me.user;
      box.querySelector("input[name=csrf_token]").value = token;
      box.hidden = false;
    })
    .catch(() => {}); // the header is a courtesy; the page works without it
})();
