// Duckgate: what every page shares. Page scripts use window.Duckgate.
(function () {
  "use strict";

  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.content : "";
  }

  // api calls the backend through the frontend's /api proxy. The session
  // cookie authenticates; the CSRF header proves the call comes from our page.
  function api(path, options) {
    options = options || {};
    var headers = { "Accept": "application/json", "X-CSRF-Token": csrfToken() };
    var init = { method: options.method || "GET", headers: headers, credentials: "same-origin", signal: options.signal };
    if (options.json !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(options.json);
    }
    return fetch("/api" + path, init);
  }

  var statusText = {
    400: "The request was not understood.",
    401: "Your session has ended. Please sign in again.",
    403: "You are not allowed to do this.",
    404: "Not found.",
    413: "What you sent is too large.",
    422: "Please check your input.",
    429: "Too many requests. Please wait a moment and try again.",
    502: "The AI provider failed. Please try again.",
    503: "This service is not available right now.",
    504: "The AI provider took too long. Please try again."
  };

  // problemMessage turns an error response (RFC 9457 problem details) into
  // one readable sentence; it never shows raw JSON.
  async function problemMessage(resp) {
    var fallback = statusText[resp.status] || ("Something went wrong (" + resp.status + ").");
    var problem;
    try { problem = await resp.json(); } catch (e) { return fallback; }
    if (!problem || typeof problem !== "object") return fallback;
    var parts = [];
    if (problem.detail) parts.push(problem.detail);
    else if (problem.title) parts.push(problem.title + ".");
    if (Array.isArray(problem.errors)) {
      problem.errors.forEach(function (e) { parts.push(e.field + ": " + e.message); });
    }
    if (resp.status === 401) parts = [statusText[401]];
    var msg = parts.join(" ") || fallback;
    var retry = resp.headers.get("Retry-After");
    if (resp.status === 429 && retry) msg += " (retry in " + retry + " s)";
    return msg;
  }

  function showError(el, message) {
    if (!el) return;
    el.textContent = message || "";
    el.hidden = !message;
  }

  // Forms that destroy something ask first (data-confirm="question").
  document.addEventListener("submit", function (ev) {
    var q = ev.target.getAttribute && ev.target.getAttribute("data-confirm");
    if (q && !window.confirm(q)) ev.preventDefault();
  });

  window.Duckgate = { api: api, csrfToken: csrfToken, problemMessage: problemMessage, showError: showError };
})();
