// notify-client.js: the browser client of the notification system.
//
// A plain ES module over the native WebSocket: no build step, no dependency.
//
//   import { NotifyClient } from "./notify-client.js";
//   const client = new NotifyClient({ url: "wss://abc.execute-api.eu-west-1.amazonaws.com/prod", token });
//   client.on("notification:new", (n) => showToast(n.title));
//   client.on("notification:read-ack", ({ id, unreadCount }) => setBadge(unreadCount));
//   client.connect();
//   client.markRead(id);
//
// What it does for you:
// - sends the token as a subprotocol (`notify, <JWT>`), so it never lands in URLs or logs
//   (pass `tokenIn: "query"` for `?token=` instead);
// - reconnects with exponential backoff and full jitter, forever, until `close()`;
// - after a reconnect, asks for what it missed (`notification:sync` from the newest id it
//   has seen) and pages through until `hasMore` is false;
// - drops duplicates by id: delivery is at least once, each notification reaches you once;
// - fetches a fresh token through `getToken()` before reconnecting, if you give one.
//
// Rendering a notification: every field is server data, so show strings with `textContent`
// and put `actionUrl` into a link only through `safeHref()`:
//
//   import { safeHref } from "./notify-client.js";
//   const href = safeHref(n.actionUrl);
//   if (href) { const a = document.createElement("a"); a.href = href; a.textContent = n.actionText || "Open"; }
//
// Web push (desktop and lock-screen notifications while no tab of the site is open; an open
// tab gets them over its WebSocket instead). Call these from a user gesture (a click on a
// switch), since they ask for the notification permission:
//
//   const subscription = await client.enablePush({ apiBase: "https://abc.execute-api.eu-west-1.amazonaws.com/prod" });
//   await client.disablePush({ apiBase });                 // true if there was a subscription
//   const current = await client.pushSubscription();        // the current one, or null
//
// - enablePush({ apiBase, serviceWorkerUrl = "/sw.js", scope, subscribeTimeoutMs = 30000 })
//   checks that the browser can (service workers, PushManager, Notification, a secure
//   context), asks for the permission, registers the service worker (web/sw.js; served from
//   the site root so it may open any page, or with `Service-Worker-Allowed` for a `scope`
//   above it), gets the server's VAPID key from `GET {apiBase}/push/vapid-public-key`,
//   subscribes (reusing the browser's subscription when it has one for that key) and sends
//   `subscription.toJSON()` to `POST {apiBase}/push/subscriptions` with the user's token
//   (`token` or `getToken()`, as for the socket). Returns the PushSubscription.
// - disablePush({ apiBase, scope }) asks the server to forget the subscription
//   (`DELETE {apiBase}/push/subscriptions {"endpoint"}`), then unsubscribes in the browser;
//   when the server cannot be told it throws and the browser stays subscribed, so the two
//   still agree (try again).
// - Both throw an Error saying why (its `code`: "unsupported", "permission", "service_worker",
//   "push_service", "network" or "server"; a server's refusal has `status` and `field`, e.g.
//   "the server said 400 invalid_request: ..."). A browser without a reachable push service
//   (private windows, or one that cannot reach its vendor's push service) fails in subscribe.
// - saveSubscription({ apiBase, subscription }) and forgetSubscription({ apiBase, endpoint })
//   are the two server calls alone (e.g. to send a subscription again), with the same errors.
// - pushUnsupported() says why this browser cannot (a sentence), or null when it can;
//   urlBase64ToUint8Array(key) turns a base64url key (the VAPID key) into bytes.

const DEFAULTS = {
  tokenIn: "subprotocol", // or "query"
  minDelayMs: 500,
  maxDelayMs: 30000,
  pingEveryMs: 9 * 60 * 1000, // just under API Gateway's 10 minute idle timeout; answered by the gateway (MOCK route), no Lambda
  rememberIds: 2000,
};

const LOOPBACK_HOSTS = new Set(["127.0.0.1", "localhost", "[::1]"]);

