#!/usr/bin/env node
// Scores a response with the real MDN HTTP Observatory tests (@mdn/mdn-http-observatory,
// version pinned in package.json), offline.
//
//   node score.mjs /tmp/api.json [--min 130] [--json]
//   node score.mjs https://localhost:8443/ [--http-port 8080] [--min 130] [--json]
//
// A JSON fixture describes the HTTPS response of the scanned page (see README.md); the
// script builds the same `Requests` object the Observatory's retriever would, runs every
// test of ALL_TESTS and computes the score exactly like `scanner/index.js` does.
// A URL is scanned for real with the Observatory's own retriever (no internet needed
// for localhost; give a self-signed CA with NODE_EXTRA_CA_CERTS so the certificate
// verifies, or HSTS and redirection score as "invalid certificate").
//
// Exit status: 0 when the score reaches --min (default 0), 1 when below, 2 on error.

import fs from "node:fs";
import path from "node:path";
import { createRequire } from "node:module";
import { fileURLToPath, pathToFileURL } from "node:url";

const PACKAGE = "@mdn/mdn-http-observatory";
const CORS_ORIGIN = "https://http-observatory.security.mozilla.org";

function usage(message) {
  if (message) console.error(`error: ${message}`);
  console.error(
    "usage: node score.mjs <fixture.json | https://host[:port]/path> " +
      "[--min N] [--http-port N] [--json]"
  );
  process.exit(2);
}

function parseArgs(argv) {
  const args = { target: null, min: 0, httpPort: null, json: false };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === "--min") args.min = Number(argv[++i]);
    else if (arg === "--http-port") args.httpPort = Number(argv[++i]);
    else if (arg === "--json") args.json = true;
    else if (arg === "-h" || arg === "--help") usage();
    else if (!args.target) args.target = arg;
    else usage(`unexpected argument ${arg}`);
  }
  if (!args.target) usage("missing fixture or URL");
  if (!Number.isFinite(args.min)) usage("--min needs a number");
  return args;
}

// ----- the Observatory package, loaded from this directory's node_modules -----

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(path.join(here, "package.json"));
const packageDir = path.dirname(require.resolve(`${PACKAGE}/package.json`));
const packageRequire = createRequire(path.join(packageDir, "package.json"));
const load = (relative) => import(pathToFileURL(path.join(packageDir, relative)).href);
const loadDependency = (name) => import(pathToFileURL(packageRequire.resolve(name)).href);

// The package's postinstall downloads Chromium's HSTS preload list and the IANA TLD
// list from the internet; we install with --ignore-scripts, so the preload list is
// absent. Only the "HSTS preloaded" bonus (+5) and the preloaded-redirect shortcut read
// it, and neither can apply to a test host, so an empty list scores everything else
// exactly. (The TLD list is only used by the web API, not by the tests.)
const preloadFile = path.join(packageDir, "conf", "hsts-preload.json");
let preloadListNote = null;
if (!fs.existsSync(preloadFile)) {
  fs.writeFileSync(preloadFile, "{}\n");
  preloadListNote = "HSTS preload list not downloaded (offline): preload bonus cannot apply";
} else if (fs.readFileSync(preloadFile, "utf8").trim() === "{}") {
  preloadListNote = "HSTS preload list is empty (offline): preload bonus cannot apply";
}

const { ALL_TESTS, ALGORITHM_VERSION } = await load("src/constants.js");
const { MINIMUM_SCORE_FOR_EXTRA_CREDIT } = await load("src/grader/charts.js");
const { getGradeForScore, getScoreDescription, getScoreModifier } = await load(
  "src/grader/grader.js"
);
const { Requests, HTML_TYPES } = await load("src/types.js");
const { parseHttpEquivHeaders } = await load("src/retriever/utils.js");
const { CookieJar } = await loadDependency("tough-cookie");

const packageVersion = JSON.parse(
  fs.readFileSync(path.join(packageDir, "package.json"), "utf8")
).version;

// ----- fixture mode: build the retriever's result from a JSON description -----

/**
 * Lower-cased header names; `set-cookie` stays an array like in axios. A `get` method,
 * like AxiosHeaders has, is needed by the CSP test.
 */
function toAxiosHeaders(input = {}) {
  const headers = {};
  for (const [name, value] of Object.entries(input)) {
    const key = name.toLowerCase();
    const values = Array.isArray(value) ? value.map(String) : [String(value)];
    if (key === "set-cookie") headers[key] = [...(headers[key] ?? []), ...values];
    else headers[key] = headers[key] ? `${headers[key]}, ${values.join(", ")}` : values.join(", ");
  }
  Object.defineProperty(headers, "get", {
    enumerable: false,
    value: (name) => headers[String(name).toLowerCase()] ?? null,
  });
  return headers;
}

