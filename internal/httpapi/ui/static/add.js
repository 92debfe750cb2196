// Add-server form: checks what it can before sending (each problem next to
// its field), builds the server object as the configuration file holds it
// and POSTs it to /api/v1/servers; the proxy validates it exactly as it
// validates the file and its problems land next to their fields too. On
// success the server's own page shows it starting.
"use strict";
(() => {
  const form = document.getElementById("add");
  if (!form) return;
  const $ = id => document.getElementById(id);
  const nameRe = /^[A-Za-z0-9_.-]+$/;

  function transport() { return $("t-http").checked ? "http" : "stdio"; }
  function showTransport() {
    const http = transport() === "http";
    $("http-fields").hidden = !http;
    $("stdio-fields").hidden = http;
  }
  for (const r of form.querySelectorAll("input[name=transport]")) r.addEventListener("change", showTransport);
  showTransport();

  const lines = id => $(id).value.split("\n").map(l => l.replace(/\r$/, "")).filter(l => l.trim() !== "");

  function build() {
    const problems = [];
    const s = { name: $("name").value.trim() };
    if (!s.name) problems.push({ path: "name", message: "A name is required." });
    else if (!nameRe.test(s.name) || s.name === "." || s.name === "..") problems.push({ path: "name", message: "Only letters, digits, _, . and - are allowed." });
    if (transport() === "stdio") {
      s.command = $("command").value.trim();
      if (!s.command) problems.push({ path: "command", message: "A command is required for a stdio server." });
      const args = lines("args");
      if (args.length) s.args = args;
      const env = {};
      lines("env").forEach((l, i) => {
        const eq = l.indexOf("=");
        const k = eq > 0 ? l.slice(0, eq).trim() : "";
        if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(k)) problems.push({ path: "env", message: "Line " + (i + 1) + ": write NAME=value (NAME: letters, digits, _)." });
        else env[k] = l.slice(eq + 1);
      });
      if (Object.keys(env).length) s.env = env;
      const iso = {};
      if ($("isolation").value === "off") iso.enabled = false;
      const image = $("image").value.trim();
      if (image) iso.image = image;
      if (Object.keys(iso).length) s.isolation = iso;
    } else {
      s.url = $("url").value.trim();
      let ok = false;
      try { const u = new URL(s.url); ok = u.protocol === "http:" || u.protocol === "https:"; } catch (e) { ok = false; }
      if (!s.url) problems.push({ path: "url", message: "A URL is required for an HTTP server." });
      else if (!ok) problems.push({ path: "url", message: "Write an http:// or https:// URL." });
      const headers = {};
      lines("headers").forEach((l, i) => {
        const c = l.indexOf(":");
        const k = c > 0 ? l.slice(0, c).trim() : "";
        if (!/^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/.test(k)) problems.push({ path: "headers", message: "Line " + (i + 1) + ": write Name: value." });
        else headers[k] = l.slice(c + 1).trim();
      });
      if (Object.keys(headers).length) s.headers = headers;
    }
    if (!$("enabled").checked) s.enabled = false;
    return { s, problems };
  }

  // The form's fields are the server's own keys.
  function local(p) {
    return { path: UI.inServer(p.path), message: p.message };
  }

  form.addEventListener("submit", async ev => {
    ev.preventDefault();
    UI.clearProblems(form);
    const { s, problems } = build();
    if (problems.length) {
      UI.showProblems(form, { message: "", problems });
      return;
    }
    const btn = form.querySelector("button[type=submit]");
    btn.disabled = true;
    try {
      await UI.api("POST", "/api/v1/servers", s);
      location.assign("/ui/servers/" + encodeURIComponent(s.name));
    } catch (e) {
      if (e.status === 401) return;
      UI.showProblems(form, { message: e.message, problems: (e.problems || []).map(local) });
      btn.disabled = false;
    }
  });
})();