/**
 * The link target to use for a URL that came from the server (e.g. `actionUrl`), or null
 * when it must not become a link. Accepted: `https:` URLs, site-relative paths (`/orders/o_1`,
 * one leading slash, resolved against `base` and kept on its origin), and `http:` only on
 * loopback (127.0.0.1, localhost, [::1]) for the local stack. Everything else is refused:
 * `javascript:`, `data:`, `vbscript:` and any other scheme, protocol-relative `//host`,
 * relative paths without a leading slash, and what does not parse. The decision is taken on
 * the parsed URL, not the text, since the URL parser drops leading spaces, control
 * characters, tabs and newlines (" javascript:…", "java\tscript:…") and reads `\` as `/`.
 *
 * @param {unknown} url
 * @param {string} [base] the page URL site-relative paths resolve against
 * @returns {string | null} the normalized URL to put in `href`
 */
export function safeHref(url, base = globalThis.location?.href) {
  if (typeof url !== "string" || url === "") return null;
  try {
    if (url.startsWith("/")) {
      // Site-relative. Spellings that leave the site ("//host", "/" + backslash + "host",
      // "/" + tab + "/host", ...) are refused here or by the origin check after parsing.
      if (url.startsWith("//") || url.startsWith("/\\") || !base) return null;
      const origin = new URL(base);
      const parsed = new URL(url, origin);
      if (parsed.origin !== origin.origin) return null;
      if (parsed.protocol !== "https:" && parsed.protocol !== "http:") return null;
      return parsed.href;
    }
    const parsed = new URL(url); // absolute only: no base, so "orders/1" or "?x" throw
    if (parsed.protocol === "https:" && parsed.hostname) return parsed.href;
    if (parsed.protocol === "http:" && LOOPBACK_HOSTS.has(parsed.hostname)) return parsed.href;
    return null;
  } catch {
    return null;
  }
}

/**
 * The bytes of a base64url string (padding optional), e.g. the server's VAPID public key for
 * `pushManager.subscribe({ applicationServerKey })`. Throws on anything else.
 *
 * @param {string} value
 * @returns {Uint8Array}
 */
export function urlBase64ToUint8Array(value) {
  if (typeof value !== "string") throw new TypeError("urlBase64ToUint8Array: expected a string");
  const b64 = value.replace(/=+$/, "").replace(/-/g, "+").replace(/_/g, "/");
  if (/[^A-Za-z0-9+/]/.test(b64) || b64.length % 4 === 1) {
    throw new Error(`urlBase64ToUint8Array: not base64url: ${JSON.stringify(value.slice(0, 40))}`);
  }
  const binary = atob(b64 + "=".repeat((4 - (b64.length % 4)) % 4));
  return Uint8Array.from(binary, (c) => c.charCodeAt(0));
}

/** An Error for the web push calls, with a `code` saying which step failed. */
function pushError(code, message, extra = {}) {
  return Object.assign(new Error(message), { code }, extra);
}

/**
 * Why web push cannot work here (a sentence, e.g. "this browser has no Push API
 * (PushManager)"), or null when it can.
 *
 * @returns {string | null}
 */
export function pushUnsupported() {
  if (typeof window === "undefined" || typeof navigator === "undefined") return "not in a browser window";
  if (!window.isSecureContext) return "the page is not a secure context (it needs https, or localhost)";
  if (!("serviceWorker" in navigator)) return "this browser has no service workers";
  if (!("PushManager" in window)) return "this browser has no Push API (PushManager)";
  if (!("Notification" in window)) return "this browser has no notifications (Notification)";
  return null;
}

/** The error for a response that is not ok: the server's `{"error":{"code","message","field"}}`. */
async function serverError(what, res) {
  const body = await res.json().catch(() => null);
  const e = body?.error;
  const detail = e?.message ? `${e.code ? `${e.code}: ` : ""}${e.message}` : res.statusText || "no detail";
  return pushError("server", `${what}: the server said ${res.status} ${detail}`, { status: res.status, field: e?.field });
}

/** Resolves once the registration has an active worker (pushManager.subscribe needs one). */
function whenActive(registration) {
  if (registration.active) return Promise.resolve(registration);
  const worker = registration.installing || registration.waiting;
  if (!worker) return Promise.reject(pushError("service_worker", "the service worker has no installing or active version"));
  return new Promise((resolve, reject) => {
    worker.addEventListener("statechange", () => {
      if (worker.state === "activated") resolve(registration);
      else if (worker.state === "redundant") {
        reject(pushError("service_worker", "the service worker failed to install (see the console of the worker)"));
      }
    });
  });
}

