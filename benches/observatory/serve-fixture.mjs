#!/usr/bin/env node
// Serves a fixture over HTTPS (and a 301 to it over HTTP) on 127.0.0.1, to check that
// URL mode and fixture mode of score.mjs agree. See README.md for the test CA.
//
//   node serve-fixture.mjs /tmp/strict.json --key leaf.key --cert leaf.pem \
//     [--https-port 8443] [--http-port 8080]

import fs from "node:fs";
import http from "node:http";
import https from "node:https";

const args = process.argv.slice(2);
const option = (name, fallback) => {
  const index = args.indexOf(name);
  return index === -1 ? fallback : args[index + 1];
};
const fixture = JSON.parse(fs.readFileSync(args[0], "utf8"));
const httpsPort = Number(option("--https-port", 8443));
const httpPort = Number(option("--http-port", 8080));
const tls = { key: fs.readFileSync(option("--key")), cert: fs.readFileSync(option("--cert")) };

https
  .createServer(tls, (request, response) => {
    response.writeHead(fixture.status ?? 200, fixture.headers);
    response.end(request.method === "HEAD" ? undefined : fixture.body ?? "");
  })
  .listen(httpsPort, "127.0.0.1");
http
  .createServer((request, response) => {
    const host = (request.headers.host ?? "localhost").replace(/:\d+$/, "");
    response.writeHead(301, { location: `https://${host}:${httpsPort}${request.url}` });
    response.end();
  })
  .listen(httpPort, "127.0.0.1");
console.log(`https://localhost:${httpsPort}/ (http://localhost:${httpPort}/ redirects)`);
