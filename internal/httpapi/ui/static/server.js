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
