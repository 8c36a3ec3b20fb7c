// The billing API's browser-facing guarantees, checked in a real browser: Debian's
// headless Chromium driven by playwright-core, against the real billing-api binary
// on loopback. Run through run.sh, which builds the binary and sets BILLING_API_BIN.
//
// 1. The usage page's nonce'd script and style run, with no CSP violation.
// 2. A script injected into the page without the nonce is blocked, the page sees a
//    `securitypolicyviolation`, and the browser's report reaches `/csp-reports`.
// 3. A page on an allowed origin reads `/v1/whoami` with an API key; a page on
//    another origin cannot (its `fetch` rejects).
// 4. Another origin cannot frame the usage page (while it can frame a page that
//    allows it).
//
// Every wait has a bound with ten times the room it needs here; the server, the
// helper servers and the browser are stopped in `after`, and on SIGINT / SIGTERM.

import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import { createHash, createPublicKey, randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import http from "node:http";
import https from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";

import { chromium } from "playwright-core";

// The bound of one browser action or navigation (each takes well under a second).
const ACTION_MS = 15_000;
// The bound of the server's start (a built binary starts in well under a second).
const START_MS = 30_000;
// The bound of a CSP report's delivery (Chromium sends it within about a second
// with --short-reporting-delay).
const REPORT_MS = 20_000;
// The bound of each test case.
const CASE_MS = 90_000;

const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";
const BIN = process.env.BILLING_API_BIN;

const ADMIN_TOKEN = `adm_${randomBytes(24).toString("hex")}`;

// State shared by the cases, set up once in `before`.
const ctx = {
  temp: null,
  server: null, // { child, origin, stdout: string[], stderr: string[], exited }
  httpsOrigin: null, // the TLS terminator in front of the server
  helpers: [], // http.Server
  allowedOrigin: null, // a helper page's origin, in --allowed-origins
  otherOrigin: null, // another helper's origin, not allowed
  browser: null,
  tenant: null,
  keyId: null,
  key: null,
};

function log(...args) {
  console.log("   ", ...args);
}

// Resolves `promise`, or rejects after `ms` with `what` in the message.
function bounded(promise, ms, what) {
  let timer;
  return Promise.race([
    promise,
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

// Polls `check` every 50 ms until it returns a truthy value; that value, or null
// after `ms`.
async function poll(ms, check) {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() >= deadline) return null;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

// The helper pages, served from other origins than the API's.
function helperHandler(request, response) {
  const url = new URL(request.url, "http://helper.invalid");
  const html = (body) => {
    response.writeHead(200, { "content-type": "text/html; charset=utf-8" });
    response.end(`<!doctype html><html><head><meta charset="utf-8"><title>helper</title></head><body>${body}</body></html>`);
  };
  if (url.pathname === "/blank") {
    html("<p>A page on another origin.</p>");
  } else if (url.pathname === "/framed") {
    // A page that sets no framing restriction: the control of case 4.
    html('<p id="framed">this page may be framed</p>');
  } else if (url.pathname === "/frames") {
    const target = url.searchParams.get("target") ?? "";
    const control = url.searchParams.get("control") ?? "";
    html(
      `<iframe id="target" src="${encodeURI(target)}"></iframe>` +
        `<iframe id="control" src="${encodeURI(control)}"></iframe>`,
    );
  } else {
    response.writeHead(404, { "content-type": "text/plain" });
    response.end("not found");
  }
}

// A self-signed certificate for 127.0.0.1 (openssl, a second's work) and the
// base64 SHA-256 of its public key, which Chromium is told to accept.
async function makeCertificate() {
  const key = join(ctx.temp, "tls-key.pem");
  const cert = join(ctx.temp, "tls-cert.pem");
  await new Promise((resolve, reject) =>
    execFile(
      "openssl",
      [
        "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
        "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1",
        "-addext", "subjectAltName=IP:127.0.0.1",
        "-keyout", key, "-out", cert,
      ],
      { timeout: START_MS },
      (error, _stdout, stderr) => (error ? reject(new Error(`openssl: ${error.message} ${stderr}`)) : resolve()),
    ),
  );
  const spki = createPublicKey(readFileSync(key)).export({ type: "spki", format: "der" });
  return {
    key: readFileSync(key),
    cert: readFileSync(cert),
    spki: createHash("sha256").update(spki).digest("base64"),
  };
}

// A TLS terminator in front of billing-api, as in production: it forwards every
// request with `X-Forwarded-For` and `X-Forwarded-Proto: https`, which billing-api
// believes because it runs with `--trusted-proxies 127.0.0.1/32`.
async function startTlsTerminator(tls, upstreamPort) {
  const server = https.createServer({ key: tls.key, cert: tls.cert }, (request, response) => {
    const upstream = http.request(
      {
        host: "127.0.0.1",
        port: upstreamPort,
        method: request.method,
        path: request.url,
        headers: {
          ...request.headers,
          "x-forwarded-for": request.socket.remoteAddress,
          "x-forwarded-proto": "https",
        },
        timeout: ACTION_MS,
      },
      (answer) => {
        response.writeHead(answer.statusCode, answer.headers);
        answer.pipe(response);
      },
    );
    upstream.on("timeout", () => upstream.destroy(new Error("upstream timed out")));
    upstream.on("error", (error) => {
      if (!response.headersSent) response.writeHead(502, { "content-type": "text/plain" });
      response.end(`upstream: ${error.message}`);
    });
    request.pipe(upstream);
  });
  await listen(server);
  return `https://127.0.0.1:${server.address().port}`;
}

async function listen(server) {
  await bounded(
    new Promise((resolve, reject) => {
      server.once("error", reject);
      server.listen(0, "127.0.0.1", resolve);
    }),
    ACTION_MS,
    "a helper server listens",
  );
  ctx.helpers.push(server);
}

async function startHelper() {
  const server = http.createServer(helperHandler);
  await listen(server);
  return `http://127.0.0.1:${server.address().port}`;
}

// Starts billing-api on a free port with a SQLite file in the temporary directory,
// and waits for its banner's address.
async function startServer() {
  // Nothing of this environment (CI exports DATABASE_URL and REDIS_URL) reaches the
  // server; the collector's summary of each report request is a WARN line.
  const env = { PATH: process.env.PATH, RUST_BACKTRACE: "1", RUST_LOG: "warn" };
  const child = spawn(
    BIN,
    [
      "--listen", "127.0.0.1:0",
      "--database-url", `sqlite://${join(ctx.temp, "billing.db")}`,
      "--audit-log", join(ctx.temp, "audit.log"),
      "--admin-token", ADMIN_TOKEN,
      "--allowed-origins", ctx.allowedOrigin,
      "--trusted-proxies", "127.0.0.1/32",
    ],
    { env, stdio: ["ignore", "pipe", "pipe"] },
  );
  const server = { child, origin: null, stdout: [], stderr: [], exited: null };
  ctx.server = server;
  child.on("exit", (code, signal) => {
    server.exited = { code, signal };
  });
  // Without the colours tracing may add.
  createInterface({ input: child.stderr }).on("line", (line) =>
    server.stderr.push(line.replace(/\x1b\[[0-9;]*m/g, "")),
  );
  const lines = createInterface({ input: child.stdout });
  lines.on("line", (line) => server.stdout.push(line));
  const origin = await poll(START_MS, () => {
    if (server.exited) {
      throw new Error(
        `billing-api exited (${JSON.stringify(server.exited)}) before listening:\n` +
          [...server.stdout, ...server.stderr].join("\n"),
      );
    }
    for (const line of server.stdout) {
      const match = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(line);
      if (match) return match[1];
    }
    return null;
  });
  assert.ok(origin, `billing-api printed its address within ${START_MS} ms`);
  server.origin = origin;
}

async function stopServer() {
  const server = ctx.server;
  if (!server || server.exited) return;
  server.child.kill("SIGTERM");
  const exited = await poll(10_000, () => server.exited);
  if (!exited) {
    server.child.kill("SIGKILL");
    await poll(5_000, () => server.exited);
  }
}

// A request to the API from this process (the admin set-up).
async function api(method, path, body, headers = {}) {
  const response = await fetch(`${ctx.server.origin}${path}`, {
    method,
    headers: {
      ...headers,
      ...(body ? { "content-type": "application/json" } : {}),
    },
    body: body ? JSON.stringify(body) : undefined,
    signal: AbortSignal.timeout(ACTION_MS),
  });
  const text = await response.text();
  let json = null;
  try {
    json = JSON.parse(text);
  } catch {}
  return { status: response.status, headers: response.headers, json, text };
}

async function admin(method, path, body) {
  return api(method, path, body, { authorization: `Bearer ${ADMIN_TOKEN}` });
}

// A new browser context and page that records CSP violations (from the first
// byte of every document, before any page script) and console errors.
async function newPage(options = {}) {
  const context = await ctx.browser.newContext(options);
  context.setDefaultTimeout(ACTION_MS);
  context.setDefaultNavigationTimeout(ACTION_MS);
  await context.addInitScript(() => {
    window.__violations = [];
    document.addEventListener("securitypolicyviolation", (event) => {
      window.__violations.push({
        effectiveDirective: event.effectiveDirective,
        blockedURI: event.blockedURI,
        disposition: event.disposition,
        sample: event.sample,
      });
    });
  });
  const page = await context.newPage();
  const consoleErrors = [];
  page.on("console", (message) => {
    // Chromium asks every origin for /favicon.ico by itself; the server's 404 for it
    // is the browser's business, not the page's.
    if (message.type() === "error" && !message.location().url.endsWith("/favicon.ico")) {
      consoleErrors.push(message.text());
    }
  });
  page.on("pageerror", (error) => consoleErrors.push(`page error: ${error.message}`));
  return { context, page, consoleErrors };
}

// The usage page's URL, on billing-api itself or behind the TLS terminator.
function usageUrl(origin = ctx.server.origin) {
  return `${origin}/`;
}

async function cleanUp() {
  if (ctx.browser) {
    await bounded(ctx.browser.close(), ACTION_MS, "the browser closes").catch((error) =>
      console.error(`browser: ${error.message}`),
    );
    ctx.browser = null;
  }
  await stopServer();
  for (const helper of ctx.helpers.splice(0)) {
    helper.closeAllConnections();
    helper.close();
  }
  if (ctx.temp) {
    rmSync(ctx.temp, { recursive: true, force: true });
    ctx.temp = null;
  }
}

// Signals (run.sh's overall timeout sends SIGTERM) and an unexpected exit still
// stop the server; Playwright closes its browser on these signals by itself.
for (const signal of ["SIGINT", "SIGTERM"]) {
  process.once(signal, () => {
    ctx.server?.child.kill("SIGKILL");
    if (ctx.temp) rmSync(ctx.temp, { recursive: true, force: true });
    process.exit(1);
  });
}
process.once("exit", () => {
  if (ctx.server && !ctx.server.exited) ctx.server.child.kill("SIGKILL");
});

before(async () => {
  assert.ok(BIN, "BILLING_API_BIN names the billing-api binary (run.sh sets it)");
  ctx.temp = mkdtempSync(join(tmpdir(), "billing-api-browser-"));
  ctx.allowedOrigin = await startHelper();
  ctx.otherOrigin = await startHelper();
  await startServer();
  const tls = await makeCertificate();
  ctx.httpsOrigin = await startTlsTerminator(tls, new URL(ctx.server.origin).port);
  log(
    `billing-api at ${ctx.server.origin}, behind TLS at ${ctx.httpsOrigin}; ` +
      `allowed origin ${ctx.allowedOrigin}; other origin ${ctx.otherOrigin}`,
  );

  const tenant = await admin("POST", "/admin/tenants", { name: "Browser", email: "ops@example.com" });
  assert.equal(tenant.status, 201, tenant.text);
  ctx.tenant = tenant.json.id;
  const key = await admin("POST", `/admin/tenants/${ctx.tenant}/keys`, { name: "browser tests" });
  assert.equal(key.status, 201, key.text);
  ctx.keyId = key.json.id;
  ctx.key = key.json.key;
  log(`tenant ${ctx.tenant}, key ${ctx.keyId}`);

  ctx.browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    timeout: START_MS,
    // Playwright gives the browser a fresh temporary --user-data-dir, removed on
    // close.
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      // Reporting API uploads within about 100 ms instead of batching them for a
      // minute (a Chromium switch for tests).
      "--short-reporting-delay",
      // The TLS terminator's self-signed certificate, and no other.
      `--ignore-certificate-errors-spki-list=${tls.spki}`,
    ],
  });
  log(`browser: Chromium ${ctx.browser.version()}`);
}, { timeout: CASE_MS });

after(cleanUp, { timeout: CASE_MS });

test("the usage page's nonce'd script and style run with no CSP violation", { timeout: CASE_MS }, async () => {
  const { context, page, consoleErrors } = await newPage();
  try {
    const response = await page.goto(usageUrl());
    assert.equal(response.status(), 200);
    const csp = response.headers()["content-security-policy"] ?? "";
    const nonce = /'nonce-([^']+)'/.exec(csp)?.[1];
    log(`CSP: ${csp}`);
    log(`X-Frame-Options: ${response.headers()["x-frame-options"]}`);
    assert.ok(nonce, "the page's CSP carries a nonce");
    assert.match(csp, /script-src 'nonce-/);
    const scriptNonce = await page.locator("script").first().evaluate((script) => script.nonce);
    assert.equal(scriptNonce, nonce, "the inline script carries the response's nonce");

    // The nonce'd style applies: it sets the body's max width to 40rem.
    const maxWidth = await page.evaluate(() => getComputedStyle(document.body).maxWidth);
    log(`nonce'd style: body max-width ${maxWidth}`);
    assert.equal(maxWidth, "640px");

    // The nonce'd script runs: it handles the form and shows the key's usage.
    await page.fill("#key", ctx.key);
    await page.click("button[type=submit]");
    const status = page.locator("#status");
    await status.filter({ hasText: /^Tenant / }).waitFor();
    const statusText = await status.textContent();
    const quotas = await page.locator("#quotas .quota").count();
    const meters = await page.locator("#quotas meter").count();
    log(`nonce'd script: status "${statusText}", ${quotas} quota blocks, ${meters} meters`);
    assert.match(statusText, new RegExp(`^Tenant ${ctx.tenant}, plan free`));
    assert.ok(quotas >= 1, "the script drew a block per quota");
    assert.equal(meters, quotas);

    const violations = await page.evaluate(() => window.__violations);
    log(`securitypolicyviolation events: ${JSON.stringify(violations)}`);
    log(`console errors: ${JSON.stringify(consoleErrors)}`);
    assert.deepEqual(violations, []);
    assert.deepEqual(consoleErrors, []);
  } finally {
    await context.close();
  }
});

test("an injected script without the nonce is blocked and reported to /csp-reports", { timeout: CASE_MS }, async () => {
  // Over https, behind the TLS terminator: Chromium registers `Reporting-Endpoints`
  // only for https documents, and the page's `report-to` makes it ignore
  // `report-uri`, so over plain http it would never send the report.
  // (ignoreHTTPSErrors is for Playwright's own fetch of the page below.)
  const { context, page, consoleErrors } = await newPage({ ignoreHTTPSErrors: true });
  const url = usageUrl(ctx.httpsOrigin);
  try {
    // Markup injection, as a stored XSS would do it: the server's real response
    // (headers, nonce and all) with one more inline script, which has no nonce.
    const marker = `injected-${randomBytes(6).toString("hex")}`;
    await page.route(url, async (route) => {
      const response = await route.fetch({ timeout: ACTION_MS });
      const body = (await response.text()).replace(
        "</body>",
        `<script>window.__injected = true; document.title = "${marker}";</script></body>`,
      );
      await route.fulfill({ response, body });
    });
    const reportsBefore = ctx.server.stderr.filter((line) => line.includes("CSP violation reported")).length;
    const loaded = Date.now();
    const response = await page.goto(url);
    log(`${url}: ${response.status()}, Reporting-Endpoints: ${response.headers()["reporting-endpoints"]}`);

    const violation = await poll(ACTION_MS, () =>
      page.evaluate(() => window.__violations.find((v) => v.blockedURI === "inline")),
    );
    const injected = await page.evaluate(() => window.__injected === true);
    const title = await page.title();
    log(`injected script ran: ${injected}; title "${title}"`);
    log(`securitypolicyviolation: ${JSON.stringify(violation)}`);
    log(`console errors: ${JSON.stringify(consoleErrors)}`);
    assert.equal(injected, false, "the injected script did not run");
    assert.notEqual(title, marker);
    assert.ok(violation, "a securitypolicyviolation event fired for the inline script");
    assert.equal(violation.effectiveDirective, "script-src-elem");
    assert.equal(violation.disposition, "enforce");
    assert.ok(
      consoleErrors.some((error) => error.includes("Content Security Policy")),
      "the console says the script was refused",
    );
    // The page's own script still runs: the block is not the page breaking.
    assert.equal(await page.locator("#form").count(), 1);

    // The browser posts the report to the collector, which logs a summary line.
    const line = await poll(REPORT_MS, () =>
      ctx.server.stderr
        .filter((line) => line.includes("CSP violation reported"))
        .slice(reportsBefore)
        .find((line) => line.includes("script-src-elem") && line.includes("inline")),
    );
    log(`collector, ${Date.now() - loaded} ms after the page was asked for: ${line ?? "(nothing)"}`);
    assert.ok(line, `the report reached /csp-reports within ${REPORT_MS} ms`);
    assert.ok(line.includes(`document_url="${url}"`), "the report names the page");
  } finally {
    await context.close();
  }
});

// `fetch` of /v1/whoami with the API key from a page on `origin`: what the page saw.
async function whoamiFrom(origin) {
  const { context, page } = await newPage();
  try {
    await page.goto(`${origin}/blank`);
    return await page.evaluate(
      async ({ url, key, ms }) => {
        try {
          const response = await fetch(url, {
            headers: { "X-API-Key": key },
            signal: AbortSignal.timeout(ms),
          });
          return { fetched: true, status: response.status, body: await response.json() };
        } catch (error) {
          return { fetched: false, error: `${error.name}: ${error.message}` };
        }
      },
      { url: `${ctx.server.origin}/v1/whoami`, key: ctx.key, ms: ACTION_MS },
    );
  } finally {
    await context.close();
  }
}

test("an allowed origin reads /v1/whoami with a key; another origin cannot", { timeout: CASE_MS }, async () => {
  const allowed = await whoamiFrom(ctx.allowedOrigin);
  log(`from ${ctx.allowedOrigin} (allowed): ${JSON.stringify(allowed)}`);
  assert.equal(allowed.fetched, true, allowed.error);
  assert.equal(allowed.status, 200);
  assert.equal(allowed.body.tenant_id, ctx.tenant);
  assert.equal(allowed.body.key_id, ctx.keyId);

  const other = await whoamiFrom(ctx.otherOrigin);
  log(`from ${ctx.otherOrigin} (not allowed): ${JSON.stringify(other)}`);
  assert.equal(other.fetched, false, "the page read the response");
  assert.match(other.error, /^TypeError: /);

  // The refusal is the server's: its preflight answer to that origin allows nothing.
  const preflight = await api("OPTIONS", "/v1/whoami", null, {
    origin: ctx.otherOrigin,
    "access-control-request-method": "GET",
    "access-control-request-headers": "x-api-key",
  });
  log(`preflight from ${ctx.otherOrigin}: ${preflight.status}, ${preflight.json?.code}`);
  assert.equal(preflight.status, 403);
  assert.equal(preflight.headers.get("access-control-allow-origin"), null);
});

test("another origin cannot frame the usage page", { timeout: CASE_MS }, async () => {
  const { context, page, consoleErrors } = await newPage();
  try {
    const target = usageUrl();
    const control = `${ctx.allowedOrigin}/framed`;
    const framer = `${ctx.otherOrigin}/frames?target=${encodeURIComponent(target)}&control=${encodeURIComponent(control)}`;
    await page.goto(framer, { waitUntil: "load" });

    const controlFrame = await page.locator("#control").contentFrame();
    const targetFrame = await page.locator("#target").contentFrame();
    // The control: a page that allows framing loads in the same kind of frame.
    await controlFrame.locator("#framed").waitFor();
    log(`control frame: ${await page.locator("#control").evaluate((f) => f.src)} -> ${await frameUrl(page, "#control")}`);

    // The usage page's frame ends on Chromium's error page, with none of the page.
    const url = await poll(ACTION_MS, async () => {
      const url = await frameUrl(page, "#target");
      return url && url !== "about:blank" ? url : null;
    });
    const forms = await targetFrame.locator("#form").count();
    const refusals = consoleErrors.filter((error) => error.includes("frame-ancestors") || error.includes("X-Frame-Options"));
    log(`usage page frame: ${target} -> ${url}; #form elements: ${forms}`);
    log(`console: ${JSON.stringify(refusals)}`);
    assert.match(url ?? "", /^chrome-error:\/\//, "the framed usage page did not load");
    assert.equal(forms, 0);
    assert.ok(refusals.length > 0, "the console names the refusing header");
  } finally {
    await context.close();
  }
});

// The URL of the document in the iframe `selector` (Playwright sees into every
// frame, cross-origin or not).
async function frameUrl(page, selector) {
  const handle = await page.locator(selector).elementHandle();
  const frame = await handle.contentFrame();
  return frame?.url() ?? null;
}