function requestsFromFixture(fixture) {
  const hostname = fixture.hostname ?? "portcullis.example";
  const pagePath = fixture.path ?? "/";
  const httpsUrl = new URL(`https://${hostname}${pagePath}`);
  const httpUrl = new URL(`http://${hostname}${pagePath}`);
  const headers = toAxiosHeaders(fixture.headers);
  const body = fixture.body ?? "";
  const status = fixture.status ?? 200;
  const verified = fixture.validCertificate ?? true;

  const jar = new CookieJar();
  for (const cookie of headers["set-cookie"] ?? []) {
    try {
      jar.setCookieSync(cookie, httpsUrl.href);
    } catch {
      // tough-cookie drops what a browser would drop
    }
  }

  const requests = new Requests(hostname);
  const response = { status, headers, data: body, verified, config: { url: httpsUrl.href } };
  requests.responses.auto = response;
  requests.responses.https = response;

  // What plain HTTP on port 80 does: "redirect" (301 to the same host on HTTPS, the
  // default), "none" (nothing listens) or "same" (serves the page over HTTP too).
  const http = fixture.http ?? "redirect";
  if (http === "none") {
    requests.responses.http = null;
    requests.responses.httpRedirects = [];
  } else if (http === "redirect") {
    requests.responses.http = { ...response, verified };
    requests.responses.httpRedirects = [
      { url: httpUrl, status: 301 },
      { url: httpsUrl, status },
    ];
  } else if (http === "same") {
    requests.responses.http = { ...response, verified: true };
    requests.responses.httpRedirects = [{ url: httpUrl, status }];
  } else {
    throw new Error(`fixture.http must be "redirect", "none" or "same", not ${http}`);
  }
  requests.responses.httpsRedirects = requests.responses.httpRedirects;

  requests.session = { url: httpsUrl, jar, redirectHistory: requests.responses.httpRedirects };
  requests.resources.path = body;
  requests.responses.cors = {
    status,
    headers: toAxiosHeaders(fixture.corsHeaders ?? fixture.headers),
    request: { headers: { origin: CORS_ORIGIN } },
    verified,
  };

  const mime = (headers["content-type"] ?? "").split(";")[0].trim().toLowerCase();
  response.httpEquiv =
    HTML_TYPES.has(mime) && body ? parseHttpEquivHeaders(body, httpsUrl.href) : new Map();
  return requests;
}

// ----- URL mode: the Observatory's own retriever -----

async function requestsFromUrl(target, httpPort) {
  const { retrieve } = await load("src/retriever/retriever.js");
  const url = new URL(target);
  if (url.protocol !== "https:") throw new Error("scan an https:// URL");
  const options = { path: `${url.pathname}${url.search}` };
  if (url.port) options.httpsPort = url.port;
  if (httpPort) options.httpPort = httpPort;
  const requests = await retrieve(url.hostname, options);
  if (!requests.responses.auto) throw new Error("The site seems to be down.");
  return requests;
}

// ----- scoring, as in src/scanner/index.js -----

function score(requests) {
  const { status } = requests.responses.auto;
  if (status < 200 || (status >= 400 && ![401, 403].includes(status))) {
    throw new Error(`Site did respond with an unexpected HTTP status code ${status}.`);
  }
  const results = ALL_TESTS.map((test) => test(requests));
  let testsPassed = 0;
  let scoreWithExtraCredit = 100;
  let uncurvedScore = scoreWithExtraCredit;
  for (const result of results) {
    if (result.result) {
      result.scoreDescription = getScoreDescription(result.result);
      result.scoreModifier = getScoreModifier(result.result);
      testsPassed += result.pass ? 1 : 0;
      scoreWithExtraCredit += result.scoreModifier;
      if (result.scoreModifier < 0) uncurvedScore += result.scoreModifier;
    }
  }
  const total =
    uncurvedScore >= MINIMUM_SCORE_FOR_EXTRA_CREDIT ? scoreWithExtraCredit : uncurvedScore;
  const final = getGradeForScore(total);
  return {
    algorithmVersion: ALGORITHM_VERSION,
    observatoryVersion: packageVersion,
    score: final.score,
    grade: final.grade,
    uncurvedScore,
    extraCreditApplied: uncurvedScore >= MINIMUM_SCORE_FOR_EXTRA_CREDIT,
    testsPassed,
    testsQuantity: results.length,
    tests: results.map((result) => ({
      name: result.constructor.name,
      pass: result.pass,
      result: result.result,
      scoreModifier: result.scoreModifier ?? 0,
      description: (result.scoreDescription ?? "").replace(/<[^>]*>/g, "").replace(/\s+/g, " ").trim(),
    })),
  };
}

// ----- main -----

const args = parseArgs(process.argv.slice(2));
let report;
try {
  let requests;
  if (/^https?:\/\//.test(args.target)) {
    requests = await requestsFromUrl(args.target, args.httpPort);
  } else {
    const fixture = JSON.parse(fs.readFileSync(args.target, "utf8"));
    requests = requestsFromFixture(fixture);
  }
  report = score(requests);
} catch (error) {
  console.error(`error: ${error instanceof Error ? error.message : error}`);
  process.exit(2);
}

if (args.json) {
  console.log(JSON.stringify({ target: args.target, min: args.min, ...report }, null, 2));
} else {
  console.log(`${args.target}: score ${report.score} (${report.grade}), ` +
    `${report.testsPassed}/${report.testsQuantity} tests passed, ` +
    `Observatory ${report.observatoryVersion} algorithm v${report.algorithmVersion}`);
  for (const test of report.tests) {
    const modifier = test.scoreModifier > 0 ? `+${test.scoreModifier}` : `${test.scoreModifier}`;
    console.log(`  ${test.pass ? "pass" : "FAIL"} ${modifier.padStart(4)}  ` +
      `${test.name.padEnd(30)} ${test.result}`);
  }
  if (!report.extraCreditApplied) {
    console.log(`  (penalties brought the score below ${MINIMUM_SCORE_FOR_EXTRA_CREDIT}: no bonus counted)`);
  }
  if (preloadListNote) console.log(`  note: ${preloadListNote}`);
}

if (report.score < args.min) {
  console.error(`score ${report.score} is below the required ${args.min}`);
  process.exit(1);
}
