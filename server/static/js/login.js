// Log in: check the token against /users/me, keep it, go back where the user came from.
"use strict";

(() => {
  const form = document.getElementById("login-form");
  const next = new URLSearchParams(location.search).get("next") || "";
  // Only same-site paths: "/x" but not "//host" or "/\host".
  const target = /^\/(?![\/\\])/.test(next) ? next : "/ui/jobs";
  if (nasrec.NO_AUTH) location.replace(target);

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const value = form.token.value.trim();
    try {
      await nasrec.request("GET", "/users/me", { token: value });
      nasrec.setToken(value);
      location.assign(target);
    } catch (error) {
      nasrec.showError(error, "login-error");
    }
  });
})();
