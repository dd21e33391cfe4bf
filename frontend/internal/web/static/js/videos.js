// Videos: submit a job (from text, or from an uploaded image sent as a data:
// URL), poll its state, then play it from /api/generate/video/{id}/content.
// The list of jobs comes from the server with the page; while any job in it
// is unfinished it is polled, so statuses keep updating after a reload.
(function () {
  "use strict";
  var D = window.Duckgate;
  var form = document.getElementById("video-form");
  if (!form) return;
  var imageField = document.getElementById("video-image-field");
  var fileInput = document.getElementById("video-image");
  var preview = document.getElementById("video-image-preview");
  var submit = document.getElementById("video-submit");
  var errorEl = document.getElementById("video-error");
  var current = document.getElementById("video-current");
  var statusEl = document.getElementById("video-status");
  var player = document.getElementById("video-player");
  var jobsList = document.getElementById("video-jobs");
  var POLL_MS = 2000;
  var MAX_IMAGE_BYTES = 7 * 1024 * 1024; // base64 grows it by a third; the backend takes 10 MiB
  var imageDataURL = "";

  // The words of the page (web/generate.go videoStatusWord).
  var labels = { pending: "Waiting to start", in_progress: "Being made", completed: "Ready",
    failed: "Failed", cancelled: "Cancelled", expired: "Expired" };
  function unfinished(status) { return status === "pending" || status === "in_progress"; }

  function source() { return form.querySelector('input[name="source"]:checked').value; }

  form.addEventListener("change", function (ev) {
    if (ev.target.name === "source") imageField.hidden = source() !== "image";
  });

  fileInput.addEventListener("change", function () {
    imageDataURL = "";
    preview.hidden = true;
    D.showError(errorEl, "");
    var file = fileInput.files && fileInput.files[0];
    if (!file) return;
    if (!/^image\/(png|jpeg|webp)$/.test(file.type)) {
      D.showError(errorEl, "Choose a PNG, JPEG or WebP image.");
      return;
    }
    if (file.size > MAX_IMAGE_BYTES) {
      D.showError(errorEl, "The image is too large (at most 7 MB).");
      return;
    }
    var reader = new FileReader();
    reader.onload = function () {
      imageDataURL = reader.result;
      preview.src = imageDataURL;
      preview.hidden = false;
    };
    reader.onerror = function () { D.showError(errorEl, "The image could not be read."); };
    reader.readAsDataURL(file);
  });

  form.addEventListener("submit", async function (ev) {
    ev.preventDefault();
    var prompt = form.prompt.value.trim();
    if (!prompt) return;
    var fromImage = source() === "image";
    if (fromImage && !imageDataURL) {
      D.showError(errorEl, "Choose an image first.");
      return;
    }
    D.showError(errorEl, "");
    var body = { prompt: prompt, model: form.model.value || undefined, aspect_ratio: form.aspect_ratio.value || undefined };
    if (fromImage) body.image_url = imageDataURL;
    submit.disabled = true;
    try {
      var resp = await D.api(fromImage ? "/generate/video/from-image" : "/generate/video", { method: "POST", json: body });
      if (!resp.ok) {
        D.showError(errorEl, await D.problemMessage(resp));
        return;
      }
      var job = await resp.json();
      addJob(job);
      follow(job);
    } catch (e) {
      D.showError(errorEl, "The connection broke off. Please try again.");
    } finally {
      submit.disabled = false;
    }
  });

  function contentURL(id) { return "/api/generate/video/" + encodeURIComponent(id) + "/content"; }

  function showStatus(job) {
    current.hidden = false;
    statusEl.textContent = labels[job.status] || job.status;
    statusEl.setAttribute("data-status", job.status);
    statusEl.className = "status-" + job.status;
    if (job.error) statusEl.textContent += ": " + job.error;
  }

  function play(job) {
    player.textContent = "";
    var video = document.createElement("video");
    video.controls = true;
    video.preload = "auto";
    video.src = contentURL(job.id);
    video.setAttribute("aria-label", "Generated video: " + job.prompt);
    var a = document.createElement("a");
    a.href = contentURL(job.id);
    a.download = "duckgate-video-" + job.id + ".mp4";
    a.textContent = "Download the video";
    a.id = "video-download";
    player.appendChild(video);
    player.appendChild(a);
  }

  async function follow(job) {
    player.textContent = "";
    showStatus(job);
    while (["completed", "failed", "cancelled", "expired"].indexOf(job.status) < 0) {
      await new Promise(function (r) { setTimeout(r, POLL_MS); });
      var resp;
      try {
        resp = await D.api("/generate/video/" + encodeURIComponent(job.id));
      } catch (e) {
        continue; // a network blip: keep polling
      }
      if (!resp.ok) {
        D.showError(errorEl, await D.problemMessage(resp));
        return;
      }
      job = await resp.json();
      showStatus(job);
      updateJob(job);
    }
    if (job.status === "completed") play(job);
  }

  function jobItem(job) {
    var li = document.createElement("li");
    li.setAttribute("data-job", job.id);
    li.setAttribute("data-status", job.status);
    var st = document.createElement("span");
    st.className = "status status-" + job.status;
    st.textContent = labels[job.status] || job.status;
    li.appendChild(st);
    var prompt = document.createElement("span");
    prompt.className = "prompt";
    prompt.textContent = job.prompt;
    li.appendChild(document.createTextNode(" "));
    li.appendChild(prompt);
    var meta = document.createElement("small");
    meta.className = "muted";
    meta.textContent = " " + job.model;
    li.appendChild(meta);
    if (unfinished(job.status)) {
      var el = document.createElement("span");
      el.className = "elapsed";
      el.setAttribute("data-since", job.created_at);
      li.appendChild(document.createTextNode(" "));
      li.appendChild(el);
    }
    if (job.status === "completed") {
      var video = document.createElement("video");
      video.controls = true;
      video.preload = "metadata";
      video.src = contentURL(job.id);
      video.setAttribute("aria-label", "Video: " + job.prompt);
      li.appendChild(video);
      var a = document.createElement("a");
      a.href = contentURL(job.id);
      a.download = "duckgate-video-" + job.id + ".mp4";
      a.textContent = "Download";
      li.appendChild(a);
    }
    if (job.error) {
      var err = document.createElement("small");
      err.className = "field-error";
      err.textContent = " " + D.sentences(job.error);
      li.appendChild(err);
    }
    return li;
  }
  function addJob(job) {
    var empty = jobsList.querySelector(".empty");
    if (empty) empty.remove();
    jobsList.insertBefore(jobItem(job), jobsList.firstChild);
    tick();
    schedule();
  }
  function updateJob(job) {
    var old = jobsList.querySelector('li[data-job="' + CSS.escape(job.id) + '"]');
    if (old && old.getAttribute("data-status") !== job.status) old.replaceWith(jobItem(job));
  }

  // Elapsed time of the jobs being made, every second.
  function since(iso) {
    var s = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
    if (s < 60) return s + " s";
    var m = Math.floor(s / 60);
    if (m < 60) return m + " min " + String(s % 60).padStart(2, "0") + " s";
    return Math.floor(m / 60) + " h " + String(m % 60).padStart(2, "0") + " min";
  }
  function tick() {
    jobsList.querySelectorAll(".elapsed[data-since]").forEach(function (el) {
      el.textContent = "for " + since(el.getAttribute("data-since"));
    });
  }
  setInterval(tick, 1000);
  tick();

  // While a listed job is unfinished, the list is read again.
  var polling = false;
  function schedule() {
    if (polling || !jobsList.querySelector('li[data-status="pending"], li[data-status="in_progress"]')) return;
    polling = true;
    setTimeout(async function () {
      try {
        var resp = await D.api("/generate/video?limit=20");
        if (resp.ok) {
          var list = await resp.json();
          (list.items || []).forEach(updateJob);
        }
      } catch (e) { /* a network blip: try again next time */ }
      polling = false;
      schedule();
    }, POLL_MS);
  }
  schedule();
})();
