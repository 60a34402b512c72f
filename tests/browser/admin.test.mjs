// The admin console in headless Chromium: sign in as an admin, edit a
// template and watch the preview change, save it, send a notification and
// see it arrive in a user's tab, redrive a dead letter; screenshots kept.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { openStackAndBrowser, closeStackAndBrowser, postEvent, artifacts } from "./stack.mjs";

let stack;
let browser;
before(async () => ({ stack, browser } = await openStackAndBrowser()));
after(() => closeStackAndBrowser(stack, browser));

test("an admin edits a template with a live preview, sends, and the user sees it", async () => {
  const context = await browser.newContext({ viewport: { width: 1320, height: 1000 } });
  const errors = [];
  const user = await context.newPage();
  user.on("pageerror", (e) => errors.push(e.message));
  await user.goto(`${stack.http}/?user=zoe`);
  await user.locator("#conn-text", { hasText: "live" }).waitFor({ timeout: 10000 });
  await postEvent(stack, { id: `evt_admin_${Date.now()}`, type: "order.created", userId: "zoe", occurredAt: new Date().toISOString(), data: { orderId: "o_1" } });
  await user.locator(".toast").first().waitFor({ timeout: 10000 });

  const admin = await context.newPage();
  admin.on("pageerror", (e) => errors.push(e.message));
  await admin.goto(`${stack.http}/admin.html`);
  await admin.locator("#dev-signin").click();
  await admin.locator("#templates tr").first().waitFor({ timeout: 10000 });
  // The chart shows the order created above.
  await admin.locator('#chart rect[data-type="order.created"]').first().waitFor({ timeout: 5000 });

  await admin.locator('#templates tr[data-key="order.created/in_app"]').click();
  await admin.locator("#preview", { hasText: "Order o_1042 confirmed" }).waitFor();
  const title = admin.locator('#fields textarea[name="title"]');
  await title.fill("Woo! Order {{ orderId | upper }} is in");
  await admin.locator("#preview", { hasText: "Woo! Order O_1042 is in" }).waitFor({ timeout: 5000 });
  // A broken template: the server's validation error is shown, nothing saved.
  await title.fill("Order {{ status }}");
  await admin.locator("#editor-error", { hasText: "status" }).waitFor({ timeout: 5000 });
  await title.fill("Woo! Order {{ orderId | upper }} is in");
  await admin.locator("#preview", { hasText: "Woo! Order O_1042 is in" }).waitFor({ timeout: 5000 });
  await admin.locator("#save").click();
  await admin.locator("#editor-ok", { hasText: "Saved" }).waitFor({ timeout: 5000 });
  await admin.locator('#templates tr[data-key="order.created/in_app"] .badge.on').waitFor();

  // The next order uses the override.
  await postEvent(stack, { id: `evt_admin2_${Date.now()}`, type: "order.created", userId: "zoe", occurredAt: new Date().toISOString(), data: { orderId: "o_77" } });
  await user.locator(".notification", { hasText: "Woo! Order O_77 is in" }).waitFor({ timeout: 10000 });

  // Send a literal notification to zoe.
  await admin.locator('#send-form input[name="users"]').fill("zoe");
  await admin.locator('#send-form input[name="title"]').fill("Flash sale");
  await admin.locator('#send-form textarea[name="message"]').fill("Everything 20% off until midnight");
  await admin.locator('#send-form select[name="priority"]').selectOption("high");
  await admin.locator('#send-form button[type="submit"]').click();
  await admin.locator("#send-ok", { hasText: "Queued for 1 user" }).waitFor({ timeout: 5000 });
  await user.locator(".toast", { hasText: "Flash sale" }).waitFor({ timeout: 10000 });

  mkdirSync(artifacts, { recursive: true });
  await admin.locator("#refresh").click();
  await admin.screenshot({ path: join(artifacts, "admin-console.png"), fullPage: true });
  assert.deepEqual(errors, []);
  await context.close();
});

test("a dead letter shows in the console, and a redrive delivers it once the cause is fixed", async () => {
  const page = await browser.newPage();
  await page.goto(`${stack.http}/admin.html?dev`);
  await page.locator("#templates tr").first().waitFor({ timeout: 10000 });
  const token = await page.evaluate(async () => (await (await fetch("/dev/token?user=admin&role=admin")).json()).token);
  const auth = { "content-type": "application/json", authorization: `Bearer ${token}` };
  // A template that compiles but runs out of its fuel budget at render time:
  // the worker cannot build the notification, so the event is dead-lettered.
  const path = `${stack.http}/admin/templates/payment.verified/in_app`;
  const bad = await fetch(path, { method: "PUT", headers: auth, body: JSON.stringify({
    title: "{% for i in range(100000) %}{% for j in range(100000) %}x{% endfor %}{% endfor %}", message: "m" }) });
  assert.equal(bad.status, 200);
  const user = await browser.newPage();
  await user.goto(`${stack.http}/?user=yan`);
  await user.locator("#conn-text", { hasText: "live" }).waitFor({ timeout: 10000 });
  await postEvent(stack, { id: `evt_dead_${Date.now()}`, type: "payment.verified", userId: "yan", occurredAt: new Date().toISOString(), data: { orderId: "o_5" } });

  // It reaches the dead-letter list after two tries.
  const button = page.locator('#dlq button[data-queue="events"]');
  for (let i = 0; i < 50 && await button.isDisabled(); i++) {
    await new Promise((r) => setTimeout(r, 200));
    await page.locator("#refresh").click();
  }
  await page.locator("#dlq code", { hasText: "payment.verified" }).waitFor({ timeout: 5000 });
  assert.equal(await user.locator(".notification").count(), 0);

  // Fix the cause, then redrive: the user gets the notification.
  assert.equal((await fetch(path, { method: "DELETE", headers: auth })).status, 204);
  await button.click();
  await page.locator('#dlq button[data-queue="events"]', { hasText: "Moved 1" }).waitFor({ timeout: 5000 });
  await user.locator(".notification", { hasText: "Payment received" }).waitFor({ timeout: 10000 });
  await page.locator("#dlq", { hasText: "Empty." }).first().waitFor({ timeout: 5000 });
  await page.close();
  await user.close();
});

