// Theme: light or dark follows the system unless the person chose with the
// toggle; the choice is a display preference kept in localStorage (no
// account data). Loaded in <head>, before the page paints.
(function () {
  "use strict";
  var KEY = "duckgate.theme";
  var root = document.documentElement;
  var system = window.matchMedia ? window.matchMedia("(prefers-color-scheme: dark)") : null;
  // Handed over across a sign-out (app.js), which clears the storage.
  var kept = /(?:^|; )dg_theme=(dark|light)/.exec(document.cookie);
  if (kept) {
    try { localStorage.setItem(KEY, kept[1]); } catch (e) { /* disabled */ }
    document.cookie = "dg_theme=; path=/; max-age=0; samesite=lax";
  }
  function chosen() { try { return localStorage.getItem(KEY) || ""; } catch (e) { return ""; } }
  function effective() { return chosen() || (system && system.matches ? "dark" : "light"); }
  function apply() {
    var c = chosen();
    if (c) root.setAttribute("data-theme", c); else root.removeAttribute("data-theme");
    var b = document.getElementById("theme-toggle");
    if (b) {
      var dark = effective() === "dark";
      b.setAttribute("aria-pressed", dark ? "true" : "false");
      b.textContent = dark ? "Light mode" : "Dark mode";
      b.title = c ? "Your choice (the system's is ignored)" : "Following the system";
    }
  }
  apply();
  if (system && system.addEventListener) system.addEventListener("change", apply);
  document.addEventListener("DOMContentLoaded", apply);
  document.addEventListener("click", function (ev) {
    if (!ev.target.closest || !ev.target.closest("#theme-toggle")) return;
    var next = effective() === "dark" ? "light" : "dark";
    try {
      // Back to following the system when the choice matches it.
      if ((system && system.matches ? "dark" : "light") === next) localStorage.removeItem(KEY);
      else localStorage.setItem(KEY, next);
    } catch (e) { root.setAttribute("data-theme", next); }
    apply();
    if (!chosen()) root.removeAttribute("data-theme");
  });
})();
