// gatehouse.js: the browser client for Gatehouse cookie sessions.
//
// A dependency-free ES module with no build step. Gatehouse serves it at
// GET /gatehouse.js; import it from there or copy it into your app.
//
//   import { login, fetch, session } from "/gatehouse.js";
//
// The tokens themselves never reach JavaScript: the access and refresh
// tokens are httpOnly cookies. What this module handles is everything a
// page must still do by hand: echo the CSRF token on writes, refresh an
// expired access token once and retry, keep many tabs from refreshing at
// the same moment, and tell every tab when the session is over.
//
// See docs/browser-client.md.

/** Methods that change nothing; only the others need the CSRF header. */
const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

/**
 * Problem codes of POST /auth/refresh that mean the session is over and
 * only a new login helps. Other failures (network, 5xx, 429) are
 * transient: the session may well still be alive, so no tab is told to
 * log out for them.
 */
const SESSION_OVER = new Set(["session_ended", "refresh_token_reused", "invalid_refresh_token"]);

/**
 * The error every call except fetch throws for a non-2xx answer. code is
 * Gatehouse's stable problem code (docs/errors.md); branch on it, never on
 * message, which is for people.
 */
export class GatehouseError extends Error {
  /**
   * @param {number} status HTTP status
   * @param {string} code problem code, "" when the body was not a problem
   * @param {string} detail the problem's detail or title
   * @param {object|null} problem the whole problem body
   */
  constructor(status, code, detail, problem) {
    super(detail || code || `HTTP ${status}`);
    this.name = "GatehouseError";
    this.status = status;
    this.code = code;
    this.problem = problem;
  }
}

/**
 * Reads the problem code of a response without consuming it, so the
 * caller still gets an unread body.
 * @param {Response} res
 * @returns {Promise<{code: string, problem: object|null}>}
 */
async function problemOf(res) {
  try {
    const problem = await res.clone().json();
    return { code: typeof problem?.code === "string" ? problem.code : "", problem };
  } catch {
    return { code: "", problem: null };
  }
}

/**
 * @typedef {object} ClientOptions
 * @property {string} [baseURL] where Gatehouse is, e.g. "https://auth.example.com";
 *   "" (default) means the page's own origin
 * @property {RequestCredentials} [credentials] defaults to "same-origin", or
 *   "include" when baseURL is another origin (the cookies must travel with
 *   the cross-origin call; Gatehouse answers CORS only for allowed_origins)
 * @property {() => string} [csrfToken] returns the current XSRF-TOKEN value;
 *   defaults to reading document.cookie, which works when the page and
 *   Gatehouse share a host name (ports do not separate cookies)
 * @property {string} [lockName] the Web Locks name that serialises refreshes
 *   across tabs; "gatehouse-refresh" by default
 * @property {string} [channelName] the BroadcastChannel name for session
 *   events; "gatehouse" by default
 * @property {typeof globalThis.fetch} [fetch] the underlying fetch
 */

/**
 * Creates a client. Most pages need only the default one, whose methods
 * are also this module's named exports; create another for a Gatehouse on
 * another origin.
 * @param {ClientOptions} [options]
 */
