#!/usr/bin/env bash
# Fuzzes every untrusted parser with libFuzzer (cargo-fuzz), each for a bounded time.
#   ./scripts/fuzz.sh [seconds-per-target] [target...]     (default 60 s, every target)
#   SAVE_CORPUS=1 ./scripts/fuzz.sh ...   also keep a minimised sample of the grown corpus
#
# Needs a nightly toolchain (installed with rustup when missing) and cargo-fuzz (installed with
# cargo when missing). Inputs that crash are copied into fuzz/regressions/<target>/, which the
# stable test `cargo test -p wxpay-fuzz` replays in CI; fix the crash, then commit the input.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
SECONDS_PER_TARGET=${1:-60}
shift || true

if ! rustup run nightly rustc --version >/dev/null 2>&1; then
  echo "installing the nightly toolchain (cargo-fuzz needs it for -Zsanitizer and libFuzzer)"
  if ! rustup toolchain install nightly --profile minimal; then
    echo "cannot install a nightly toolchain with rustup here; fuzzing needs one" >&2
    exit 1
  fi
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "installing cargo-fuzz"
  cargo install cargo-fuzz --locked
fi

TARGETS=("$@")
if [ ${#TARGETS[@]} -eq 0 ]; then
  mapfile -t TARGETS < <(ls fuzz/fuzz_targets | sed 's/\.rs$//' | sort)
fi

SUMMARY=$(mktemp)
trap 'rm -f "$SUMMARY"' EXIT
status=0
for target in "${TARGETS[@]}"; do
  features=()
  sanitizer=address
  if [ "$target" = server_json_bodies ]; then
    # The server pulls in aws-lc (C); its build does not take ASan's flags, and our code has no
    # unsafe for ASan to check, so this one runs on libFuzzer's coverage alone.
    features=(--features server)
    sanitizer=none
  fi
  corpus="fuzz/corpus/$target"
  rm -rf "fuzz/artifacts/$target"
  mkdir -p "$corpus" "fuzz/artifacts/$target"
  cp -n "fuzz/regressions/$target/"* "$corpus/" 2>/dev/null || true
  log=$(mktemp)
  echo "==> $target (${SECONDS_PER_TARGET}s, sanitizer $sanitizer)"
  # -rss_limit_mb catches unbounded allocation; -max_len keeps inputs at a realistic size
  # (the server refuses notification bodies over 64 KiB).
  if cargo +nightly fuzz run "${features[@]}" --sanitizer "$sanitizer" "$target" "$corpus" -- \
      -max_total_time="$SECONDS_PER_TARGET" -rss_limit_mb=1024 -max_len=65536 \
      -timeout=10 -print_final_stats=1 >"$log" 2>&1; then
    result=ok
  else
    result=FAILED
    status=1
    tail -40 "$log"
    for found in "fuzz/artifacts/$target"/*; do
      [ -f "$found" ] && cp "$found" "fuzz/regressions/$target/" && echo "kept $found in fuzz/regressions/$target/"
    done
  fi
  runs=$(grep -Eo 'stat::number_of_executed_units: *[0-9]+' "$log" | grep -Eo '[0-9]+$' | tail -1 || true)
  rate=$(grep -Eo 'stat::average_exec_per_sec: *[0-9]+' "$log" | grep -Eo '[0-9]+$' | tail -1 || true)
  cov=$(grep -Eo 'cov: [0-9]+' "$log" | tail -1 | grep -Eo '[0-9]+' || true)
  printf '%-26s %-7s %12s runs %9s/s  coverage %s\n' "$target" "$result" "${runs:-?}" "${rate:-?}" "${cov:-?}" >>"$SUMMARY"
  if [ "${SAVE_CORPUS:-0}" = 1 ] && [ "$result" = ok ]; then
    # A small, minimised sample of what the run found, for the stable replay.
    min=$(mktemp -d)
    cargo +nightly fuzz cmin "${features[@]}" --sanitizer "$sanitizer" "$target" "$corpus" >/dev/null 2>&1 || true
    ls -S -r "$corpus" | head -32 | while read -r f; do cp "$corpus/$f" "$min/"; done
    cp -n "$min"/* "fuzz/regressions/$target/" 2>/dev/null || true
    rm -rf "$min"
  fi
  rm -f "$log"
done

echo
echo "target                     result         executions      rate  edges"
cat "$SUMMARY"
cd "$ROOT"
exit $status
