// Chat: a multi-turn conversation, answers streamed from /api/ai/chat
// (server-sent events of chat.completion.chunk) and shown as sanitised
// Markdown.
//
// The conversation lives in this tab's sessionStorage under the signed-in
// account's id, so a reload keeps it and nothing else does: another
// account never finds it (entries of other accounts are dropped when the
// page loads), and signing out clears the app's storage (app.js, and the
// sign-out response's Clear-Site-Data header).
(function () {
  "use strict";
  var D = window.Duckgate;
  var PREFIX = "duckgate.chat.";
  // The backend's limit on a conversation (ai.MaxConversationBytes).
  var MAX_BYTES = 256 * 1024;
  var root = document.getElementById("chat");
  if (!root) return;
  var STORE = PREFIX + "v2." + (root.getAttribute("data-account") || "");
  var list = document.getElementById("messages");
  var form = document.getElementById("chat-form");
  var input = document.getElementById("chat-input");
  var modelSel = document.getElementById("chat-model");
  var systemEl = document.getElementById("chat-system");
  var sendBtn = document.getElementById("chat-send");
  var stopBtn = document.getElementById("chat-stop");
  var clearBtn = document.getElementById("chat-clear");
  var errorEl = document.getElementById("chat-error");

  forgetOthers();
  var state = load();
  var controller = null;

  // forgetOthers drops every conversation that is not this account's: those
  // of accounts signed in before in this tab, and the one older versions
  // kept in localStorage for everyone.
  function forgetOthers() {
    [window.localStorage, window.sessionStorage].forEach(function (store) {
      try {
        for (var i = store.length - 1; i >= 0; i--) {
          var key = store.key(i);
          if (key && key.indexOf(PREFIX) === 0 && !(store === window.sessionStorage && key === STORE)) store.removeItem(key);
        }
      } catch (e) { /* storage disabled: nothing kept anyway */ }
    });
  }
  function load() {
    try {
      var s = JSON.parse(sessionStorage.getItem(STORE) || "null");
      if (s && Array.isArray(s.messages)) return s;
    } catch (e) { /* a broken entry starts a new conversation */ }
    return { model: "", system: "", messages: [] };
  }
  function save() {
    try { sessionStorage.setItem(STORE, JSON.stringify(state)); } catch (e) { /* full or disabled: keep going */ }
  }
  function bytes(s) { return new TextEncoder().encode(s).length; }

  function markdown(text) {
    if (window.marked && window.DOMPurify) {
      return window.DOMPurify.sanitize(window.marked.parse(text, { gfm: true, breaks: false }));
    }
    var div = document.createElement("div");
    div.textContent = text;
    return div.innerHTML;
  }

  function messageEl(msg) {
    var li = document.createElement("li");
    li.className = "msg msg-" + msg.role;
    var label = document.createElement("span");
    label.className = "visually-hidden";
    label.textContent = msg.role === "user" ? "You: " : "Assistant: ";
    li.appendChild(label);
    var body = document.createElement("div");
    body.className = "msg-body";
    li.appendChild(body);
    fill(li, msg.content);
    return li;
  }
  function fill(li, content) {
    var body = li.querySelector(".msg-body");
    if (li.classList.contains("msg-assistant")) body.innerHTML = markdown(content);
    else body.textContent = content;
  }

  function renderAll() {
    list.textContent = "";
    state.messages.forEach(function (m) { list.appendChild(messageEl(m)); });
  }

  function setBusy(busy) {
    sendBtn.disabled = busy;
    stopBtn.hidden = !busy;
    input.disabled = busy;
  }

  // send shows the message and streams the answer. The message stays in
  // the conversation only when an answer came back: a rejected one (too
  // long, rate limited, …) or one that got no answer at all goes back into
  // the box, with the reason, and is never sent again with later messages.
  async function send(text) {
    D.showError(errorEl, "");
    var history = state.messages.concat([{ role: "user", content: text }]);
    var size = history.reduce(function (n, m) { return n + bytes(m.content); }, bytes(systemEl.value.trim()));
    if (size > MAX_BYTES) {
      D.showError(errorEl, bytes(text) + bytes(systemEl.value.trim()) > MAX_BYTES
        ? "That message is too long: shorten it to " + Math.floor(MAX_BYTES / 1024) + " KB."
        : "This conversation is too long to go on: start a new conversation.");
      input.value = text;
      input.focus();
      return;
    }

    var mine = messageEl(history[history.length - 1]);
    list.appendChild(mine);
    var answer = { role: "assistant", content: "" };
    var li = messageEl(answer);
    li.setAttribute("data-streaming", "true");
    list.appendChild(li);

    var messages = history.slice();
    if (systemEl.value.trim()) messages.unshift({ role: "system", content: systemEl.value.trim() });

    controller = new AbortController();
    setBusy(true);
    var failed = "";
    var accepted = false;
    var stopped = false;
    var before = state.messages;
    try {
      var resp = await D.api("/ai/chat", {
        method: "POST", signal: controller.signal,
        json: { model: modelSel.value || undefined, messages: messages, stream: true }
      });
      if (!resp.ok) {
        failed = await D.problemMessage(resp);
      } else {
        accepted = true;
        state.messages = history;
        save();
        failed = await readStream(resp, function (delta) {
          answer.content += delta;
          scheduleRender(li, answer);
        });
      }
    } catch (e) {
      if (e.name === "AbortError") stopped = true;
      else failed = "The connection broke off. Try again.";
    } finally {
      controller = null;
      setBusy(false);
      li.removeAttribute("data-streaming");
      fill(li, answer.content);
    }
    if (answer.content) {
      state.messages.push(answer);
      save();
    } else {
      // Not part of the conversation: off the page, back in the box.
      if (accepted) {
        state.messages = before;
        save();
        if (!failed && !stopped) failed = "The model gave no answer. Try again.";
      }
      mine.remove();
      li.remove();
      if (!input.value) input.value = text;
    }
    if (failed) D.showError(errorEl, failed);
    input.focus();
  }

  // Rendering Markdown on every chunk is wasteful: once per frame is enough.
  var pending = null;
  function scheduleRender(li, answer) {
    if (pending) return;
    pending = requestAnimationFrame(function () {
      pending = null;
      fill(li, answer.content);
      li.scrollIntoView({ block: "end" });
    });
  }

  // readStream parses server-sent events and returns an error message, or
  // "" when the stream ended with [DONE].
  async function readStream(resp, onDelta) {
    var reader = resp.body.getReader();
    var decoder = new TextDecoder();
    var buf = "";
    for (;;) {
      var chunk = await reader.read();
      if (chunk.done) return "";
      buf += decoder.decode(chunk.value, { stream: true });
      var idx;
      while ((idx = buf.search(/\r?\n\r?\n/)) >= 0) {
        var event = buf.slice(0, idx);
        buf = buf.slice(idx).replace(/^\r?\n\r?\n/, "");
        var data = event.split(/\r?\n/).filter(function (l) { return l.indexOf("data:") === 0; })
          .map(function (l) { return l.slice(5).replace(/^ /, ""); }).join("\n");
        if (!data) continue;
        if (data === "[DONE]") return "";
        var obj;
        try { obj = JSON.parse(data); } catch (e) { continue; }
        if (obj.error) {
          return "The model failed: " + (obj.error.message || "unknown error") + ".";
        }
        var choice = obj.choices && obj.choices[0];
        if (choice && choice.delta && choice.delta.content) onDelta(choice.delta.content);
      }
    }
  }

  form.addEventListener("submit", function (ev) {
    ev.preventDefault();
    var text = input.value.trim();
    if (!text || controller) return;
    input.value = "";
    send(text);
  });
  // Editing the text after a failed send clears its message.
  input.addEventListener("input", function () { if (!controller) D.showError(errorEl, ""); });
  input.addEventListener("keydown", function (ev) {
    if (ev.key === "Enter" && !ev.shiftKey && !ev.isComposing) {
      ev.preventDefault();
      form.requestSubmit();
    }
  });
  stopBtn.addEventListener("click", function () { if (controller) controller.abort(); });
  clearBtn.addEventListener("click", function () {
    if (controller) controller.abort();
    state.messages = [];
    save();
    renderAll();
    D.showError(errorEl, "");
    input.focus();
  });
  modelSel.addEventListener("change", function () { state.model = modelSel.value; save(); });
  systemEl.addEventListener("change", function () { state.system = systemEl.value; save(); });

  if (state.model && modelSel.querySelector('option[value="' + CSS.escape(state.model) + '"]')) modelSel.value = state.model;
  systemEl.value = state.system || "";
  renderAll();
})();
