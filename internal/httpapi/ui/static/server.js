// Server page: follows the server's log live (SSE, event "log"), keeping
// the last maxLines lines and the view at the bottom unless the reader
// scrolled up. When the stream fails the page's live machinery (app.js)
// decides whether the proxy is gone; the log stream is opened again after
// the next successful refresh.
"use strict";
(() => {
  const pre = document.getElementById("log");
  if (!pre) return;
  const status = document.getElementById("log-status");
  const maxLines = 1000;
  let es = null;

  function append(line) {
    const atBottom = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 8;
    pre.append(document.createTextNode(line + "\n"));
    let extra = pre.childNodes.length - maxLines;
    while (extra-- > 0) pre.firstChild.remove();
    if (atBottom) pre.scrollTop = pre.scrollHeight;
  }

  function follow() {
    if (es) return;
    es = new EventSource("/api/v1/servers/" + encodeURIComponent(pre.dataset.server) + "/logs?follow=true&lines=0");
    es.onopen = () => { status.textContent = "following"; };
    es.addEventListener("log", ev => {
      try { append(JSON.parse(ev.data).line); } catch (e) { append(ev.data); }
    });
    es.onerror = () => {
      es.close();
      es = null;
      status.textContent = "not following (the stream ended)";
    };
  }

  // The pre's initial content is one text node; keep lines as nodes.
  const initial = pre.textContent.split("\n");
  if (initial.length && initial[initial.length - 1] === "") initial.pop();
  pre.replaceChildren(...initial.map(l => document.createTextNode(l + "\n")));
  pre.scrollTop = pre.scrollHeight;
  document.addEventListener("ui:refreshed", () => { if (!es && !UI.Live.down) follow(); });
  follow();
})();

// Server page: the form of the server's own container settings. Only the
// fields a person changed are sent (a merge patch of its isolation block;
// an emptied field is null: back to the default); the proxy validates
// them as it validates the file, each problem shown next to its field.
(() => {
  const form = document.getElementById("iso-form");
  if (!form) return;
  const status = document.getElementById("iso-form-status");
  form.addEventListener("submit", async ev => {
    ev.preventDefault();
    UI.clearProblems(form);
    status.textContent = "";
    const patch = {};
    const local = [];
    for (const el of form.querySelectorAll("input, select")) {
      const v = el.value.trim();
      if (v === (el.dataset.initial || "")) continue;
      if (v === "") { patch[el.name] = null; continue; }
      if (el.name === "pids_limit") {
        if (!/^\d+$/.test(v)) { local.push({ path: "isolation.pids_limit", message: "must be a whole number from 1 to 4194304" }); continue; }
        patch[el.name] = Number(v);
      } else patch[el.name] = v;
    }
    if (local.length) { UI.showProblems(form, { message: "", problems: local }); return; }
    if (!Object.keys(patch).length) { status.textContent = "Nothing changed."; return; }
    const btn = form.querySelector("button[type=submit]");
    btn.disabled = true;
    try {
      const now = await UI.api("PATCH", "/api/v1/servers/" + encodeURIComponent(form.dataset.server) + "/isolation", patch);
      const set = (now && now.settings) || {};
      for (const el of form.querySelectorAll("input, select")) {
        const v = set[el.name] === undefined || set[el.name] === null ? "" : String(set[el.name]);
        el.value = v;
        el.dataset.initial = v;
      }
      status.textContent = "Saved: applied now.";
      UI.Live.refresh();
    } catch (e) {
      if (e.status === 401) return;
      // The proxy names the key in the file: mcpServers[N].isolation.X.
      const problems = (e.problems || []).map(p => ({ path: UI.inServer(p.path), message: p.message }));
      UI.showProblems(form, { message: e.message, problems });
    } finally {
      btn.disabled = false;
    }
  });
})();
