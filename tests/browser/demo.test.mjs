// The demo page in a real headless Chromium: two tabs signed in as one user;
// an order event makes the toast and badge appear in both; marking it read
// in one tab lowers the badge in the other. A screenshot is kept.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { openStackAndBrowser, closeStackAndBrowser, postEvent, artifacts } from "./stack.mjs";

let stack;
let browser;
before(async () => ({ stack, browser } = await openStackAndBrowser()));
after(() => closeStackAndBrowser(stack, browser));

test("two tabs of one user: toast and badge in both, mark read in one clears the other", async () => {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const [tab1, tab2] = [await context.newPage(), await context.newPage()];
  const errors = [];
  for (const p of [tab1, tab2]) p.on("pageerror", (e) => errors.push(e.message));
  for (const p of [tab1, tab2]) {
    await p.goto(`${stack.http}/?user=alice`);
    await p.locator("#conn-text", { hasText: "live" }).waitFor({ timeout: 10000 });
  }
  const other = await browser.newPage();
  await other.goto(`${stack.http}/?user=bob`);
  await other.locator("#conn-text", { hasText: "live" }).waitFor({ timeout: 10000 });

  await postEvent(stack, {
    id: `evt_browser_${Date.now()}`, type: "order.created", userId: "alice",
    occurredAt: new Date().toISOString(), data: { orderId: "o_4242", total: "49.90", currency: "EUR" },
  });
  for (const p of [tab1, tab2]) {
    await p.locator(".toast", { hasText: "Order o_4242 confirmed" }).waitFor({ timeout: 10000 });
    await p.locator("#badge", { hasText: "1" }).waitFor({ timeout: 5000 });
    assert.equal(await p.locator(".notification").count(), 1);
  }
  assert.equal(await other.locator(".toast").count(), 0, "bob sees nothing of alice's order");
  assert.equal(await other.locator("#badge").isHidden(), true);

  mkdirSync(artifacts, { recursive: true });
  await tab1.screenshot({ path: join(artifacts, "demo-page.png") });

  await tab1.locator(".notification .mark-read").first().click();
  for (const p of [tab2, tab1]) {
    await p.locator("#badge").waitFor({ state: "hidden", timeout: 5000 });
    await p.locator(".notification.read").waitFor({ timeout: 5000 });
  }
  // The server agrees.
  const token = (await (await fetch(`${stack.http}/dev/token?user=alice`)).json()).token;
  const count = await (await fetch(`${stack.http}/notifications/unread-count`, { headers: { authorization: `Bearer ${token}` } })).json();
  assert.equal(count.unreadCount, 0);
  await tab2.screenshot({ path: join(artifacts, "demo-page-read.png") });
  assert.deepEqual(errors, []);
  await context.close();
});

test("a tab that was offline gets what it missed by sync, and a dropped socket reconnects", async () => {
  const page = await browser.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(e.message));
  await page.goto(`${stack.http}/?user=carol`);
  await page.locator("#conn-text", { hasText: "live" }).waitFor({ timeout: 10000 });

  // Offline: the event is stored but cannot be pushed to this tab.
  await page.evaluate(() => window.notify.close());
  await page.locator("#conn-text", { hasText: "offline" }).waitFor({ timeout: 5000 });
  await postEvent(stack, {
    id: `evt_missed_${Date.now()}`, type: "payment.failed", userId: "carol",
    occurredAt: new Date().toISOString(), data: { orderId: "o_7", reason: "card declined" },
  });
  const token = (await (await fetch(`${stack.http}/dev/token?user=carol`)).json()).token;
  for (let i = 0; i < 200; i++) {
    const c = await (await fetch(`${stack.http}/notifications/unread-count`, { headers: { authorization: `Bearer ${token}` } })).json();
    if (c.unreadCount === 1) break;
    await new Promise((r) => setTimeout(r, 25));
  }
  assert.equal(await page.locator(".notification").count(), 0);

  // Back online: the client syncs from its cursor and shows what it missed.
  await page.evaluate(() => window.notify.connect());
  await page.locator(".notification", { hasText: "Payment failed for order o_7" }).waitFor({ timeout: 10000 });
  await page.locator("#badge", { hasText: "1" }).waitFor({ timeout: 5000 });
  assert.equal(await page.locator(".notification").count(), 1, "no duplicate after sync");

  // A socket closed under the client comes back by itself.
  await page.evaluate(() => {
    window.__reopened = 0;
    window.notify.on("open", ({ reconnected }) => { if (reconnected) window.__reopened += 1; });
    window.notify.socket.close(4000, "test drop");
  });
  await page.waitForFunction(() => window.__reopened === 1, null, { timeout: 15000 });
  await page.locator("#conn-text", { hasText: "live" }).waitFor({ timeout: 5000 });
  assert.deepEqual(errors, []);
  await page.close();
});