function sameBytes(buffer, bytes) {
  if (!buffer) return false;
  const a = new Uint8Array(buffer);
  return a.length === bytes.length && a.every((x, i) => x === bytes[i]);
}

export class NotifyClient {
  /**
   * @param {object} options
   * @param {string} options.url WebSocket URL of the stage, e.g. wss://…/prod or ws://127.0.0.1:3001
   * @param {string} [options.token] a JWT for the user
   * @param {() => Promise<string>} [options.getToken] called before each (re)connect when set
   * @param {string} [options.since] the newest notification id already shown (sync starts after it)
   */
  constructor(options) {
    this.options = { ...DEFAULTS, ...options };
    if (!this.options.url) throw new Error("NotifyClient: `url` is required");
    this.cursor = this.options.since || null;
    this.state = "idle";
    this.attempt = 0;
    this.handlers = new Map();
    this.seen = new Set();
    this.seenOrder = [];
    this.socket = null;
    this.closedByUser = false;
    this.reconnectTimer = null;
    this.pingTimer = null;
    this.connectedOnce = false;
  }

  /** Subscribes to an event; returns a function that unsubscribes. */
  on(event, handler) {
    if (!this.handlers.has(event)) this.handlers.set(event, new Set());
    this.handlers.get(event).add(handler);
    return () => this.handlers.get(event)?.delete(handler);
  }

  emit(event, data, meta) {
    for (const h of this.handlers.get(event) || []) {
      try {
        h(data, meta);
      } catch (err) {
        console.error(`notify-client: a "${event}" handler threw`, err);
      }
    }
  }

  setState(state) {
    if (this.state === state) return;
    this.state = state;
    this.emit("state", state);
  }

  async connect() {
    this.closedByUser = false;
    clearTimeout(this.reconnectTimer);
    this.setState("connecting");
    let token = this.options.token;
    if (this.options.getToken) {
      try {
        token = await this.options.getToken();
        this.options.token = token;
      } catch (err) {
        this.emit("error", { code: "token", message: String(err) });
        return this.scheduleReconnect();
      }
    }
    if (!token) throw new Error("NotifyClient: give `token` or `getToken`");
    const base = this.options.url.replace(/\/+$/, "");
    let socket;
    try {
      socket =
        this.options.tokenIn === "query"
          ? new WebSocket(`${base}/?token=${encodeURIComponent(token)}`)
          : new WebSocket(base + "/", ["notify", token]);
    } catch (err) {
      this.emit("error", { code: "connect", message: String(err) });
      return this.scheduleReconnect();
    }
    this.socket = socket;
    socket.onopen = () => {
      const reconnected = this.connectedOnce;
      this.connectedOnce = true;
      this.attempt = 0;
      this.setState("open");
      this.emit("open", { reconnected });
      this.startPings();
      // Anything pushed while we were away is in the inbox: fetch it.
      if (reconnected || this.cursor) this.sync();
    };
    socket.onmessage = (e) => this.receive(e.data);
    socket.onclose = (e) => {
      this.stopPings();
      if (this.socket === socket) this.socket = null;
      this.emit("close", { code: e.code, reason: e.reason });
      if (this.closedByUser) return this.setState("closed");
      this.scheduleReconnect();
    };
    socket.onerror = () => {
      // The close event follows with the details; the reconnect happens there.
    };
  }

  scheduleReconnect() {
    if (this.closedByUser) return;
    this.setState("reconnecting");
    const cap = Math.min(this.options.maxDelayMs, this.options.minDelayMs * 2 ** this.attempt);
    const delay = Math.round(Math.random() * cap); // full jitter
    this.attempt += 1;
    this.emit("reconnecting", { attempt: this.attempt, delayMs: delay });
    this.reconnectTimer = setTimeout(() => this.connect(), delay);
  }

  close() {
    this.closedByUser = true;
    clearTimeout(this.reconnectTimer);
    this.stopPings();
    if (this.socket) this.socket.close(1000, "client closed");
    else this.setState("closed");
  }

  send(message) {
    if (!this.socket || this.socket.readyState !== WebSocket.OPEN) return false;
    this.socket.send(JSON.stringify(message));
    return true;
  }

