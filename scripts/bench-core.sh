#!/usr/bin/env bash
# Benchmarks wxpay-core's hot paths (criterion) and prints each next to `openssl speed` for the
# same primitive, measured in the same run on the same machine, as a ratio (ours / OpenSSL).
set -euo pipefail
cd "$(dirname "$0")/.."

command -v openssl >/dev/null || { echo "openssl is needed for the baseline" >&2; exit 1; }
OUT=$(mktemp)
trap 'rm -f "$OUT"' EXIT

# A failed bench build or run stops the script (pipefail) instead of printing "(not run)" rows.
cargo bench -q -p wxpay-core --features private-key --bench crypto -- \
  --output-format bencher --warm-up-time 1 --measurement-time 3 | tee "$OUT" | grep '^test '

# ns per operation from criterion's bencher lines: "test NAME ... bench: 1,234 ns/iter (+/- 5)"
ours() { awk -v n="$1" '$1=="test" && $2==n { gsub(",","",$5); print $5 }' "$OUT"; }

# OpenSSL baselines (machine-readable output), converted to ns per operation.
read -r rsa_sign_s rsa_verify_s < <(openssl speed -mr -seconds 2 rsa2048 2>/dev/null |
  awk -F: '/^\+F2:/{print $4, $5}')
aes_bps=$(openssl speed -mr -seconds 2 -bytes 1024 -evp aes-256-gcm 2>/dev/null | awk -F: '/^\+F:/{print $4}')
md5_bps=$(openssl speed -mr -seconds 2 -bytes 160 -evp md5 2>/dev/null | awk -F: '/^\+F:/{print $4}')
hmac_bps=$(openssl speed -mr -seconds 2 -bytes 160 -hmac sha256 2>/dev/null | awk -F: '/^\+F:/{print $4}')

ossl_rsa_sign=$(awk -v s="$rsa_sign_s" 'BEGIN{printf "%.0f", 1e9/s}')
ossl_rsa_verify=$(awk -v s="$rsa_verify_s" 'BEGIN{printf "%.0f", 1e9/s}')
ossl_aes_1k=$(awk -v b="$aes_bps" 'BEGIN{printf "%.0f", 1024*1e9/b}')
ossl_md5=$(awk -v b="$md5_bps" 'BEGIN{printf "%.0f", 160*1e9/b}')
ossl_hmac=$(awk -v b="$hmac_bps" 'BEGIN{printf "%.0f", 160*1e9/b}')

echo
printf '%-40s %14s %14s %8s  %s\n' "operation (wxpay-core)" "ours ns/op" "openssl ns/op" "ratio" "openssl primitive"
row() {
  local name=$1 base=$2 what=$3 mine
  mine=$(ours "$name")
  [ -n "$mine" ] || { printf '%-40s %14s\n' "$name" "(not run)"; return; }
  printf '%-40s %14s %14s %8s  %s\n' "$name" "$mine" "$base" \
    "$(awk -v a="$mine" -v b="$base" 'BEGIN{printf "%.2fx", a/b}')" "$what"
}
row v3_request_sign "$ossl_rsa_sign" "rsa2048 sign"
row paysign "$ossl_rsa_sign" "rsa2048 sign"
row rsa_private_sign/aws-lc-rs "$ossl_rsa_sign" "rsa2048 sign"
row rsa_private_sign/rsa-crate "$ossl_rsa_sign" "rsa2048 sign"
row v3_verify "$ossl_rsa_verify" "rsa2048 verify"
row rsa_public_verify/aws-lc-rs "$ossl_rsa_verify" "rsa2048 verify"
row rsa_public_verify/rsa-crate "$ossl_rsa_verify" "rsa2048 verify"
row notification_verify_and_decrypt_1kib "$ossl_rsa_verify" "rsa2048 verify"
row notification_decrypt_1kib "$ossl_aes_1k" "aes-256-gcm, 1024 B"
row v2_sign_md5 "$ossl_md5" "md5, 160 B"
row v2_sign_hmac_sha256 "$ossl_hmac" "hmac(sha256), 160 B"
echo "(ratio = ours / OpenSSL $(openssl version | awk '{print $2}'); our rows include message building, Base64 and JSON work around the primitive)"
