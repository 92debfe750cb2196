// Security page: the defaults form. Only the fields a person changed are
// sent (a JSON merge patch of docker_isolation); the proxy validates them
// exactly as it validates the file, and each problem is shown next to its
// field. The switches are data-action buttons (app.js).
"use strict";
(() => {
  const form = document.getElementById("defaults");
  if (!form) return;
  const status = document.getElementById("defaults-status");

  function parseImages(text) {
    const out = {};
    const bad = [];
    text.split("\n").forEach((line, i) => {
      line = line.trim();
      if (!line || line.startsWith("#")) return;
      const m = /^([^=\s]+)\s*=\s*(\S+)$/.exec(line);
      if (!m) bad.push("line " + (i + 1) + ": write runtime = image");
      else out[m[1]] = m[2];
    });
    return { images: out, bad };
  }

  function changes() {
    const patch = {};
    const local = [];
    for (const el of form.querySelectorAll("input, select, textarea")) {
      const name = el.name;
      if (!name) continue;
      if (el.type === "checkbox") {
        if (String(el.checked) !== el.dataset.initial) patch[name] = el.checked;
        continue;
      }
      const v = el.value.trim();
      if (v === (el.dataset.initial || "").trim()) continue;
      if (name === "default_images") {
        const { images, bad } = parseImages(el.value);
        if (bad.length) { local.push({ path: "docker_isolation.default_images", message: bad.join("; ") }); continue; }
        // A merge patch of what changed: new or changed runtimes, and
        // null for those no longer listed. Unchanged lines are not sent:
        // the built-in defaults the page shows stay out of the file.
        const before = parseImages(el.dataset.initial || "").images;
        const delta = {};
        for (const k of Object.keys(images)) if (before[k] !== images[k]) delta[k] = images[k];
        for (const k of Object.keys(before)) if (!(k in images)) delta[k] = null;
        if (!Object.keys(delta).length) continue;
        patch[name] = delta;
      } else if (name === "pids_limit") {
        if (!/^\d+$/.test(v)) { local.push({ path: "docker_isolation.pids_limit", message: "must be a whole number from 1 to 4194304" }); continue; }
        patch[name] = Number(v);
      } else {
        if (v === "") { local.push({ path: "docker_isolation." + name, message: "must not be empty" }); continue; }
        patch[name] = v;
      }
    }
    return { patch, local };
  }

  form.addEventListener("submit", async ev => {
    ev.preventDefault();
    UI.clearProblems(form);
    status.textContent = "";
    const { patch, local } = changes();
    if (local.length) {
      UI.showProblems(form, { message: "", problems: local });
      return;
    }
    if (!Object.keys(patch).length) {
      status.textContent = "Nothing changed.";
      return;
    }
    const btn = form.querySelector("button[type=submit]");
    btn.disabled = true;
    try {
      const now = await UI.api("PATCH", "/api/v1/config/docker-isolation", patch);
      // What is in force now becomes the form's starting point.
      for (const el of form.querySelectorAll("input, select, textarea")) {
        if (!(el.name in patch) || !now) continue;
        if (el.name === "default_images") {
          const text = Object.keys(now.default_images || {}).sort().map(k => k + " = " + now.default_images[k]).join("\n") + "\n";
          el.value = text;
          el.dataset.initial = text;
        } else if (el.type === "checkbox") {
          el.dataset.initial = String(!!now[el.name]);
        } else if (now[el.name] !== undefined) {
          el.value = String(now[el.name]);
          el.dataset.initial = el.value;
        }
      }
      status.textContent = "Saved: applied to the servers now.";
      UI.Live.refresh();
    } catch (e) {
      if (e.status !== 401) UI.showProblems(form, e);
    } finally {
      btn.disabled = false;
    }
  });
})();