  /** Marks a notification read; every device of the user gets `notification:read-ack`. */
  markRead(id) {
    return this.send({ action: "notification:mark-read", id });
  }

  /** Asks for the notifications after `since` (default: the newest seen). */
  sync(since = this.cursor) {
    const msg = { action: "notification:sync" };
    if (since) msg.since = since;
    return this.send(msg);
  }

  ping() {
    return this.send({ action: "ping" });
  }

  startPings() {
    this.stopPings();
    this.pingTimer = setInterval(() => this.ping(), this.options.pingEveryMs);
  }

  stopPings() {
    clearInterval(this.pingTimer);
    this.pingTimer = null;
  }

  /** Records an id; returns false when it was seen before. */
  remember(id) {
    if (this.seen.has(id)) return false;
    this.seen.add(id);
    this.seenOrder.push(id);
    if (this.seenOrder.length > this.options.rememberIds) this.seen.delete(this.seenOrder.shift());
    if (!this.cursor || id > this.cursor) this.cursor = id; // ULIDs sort by time
    return true;
  }

  /** Marks ids as already shown (e.g. the inbox loaded over REST). */
  markSeen(ids) {
    for (const id of ids) this.remember(id);
  }

  receive(raw) {
    let msg;
    try {
      msg = JSON.parse(raw);
    } catch {
      return this.emit("error", { code: "bad_frame", message: "the server sent something that is not JSON" });
    }
    const { event, data } = msg || {};
    switch (event) {
      case "notification:new":
        if (data && data.id && this.remember(data.id)) this.emit("notification:new", data, { missed: false });
        break;
      case "notification:sync": {
        for (const n of data?.notifications || []) {
          if (this.remember(n.id)) this.emit("notification:new", n, { missed: true });
        }
        this.emit("notification:sync", data);
        if (data?.hasMore && data.cursor) this.sync(data.cursor);
        break;
      }
      case "error":
        this.emit("error", data);
        break;
      default:
        if (event) this.emit(event, data);
    }
  }

  /** `Bearer <token>`: a fresh token from `getToken()` when given, else `token`. */
  async authorization() {
    if (this.options.getToken) this.options.token = await this.options.getToken();
    if (!this.options.token) throw new Error("NotifyClient: give `token` or `getToken`");
    return `Bearer ${this.options.token}`;
  }

  /** The service worker registration for `scope` (default: the one of this page), or null. */
  async pushRegistration({ scope } = {}) {
    if (pushUnsupported()) return null;
    return (await navigator.serviceWorker.getRegistration(scope)) || null;
  }

  /** This browser's push subscription (for `scope`, default: this page's), or null. */
  async pushSubscription({ scope } = {}) {
    const registration = await this.pushRegistration({ scope });
    return registration ? registration.pushManager.getSubscription() : null;
  }

  /**
   * Turns on web push for this browser: permission, service worker, subscription, and the
   * server told (see the header comment). Returns the PushSubscription; throws an Error
   * saying why it could not.
   */
  async enablePush({ apiBase = "", serviceWorkerUrl = "/sw.js", scope, subscribeTimeoutMs = 30000 } = {}) {
    const base = apiBase.replace(/\/+$/, "");
    const why = pushUnsupported();
    if (why) throw pushError("unsupported", `Desktop notifications are not supported here: ${why}.`);

    const permission = await Notification.requestPermission();
    if (permission === "denied") {
      throw pushError("permission", "Notifications are blocked for this site: allow them in the browser's site settings, then try again.");
    }
    if (permission !== "granted") throw pushError("permission", "Notification permission was not given (the prompt was dismissed).");

    let registration;
    try {
      registration = await navigator.serviceWorker.register(serviceWorkerUrl, scope ? { scope } : undefined);
    } catch (err) {
      throw pushError("service_worker", `Cannot register the service worker ${serviceWorkerUrl}: ${err.message}`);
    }
    await whenActive(registration);

    const key = await this.vapidKey(base);
    let subscription = await registration.pushManager.getSubscription();
    if (subscription && !sameBytes(subscription.options?.applicationServerKey, key)) {
      // Subscribed with another key (the server's key changed): that one can no longer be pushed to.
      await subscription.unsubscribe().catch(() => {});
      subscription = null;
    }
    let created = false;
    if (!subscription) {
      subscription = await this.pushSubscribe(registration, key, subscribeTimeoutMs);
      created = true;
    }
    try {
      await this.saveSubscription({ apiBase: base, subscription });
    } catch (err) {
      // The server does not have it: drop the new one, so the browser does not claim to be subscribed.
      if (created) await subscription.unsubscribe().catch(() => {});
      throw err;
    }
    return subscription;
  }

