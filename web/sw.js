// sw.js: the service worker of the web push channel (issue 15).
//
// The server sends a web push only to a user with no tab open (an open tab gets the
// in-app notification over its WebSocket). The browser's push service wakes this worker
// with the decrypted payload, JSON:
//
//   {"id", "type", "title", "body", "actionUrl", "tag", "priority", "createdAt"}
//
// `actionUrl` is null, a site-relative path or an https URL; `tag` groups the
// notifications about one order, so a newer one replaces the older on screen.
//
// Registered by NotifyClient.enablePush() (notify-client.js) from the site root, so it
// may open and focus any page of the site.

// A new version takes over at once: a push handled by an old worker would still show fine,
// but the click logic should be the newest.
self.addEventListener("install", () => self.skipWaiting());
self.addEventListener("activate", (event) => event.waitUntil(self.clients.claim()));

const str = (v) => (typeof v === "string" && v !== "" ? v : undefined);

/** The payload as an object; a payload that is not JSON is shown as its text. */
function readPayload(data) {
  if (!data) return {};
  try {
    const p = data.json();
    return p && typeof p === "object" ? p : { body: String(p) };
  } catch {
    return { body: data.text() };
  }
}

/**
 * Where a click goes: `url` resolved against this site; only a page of this site or an
 * https URL, anything else (javascript:, data:, http: elsewhere, what does not parse)
 * goes to the site root.
 */
function targetUrl(url) {
  const origin = self.location.origin;
  try {
    const u = new URL(typeof url === "string" && url !== "" ? url : "/", origin);
    if (u.origin === origin || u.protocol === "https:") return u.href;
  } catch {
    // not a URL: the site root
  }
  return `${origin}/`;
}

self.addEventListener("push", (event) => {
  const p = readPayload(event.data);
  const tag = str(p.tag);
  const options = {
    body: str(p.body) ?? "",
    data: { url: str(p.actionUrl) ?? null, id: str(p.id) ?? null },
    // A newer notification with the same tag replaces the older; renotify makes it
    // sound and show again instead of silently (only allowed with a tag).
    tag,
    renotify: Boolean(tag),
  };
  if (str(p.icon)) options.icon = targetUrl(p.icon);
  event.waitUntil(self.registration.showNotification(str(p.title) ?? "Notification", options));
});

/**
 * Opens what a notification points to (`data.url`, see targetUrl): focuses a window of this
 * site, navigated there when it shows another page, else opens a new window. Called by the
 * notificationclick handler, and by the test hook below.
 */
async function openTarget(data) {
  const url = new URL(targetUrl(data?.url));
  const origin = self.location.origin;
  if (url.origin === origin) {
    const windows = await self.clients.matchAll({ type: "window", includeUncontrolled: true });
    const mine = windows.filter((c) => new URL(c.url).origin === origin);
    const win = mine.find((c) => c.url === url.href) || mine.find((c) => c.focused) || mine[0];
    if (win) {
      try {
        const focused = await win.focus();
        const here = new URL(focused.url);
        if (here.pathname + here.search === url.pathname + url.search) return focused;
        // navigate() needs a window this worker controls (clients.claim() above takes the
        // open ones); if it cannot, a new window below still gets the user there.
        const navigated = await focused.navigate(url.href);
        if (navigated) return navigated;
      } catch (err) {
        console.warn("sw: could not reuse a window", err);
      }
    }
  }
  return self.clients.openWindow(url.href);
}

self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  // Focusing and opening windows is allowed only while this event is handled.
  event.waitUntil(openTarget(event.notification.data));
});

// Test hook (tests/browser/push.test.mjs): a page of this site posts {type: "test:click", tag}
// and the worker runs the click of its shown notification with that tag. A real click cannot
// be made from a test: headless Chromium has no notification UI, DevTools no method to click
// one, and a NotificationEvent built by script is untrusted (its waitUntil throws). It only
// acts on a notification this worker showed, on a message from a window of this origin.
self.addEventListener("message", (event) => {
  const msg = event.data;
  if (!msg || msg.type !== "test:click" || typeof msg.tag !== "string") return;
  if (!event.source || new URL(event.source.url).origin !== self.location.origin) return;
  event.waitUntil((async () => {
    const [n] = await self.registration.getNotifications({ tag: msg.tag });
    if (!n) return event.source.postMessage({ type: "test:click", ok: false, error: `no notification with tag ${msg.tag}` });
    n.close();
    try {
      const win = await openTarget(n.data);
      event.source.postMessage({ type: "test:click", ok: true, url: win?.url ?? null });
    } catch (err) {
      event.source.postMessage({ type: "test:click", ok: false, error: String(err) });
    }
  })());
});
