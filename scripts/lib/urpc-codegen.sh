#!/usr/bin/env bash
# Checks the machine code of URPC's send and receive paths as the cores run them: builds
# urpc/codegen-probe (plain instances of try_send, try_recv, a typed Ping send and a typed Pong
# receive on the default 30-slot channel, and CoreUp's encode, not inlined) for both
# bare-metal targets with each core class's
# -C target-cpu, disassembles it with llvm-objdump (Rust's llvm-tools component, which
# scripts/lib/setup.sh installs from rust-toolchain.toml) and fails when
#   - a path loads or stores bytes or halfwords (ldrb, strb, ldrh, ldursb, ...): both targets
#     build with +strict-align, so a copy through a reference the compiler cannot prove
#     aligned becomes one access per byte (a 56-byte payload: 56 ldrb or strb, plus shifts);
#     the one exception is recv_pong's error result, see RECV_PONG_HALFWORD_STORES below;
#   - a path has more instructions than its bound below (the whole function, cold tails
#     included, as the disassembler lists it);
#   - an encoder (encode_core_up, and in the built kernels and monitor every
#     `<T as urpc::message::Message>::encode` the compiler kept out of line) stores bytes or
#     halfwords into the body: message::Body is 8-aligned and BodyWriter writes whole words.
#     Encoders may load bytes: a message's own u8 fields, and body bytes a word keeps.
#     The built binaries are checked only when build/ holds them (scripts/build; scripts/test
#     builds them after this step, and tests/tests/disassembly.rs checks them again).
#
# usage: scripts/lib/urpc-codegen.sh [--show]   (--show prints the disassembly as well)
# Called by scripts/test; needs the pinned toolchain with its targets and llvm-tools.
set -euo pipefail
REPO_ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$REPO_ROOT"

show=0
case "${1:-}" in
    --show) show=1 ;;
    "") ;;
    -h | --help) sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "urpc-codegen.sh: unknown argument '$1' (accepted: --show)" >&2; exit 2 ;;
esac

# Instruction bounds, per function, for every target and CPU. What a path must contain, on
# AArch64 (measured with the aligned payload: try_send 52, try_recv 74, send_ping 45,
# recv_pong 78 on cortex-a72, aarch64-unknown-none):
#   try_send   the copy: 7 word loads and 7 word stores (14); the sequence word's address and
#              store-release (2); the cached credit check (4); the slot index's bounds check
#              and wrap (5); counters (4); saving and restoring registers around the cold
#              credit refresh call and the call itself (12); the bounds-check panic tail (5):
#              about 46-52. Bound 64: room for scheduling differences between CPUs and
#              compiler versions, still far from a byte-wise copy (the [u8; 56] payload of
#              the first version: 172 instructions with 56 ldrb).
#   try_recv   the sequence load-acquire and compare (5), the copy (7 word loads, 7 word
#              stores, or pairs), the batched acknowledgement's store-release (5), counters
#              and wrap (6), the three results (Ok, Empty, Desync) and the flush on an empty
#              poll (about 25), the panic tail (5): about 74. Bound 90 (the first version: 166
#              with 56 strb).
#   send_ping  try_send with the encoding folded in (the tag and five zero words are stores
#              of constants): about 45. Bound 64.
#   recv_pong  try_recv plus the tag, reserved-bytes and trailing-zero checks as word
#              operations (about 10) and the error results: about 78. Bound 96.
#   encode_core_up  the fields of CoreUp (30 bytes: 4, 8, 8, 8, 1, 1) shifted and merged into
#              four words, stored as two pairs: about 15. Bound 32 (with the 1-aligned body:
#              byte stores for every field).
declare -A BOUND=([try_send]=64 [try_recv]=90 [send_ping]=64 [recv_pong]=96 [encode_core_up]=32)
# recv_pong returns Result<Pong, RecvMessageError>; its DecodeError::WrongTag result holds two
# u16 tags and a 2-byte discriminant, which the compiler writes with halfword stores into the
# caller's result slot. Those (at most 3) are not a copy of the payload; nothing else may be
# narrower than a word.
RECV_PONG_HALFWORD_STORES=3

host=$(rustc -vV | sed -n 's/^host: //p')
objdump=$(rustc --print sysroot)/lib/rustlib/$host/bin/llvm-objdump
if [ ! -x "$objdump" ]; then
    echo "urpc-codegen.sh: $objdump missing (rustup component add llvm-tools)" >&2
    exit 1
fi