  /**
   * Turns web push off for this browser: the server forgets the subscription, then the
   * browser unsubscribes. Returns false when there was no subscription.
   */
  async disablePush({ apiBase = "", scope } = {}) {
    const base = apiBase.replace(/\/+$/, "");
    const subscription = await this.pushSubscription({ scope });
    if (!subscription) return false;
    await this.forgetSubscription({ apiBase: base, endpoint: subscription.endpoint });
    if (!(await subscription.unsubscribe())) {
      throw pushError("push_service", "The server forgot the subscription, but the browser could not unsubscribe.");
    }
    return true;
  }

  /** The server's VAPID public key, as the bytes `applicationServerKey` takes. */
  async vapidKey(base) {
    let res;
    try {
      res = await fetch(`${base}/push/vapid-public-key`);
    } catch (err) {
      throw pushError("network", `Cannot reach the server for its push key: ${err.message}`);
    }
    if (!res.ok) throw await serverError("Cannot get the server's push key", res);
    const body = await res.json().catch(() => null);
    let key;
    try {
      key = urlBase64ToUint8Array(body?.publicKey);
    } catch {
      throw pushError("server", "The server's push key (publicKey) is not base64url.");
    }
    if (key.length !== 65 || key[0] !== 4) {
      throw pushError("server", "The server's push key is not an uncompressed P-256 public key (65 bytes, 0x04 first).");
    }
    return key;
  }

  /** pushManager.subscribe, with a time limit and errors that say what went wrong. */
  async pushSubscribe(registration, key, timeoutMs) {
    let timer;
    const timeout = new Promise((_, reject) => {
      timer = setTimeout(() => reject(pushError("push_service",
        `The browser's push service did not answer in ${Math.round(timeoutMs / 1000)} s (is the browser offline?).`)), timeoutMs);
    });
    try {
      return await Promise.race([registration.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: key }), timeout]);
    } catch (err) {
      if (err.code === "push_service") throw err;
      if (err.name === "NotAllowedError") throw pushError("permission", `The browser refused the subscription: ${err.message}`);
      // AbortError: no push service (private windows have none, Chromium without its vendor's
      // service cannot register); InvalidStateError and others: say what the browser said.
      throw pushError("push_service", `The browser's push service is not available, so this browser cannot subscribe `
        + `(private windows have none): ${err.name}: ${err.message}`);
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Sends a subscription to the server (`POST /push/subscriptions`, 201; the same endpoint
   * again updates it). enablePush() calls it; exposed to send one again (e.g. after
   * `pushsubscriptionchange`).
   */
  async saveSubscription({ apiBase = "", subscription }) {
    const body = typeof subscription?.toJSON === "function" ? subscription.toJSON() : subscription;
    const authorization = await this.authorization();
    let res;
    try {
      res = await fetch(`${apiBase.replace(/\/+$/, "")}/push/subscriptions`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization },
        body: JSON.stringify(body),
      });
    } catch (err) {
      throw pushError("network", `Cannot reach the server to save the push subscription: ${err.message}`);
    }
    if (!res.ok) throw await serverError("The server refused the push subscription", res);
  }

  /** Asks the server to forget a subscription (`DELETE /push/subscriptions {"endpoint"}`, 204). */
  async forgetSubscription({ apiBase = "", endpoint }) {
    const authorization = await this.authorization();
    let res;
    try {
      res = await fetch(`${apiBase.replace(/\/+$/, "")}/push/subscriptions`, {
        method: "DELETE",
        headers: { "content-type": "application/json", authorization },
        body: JSON.stringify({ endpoint }),
      });
    } catch (err) {
      throw pushError("network", `Cannot reach the server to remove the push subscription: ${err.message}`);
    }
    if (!res.ok) throw await serverError("The server did not remove the push subscription", res);
  }
}
