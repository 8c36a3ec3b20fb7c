#!/usr/bin/env bash
# The billing API in a real browser: Debian's headless Chromium, driven by
# playwright-core (the system browser, never one of Playwright's downloads), against
# the real billing-api binary. See browser.test.mjs for the cases.
#
#   bash examples/billing-api/browser/run.sh            # chromium must be installed
#   bash examples/billing-api/browser/run.sh --install  # installs chromium (apt) first
#
# Without chromium it prints SKIPPED and fails, unless BROWSER_TESTS=skip is set
# (then it skips with exit status 0). With --install, as CI runs it, it never skips:
# the suite runs for real or the script fails.
#
# Figures: install (apt, npm ci), build and suite times are printed separately.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../../.." && pwd)"

install=false
case "${1:-}" in
  --install) install=true ;;
  "") ;;
  *) echo "usage: $0 [--install]" >&2; exit 2 ;;
esac

export CHROMIUM="${CHROMIUM:-/usr/bin/chromium}"
# playwright-core downloads nothing, but say so for any package that might.
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1

if $install; then
  start=$SECONDS
  missing=()
  [ -x "$CHROMIUM" ] || missing+=(chromium)
  command -v node >/dev/null 2>&1 || missing+=(nodejs)
  command -v npm >/dev/null 2>&1 || missing+=(npm)
  # The suite's TLS terminator makes its certificate with openssl.
  command -v openssl >/dev/null 2>&1 || missing+=(openssl)
  if [ ${#missing[@]} -gt 0 ]; then
    echo "browser: installing ${missing[*]} (apt)"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      "${missing[@]}" >/dev/null
  fi
  (cd "$here" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error)
  echo "browser: install took $((SECONDS - start)) s"
fi

if ! [ -x "$CHROMIUM" ]; then
  echo "################################################################" >&2
  echo "## SKIPPED: the browser tests need Chromium at $CHROMIUM" >&2
  echo "## (apt-get install chromium, or run this script with --install)." >&2
  echo "################################################################" >&2
  if [ "${BROWSER_TESTS:-}" = skip ] && ! $install; then
    exit 0
  fi
  echo "browser: failing because the suite did not run (BROWSER_TESTS=skip allows it)" >&2
  exit 1
fi
command -v node >/dev/null 2>&1 || { echo "browser: node is not installed" >&2; exit 1; }
if ! [ -d "$here/node_modules/playwright-core" ]; then
  (cd "$here" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error)
fi

# The binary: `cargo build -p billing-api`, or the cargo command in BILLING_API_BUILD
# (.ci/run passes its tests step's, so the binary that step built is used as it is).
start=$SECONDS
read -r -a build <<< "${BILLING_API_BUILD:-build -p billing-api}"
BILLING_API_BIN=$(cd "$root" &&
  cargo "${build[@]}" --quiet --locked --message-format=json-render-diagnostics |
  node -e '
    const lines = require("fs").readFileSync(0, "utf8").split("\n").filter(Boolean);
    const bin = lines.map((line) => JSON.parse(line)).find((m) =>
      m.reason === "compiler-artifact" && m.target.name === "billing-api" &&
      m.target.kind.includes("bin") && !m.profile.test && m.executable);
    if (!bin) { console.error("browser: cargo built no billing-api binary"); process.exit(1); }
    console.log(bin.executable);')
export BILLING_API_BIN
echo "browser: billing-api built in $((SECONDS - start)) s: $BILLING_API_BIN"
echo "browser: $("$CHROMIUM" --version 2>/dev/null)"

start=$SECONDS
# Every wait inside has its own bound; this one catches anything they miss, and
# signals the whole process group (node, the server, the helper pages).
status=0
timeout --kill-after=10 300 node --test-reporter=spec "$here/browser.test.mjs" || status=$?
echo "browser: suite took $((SECONDS - start)) s (exit status $status)"
exit "$status"
