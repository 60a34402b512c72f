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
}
