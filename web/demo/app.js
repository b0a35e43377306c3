// The Gatehouse demo app: a small single-page app that signs in with
// cookies, calls a protected API (the demo API behind the guard) and
// manages its own sessions, all through gatehouse.js.
//
// Everything the page shows is set with textContent, never innerHTML: the
// notes are user input, and the page's CSP is only the second line of
// defence.

import { createClient, GatehouseError } from "/gatehouse.js";

const gh = createClient();

const $ = (id) => document.getElementById(id);

function show(view) {
  $("loading").hidden = true;
  $("login-view").hidden = view !== "login";
  $("app-view").hidden = view !== "app";
}

function status(text) {
  $("status").textContent = text;
}

function el(tag, text, className) {
  const e = document.createElement(tag);
  if (text !== undefined) e.textContent = text;
  if (className) e.className = className;
  return e;
}

/**
 * Calls the demo API through gatehouse.js, which adds the CSRF header on
 * writes and refreshes an expired access token once. A 401 that survives
 * that means the session is over.
 */
async function api(path, init) {
  const res = await gh.fetch(path, init);
  if (res.status === 401) {
    showLogin("Your session has ended; sign in again.");
    throw new Error("signed out");
  }
  if (!res.ok) {
    let detail = `HTTP ${res.status}`;
    try {
      const p = await res.json();
      detail = p.detail || p.code || detail;
    } catch {
      // not a problem body; keep the status
    }
    throw new Error(detail);
  }
  return res.json();
}

function showLogin(message) {
  show("login");
  status(message ?? "");
  $("username").focus();
}

async function showApp() {
  show("app");
  status("");
  await Promise.all([loadMe(), loadNotes(), loadSessions()]);
}

async function loadMe() {
  const me = await api("/demo/api/me");
  const dl = $("whoami");
  dl.replaceChildren();
  for (const [k, v] of [
    ["username", me.username],
    ["user id", me.user_id],
    ["roles", me.roles.join(", ") || "(none)"],
    ["session", me.session_id],
  ]) {
    dl.append(el("dt", k), el("dd", v));
  }
  dl.dataset.username = me.username;
}

async function loadNotes() {
  const { notes } = await api("/demo/api/notes");
  const ul = $("notes");
  ul.replaceChildren(...notes.map((n) => el("li", n.text)));
  if (notes.length === 0) ul.append(el("li", "No notes yet.", "hint"));
}

async function loadSessions() {
  const list = await gh.sessions();
  const tbody = $("sessions");
  tbody.replaceChildren();
  for (const s of list) {
    const tr = el("tr", undefined, s.current ? "current" : "");
    tr.dataset.sessionId = s.id;
    tr.append(
      el("td", (s.device || "unknown device") + (s.current ? " (this device)" : "")),
      el("td", s.ip),
      el("td", new Date(s.last_used_at).toLocaleString()),
    );
    const btn = el("button", "Sign out this device", "revoke");
    btn.type = "button";
    btn.addEventListener("click", () => revoke(s.id));
    const td = el("td");
    td.append(btn);
    tr.append(td);
    tbody.append(tr);
  }
}

async function revoke(id) {
  try {
    await gh.revokeSession(id);
    // Ending this device's own session is a logout; the gatehouse:logout
    // event shows the login form.
    if (document.cookie.includes("XSRF-TOKEN=")) await loadSessions();
  } catch (err) {
    status(`Could not sign that device out: ${err.message}`);
  }
}

$("login-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  $("login-error").textContent = "";
  try {
    await gh.login($("username").value, $("password").value);
    $("password").value = "";
    await showApp();
  } catch (err) {
    const msg = err instanceof GatehouseError && err.code === "invalid_credentials"
      ? "Wrong username or password."
      : err.message;
    $("login-error").textContent = msg;
  }
});

$("note-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  $("note-error").textContent = "";
  try {
    await api("/demo/api/notes", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ text: $("note-text").value }),
    });
    $("note-text").value = "";
    await loadNotes();
  } catch (err) {
    $("note-error").textContent = err.message;
  }
});

$("logout").addEventListener("click", () => gh.logout().catch((err) => status(err.message)));
$("logout-all").addEventListener("click", () => gh.logoutAll().catch((err) => status(err.message)));

// Another tab (or this one) ended the session, or the refresh found it
// over: show the login form. A login in another tab signs this one in.
window.addEventListener("gatehouse:logout", (ev) => {
  const reason = ev.detail?.reason;
  showLogin(reason === "logout" ? "Signed out." : `Signed out (${reason}).`);
});
window.addEventListener("gatehouse:login", (ev) => {
  if (ev.detail?.fromOtherTab) showApp().catch(() => {});
});

gh.listen();
gh.session()
  .then((s) => (s ? showApp() : showLogin()))
  .catch((err) => showLogin(`Gatehouse is not reachable: ${err.message}`));