failed=0
for target in aarch64-unknown-none aarch64-unknown-none-softfloat; do
    for cpu in cortex-a53 cortex-a72; do
        dir=target/urpc-codegen/$cpu
        RUSTFLAGS="-C target-cpu=$cpu" cargo build --quiet --release -p urpc-codegen-probe \
            --target "$target" --target-dir "$dir"
        rlib=$dir/$target/release/liburpc_codegen_probe.rlib
        listing=$("$objdump" -d --no-show-raw-insn --demangle "$rlib" 2>/dev/null)
        [ "$show" -eq 0 ] || printf '%s\n' "$listing"
        # One line per probe function: name, instructions, sub-word loads, sub-word byte
        # stores, sub-word halfword stores (mnemonics ld*/st* ending in b or h).
        table=$(printf '%s\n' "$listing" | awk '
            /^[0-9a-f]+ <urpc_codegen_probe::/ {
                name = $2; sub(/^<urpc_codegen_probe::/, "", name); sub(/::.*/, "", name)
                current = name; order[++n] = name; next
            }
            /^[0-9a-f]+ </ { current = ""; next }
            current != "" && /^ *[0-9a-f]+:[ \t]/ {
                split($0, field, "\t"); mnemonic = field[2]
                insns[current]++
                if (mnemonic ~ /^ld[a-z]*[bh]$/) loads[current]++
                if (mnemonic ~ /^st[a-z]*b$/) bytes[current]++
                if (mnemonic ~ /^st[a-z]*h$/) halves[current]++
            }
            END {
                for (i = 1; i <= n; i++) {
                    f = order[i]
                    printf "%s %d %d %d %d\n", f, insns[f], loads[f] + 0, bytes[f] + 0, halves[f] + 0
                }
            }')
        for function in try_send try_recv send_ping recv_pong encode_core_up; do
            line=$(printf '%s\n' "$table" | awk -v f="$function" '$1 == f')
            if [ -z "$line" ]; then
                echo "FAIL $target $cpu $function: not in the disassembly of $rlib" >&2
                failed=1
                continue
            fi
            read -r _ insns loads bytes halves <<<"$line"
            allowed_halves=0
            [ "$function" != recv_pong ] || allowed_halves=$RECV_PONG_HALFWORD_STORES
            verdict=ok
            problems=()
            # Fewer than 20 (8 for the encoder) would mean the listing was not parsed (or the probe
            # lost its path).
            least=20
            [ "$function" != encode_core_up ] || least=8
            [ "$insns" -ge "$least" ] || problems+=("only $insns instructions: the listing was not understood")
            [ "$insns" -le "${BOUND[$function]}" ] ||
                problems+=("$insns instructions, more than the bound ${BOUND[$function]}")
            [ "$loads" -eq 0 ] || [ "$function" = encode_core_up ] || problems+=("$loads byte/halfword loads")
            [ "$bytes" -eq 0 ] || problems+=("$bytes byte stores")
            [ "$halves" -le "$allowed_halves" ] ||
                problems+=("$halves halfword stores (at most $allowed_halves allowed)")
            if [ "${#problems[@]}" -gt 0 ]; then
                verdict="FAIL: $(printf '%s; ' "${problems[@]}")"
                verdict=${verdict%; }
                failed=1
            fi
            printf '%-31s %-11s %-10s %3s instructions (bound %3s), sub-word loads %2s, stores %2s: %s\n' \
                "$target" "$cpu" "$function" "$insns" "${BOUND[$function]}" "$loads" \
                "$((bytes + halves))" "$verdict"
        done
    done
done

# The encoders of the built kernels and monitor that stayed functions of their own: no byte or
# halfword store may remain in them.
built_encoders() { # ELF: one line per out-of-line encoder: name, instructions, sub-word stores
    "$objdump" -d --no-show-raw-insn --demangle "$1" 2>/dev/null | awk '
        /^[0-9a-f]+ </ {
            current = ""
            # Demangled, or as the ELF keeps legacy symbols: <T$u20$as$u20$urpc..message..Message$GT$::encode
            if ($0 ~ /urpc(::|\.\.)message(::|\.\.)Message(>|\$GT\$)::encode/) {
                current = $0; sub(/^[0-9a-f]+ </, "", current); sub(/>:$/, "", current)
                order[++n] = current
            }
            next
        }
        current != "" && /^ *[0-9a-f]+:[ \t]/ {
            split($0, field, "\t"); mnemonic = field[2]
            insns[current]++
            if (mnemonic ~ /^st[a-z]*[bh]$/) narrow[current]++
        }
        END { for (i = 1; i <= n; i++) printf "%s\t%d\t%d\n", order[i], insns[order[i]], narrow[order[i]] + 0 }'
}
for elf in cpu-driver-cortex-a53.elf cpu-driver-cortex-a72.elf el0-monitor.elf; do
    if [ ! -f "build/$elf" ]; then
        echo "build/$elf: not built yet, its encoders are not checked here (tests/tests/disassembly.rs does)"
        continue
    fi
    encoders=$(built_encoders "build/$elf")
    count=$(printf '%s' "$encoders" | grep -c . || true)
    narrow=$(printf '%s\n' "$encoders" | awk -F'\t' '$3 > 0 { printf "  %s: %d byte/halfword stores\n", $1, $3 }')
    if [ -n "$narrow" ]; then
        echo "FAIL build/$elf: encoders that store bytes or halfwords into the body:" >&2
        printf '%s\n' "$narrow" >&2
        failed=1
    else
        echo "build/$elf: $count out-of-line Message::encode functions, none stores a byte or halfword"
    fi
done
if [ "$failed" -ne 0 ]; then
    echo "urpc-codegen.sh: URPC's send or receive path copies byte-wise or grew past its bound," \
        "or an encoder writes sub-words (rerun with --show for the disassembly)" >&2
    exit 1
fi
echo "urpc-codegen.sh: every path copies by words and stays within its bound; encoders store words"