test("the client drops a notification it has already shown (at-least-once delivery, shown once)", async () => {
  const page = await browser.newPage();
  await page.goto(`${stack.http}/?user=dana`);
  await page.locator("#conn-text", { hasText: "live" }).waitFor({ timeout: 10000 });
  const n = { id: "01JDQ8Z5X3K9T2M4N6P8R0S2V4", type: "order.created", title: "Order o_9 confirmed", message: "m",
    priority: "normal", actionUrl: null, actionText: null, createdAt: new Date().toISOString(), read: false, eventId: "evt_dup" };
  const frame = JSON.stringify({ event: "notification:new", data: n });
  // The same frame twice, as a retried push would deliver it, then inside a sync page.
  await page.evaluate((f) => { window.notify.receive(f); window.notify.receive(f); }, frame);
  await page.evaluate((d) => window.notify.receive(JSON.stringify({ event: "notification:sync", data: { notifications: [d], cursor: d.id, hasMore: false, unreadCount: 1 } })), n);
  await page.locator(".notification").first().waitFor({ timeout: 5000 });
  assert.equal(await page.locator(".notification").count(), 1);
  assert.equal(await page.locator(".toast").count(), 1);
  assert.equal(await page.locator("#badge").textContent(), "1");
  await page.close();
});

test("an email that bounces: the page warns, the user confirms the address, the delivery log shows the bounce", async () => {
  const user = `erin_${Date.now()}`;
  const address = "bounce@simulator.amazonses.com";
  const page = await browser.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(e.message));
  await page.goto(`${stack.http}/?user=${user}`);
  await page.locator("#conn-text", { hasText: "live" }).waitFor({ timeout: 10000 });
  await page.locator("#pref-channels input").first().waitFor({ timeout: 5000 });
  assert.equal(await page.locator("#suppressed").isHidden(), true, "no warning before any email");

  // The user sets their email in the page's preferences.
  await page.locator("#pref-email").fill(address);
  await page.locator("#pref-save").click();
  await page.locator("#pref-ok", { hasText: "Saved" }).waitFor({ timeout: 5000 });
  const token = (await (await fetch(`${stack.http}/dev/token?user=${user}`)).json()).token;
  const prefs = async () => (await fetch(`${stack.http}/preferences`, { headers: { authorization: `Bearer ${token}` } })).json();
  assert.equal((await prefs()).email, address);

  await postEvent(stack, {
    id: `evt_bounce_${Date.now()}`, type: "order.created", userId: user,
    occurredAt: new Date().toISOString(), data: { orderId: "o_61", total: "12.00", currency: "EUR" },
  });
  await page.locator(".notification", { hasText: "Order o_61 confirmed" }).waitFor({ timeout: 10000 });
  // SES's feedback comes a second after the send; the page checks again by itself.
  const warning = page.locator("#suppressed", { hasText: `No email goes to ${address}` });
  await warning.waitFor({ state: "visible", timeout: 20000 });
  assert.match(await warning.textContent(), /it bounced/);
  const suppressed = (await prefs()).emailSuppressed;
  assert.equal(suppressed?.address, address);
  assert.equal(suppressed?.reason, "bounce");

  // A reload still shows it (it comes from GET /preferences), and the delivery log shows the bounce.
  await page.reload();
  await page.locator("#conn-text", { hasText: "live" }).waitFor({ timeout: 10000 });
  await warning.waitFor({ state: "visible", timeout: 5000 });
  const item = page.locator(".notification", { hasText: "Order o_61 confirmed" });
  await item.locator(".n-delivery").click();
  const email = item.locator('.n-log-line[data-channel="email"]');
  await email.waitFor({ timeout: 5000 });
  assert.match(await email.textContent(), /^email: queued → sent → bounced \(Permanent\/General: .+\)$/);
  assert.match(await item.locator('.n-log-line[data-channel="in_app"]').textContent(), /^in_app: delivered \(1 device\(s\)\)$/);
  await item.locator(".n-delivery", { hasText: "Hide delivery" }).click();
  await item.locator(".n-log").waitFor({ state: "detached", timeout: 5000 });

  // The user confirms the address: the warning goes, and the server agrees.
  await page.locator("#confirm-email").click();
  await page.locator("#suppressed").waitFor({ state: "hidden", timeout: 5000 });
  await page.locator("#pref-ok", { hasText: `email goes to ${address} again` }).waitFor({ timeout: 5000 });
  const after = await prefs();
  assert.equal(after.emailSuppressed, undefined);
  assert.equal(after.email, address);
  assert.deepEqual(errors, []);
  await page.close();
});
