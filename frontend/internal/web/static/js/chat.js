// Chat: conversations kept by the backend. The page arrives with the open
// conversation rendered; this script sends, regenerates and edits through
// /api/conversations (answers stream as server-sent events of
// chat.completion.chunk), renders answers as sanitised Markdown, and after
// each answer reads the conversation back from the server, which is the
// only place it is kept: nothing goes into the browser's storage.
(function () {
  "use strict";
  var D = window.Duckgate;
  var root = document.getElementById("chat");
  if (!root) return;
  // The backend's limit on one message (workspace.MaxMessageBytes).
  var MAX_BYTES = 256 * 1024;
  var list = document.getElementById("messages");
  var form = document.getElementById("chat-form");
  var input = document.getElementById("chat-input");
  var modelSel = document.getElementById("chat-model");
  var systemEl = document.getElementById("chat-system");
  var sendBtn = document.getElementById("chat-send");
  var stopBtn = document.getElementById("chat-stop");
  var errorEl = document.getElementById("chat-error");
  var titleEl = document.getElementById("chat-title");
  var convId = root.getAttribute("data-conversation") || "";
  var controller = null;

  // Earlier versions kept the conversation in the browser's storage
  // (duckgate.chat.*): whatever they left is dropped.
  [window.localStorage, window.sessionStorage].forEach(function (store) {
    try {
      for (var i = store.length - 1; i >= 0; i--) {
        var key = store.key(i);
        if (key && key.indexOf("duckgate.chat.") === 0) store.removeItem(key);
      }
    } catch (e) { /* storage disabled */ }
  });

  function bytes(s) { return new TextEncoder().encode(s).length; }
  function path(suffix) { return "/conversations/" + encodeURIComponent(convId) + (suffix || ""); }

  function markdown(text) {
    if (window.marked && window.DOMPurify) {
      return window.DOMPurify.sanitize(window.marked.parse(text, { gfm: true, breaks: false }));
    }
    var div = document.createElement("div");
    div.textContent = text;
    return div.innerHTML;
  }

  function copy(text, btn) {
    function done() {
      var was = btn.textContent;
      btn.textContent = "Copied";
      setTimeout(function () { btn.textContent = was; }, 1500);
    }
    if (navigator.clipboard && window.isSecureContext) navigator.clipboard.writeText(text).then(done, function () {});
    else {
      var ta = document.createElement("textarea");
      ta.value = text;
      document.body.appendChild(ta);
      ta.select();
      try { if (document.execCommand("copy")) done(); } catch (e) { /* nothing to do */ }
      ta.remove();
    }
  }

  function button(label, cls, onClick) {
    var b = document.createElement("button");
    b.type = "button";
    b.className = "secondary small " + cls;
    b.textContent = label;
    b.addEventListener("click", onClick);
    return b;
  }

  // messageEl builds a message as the server renders it.
  function messageEl(role, content, id, cut) {
    var li = document.createElement("li");
    li.className = "msg msg-" + role;
    if (id) li.setAttribute("data-id", id);
    if (cut) li.setAttribute("data-cut", "true");
    var label = document.createElement("span");
    label.className = "visually-hidden";
    label.textContent = role === "user" ? "You: " : "Assistant: ";
    var body = document.createElement("div");
    body.className = "msg-body";
    body.textContent = content;
    li.appendChild(label);
    li.appendChild(body);
    return li;
  }
  function raw(li) {
    if (li.rawText === undefined) li.rawText = li.querySelector(".msg-body").textContent;
    return li.rawText;
  }
  function setText(li, text) {
    li.rawText = text;
    show(li);
  }

  // show renders a message's text: an answer as Markdown with a copy
  // button on each code block, and the note of an answer cut short.
  function show(li) {
    var body = li.querySelector(".msg-body");
    var text = raw(li);
    if (!li.classList.contains("msg-assistant")) {
      body.textContent = text;
      return;
    }
    body.innerHTML = markdown(text);
    body.querySelectorAll("pre").forEach(function (pre) {
      var code = pre.querySelector("code") || pre;
      var b = button("Copy code", "copy-code", function () { copy(code.textContent, b); });
      pre.appendChild(b);
    });
    cutNote(li);
  }

  // cutNote marks an answer that ended before it was finished.
  function cutNote(li) {
    var note = li.querySelector(".cut-short");
    if (li.getAttribute("data-cut") === "true" && !li.hasAttribute("data-streaming")) {
      if (!note) {
        note = document.createElement("p");
        note.className = "cut-short";
        note.textContent = "Cut short: this answer stopped before it was finished.";
        li.insertBefore(note, li.querySelector(".msg-body").nextSibling);
      }
    } else if (note) note.remove();
  }

  // actions gives every message its buttons: copy; edit on the user's
  // messages; regenerate on the last answer.
  function actions() {
    var items = list.querySelectorAll("li.msg");
    items.forEach(function (li, i) {
      var old = li.querySelector(".msg-actions");
      if (old) old.remove();
      if (li.hasAttribute("data-streaming") || li.classList.contains("editing")) return;
      var bar = document.createElement("div");
      bar.className = "msg-actions";
      bar.appendChild(button("Copy", "copy", function (ev) { copy(raw(li), ev.currentTarget); }));
      if (li.classList.contains("msg-user") && li.getAttribute("data-id")) {
        bar.appendChild(button("Edit", "edit", function () { edit(li); }));
      }
      if (li.classList.contains("msg-assistant") && i === items.length - 1 && convId) {
        bar.appendChild(button("Regenerate", "regenerate", function () { regenerate(li); }));
      }
      li.appendChild(bar);
    });
  }

  function setBusy(busy) {
    sendBtn.disabled = busy || root.getAttribute("data-ai") !== "on";
    stopBtn.hidden = !busy;
    input.disabled = busy || root.getAttribute("data-ai") !== "on";
    root.setAttribute("aria-busy", busy ? "true" : "false");
  }

  // stream sends a request whose answer streams into li. It returns what
  // happened: began (the backend accepted it and keeps the exchange),
  // stopped, and failed (a sentence for the person).
  async function stream(apiPath, method, body, li) {
    var out = { began: false, stopped: false, failed: "" };
    li.setAttribute("data-streaming", "true");
    setText(li, "");
    controller = new AbortController();
    var text = "";
    try {
      var resp = await D.api(apiPath, { method: method, signal: controller.signal, json: body });
      if (resp.status === 404) {
        out.failed = "This conversation does not exist any more (deleted elsewhere?). Start a new chat.";
      } else if (!resp.ok) {
        out.failed = await D.problemMessage(resp);
      } else {
        out.began = true;
        out.failed = await readStream(resp, function (delta) {
          text += delta;
          scheduleRender(li, function () { return text; });
        });
      }
    } catch (e) {
      if (e.name === "AbortError") out.stopped = true;
      else out.failed = "The connection broke off. Try again.";
    } finally {
      controller = null;
      li.removeAttribute("data-streaming");
      if (out.stopped || out.failed) li.setAttribute("data-cut", "true");
      setText(li, text);
    }
    if (out.began && !text && !out.failed && !out.stopped) out.failed = "The model gave no answer. Try again.";
    return out;
  }

  // Rendering Markdown on every chunk is wasteful: once per frame is enough.
  var pending = null;
  function scheduleRender(li, text) {
    if (pending) return;
    pending = requestAnimationFrame(function () {
      pending = null;
      setText(li, text());
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
          return "The model failed: " + D.sentences(obj.error.message || "unknown error") + " What arrived is kept; regenerate to try again.";
        }
        var choice = obj.choices && obj.choices[0];
        if (choice && choice.delta && choice.delta.content) onDelta(choice.delta.content);
      }
    }
  }

  // knownAnswers are the ids of the answers on the page, before an action.
  function knownAnswers() {
    var ids = {};
    list.querySelectorAll("li.msg-assistant[data-id]").forEach(function (li) { ids[li.getAttribute("data-id")] = true; });
    return ids;
  }

  // reload reads the conversation back from the server and shows it as
  // kept there. After an answer that began, the backend may still be
  // saving it (when it was stopped, it notices only when the stream is
  // gone): given the answers known before, it waits, briefly, for a new
  // last answer.
  async function reload(known) {
    if (!convId) return;
    for (var i = 0; i < 40; i++) {
      var resp;
      try { resp = await D.api(path()); } catch (e) { return; }
      if (!resp.ok) return;
      var c = await resp.json();
      var msgs = c.messages || [];
      var last = msgs[msgs.length - 1];
      if (known && (!last || last.role !== "assistant" || known[last.id]) && i < 39) {
        await new Promise(function (r) { setTimeout(r, 100); });
        continue;
      }
      // In place: the messages on the page stay the same elements.
      var items = list.querySelectorAll("li.msg");
      msgs.forEach(function (m, n) {
        var li = items[n];
        if (!li || !li.classList.contains("msg-" + m.role)) {
          var fresh = messageEl(m.role, m.content, m.id, m.cut_short);
          if (li) list.replaceChild(fresh, li); else list.appendChild(fresh);
          show(fresh);
          return;
        }
        li.setAttribute("data-id", m.id);
        if (m.cut_short) li.setAttribute("data-cut", "true"); else li.removeAttribute("data-cut");
        if (raw(li) !== m.content) setText(li, m.content); else if (m.role === "assistant") cutNote(li);
      });
      for (var k = msgs.length; k < items.length; k++) items[k].remove();
      actions();
      titleEl.textContent = c.title || "New conversation";
      sidebarEntry(c);
      return;
    }
  }

  // sidebarEntry lists a conversation started on this page, from the
  // page's <template> of an entry (its id is __ID__), and keeps its title
  // up to date.
  function sidebarEntry(c) {
    var ul = document.getElementById("conversations");
    var tpl = document.getElementById("conversation-entry");
    if (!ul || !tpl) return;
    var title = c.title || "New conversation";
    var li = ul.querySelector('li[data-id="' + CSS.escape(c.id) + '"]');
    if (!li) {
      li = tpl.content.firstElementChild.cloneNode(true);
      [li].concat(Array.prototype.slice.call(li.querySelectorAll("*"))).forEach(function (el) {
        Array.prototype.forEach.call(el.attributes, function (a) {
          if (a.value.indexOf("__ID__") >= 0) a.value = a.value.split("__ID__").join(c.id);
        });
      });
      li.querySelector("a").setAttribute("aria-current", "page");
      var empty = ul.querySelector(".empty");
      if (empty) empty.remove();
      ul.querySelectorAll("a[aria-current]").forEach(function (a) { a.removeAttribute("aria-current"); });
      ul.insertBefore(li, ul.querySelector("li:not([data-pinned])"));
      ul.querySelectorAll('input[name="open"]').forEach(function (i) { i.value = c.id; });
    }
    li.querySelectorAll(".conv-title").forEach(function (t) { t.textContent = title; });
    var name = li.querySelector('input[name="title"]');
    if (name && document.activeElement !== name) name.value = c.title || "";
  }

  // start creates the conversation on the server before its first message.
  async function start() {
    var resp, c;
    try {
      resp = await D.api("/conversations", {
        method: "POST", json: { model: modelSel.value || undefined, system_prompt: systemEl.value.trim() || undefined }
      });
      if (!resp.ok) return await D.problemMessage(resp);
      c = await resp.json();
    } catch (e) {
      return "The connection broke off. Try again.";
    }
    convId = c.id;
    root.setAttribute("data-conversation", convId);
    history.replaceState(null, "", "/chat?c=" + encodeURIComponent(convId));
    return "";
  }

  // send shows the message and streams the answer. A message the backend
  // refuses (too long, rate limited, …) is not kept: it goes back into the
  // box, with the reason.
  async function send(text) {
    D.showError(errorEl, "");
    if (bytes(text) > MAX_BYTES) {
      D.showError(errorEl, "That message is too long: shorten it to " + Math.floor(MAX_BYTES / 1024) + " KB.");
      input.value = text;
      input.focus();
      return;
    }
    setBusy(true);
    var created = false;
    try {
      if (!convId) {
        var failed = await start();
        if (failed) {
          D.showError(errorEl, failed);
          input.value = text;
          return;
        }
        created = true;
      }
      var known = knownAnswers();
      var mine = messageEl("user", text);
      list.appendChild(mine);
      var li = messageEl("assistant", "");
      list.appendChild(li);
      actions();
      var r = await stream(path("/messages"), "POST", { content: text, model: modelSel.value || undefined }, li);
      if (!r.began) {
        mine.remove();
        li.remove();
        if (!input.value) input.value = text;
        D.showError(errorEl, r.failed);
        if (created) await forget();
        actions();
        return;
      }
      await reload(known);
      if (r.failed) D.showError(errorEl, r.failed);
    } finally {
      setBusy(false);
      input.focus();
    }
  }

  // forget deletes a conversation created for a message that was refused,
  // so no empty conversation is left behind.
  async function forget() {
    try { await D.api(path(), { method: "DELETE" }); } catch (e) { /* it stays, empty */ }
    convId = "";
    root.setAttribute("data-conversation", "");
    history.replaceState(null, "", "/chat");
  }

  async function regenerate(li) {
    if (controller) return;
    D.showError(errorEl, "");
    setBusy(true);
    var known = knownAnswers();
    li.removeAttribute("data-cut");
    actions();
    try {
      var r = await stream(path("/regenerate"), "POST", { model: modelSel.value || undefined }, li);
      await reload(r.began ? known : null);
      if (r.failed) D.showError(errorEl, r.failed);
    } finally {
      setBusy(false);
    }
  }

  // edit turns a message of the user into a form; saving it drops what
  // followed and streams a new answer from there.
  function edit(li) {
    if (controller || li.classList.contains("editing")) return;
    li.classList.add("editing");
    actions();
    var body = li.querySelector(".msg-body");
    body.hidden = true;
    var box = document.createElement("form");
    box.className = "edit-form";
    var ta = document.createElement("textarea");
    ta.value = raw(li);
    ta.rows = Math.min(10, ta.value.split("\n").length + 1);
    ta.setAttribute("aria-label", "Edit your message");
    var save = document.createElement("button");
    save.type = "submit";
    save.className = "small";
    save.textContent = "Save and send";
    var cancel = button("Cancel", "cancel", function () { close(); });
    box.appendChild(ta);
    box.appendChild(save);
    box.appendChild(cancel);
    li.appendChild(box);
    ta.focus();
    function close() {
      box.remove();
      body.hidden = false;
      li.classList.remove("editing");
      actions();
    }
    box.addEventListener("submit", async function (ev) {
      ev.preventDefault();
      var text = ta.value.trim();
      if (!text) return;
      if (bytes(text) > MAX_BYTES) {
        D.showError(errorEl, "That message is too long: shorten it to " + Math.floor(MAX_BYTES / 1024) + " KB.");
        return;
      }
      D.showError(errorEl, "");
      var id = li.getAttribute("data-id");
      var known = knownAnswers();
      close();
      var before = setText.bind(null, li, raw(li));
      setText(li, text);
      while (li.nextSibling) li.nextSibling.remove();
      var answer = messageEl("assistant", "");
      list.appendChild(answer);
      setBusy(true);
      actions();
      var r = { began: false };
      try {
        r = await stream(path("/messages/" + encodeURIComponent(id)), "PUT", { content: text }, answer);
        if (!r.began) before();
        await reload(r.began ? known : null);
        if (r.failed) D.showError(errorEl, r.failed);
      } finally {
        setBusy(false);
      }
      // Refused: the message is as it was, and the new text waits in the
      // edit box for another try.
      if (!r.began && li.isConnected) {
        edit(li);
        var again = li.querySelector(".edit-form textarea");
        if (again) again.value = text;
      }
    });
  }

  // Changes of the model or the system prompt are kept with the
  // conversation (a new one gets them when it starts).
  function patch(body) {
    if (!convId) return;
    D.api(path(), { method: "PATCH", json: body }).then(async function (resp) {
      if (!resp.ok) D.showError(errorEl, await D.problemMessage(resp));
    }, function () { D.showError(errorEl, "The change could not be saved. Try again."); });
  }
  modelSel.addEventListener("change", function () { patch({ model: modelSel.value }); });
  systemEl.addEventListener("change", function () { patch({ system_prompt: systemEl.value.trim() }); });

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

  // On a phone the list of conversations is a drawer.
  var toggle = document.getElementById("drawer-toggle");
  var closeBtn = document.getElementById("drawer-close");
  function drawer(open) {
    root.classList.toggle("drawer-open", open);
    toggle.setAttribute("aria-expanded", open ? "true" : "false");
    if (open) document.getElementById("chat-q").focus();
  }
  toggle.addEventListener("click", function () { drawer(!root.classList.contains("drawer-open")); });
  closeBtn.addEventListener("click", function () { drawer(false); toggle.focus(); });
  document.addEventListener("keydown", function (ev) {
    if (ev.key === "Escape" && root.classList.contains("drawer-open")) drawer(false);
  });

  list.querySelectorAll("li.msg").forEach(show);
  actions();
  var last = list.lastElementChild;
  if (last) last.scrollIntoView({ block: "end" });
})();
