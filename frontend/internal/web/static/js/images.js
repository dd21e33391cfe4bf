// Images: POST /api/generate/image, then add the images to the gallery of
// kept ones (the page lists them from the server, so they survive a
// reload), each with its prompt, model, download and delete.
(function () {
  "use strict";
  var D = window.Duckgate;
  var form = document.getElementById("image-form");
  if (!form) return;
  var spinner = document.getElementById("image-spinner");
  var submit = document.getElementById("image-submit");
  var errorEl = document.getElementById("image-error");
  var results = document.getElementById("image-results");
  var textEl = document.getElementById("image-text");

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text) e.textContent = text;
    return e;
  }

  function addImage(im, model, prompt) {
    // A kept image is served by the backend; one the backend did not keep
    // (over the quota) is shown from its URL for this visit only.
    var url = im.content_url ? "/api" + im.content_url : im.url;
    var li = el("li");
    if (im.id) li.setAttribute("data-image", im.id);
    var fig = el("figure");
    var img = el("img");
    img.src = url;
    img.alt = prompt;
    var cap = el("figcaption");
    cap.appendChild(el("span", "prompt", prompt));
    cap.appendChild(el("span", "meta", model + " · just now" + (im.id ? "" : " · not kept")));
    var tools = el("span", "tools");
    var a = el("a", "", "Download");
    a.href = url;
    var type = /^data:image\/(png|jpeg|webp|gif)/.exec(im.url || "");
    a.download = "duckgate-image-" + (im.id || Date.now()) + "." + (type ? (type[1] === "jpeg" ? "jpg" : type[1]) : "png");
    tools.appendChild(a);
    if (im.id) {
      var del = el("form");
      del.method = "post";
      del.action = "/images/" + encodeURIComponent(im.id) + "/delete";
      del.setAttribute("data-confirm", "Delete this image? This cannot be undone.");
      var tok = el("input");
      tok.type = "hidden";
      tok.name = "csrf_token";
      tok.value = D.csrfToken();
      var b = el("button", "danger small", "Delete");
      b.type = "submit";
      del.appendChild(tok);
      del.appendChild(b);
      tools.appendChild(del);
    }
    cap.appendChild(tools);
    fig.appendChild(img);
    fig.appendChild(cap);
    li.appendChild(fig);
    var empty = results.querySelector(".empty");
    if (empty) empty.remove();
    results.insertBefore(li, results.firstChild);
  }

  form.addEventListener("submit", async function (ev) {
    ev.preventDefault();
    var prompt = form.prompt.value.trim();
    if (!prompt) return;
    D.showError(errorEl, "");
    submit.disabled = true;
    spinner.hidden = false;
    try {
      var resp = await D.api("/generate/image", {
        method: "POST",
        json: { prompt: prompt, model: form.model.value || undefined, aspect_ratio: form.aspect_ratio.value || undefined }
      });
      if (!resp.ok) {
        D.showError(errorEl, await D.problemMessage(resp));
        return;
      }
      var body = await resp.json();
      var images = (body && body.images) || [];
      if (!images.length) D.showError(errorEl, "The model answered without an image. Try another prompt or model.");
      images.forEach(function (im) { addImage(im, body.model || form.model.value, prompt); });
      textEl.textContent = body.text || "";
      textEl.hidden = !body.text;
    } catch (e) {
      D.showError(errorEl, "The connection broke off. Try again.");
    } finally {
      submit.disabled = false;
      spinner.hidden = true;
    }
  });
})();
