// Images: POST /api/generate/image, then show the images in a grid, each
// with a download link. URLs may be data: URLs or https URLs.
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

  function extension(url) {
    var m = /^data:image\/(png|jpeg|webp|gif)/.exec(url);
    if (m) return m[1] === "jpeg" ? "jpg" : m[1];
    return "png";
  }

  function addImage(url, n, prompt) {
    var li = document.createElement("li");
    var fig = document.createElement("figure");
    var img = document.createElement("img");
    img.src = url;
    img.alt = "Generated image " + n + ": " + prompt;
    img.loading = "lazy";
    var cap = document.createElement("figcaption");
    var a = document.createElement("a");
    a.href = url;
    a.download = "duckgate-image-" + Date.now() + "-" + n + "." + extension(url);
    a.textContent = "Download";
    if (!/^data:/.test(url)) { a.target = "_blank"; a.rel = "noopener"; }
    cap.appendChild(a);
    fig.appendChild(img);
    fig.appendChild(cap);
    li.appendChild(fig);
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
      images.forEach(function (im, i) { addImage(im.url, i + 1, prompt); });
      textEl.textContent = body.text || "";
      textEl.hidden = !body.text;
    } catch (e) {
      D.showError(errorEl, "The connection broke off. Please try again.");
    } finally {
      submit.disabled = false;
      spinner.hidden = true;
    }
  });
})();
