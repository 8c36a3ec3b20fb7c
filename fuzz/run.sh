#!/usr/bin/env bash
# Builds every cargo-fuzz target and runs each for SECONDS_PER_TARGET (default 60),
# printing the executions each reached. Exits non-zero if any target crashed, hung or
# ran out of memory; the input that did it is under fuzz/artifacts/<target>/.
#
#   bash fuzz/run.sh [SECONDS_PER_TARGET]
#
# FUZZ_CORPUS_DIR sets where the growing corpora go (default fuzz/corpus, ignored by
# git); the committed seeds under fuzz/seeds/<target>/ are read, never written.
set -euo pipefail

seconds="${1:-60}"
here="$(cd "$(dirname "$0")" && pwd)"
cd "$here"

if ! cargo fuzz --version >/dev/null 2>&1; then
    cargo install cargo-fuzz --locked
fi
cargo +nightly fuzz build

corpus_root="${FUZZ_CORPUS_DIR:-$here/corpus}"
failed=()
started=$(date +%s)
for target in $(cargo +nightly fuzz list); do
    mkdir -p "$corpus_root/$target"
    seeds=()
    if [ -d "seeds/$target" ]; then
        seeds=("seeds/$target")
    fi
    log="$(mktemp)"
    # -timeout: an input that takes 10 s is a hang, reported as a crash.
    if cargo +nightly fuzz run "$target" "$corpus_root/$target" "${seeds[@]}" -- \
        -max_total_time="$seconds" -timeout=10 -print_final_stats=1 >"$log" 2>&1; then
        status=ok
    else
        status=FAILED
        failed+=("$target")
    fi
    executions="$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | tail -n 1 | grep -o '[0-9]*$' || true)"
    printf '%-18s %-7s %12s executions in %s s\n' "$target" "$status" "${executions:-?}" "$seconds"
    if [ "$status" != ok ]; then
        grep -E 'panicked|ERROR: libFuzzer|SUMMARY|Test unit written|^Output of' -A3 "$log" | head -n 40 || tail -n 40 "$log"
    fi
    rm -f "$log"
done
echo "all targets: $(( $(date +%s) - started )) s"

if [ "${#failed[@]}" -ne 0 ]; then
    echo "crashed: ${failed[*]} (inputs under fuzz/artifacts/; reproduce with cargo +nightly fuzz run <target> <file>)" >&2
    exit 1
fi
