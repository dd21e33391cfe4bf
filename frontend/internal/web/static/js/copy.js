// Copy buttons: <button data-copy="ID"> copies the text of the element ID
// (the new API key's secret on the profile page).
(function () {
  "use strict";
  document.addEventListener("click", function (ev) {
    var button = ev.target.closest && ev.target.closest("button[data-copy]");
    if (!button) return;
    var source = document.getElementById(button.getAttribute("data-copy"));
    if (!source) return;
    var text = source.textContent;
    var done = document.getElementById("copy-done");
    function copied() { if (done) done.hidden = false; }
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(copied, function () { select(source); });
    } else {
      select(source);
      try { if (document.execCommand("copy")) copied(); } catch (e) { /* the text stays selected */ }
    }
  });
  function select(el) {
    var range = document.createRange();
    range.selectNodeContents(el);
    var sel = window.getSelection();
    sel.removeAllRanges();
    sel.addRange(range);
  }
})();