export function createClient(options = {}) {
  const baseURL = (options.baseURL ?? "").replace(/\/+$/, "");
  const crossOrigin = baseURL !== "" && typeof location !== "undefined" &&
    new URL(baseURL, location.href).origin !== location.origin;
  const credentials = options.credentials ?? (crossOrigin ? "include" : "same-origin");
  const lockName = options.lockName ?? "gatehouse-refresh";
  const channelName = options.channelName ?? "gatehouse";
  const rawFetch = options.fetch ?? globalThis.fetch.bind(globalThis);
  const csrfToken = options.csrfToken ?? readCSRFCookie;

  /**
   * When a refresh of this origin last succeeded, as a high-resolution
   * wall-clock time: in localStorage, so that every tab of the origin sees
   * it, and in memory where storage is unavailable. The XSRF-TOKEN value
   * is the session's for its whole life (Angular's interceptor retries
   * with the value it first sent), so it no longer tells that a refresh
   * happened; this does.
   */
  const refreshedKey = `${lockName}:refreshed-at`;
  let refreshedAtHere = 0;
  function refreshedAt() {
    try {
      return Math.max(refreshedAtHere, Number(globalThis.localStorage?.getItem(refreshedKey)) || 0);
    } catch {
      return refreshedAtHere; // storage blocked: this tab's own refreshes only
    }
  }
  function markRefreshed() {
    refreshedAtHere = now();
    try {
      globalThis.localStorage?.setItem(refreshedKey, String(refreshedAtHere));
    } catch {
      // storage blocked: other tabs fall back on the server's grace window
    }
  }

  /**
   * The in-tab single flight, used only where Web Locks is missing: the
   * refresh running now, which every caller that needs one awaits.
   * @type {Promise<boolean>|null}
   */
  let inFlight = null;

  /**
   * Other tabs learn that the session ended through this channel: they
   * cannot see this tab's failed refresh, and would otherwise each find
   * out on their next call, one by one. Created lazily, once.
   * @type {BroadcastChannel|null|undefined}
   */
  let channel;
  function getChannel() {
    if (channel === undefined) {
      channel = typeof BroadcastChannel === "function" ? new BroadcastChannel(channelName) : null;
      if (channel) {
        channel.onmessage = (ev) => {
          const m = ev.data;
          if (m && (m.type === "login" || m.type === "logout")) {
            dispatch(m.type, { ...m.detail, fromOtherTab: true });
          }
        };
      }
    }
    return channel;
  }

  /** Dispatches "gatehouse:<type>" on window, if there is one. */
  function dispatch(type, detail) {
    if (typeof window !== "undefined" && typeof CustomEvent === "function") {
      window.dispatchEvent(new CustomEvent(`gatehouse:${type}`, { detail }));
    }
  }

  /**
   * Tells this tab and every other tab of the origin: "gatehouse:logout"
   * when the session ended (detail.reason is a problem code or "logout"),
   * "gatehouse:login" when one started.
   */
  function announce(type, detail) {
    dispatch(type, { ...detail, fromOtherTab: false });
    getChannel()?.postMessage({ type, detail });
  }

  function url(path) {
    return baseURL + path;
  }

  /**
   * fetch with the Gatehouse conventions: cookies travel (credentials),
   * unsafe methods carry X-XSRF-TOKEN, and a 401 invalid_token (the access
   * token expired, or its cookie did) is answered by one refresh and one
   * retry. Any other answer, including a 401 after the retry, is returned
   * as it is: this behaves like fetch, it does not throw on HTTP errors.
   *
   * A request whose body is a stream cannot be sent twice and is not
   * retried.
   *
   * @param {RequestInfo|URL} input a path ("/demo/api/notes", resolved
   *   against baseURL), a URL or a Request
   * @param {RequestInit} [init]
   * @returns {Promise<Response>}
   */
  async function gatehouseFetch(input, init = {}) {
    getChannel();
    if (typeof input === "string" && input.startsWith("/") && !input.startsWith("//")) {
      input = url(input);
    }
    const method = (init.method ?? (input instanceof Request ? input.method : "GET")).toUpperCase();
    const replayable = !(init.body instanceof ReadableStream) && !(input instanceof Request && input.body);
    // A Request can be read only once: keep a copy for the retry.
    const again = input instanceof Request ? input.clone() : input;

    const send = (target) => {
      const headers = new Headers(init.headers ?? (target instanceof Request ? target.headers : undefined));
      const token = csrfToken();
      if (!SAFE_METHODS.has(method) && token && !headers.has("X-XSRF-TOKEN")) {
        headers.set("X-XSRF-TOKEN", token);
      }
      return { sentAt: now(), response: rawFetch(target, { credentials, ...init, headers }) };
    };

    const first = send(input);
    const res = await first.response;
    if (res.status !== 401 || !replayable) {
      return res;
    }
    const { code } = await problemOf(res);
    if (code === "session_ended") {
      // The session was revoked (logout elsewhere, "sign out everywhere",
      // an admin): refreshing cannot help, and every tab should know.
      announce("logout", { reason: code });
      return res;
    }
    if (code !== "invalid_token") {
      return res;
    }
    if (!(await refresh(first.sentAt))) {
      return res;
    }
    return send(again).response;
  }

  /**
   * Makes sure the access token is fresh after a request sent at sentAt
   * failed with invalid_token. Resolves true when the caller should retry.
   *
   * At most one refresh runs at a time across all tabs of the origin.
   * Without that, N tabs (or N parallel calls) whose access token expired
   * together would spend the same refresh token N times. Gatehouse's grace
   * window forgives that for a few seconds, but a slow tab outside it
   * would trip reuse detection and end the session for everyone.
   *
   * Web Locks (navigator.locks) queues the tabs. Whoever holds the lock
   * first refreshes and records when it succeeded, so a waiter that finds
   * a refresh newer than its request knows another tab (or another call
   * in this tab) already refreshed, and just retries. Where Web Locks is
   * missing, calls within this tab share one refresh promise; tabs then
   * rely on the server's grace window.
   *
   * @param {number} sentAt when the failed request was sent (now())
   * @returns {Promise<boolean>}
   */
  async function refresh(sentAt) {
    if (!csrfToken()) {
      // No CSRF cookie, no session: it is set and expires together with
      // the refresh cookie. A refresh would only fail.
      return false;
    }
    const refreshedSince = () => refreshedAt() > sentAt;
    if (typeof navigator !== "undefined" && navigator.locks?.request) {
      return navigator.locks.request(lockName, () => (refreshedSince() ? true : doRefresh()));
    }
    if (refreshedSince()) {
      return true;
    }
    inFlight ??= doRefresh().finally(() => {
      inFlight = null;
    });
    return inFlight;
  }

  /**
   * One POST /auth/refresh. The refresh cookie is Path=/auth and
   * SameSite=Strict, so only this same-site call to Gatehouse carries it;
   * the CSRF header proves the page, not another site, asked.
   * @returns {Promise<boolean>} whether the session was refreshed
   */
  async function doRefresh() {
    const headers = { "X-XSRF-TOKEN": csrfToken() };
    let res;
    try {
      res = await rawFetch(url("/auth/refresh"), { method: "POST", credentials, headers });
    } catch {
      return false; // offline: the session may be fine, say nothing
    }
    if (res.ok) {
      markRefreshed();
      return true;
    }
    const { code } = await problemOf(res);
    if (res.status === 401 && SESSION_OVER.has(code)) {
      announce("logout", { reason: code });
    }
    return false;
  }

  /** Sends a JSON call through gatehouseFetch and throws GatehouseError on failure. */
  async function call(method, path, body) {
    const init = { method };
    if (body !== undefined) {
      init.headers = { "Content-Type": "application/json" };
      init.body = JSON.stringify(body);
    }
    const res = await gatehouseFetch(url(path), init);
    return decode(res);
  }

  async function decode(res) {
    if (!res.ok) {
      const { code, problem } = await problemOf(res);
      throw new GatehouseError(res.status, code, problem?.detail ?? problem?.title ?? "", problem);
    }
    if (res.status === 204) {
      return null;
    }
    return res.json();
  }

  return {
    fetch: gatehouseFetch,

    /**
     * Logs in with a username and password (cookie mode). Resolves to
     * {user, session, access_token_expires_at}; throws GatehouseError with
     * code invalid_credentials, rate_limited, forbidden_origin, ...
     * @param {string} username
     * @param {string} password
     */
    async login(username, password) {
      getChannel();
      const res = await rawFetch(url("/auth/login"), {
        method: "POST",
        credentials,
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ username, password }),
      });
      const grant = await decode(res);
      announce("login", { user: grant.user });
      return grant;
    },

    /** Ends this session (this device) and tells every tab. */
    async logout() {
      await call("POST", "/auth/logout");
      announce("logout", { reason: "logout" });
    },

    /**
     * Ends every session of the user. With keepCurrent this device stays
     * signed in and the number of sessions ended is returned; without it,
     * this device is signed out too and every tab is told.
     * @param {{keepCurrent?: boolean}} [options]
     * @returns {Promise<number|null>}
     */
    async logoutAll({ keepCurrent = false } = {}) {
      const out = await call("POST", "/auth/logout-all", keepCurrent ? { keep_current: true } : undefined);
      if (!keepCurrent) {
        announce("logout", { reason: "logout" });
        return null;
      }
      return out.revoked;
    },

    /**
     * Who is signed in: {user, session, access_token_expires_at}, or null
     * when nobody is (or the session ended). Refreshes when needed.
     */
    async session() {
      try {
        return await call("GET", "/auth/session");
      } catch (err) {
        if (err instanceof GatehouseError && err.status === 401) {
          return null;
        }
        throw err;
      }
    },

    /** The user's live sessions, newest first; `current` marks this device. */
    async sessions() {
      return (await call("GET", "/auth/sessions")).sessions;
    },

    /**
     * Signs one device out. Ending this device's own session is a logout,
     * and every tab is told.
     * @param {string} id a session id from sessions()
     */
    async revokeSession(id) {
      await call("DELETE", `/auth/sessions/${encodeURIComponent(id)}`);
      if (!csrfToken()) {
        announce("logout", { reason: "logout" }); // the server cleared our cookies
      }
    },

    /**
     * Starts listening for other tabs' login and logout announcements.
     * Every call starts it too; call this at start-up to hear another
     * tab's logout before this tab has made any call.
     */
    listen() {
      getChannel();
    },
  };
}