test("the delivery log of one notification: queued, sent and delivered by email; clear errors; five dead-letter queues", async () => {
  const user = `ivy_${Date.now()}`;
  const token = (await (await fetch(`${stack.http}/dev/token?user=${user}`)).json()).token;
  const auth = { "content-type": "application/json", authorization: `Bearer ${token}` };
  const set = await fetch(`${stack.http}/preferences`, { method: "PATCH", headers: auth, body: JSON.stringify({ email: "success@simulator.amazonses.com" }) });
  assert.equal(set.status, 200);
  await postEvent(stack, { id: `evt_log_${Date.now()}`, type: "order.created", userId: user, occurredAt: new Date().toISOString(), data: { orderId: "o_88" } });

  // Wait (polling the API, not asserting) until SES's feedback has logged the email as delivered.
  let id = null;
  let log = [];
  for (let i = 0; i < 100 && !log.some((d) => d.channel === "email" && d.status === "delivered"); i++) {
    await new Promise((r) => setTimeout(r, 100));
    id ??= (await (await fetch(`${stack.http}/notifications`, { headers: auth })).json()).notifications[0]?.id;
    if (id) log = (await (await fetch(`${stack.http}/notifications/${id}/deliveries`, { headers: auth })).json()).deliveries;
  }
  assert.ok(id, "the notification was created");
  assert.ok(log.some((d) => d.channel === "email" && d.status === "delivered"), JSON.stringify(log));

  const page = await browser.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(e.message));
  await page.goto(`${stack.http}/admin.html?dev`);
  await page.locator("#templates tr").first().waitFor({ timeout: 10000 });

  // The dead-letters card lists the five queues, and says what feedback and webhooks are.
  for (const q of ["events", "broadcast", "deliveries", "feedback", "webhooks"]) {
    await page.locator(`#dlq button[data-queue="${q}"]`).waitFor({ timeout: 5000 });
    await page.locator("#dlq strong", { hasText: new RegExp(`^${q}$`) }).waitFor({ timeout: 5000 });
  }
  const explained = await page.locator("#dlq").locator("xpath=..").textContent();
  assert.match(explained, /feedback\s*=\s*SES's bounce, complaint/);
  assert.match(explained, /webhooks\s*=\s*signed webhooks to the shop/);

  // Without the user: the 400's field is turned into a clear message.
  const form = page.locator("#log-form");
  await form.locator('input[name="notification"]').fill(id);
  await form.locator('button[type="submit"]').click();
  await page.locator("#log-error", { hasText: "Give the user id too" }).waitFor({ timeout: 5000 });
  // Another user's id: 404.
  await form.locator('input[name="user"]').fill(`${user}_other`);
  await form.locator('button[type="submit"]').click();
  await page.locator("#log-error", { hasText: `User ${user}_other has no notification ${id}` }).waitFor({ timeout: 5000 });
  assert.equal(await page.locator("#log-rows tr").count(), 0);

  await form.locator('input[name="user"]').fill(user);
  await form.locator('button[type="submit"]').click();
  await page.locator('#log-rows tr[data-channel="email"][data-status="delivered"]').waitFor({ timeout: 5000 });
  assert.equal(await page.locator("#log-error").textContent(), "");
  const rows = await page.locator('#log-rows tr[data-channel="email"]').evaluateAll((trs) =>
    trs.map((tr) => [...tr.cells].map((td) => td.textContent)));
  assert.deepEqual(rows.map((r) => r[2]), ["queued", "sent", "delivered"]);
  assert.ok(rows.every((r) => r[1] === "email" && r[0] !== ""));
  // SES's message id shows from the send on; the delivered badge is green.
  assert.match(rows[1][3], /\S{8,}/);
  assert.equal(rows[2][3], rows[1][3]);
  assert.match(await page.locator('#log-rows tr[data-status="delivered"] .badge').getAttribute("class"), /\bgood\b/);
  assert.match(await page.locator("#log-summary").textContent(), new RegExp(`for ${id} of ${user}`));
  assert.deepEqual(errors, []);
  await page.close();
});
