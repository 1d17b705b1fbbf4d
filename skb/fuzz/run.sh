#!/usr/bin/env bash
# Fuzzes the SKB's device-tree ingestion (Skb::from_dtb, then every query on what it accepts)
# with libFuzzer through cargo fuzz on the nightly toolchain.
#
# usage: skb/fuzz/run.sh [SECONDS]   (default 600)
#
# The working corpus, skb/fuzz/corpus/dtb (git-ignored), is seeded from the committed test
# fixtures in skb/tests/data (real board trees in boards/, QEMU's trees, synthetic ones) and
# grows between runs. Findings land in
# skb/fuzz/artifacts/dtb; replay one with `cargo +nightly fuzz run dtb FILE`.
set -euo pipefail
cd "$(dirname "$0")"
seconds=${1:-600}
rustup toolchain list | grep -q '^nightly' || rustup toolchain install nightly --profile minimal
command -v cargo-fuzz >/dev/null 2>&1 || cargo install cargo-fuzz --locked
mkdir -p corpus/dtb
for seed in ../tests/data/boards/*.dtb ../tests/data/*.dtb ../tests/data/synthetic/*.dtb; do
    if [ -f "$seed" ] && [ ! -e "corpus/dtb/$(basename "$seed")" ]; then
        cp "$seed" corpus/dtb/
    fi
done
echo "[fuzz] running the dtb target for ${seconds}s" >&2
# -timeout: one input taking over 10 s is a finding (a hang); -max_len: bigger than any seed.
exec cargo +nightly fuzz run dtb corpus/dtb -- -max_total_time="$seconds" -max_len=262144 -timeout=10