/**
 * A wall-clock time in milliseconds with sub-millisecond resolution where
 * the platform has it, comparable between the tabs of one browser.
 */
function now() {
  const p = globalThis.performance;
  return p && typeof p.now === "function" && p.timeOrigin ? p.timeOrigin + p.now() : Date.now();
}

/**
 * The XSRF-TOKEN cookie's value, "" when there is none. The cookie is
 * deliberately readable (not httpOnly): double-submit works because only
 * pages of the cookie's own host can read it and copy it into a header.
 */
function readCSRFCookie() {
  if (typeof document === "undefined") {
    return "";
  }
  for (const part of document.cookie.split(";")) {
    const eq = part.indexOf("=");
    if (eq > 0 && part.slice(0, eq).trim() === "XSRF-TOKEN") {
      return decodeURIComponent(part.slice(eq + 1).trim());
    }
  }
  return "";
}

/** The default client: same origin, default names. */
export const gatehouse = createClient();

export const login = (username, password) => gatehouse.login(username, password);
export const logout = () => gatehouse.logout();
export const logoutAll = (options) => gatehouse.logoutAll(options);
export const session = () => gatehouse.session();
export const sessions = () => gatehouse.sessions();
export const revokeSession = (id) => gatehouse.revokeSession(id);
export const listen = () => gatehouse.listen();
export { gatehouseFetch as fetch };

/**
 * fetch through the default client; see createClient's fetch.
 * @param {RequestInfo|URL} input
 * @param {RequestInit} [init]
 */
function gatehouseFetch(input, init) {
  return gatehouse.fetch(input, init);
}
