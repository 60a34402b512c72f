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
 * `url` resolved against this site, if it is a page of this site or an https URL; null for
 * anything else (javascript:, data:, http: elsewhere, what does not parse, none).
 */
function allowedUrl(url) {
  if (typeof url !== "string" || url === "") return null;
  try {
    const u = new URL(url, self.location.origin);
    return u.origin === self.location.origin || u.protocol === "https:" ? u.href : null;
  } catch {
    return null;
  }
}

/** Where a click goes: the notification's link when allowed, else the site root. */
const targetUrl = (url) => allowedUrl(url) ?? `${self.location.origin}/`;

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
  const icon = allowedUrl(p.icon);
  if (icon) options.icon = icon;
  event.waitUntil(self.registration.showNotification(str(p.title) ?? "Notification", options));
});

/**
 * Opens what a notification points to (`data.url`, see targetUrl): a window of this site is
 * focused, and navigated there when it shows another page; with none, or for an https URL
 * elsewhere, a new window opens. Called by the notificationclick handler and the test hook.
 */
async function openTarget(data) {
  const url = new URL(targetUrl(data?.url));
  const origin = self.location.origin;
  if (url.origin === origin) {
    const windows = await self.clients.matchAll({ type: "window", includeUncontrolled: true });
    const mine = windows.filter((c) => new URL(c.url).origin === origin);
    const win = mine.find((c) => c.url === url.href) || mine.find((c) => c.focused) || mine[0];
    if (win) {
      // focus() is allowed only while a click is handled; without it, still navigate.
      const shown = await win.focus().catch(() => win);
      const here = new URL(shown.url);
      if (here.pathname + here.search === url.pathname + url.search) return shown;
      // navigate() needs a window this worker controls (clients.claim() above takes the open
      // ones); when it cannot, a new window gets the user there instead.
      const navigated = await shown.navigate(url.href).catch((err) => {
        console.warn("sw: could not navigate the open window", err);
        return null;
      });
      if (navigated) return navigated;
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
// one, and a NotificationEvent built by script is untrusted (its waitUntil throws). Outside a
// real click the browser refuses focus() and openWindow(), so here only an open window of the
// site is navigated. It only acts on a notification this worker shows, for a window of this
// origin: nothing a page of the site could not do by itself.
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
