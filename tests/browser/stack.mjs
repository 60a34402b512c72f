// Starts the local stack binary on free ports with a fresh data directory
// and reads the addresses it prints when ready. stop() deletes the directory
// (KEEP_TEST_DIRS=1 keeps it, to look at the data after a failure).
//
// The binary compiles web/ in (include_str!): a binary built before the last
// edit of a page would test the old page, so startStack() refuses one whose
// pages differ from web/ (rebuild it: cargo build -p local).

import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const root = resolve(import.meta.dirname, "../..");

export async function startStack() {
  const bin = process.env.LOCAL_BIN || join(root, "target/debug/local");
  const dataDir = mkdtempSync(join(tmpdir(), "notify-browser-"));
  const child = spawn(bin, ["--http-port", "0", "--ws-port", "0", "--data-dir", dataDir, "--retry-after-ms", "200", "--max-receives", "2"], {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, RUST_LOG: "warn" },
  });
  let out = "";
  let err = "";
  child.stderr.on("data", (d) => { err += d; });
  const ready = await new Promise((resolveReady, reject) => {
    const timer = setTimeout(() => reject(new Error(`local stack not ready in 20 s: ${out}${err}`)), 20000);
    child.on("error", (e) => reject(new Error(`cannot start ${bin} (build it with cargo build -p local): ${e.message}`)));
    child.on("exit", (code) => reject(new Error(`local stack exited with ${code}: ${err}`)));
    child.stdout.on("data", (d) => {
      out += d;
      const http = out.match(/demo page\s+(http:\/\/\S+?)\/\s/);
      const ws = out.match(/WebSocket\s+(ws:\/\/\S+?)\/\?token/);
      if (http && ws) {
        clearTimeout(timer);
        resolveReady({ http: http[1], ws: ws[1] });
      }
    });
  });
  try {
    const stale = await stalePages(ready.http);
    if (stale.length) {
      throw new Error(`${bin} serves other pages than ${stale.map((f) => `web/${f}`).join(", ")}: it was built before their last edit. `
        + "Rebuild it: cargo build -p local.");
    }
  } catch (e) {
    await new Promise((r) => { child.once("exit", r); child.kill("SIGINT"); });
    rmSync(dataDir, { recursive: true, force: true });
    throw e;
  }
  const removeDir = () => {
    if (process.env.KEEP_TEST_DIRS === "1") console.error(`KEEP_TEST_DIRS=1: kept ${dataDir}`);
    else rmSync(dataDir, { recursive: true, force: true });
  };
  return {
    ...ready,
    dataDir,
    stop: async () => {
      await new Promise((r) => { child.once("exit", r); child.kill("SIGINT"); });
      removeDir();
    },
  };
}

// The pages the binary serves, by request path, and their source in web/.
const PAGES = { "/": "index.html", "/index.html": "index.html", "/admin": "admin.html", "/admin.html": "admin.html", "/notify-client.js": "notify-client.js",
  "/sw.js": "sw.js" };
const fromDisk = (file) => readFileSync(join(root, "web", file));

async function stalePages(http) {
  const stale = [];
  for (const file of new Set(Object.values(PAGES))) {
    const served = Buffer.from(await (await fetch(`${http}/${file}`)).arrayBuffer());
    if (!served.equals(fromDisk(file))) stale.push(file);
  }
  return stale;
}

export async function postEvent(stack, event) {
  const res = await fetch(`${stack.http}/events`, {
    method: "POST",
    headers: { "content-type": "application/json", "x-api-key": "local-dev-key" },
    body: JSON.stringify(event),
  });
  if (res.status !== 202) throw new Error(`POST /events: ${res.status} ${await res.text()}`);
}

// Headless Debian Chromium, with the flags this sandboxed, offline machine needs.
export async function launchBrowser() {
  const { existsSync } = await import("node:fs");
  const { chromium } = await import("playwright-core");
  const bin = process.env.CHROMIUM || "/usr/bin/chromium";
  if (!existsSync(bin)) {
    throw new Error(`Chromium not found at ${bin}: apt-get install chromium (scripts/test.sh does), or set CHROMIUM`);
  }
  return chromium.launch({
    executablePath: bin,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
}

export const artifacts = resolve(import.meta.dirname, "../artifacts");

/** The stack and a browser for one test file (`before`), and their end (`after`). */
export async function openStackAndBrowser() {
  const stack = await startStack();
  return { stack, browser: await launchBrowser() };
}

export async function closeStackAndBrowser(stack, browser) {
  await browser?.close();
  await stack?.stop();
}
