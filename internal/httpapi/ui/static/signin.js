// Sign-in: the API key is pasted into the form, or arrives in the URL
// fragment (#key=…) of the link mcpproxy printed on its console. A
// fragment never reaches a server or its logs; it is read here, removed
// from the address bar and history at once, and posted to the proxy's own
// /api/v1/session, which answers with the session cookie.
"use strict";
(() => {
  const form = document.getElementById("signin");
  if (!form) return;
  const input = document.getElementById("key");
  const out = document.getElementById("key-error");
  const next = () => {
    const n = form.dataset.next || "/ui/";
    return n.startsWith("/ui/") ? n : "/ui/";
  };

  async function signIn(key) {
    out.textContent = "";
    input.removeAttribute("aria-invalid");
    let r;
    try {
      r = await fetch("/api/v1/session", {
        method: "POST", credentials: "same-origin", cache: "no-store",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ api_key: key }),
      });
    } catch (e) {
      out.textContent = "mcpproxy is not reachable.";
      return;
    }
    if (r.ok) {
      location.replace(next());
      return;
    }
    let msg = "Sign-in failed (" + r.status + ").";
    if (r.status === 401) msg = "That is not the API key of this mcpproxy.";
    else {
      try { msg = (await r.json()).error || msg; } catch (e) { /* keep msg */ }
    }
    out.textContent = msg;
    input.setAttribute("aria-invalid", "true");
    input.focus();
  }

  form.addEventListener("submit", ev => {
    ev.preventDefault();
    const key = input.value.trim();
    input.value = "";
    if (!key) {
      out.textContent = "Paste the API key.";
      input.setAttribute("aria-invalid", "true");
      input.focus();
      return;
    }
    signIn(key);
  });

  // The key in the fragment: at load, or when the link is opened in a tab
  // that already shows this page (a fragment change loads nothing).
  function fromFragment() {
    const m = /^#key=([^&]+)/.exec(location.hash);
    if (!m) return;
    history.replaceState(null, "", location.pathname + location.search);
    signIn(decodeURIComponent(m[1]));
  }
  window.addEventListener("hashchange", fromFragment);
  fromFragment();
})();
