// Links and text from server data on the demo page (issue 11, actionUrl): the page only
// links to https:, site-relative paths and loopback http: (safeHref() in notify-client.js),
// and renders every server string as text. The server refuses such URLs too; these tests
// feed the notification to the page directly, through the client the page keeps
// (window.notify.receive), so the page's own rendering is what is tested.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { openStackAndBrowser, closeStackAndBrowser } from "./stack.mjs";

let stack;
let browser;
before(async () => ({ stack, browser } = await openStackAndBrowser()));
after(() => closeStackAndBrowser(stack, browser));

async function openDemo(user) {
  const page = await browser.newPage();
  const errors = [];
  const dialogs = [];
  page.on("pageerror", (e) => errors.push(e.message));
  page.on("dialog", (d) => { dialogs.push(d.message()); d.dismiss().catch(() => {}); });
  await page.goto(`${stack.http}/?user=${user}`);
  await page.locator("#conn-text", { hasText: "live" }).waitFor({ timeout: 10000 });
  return { page, errors, dialogs };
}

test("safeHref in the page accepts https, site-relative and loopback http, refuses the rest", async () => {
  const { page, errors } = await openDemo("links_helper");
  const accepted = ["https://shop.example/orders/1", "/orders/o_1", "http://127.0.0.1:3000/x"];
  const refused = ["javascript:alert(1)", "JAVASCRIPT:alert(1)", " javascript:alert(1)", "java\tscript:alert(1)",
    "data:text/html,<script>alert(1)</script>", "//evil.example/x", "http://evil.example/x", "vbscript:x",
    "/\\evil.example/x", "/\t/evil.example/x", "orders/1", "", null];
  // The same module instance the page imported (./notify-client.js).
  const got = await page.evaluate(async ([ok, bad]) => {
    const mod = await import(new URL("notify-client.js", location.href).href);
    if (typeof mod.safeHref !== "function") return { missing: true };
    return { origin: location.origin, ok: ok.map((u) => mod.safeHref(u)), bad: bad.map((u) => mod.safeHref(u)) };
  }, [accepted, refused]);
  assert.ok(!got.missing, "notify-client.js exports safeHref");
  assert.deepEqual(got.ok, ["https://shop.example/orders/1", `${got.origin}/orders/o_1`, "http://127.0.0.1:3000/x"]);
  assert.deepEqual(Object.fromEntries(refused.map((u, i) => [JSON.stringify(u), got.bad[i]])),
    Object.fromEntries(refused.map((u) => [JSON.stringify(u), null])));
  assert.deepEqual(errors, []);
  await page.close();
});

test("a notification with a javascript: actionUrl and markup in its title renders as text, with no link", async () => {
  const { page, errors, dialogs } = await openDemo("links_render");
  const now = new Date().toISOString();
  const base = { type: "admin.message", priority: "normal", createdAt: now, read: false };
  const evil = { ...base, id: "01JDQ8Z5X3K9T2M4N6P8R0S2V8", eventId: "evt_evil", title: "<img src=x onerror=alert(1)>",
    message: "<b>not bold</b><script>alert(2)</script>", actionUrl: "javascript:alert(1)", actionText: "Open order" };
  const good = { ...base, id: "01JDQ8Z5X3K9T2M4N6P8R0S2V6", eventId: "evt_good", title: "Order o_1 shipped",
    message: "m", actionUrl: "/orders/o_1", actionText: "Track" };
  // As the server would push them: through the page's client and its notification:new handler.
  await page.evaluate((ns) => { for (const n of ns) window.notify.receive(JSON.stringify({ event: "notification:new", data: n })); }, [good, evil]);
  const item = page.locator(`.notification[data-id="${evil.id}"]`);
  await item.waitFor({ timeout: 5000 });
  await page.locator(`.notification[data-id="${good.id}"]`).waitFor({ timeout: 5000 });

  assert.equal(await page.locator('a[href^="javascript" i]').count(), 0, "no javascript: link anywhere");
  assert.deepEqual(await page.evaluate(() => [...document.querySelectorAll("a")].filter((a) => a.protocol !== "http:" && a.protocol !== "https:").map((a) => a.href)), []);
  assert.equal(await item.locator("a").count(), 0, "the refused link is not rendered");
  assert.equal(await item.locator(".n-meta").getByText("Open order").count(), 1, "its text is shown, as text");
  assert.equal(await page.locator("#inbox img").count(), 0, "no img element inside the list");
  assert.equal(await page.locator("#inbox script, #inbox b").count(), 0);
  assert.equal(await page.locator("#toasts img, #toasts script").count(), 0);
  assert.equal(await item.locator(".n-title").textContent(), evil.title, "the title is shown as literal text");
  assert.equal(await item.locator(".n-msg").textContent(), evil.message);
  assert.equal(await page.locator(".toast", { hasText: evil.title }).count(), 1, "the toast shows the literal title too");

  // A safe link still works, resolved on the page's origin.
  const link = page.locator(`.notification[data-id="${good.id}"] a`);
  assert.equal(await link.textContent(), "Track");
  assert.equal(await link.evaluate((a) => a.href), `${stack.http}/orders/o_1`);

  assert.deepEqual(dialogs, []);
  assert.deepEqual(errors, []);
  await page.close();
});
