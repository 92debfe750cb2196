// mcpproxy web UI: the little JavaScript every page shares. The pages are
// rendered on the server; this file
//   - calls the REST API with the session cookie (api),
//   - runs the buttons that change something (data-action),
//   - keeps the page live: one SSE stream of state changes; on each change
//     the page's [data-live] regions are fetched again from the server and
//     swapped in (the server's html/template escaping is the only renderer),
//   - says so when the proxy cannot be reached, stops showing states it can
//     no longer vouch for, and retries with a growing delay (no error spam).
"use strict";

const UI = (() => {
  const $ = (sel, root = document) => root.querySelector(sel);
  const $$ = (sel, root = document) => [...root.querySelectorAll(sel)];

  // ApiError is a refused or failed API call: the HTTP status, the
  // server's message and, for validation errors, the problems per field.
  class ApiError extends Error {
    constructor(status, message, problems) {
      super(message);
      this.status = status;
      this.problems = problems || [];
    }
  }

  function signInAgain() {
    const next = location.pathname + location.search;
    location.assign("/ui/signin?next=" + encodeURIComponent(next));
  }

  // api calls the REST API with the session cookie. The browser adds the
  // Origin header the API asks of cookie-authenticated changes.
  async function api(method, path, body) {
    const init = { method, credentials: "same-origin", cache: "no-store", headers: { Accept: "application/json" } };
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    let r;
    try {
      r = await fetch(path, init);
    } catch (e) {
      Live.check();
      throw new ApiError(0, "mcpproxy is not reachable");
    }
    let data = null;
    const text = await r.text();
    if (text) {
      try { data = JSON.parse(text); } catch (e) { data = { error: text }; }
    }
    if (r.status === 401) {
      signInAgain();
      throw new ApiError(401, "signed out");
    }
    if (!r.ok) {
      const msg = (data && (data.error || data.message)) || r.status + " " + r.statusText;
      throw new ApiError(r.status, msg, data && data.problems);
    }
    return data;
  }

  // toast shows a short message in a live region screen readers announce.
  let toastTimer = 0;
  function toast(msg, bad) {
    const t = $("#toast");
    if (!t) return;
    t.textContent = msg;
    t.classList.toggle("bad", !!bad);
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => { t.textContent = ""; }, bad ? 9000 : 4000);
  }

  // confirmDialog asks a yes/no question in the page's <dialog>; content
  // is a node (built with textContent) or a string. Resolves true on yes.
  function confirmDialog(title, content, yesLabel) {
    const d = $("#confirm");
    if (!d || d.open) return Promise.resolve(false);
    const opener = document.activeElement;
    $("#confirm-title", d).textContent = title;
    const body = $("#confirm-body", d);
    body.replaceChildren(typeof content === "string" ? document.createTextNode(content) : content);
    $("#confirm-yes", d).textContent = yesLabel || "Yes";
    return new Promise(resolve => {
      const done = ok => {
        d.removeEventListener("close", onClose);
        // Back to where the person was (if that element is still there).
        if (opener && opener.isConnected) opener.focus();
        resolve(ok);
      };
      // The close event is queued: the close of a previous question can
      // arrive after this one opened (Escape, then Enter at once); it is
      // not this question's answer while the dialog is open.
      const onClose = () => { if (!d.open) done(d.returnValue === "yes"); };
      d.addEventListener("close", onClose);
      d.returnValue = "";
      d.showModal();
      $("#confirm-no", d).focus();
    });
  }

  // Buttons with data-action="METHOD /path" call the API. Optional:
  // data-body (JSON), data-confirm (question), data-confirm-from (id of an
  // element whose content explains it), data-confirm-yes (label),
  // data-done (toast), data-then ("reload", or a path to go to).
  async function runAction(btn) {
    const [method, path] = btn.dataset.action.split(" ");
    if (btn.dataset.confirm) {
      let content = "";
      if (btn.dataset.confirmFrom) {
        const src = document.getElementById(btn.dataset.confirmFrom);
        content = src ? src.cloneNode(true) : "";
        if (content && content.removeAttribute) { content.removeAttribute("id"); content.hidden = false; }
      }
      if (!(await confirmDialog(btn.dataset.confirm, content, btn.dataset.confirmYes))) return;
    }
    btn.disabled = true;
    btn.setAttribute("aria-busy", "true");
    try {
      await api(method, path, btn.dataset.body ? JSON.parse(btn.dataset.body) : undefined);
      if (btn.dataset.done) toast(btn.dataset.done);
      const then = btn.dataset.then;
      if (then && then.startsWith("/ui/")) { location.assign(then); return; }
      Live.refresh();
    } catch (e) {
      if (e.status !== 401) toast(e.message, true);
    } finally {
      btn.disabled = false;
      btn.removeAttribute("aria-busy");
    }
  }

  document.addEventListener("click", ev => {
    const btn = ev.target.closest("button[data-action]");
    if (btn && !btn.disabled) {
      ev.preventDefault();
      runAction(btn);
    }
  });

  // inServer is a problem's path inside its server's entry: the proxy
  // names fields as the file does, mcpServers[3].command, or in the
  // object form mcpServers.fs.command and mcpServers["my.fs"].command.
  const inServer = path => (path || "").replace(/^mcpServers(\[\d+\]|\.[A-Za-z_][A-Za-z0-9_-]*|\["(?:[^"\\]|\\.)*"\])\./, "");

  // showProblems puts each problem of a refused change next to its field:
  // the element with data-field equal to the problem's path (or a prefix
  // of it). Problems without a field go to the form's .form-error.
  function showProblems(form, err) {
    clearProblems(form);
    const general = [];
    const problems = err.problems && err.problems.length ? err.problems : [{ path: err.field || "", message: err.message }];
    for (const p of problems) {
      const field = fieldFor(form, p.path || "");
      if (!field) { general.push((p.path ? p.path + ": " : "") + p.message); continue; }
      const input = field.querySelector("input, select, textarea");
      const out = field.querySelector(".error");
      // A problem of one entry of the field (default_images.node, env.X)
      // names the entry.
      let msg = p.message;
      const rest = (p.path || "").slice(field.dataset.field.length).replace(/^\./, "");
      if (rest) msg = rest + ": " + msg;
      if (out) out.textContent = (out.textContent ? out.textContent + " " : "") + msg;
      if (input) input.setAttribute("aria-invalid", "true");
    }
    const fe = form.querySelector(".form-error");
    if (fe) fe.textContent = general.join("\n");
    const first = form.querySelector('[aria-invalid="true"]');
    if (first) first.focus();
  }

  function fieldFor(form, path) {
    let best = null;
    for (const f of form.querySelectorAll("[data-field]")) {
      const name = f.dataset.field;
      if (path === name || path.startsWith(name + ".") || path.startsWith(name + "[")) {
        if (!best || name.length > best.dataset.field.length) best = f;
      }
    }
    return best;
  }

  function clearProblems(form) {
    for (const e of form.querySelectorAll(".error, .form-error")) e.textContent = "";
    for (const i of form.querySelectorAll('[aria-invalid="true"]')) i.removeAttribute("aria-invalid");
  }

  // Live keeps the page current and notices when the proxy goes away.
  const Live = (() => {
    const minDelay = 1000, maxDelay = 30000;
    let es = null, delay = minDelay, timer = 0, down = false, downSince = null;
    let openedAt = 0, refreshing = false, again = false;

    function connect() {
      clearTimeout(timer);
      if (es) es.close();
      es = new EventSource("/api/v1/events");
      // Subscribed: fetch the page again, so that a change between the
      // page's rendering and this moment is not missed.
      es.onopen = () => {
        openedAt = Date.now();
        if (down) up();
        else {
          document.body.dataset.live = "connected";
          refresh();
        }
      };
      const changed = () => refresh();
      es.onmessage = changed;
      for (const name of ["server", "tools", "config", "docker", "resync"]) es.addEventListener(name, changed);
      es.addEventListener("server_removed", ev => {
        let name = "";
        try { name = JSON.parse(ev.data).name; } catch (e) { /* refresh below */ }
        if (name && name === document.body.dataset.server) removed(name);
        else refresh();
      });
      es.onerror = () => {
        es.close();
        es = null;
        // A stream that keeps failing soon after it opens backs off too.
        if (Date.now() - openedAt > 10000) delay = minDelay;
        check();
      };
    }

    // check asks /healthz whether the proxy is there: a closed stream
    // alone may be a restart of the stream, not of the proxy.
    async function check() {
      clearTimeout(timer);
      let ok = false;
      try {
        const r = await fetch("/healthz", { cache: "no-store" });
        ok = r.ok;
      } catch (e) {
        ok = false;
      }
      if (!ok) {
        offline();
        timer = setTimeout(check, delay);
        setStatus("offline", delay);
        delay = Math.min(delay * 2, maxDelay);
        return;
      }
      // Reachable: signed out (the proxy restarted, the key changed)?
      try {
        const s = await fetch("/api/v1/session", { cache: "no-store" }).then(r => r.json());
        if (!s.authenticated) { signInAgain(); return; }
      } catch (e) { /* checked again on the next error */ }
      timer = setTimeout(connect, down ? 0 : delay);
      delay = Math.min(delay * 2, maxDelay);
    }

    function setStatus(state, retry) {
      document.body.dataset.live = state;
      const b = $("#offline");
      if (!b) return;
      if (state === "offline") {
        $("#offline-since", b).textContent = downSince.toLocaleTimeString();
        $("#offline-retry", b).textContent = Math.round(retry / 1000) + " s";
      }
    }

    // offline marks every state on the page as unknown: the page must not
    // keep saying "ready" for a proxy that is gone.
    function offline() {
      if (down) return;
      down = true;
      downSince = new Date();
      document.body.classList.add("offline");
      const b = $("#offline");
      if (b) b.hidden = false;
      for (const el of $$(".live-state")) {
        if (el.dataset.was === undefined) el.dataset.was = el.textContent;
        el.textContent = "unknown";
      }
      for (const btn of $$("button[data-action], form button[type=submit]")) {
        if (!btn.disabled) { btn.disabled = true; btn.dataset.offlineDisabled = "1"; }
      }
    }

    function up() {
      down = false;
      delay = minDelay;
      document.body.classList.remove("offline");
      const b = $("#offline");
      if (b) b.hidden = true;
      for (const el of $$(".live-state")) {
        if (el.dataset.was !== undefined) { el.textContent = el.dataset.was; delete el.dataset.was; }
      }
      for (const btn of $$("[data-offline-disabled]")) { btn.disabled = false; delete btn.dataset.offlineDisabled; }
      document.body.dataset.live = "connected";
      refresh();
    }

    // removed stops refreshing the page of a server that is gone (it would
    // be a 404 now) and says so.
    let gone = false;
    function removed(name) {
      gone = true;
      document.body.classList.add("offline");
      toast(name + " was removed.");
      for (const btn of $$("button[data-action]")) btn.disabled = true;
    }

    // refresh fetches this page again and swaps in the [data-live]
    // regions that changed, keeping focus and open <details>.
    async function refresh() {
      if (gone || !$("[data-live]")) return;
      if (refreshing) { again = true; return; }
      refreshing = true;
      try {
        const r = await fetch(location.pathname + location.search,
          { cache: "no-store", credentials: "same-origin", headers: { "X-Mcpproxy-Refresh": "1" } });
        if (r.redirected && new URL(r.url).pathname === "/ui/signin") { signInAgain(); return; }
        if (r.status === 204) { removed(document.body.dataset.server || "the server"); return; }
        if (!r.ok) return;
        const doc = new DOMParser().parseFromString(await r.text(), "text/html");
        swap(doc);
        document.body.dataset.refreshes = String(Number(document.body.dataset.refreshes || 0) + 1);
        document.dispatchEvent(new CustomEvent("ui:refreshed"));
      } catch (e) {
        check();
      } finally {
        refreshing = false;
        if (again) { again = false; refresh(); }
      }
    }

    function swap(doc) {
      for (const el of $$("[data-live]")) {
        const fresh = doc.querySelector('[data-live="' + CSS.escape(el.dataset.live) + '"]');
        if (!fresh || fresh.innerHTML === el.innerHTML) continue;
        const active = document.activeElement;
        const focusId = active && el.contains(active) ? active.id : "";
        const open = $$("details[open][id]", el).map(d => d.id);
        const node = document.importNode(fresh, true);
        el.replaceWith(node);
        for (const id of open) { const d = document.getElementById(id); if (d) d.open = true; }
        if (focusId) { const f = document.getElementById(focusId); if (f) f.focus(); }
      }
    }

    return { connect, check, refresh, get down() { return down; } };
  })();

  function start() {
    document.body.dataset.live = "connecting";
    const so = $("#signout");
    if (so) so.addEventListener("click", async () => {
      try { await fetch("/api/v1/session", { method: "DELETE", credentials: "same-origin" }); } catch (e) { /* gone anyway */ }
      location.assign("/ui/signin");
    });
    if (document.body.dataset.page !== "signin") Live.connect();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();

  return { api, toast, confirmDialog, showProblems, clearProblems, inServer, Live, ApiError };
})();
