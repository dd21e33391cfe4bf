// Chat: a multi-turn conversation kept in localStorage, answers streamed
// from /api/ai/chat (server-sent events of chat.completion.chunk) and shown
// as sanitised Markdown.
(function () {
  "use strict";
  var D = window.Duckgate;
  var STORE = "duckgate.chat.v1";
  var root = document.getElementById("chat");
  if (!root) return;
  var list = document.getElementById("messages");
  var form = document.getElementById("chat-form");
  var input = document.getElementById("chat-input");
  var modelSel = document.getElementById("chat-model");
  var systemEl = document.getElementById("chat-system");
  var sendBtn = document.getElementById("chat-send");
  var stopBtn = document.getElementById("chat-stop");
  var clearBtn = document.getElementById("chat-clear");
  var errorEl = document.getElementById("chat-error");

  var state = load();
  var controller = null;

  function load() {
    try {
      var s = JSON.parse(localStorage.getItem(STORE) || "null");
      if (s && Array.isArray(s.messages)) return s;
    } catch (e) { /* a broken entry starts a new conversation */ }
    return { model: "", system: "", messages: [] };
  }
  function save() {
    try { localStorage.setItem(STORE, JSON.stringify(state)); } catch (e) { /* full or disabled: keep going */ }
  }

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

  async function send(text) {
    D.showError(errorEl, "");
    state.messages.push({ role: "user", content: text });
    list.appendChild(messageEl(state.messages[state.messages.length - 1]));
    save();

    var answer = { role: "assistant", content: "" };
    var li = messageEl(answer);
    li.setAttribute("data-streaming", "true");
    list.appendChild(li);

    var messages = state.messages.slice();
    if (systemEl.value.trim()) messages.unshift({ role: "system", content: systemEl.value.trim() });

    controller = new AbortController();
    setBusy(true);
    var failed = "";
    try {
      var resp = await D.api("/ai/chat", {
        method: "POST", signal: controller.signal,
        json: { model: modelSel.value || undefined, messages: messages, stream: true }
      });
      if (!resp.ok) {
        failed = await D.problemMessage(resp);
      } else {
        failed = await readStream(resp, function (delta) {
          answer.content += delta;
          scheduleRender(li, answer);
        });
      }
    } catch (e) {
      if (e.name !== "AbortError") failed = "The connection broke off. Please try again.";
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
      li.remove();
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
