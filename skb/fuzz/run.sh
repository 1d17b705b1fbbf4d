#!/usr/bin/env bash
# Fuzzes the SKB's device-tree ingestion with libFuzzer (cargo fuzz, nightly toolchain).
# usage: skb/fuzz/run.sh [SECONDS]   (default 600; the corpus is seeded from ../shared/dtbs
# and skb/tests/data, and kept in skb/fuzz/corpus/dtb between runs)
set -euo pipefail
cd "$(dirname "$0")"
seconds=${1:-600}
command -v cargo-fuzz >/dev/null 2>&1 || cargo install cargo-fuzz --locked
rustup toolchain list | grep -q nightly || rustup toolchain install nightly --profile minimal
mkdir -p corpus/dtb
for seed in ../../../shared/dtbs/*.dtb ../tests/data/*.dtb; do
    [ -f "$seed" ] && cp -n "$seed" corpus/dtb/ 2>/dev/null || true
done
echo "[fuzz] running the dtb target for ${seconds}s" >&2
exec cargo +nightly fuzz run dtb corpus/dtb -- -max_total_time="$seconds" -max_len=262144 -timeout=10
