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
    401: "Your session has ended. Sign in again.",
    403: "You are not allowed to do this.",
    404: "Not found.",
    413: "What you sent is too large.",
    402: "You have reached your spending limit for this month.",
    422: "Check what you entered.",
    429: "Too many requests.",
    502: "The AI provider failed. Try again.",
    503: "This service is not available right now.",
    504: "The AI provider took too long. Try again."
  };

  // sentences turns a detail written for programs ("too many wrong
  // passwords; try again later") into sentences for a person, as the pages
  // do on the server (web/errors.go).
  function sentences(detail) {
    return String(detail || "").split(";").map(function (c) { return c.trim(); })
      .filter(function (c) { return c; })
      .map(function (c) {
        c = c.charAt(0).toUpperCase() + c.slice(1);
        return /[.!?\u2026]$/.test(c) ? c : c + ".";
      }).join(" ");
  }

  // waitAndRetry says how long to wait, in the unit a person would use.
  function waitAndRetry(seconds) {
    function n(v, unit) { return v + " " + unit + (v === 1 ? "" : "s"); }
    if (!(seconds > 0)) return "Wait a moment and try again.";
    if (seconds < 60) return "Wait " + n(seconds, "second") + " and try again.";
    if (seconds < 3600) return "Wait " + n(Math.ceil(seconds / 60), "minute") + " and try again.";
    return "Wait " + n(Math.ceil(seconds / 3600), "hour") + " and try again.";
  }

  // fieldName is how a person calls a field of the API: "messages[0].content"
  // and "content" are a message, "system_prompt" a system prompt (as
  // web/errors.go fieldName).
  function fieldName(field) {
    var f = String(field || "").replace(/\[\d+\]/g, "");
    f = f.slice(f.lastIndexOf(".") + 1);
    if (f === "content" || f === "messages") return "message";
    return f ? f.replace(/_/g, " ") : "what you sent";
  }

  // fieldSentence says what to change about one field.
  function fieldSentence(e) {
    var name = fieldName(e.field);
    var size = /at most (\d+ [KMG]i?B)/.exec(e.message || "");
    if (size) return "That " + name + " is too long: shorten it to " + size[1] + ".";
    return sentences(name + " " + (e.message || "is not valid"));
  }

  // problemMessage turns an error response (RFC 9457 problem details) into
  // sentences for a person; it never shows raw JSON.
  async function problemMessage(resp) {
    var fallback = statusText[resp.status] || ("Something went wrong (" + resp.status + ").");
    if (resp.status === 401) return statusText[401];
    var problem;
    try { problem = await resp.json(); } catch (e) { problem = null; }
    if (!problem || typeof problem !== "object") problem = {};
    if (resp.status === 429) {
      var lead = sentences(String(problem.detail || "").split(";")[0]) || statusText[429];
      return lead + " " + waitAndRetry(parseInt(resp.headers.get("Retry-After"), 10));
    }
    if (Array.isArray(problem.errors) && problem.errors.length) {
      return problem.errors.map(fieldSentence).join(" ");
    }
    if (problem.detail) return sentences(problem.detail);
    if (problem.title && problem.title !== resp.statusText) return sentences(problem.title);
    return fallback;
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

  // Signing out leaves nothing of the account in this browser's storage
  // (the sign-out response's Clear-Site-Data header says the same to
  // browsers that honour it; this covers the others).
  document.addEventListener("submit", function (ev) {
    var action = ev.target.getAttribute && ev.target.getAttribute("action");
    if (action !== "/logout" || ev.defaultPrevented) return;
    // The theme is the browser's, not the account's: it is handed over in
    // a one-minute cookie that theme.js takes back on the next page
    // (Clear-Site-Data clears storage, not cookies).
    var theme = "";
    try { theme = window.localStorage.getItem("duckgate.theme") || ""; } catch (e) { /* disabled */ }
    if (theme === "dark" || theme === "light") document.cookie = "dg_theme=" + theme + "; path=/; max-age=60; samesite=lax";
    try { window.localStorage.clear(); } catch (e) { /* disabled */ }
    try { window.sessionStorage.clear(); } catch (e) { /* disabled */ }
  });

  // On narrow screens tables with class "cards" show each row as a card
  // (app.css); each cell is labelled with its column's heading.
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("table.cards").forEach(function (table) {
      var heads = Array.prototype.map.call(table.querySelectorAll("thead th"), function (th) { return th.textContent.trim(); });
      table.querySelectorAll("tbody tr").forEach(function (tr) {
        Array.prototype.forEach.call(tr.children, function (td, i) {
          if (heads[i] && !td.hasAttribute("colspan") && !td.hasAttribute("data-label")) td.setAttribute("data-label", heads[i]);
        });
      });
    });
  });

  window.Duckgate = { api: api, csrfToken: csrfToken, problemMessage: problemMessage, sentences: sentences, showError: showError };
})();
