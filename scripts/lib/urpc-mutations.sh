#!/usr/bin/env bash
# Shows that URPC's tests catch what they claim: applies each mutation below (a weakened
# memory ordering, an off-by-one in the credits or the lap check, a missing flush) to a
# temporary copy of the repository, one at a time, runs the crate's tests on it (channel,
# messages, stress and sleep, release, URPC_STRESS_MESSAGES=1000000; then the loom models) and
# prints which tests fail. Exits 1 if some mutation fails no test, or if the unmutated copy
# fails one.
#
# usage: scripts/lib/urpc-mutations.sh [NAME...]   (default: every mutation; --list names them)
# Takes 1.5 to 3 minutes on two cores (each mutation rebuilds the crate twice); scripts/test
# runs it.
# Build products go to target/urpc-mutations/ of this checkout, so later runs reuse the
# dependencies.
set -euo pipefail
REPO_ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$REPO_ROOT"

# name | file | text (exactly once in the file) | replacement | what it breaks
MUTATIONS=(
    "seq-store-relaxed|urpc/src/line.rs|self.seq.store(seq, Ordering::Release);|self.seq.store(seq, Ordering::Relaxed);|the sequence word's store: Release -> Relaxed"
    "seq-load-relaxed|urpc/src/line.rs|self.seq.load(Ordering::Acquire)|self.seq.load(Ordering::Relaxed)|the sequence word's load: Acquire -> Relaxed"
    "ack-store-relaxed|urpc/src/endpoint.rs|consumed.store(self.received, Ordering::Release);|consumed.store(self.received, Ordering::Relaxed);|the acknowledgement store: Release -> Relaxed"
    "credit-load-relaxed|urpc/src/endpoint.rs|consumed.load(Ordering::Acquire);|consumed.load(Ordering::Relaxed);|the credit load: Acquire -> Relaxed"
    "credits-one-too-many|urpc/src/endpoint.rs|SLOTS - (self.sent - self.consumed_seen) as usize|SLOTS + 1 - (self.sent - self.consumed_seen) as usize|the sender's free slots: one more than the credits"
    "ack-one-ahead|urpc/src/endpoint.rs|consumed.store(self.received, Ordering::Release);|consumed.store(self.received + 1, Ordering::Release);|the receiver acknowledges one message more than it consumed"
    "ack-batch-late|urpc/src/endpoint.rs|if self.received - self.acknowledged >= Self::ACK_BATCH {|if self.received - self.acknowledged > Self::ACK_BATCH {|acknowledgements one message later than the batch"
    "no-flush-on-empty|urpc/src/endpoint.rs|        self.flush_acknowledgements();\n        RecvError::Empty|        RecvError::Empty|no flush of the acknowledgements on an empty poll"
    "sleep-fence-weak|urpc/src/sleep.rs|asleep.store(1, Ordering::Relaxed);\n        sync::fence(Ordering::SeqCst);|asleep.store(1, Ordering::Relaxed);\n        sync::fence(Ordering::AcqRel);|the receiver's barrier between its asleep flag and its look at the ring: SeqCst -> AcqRel"
    "notify-fence-weak|urpc/src/sleep.rs|sync::fence(Ordering::SeqCst);\n        self.ring.ack.asleep.load|sync::fence(Ordering::AcqRel);\n        self.ring.ack.asleep.load|the sender's barrier between its message and its read of the asleep flag: SeqCst -> AcqRel"
    "sleep-without-recheck|urpc/src/sleep.rs|if self.slot_changed() {|if self.next_slot == usize::MAX {|the receiver sleeps without looking at the ring after setting its asleep flag"
    "empty-lap-off-by-one|urpc/src/endpoint.rs|if found != expected.saturating_sub(SLOTS as u64) {|if found != expected.saturating_sub(SLOTS as u64 - 1) {|the previous lap's sequence (empty) taken one lap off"
)

usage() { sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; }

wanted=()
for argument in "$@"; do
    case "$argument" in
        -h | --help) usage; exit 0 ;;
        --list)
            for entry in "${MUTATIONS[@]}"; do
                IFS='|' read -r name _ _ _ what <<<"$entry"
                printf '%-22s %s\n' "$name" "$what"
            done
            exit 0
            ;;
        *) wanted+=("$argument") ;;
    esac
done

copy=$(mktemp -d)
trap 'rm -rf "$copy"' EXIT
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    git ls-files -z --cached --others --exclude-standard | while IFS= read -r -d '' file; do
        [ -e "$file" ] && printf '%s\0' "$file"
    done | xargs -0 cp --parents -t "$copy"
else
    # A checkout without git (.ci/run tests a copy of the tracked files alone): all of it but
    # the build outputs.
    tar -C "$REPO_ROOT" --exclude=./target --exclude=./build -cf - . | tar -C "$copy" -xf -
fi
target=$REPO_ROOT/target/urpc-mutations

# Runs the crate's tests in the copy; prints one failed test a line (suite::test), or
# "suite::(did not finish)" for a test binary that ended without a verdict.
failing_tests() {
    local log=$copy/test.log status=0
    (
        cd "$copy"
        URPC_STRESS_MESSAGES=1000000 timeout 900 cargo test --release --no-fail-fast -p urpc \
            --test channel --test messages --test stress --test sleep --target-dir "$target/host" 2>&1
        RUSTFLAGS="--cfg loom" timeout 900 cargo test --release --no-fail-fast -p urpc --test loom \
            --target-dir "$target/loom" 2>&1
    ) >"$log" || status=$?
    awk '
        /^ +Running tests\// { suite = $2; sub(/^tests\//, "", suite); sub(/\.rs$/, "", suite); verdict[suite] = 0 }
        /^test result:/ { verdict[suite] = 1 }
        /^test .* \.\.\. FAILED$/ { print suite "::" $2 }
        /^error\[|^error: could not compile/ { print "build::(does not compile)"; exit }
        END { for (s in verdict) if (!verdict[s]) print s "::(did not finish)" }
    ' "$log"
    if [ "$status" -ne 0 ] && ! grep -q 'FAILED\|did not finish\|error' "$log"; then
        echo "run::(exit status $status)"
    fi
}

apply() { # FILE TEXT REPLACEMENT: replaces the one occurrence of TEXT, or fails
    local file=$copy/$1 text replacement content
    text=$(printf '%b' "$2")
    replacement=$(printf '%b' "$3")
    content=$(<"$file")
    local rest=${content#*"$text"}
    if [ "$rest" = "$content" ] || [ "${rest#*"$text"}" != "$rest" ]; then
        echo "urpc-mutations.sh: '$2' is not in $1 exactly once (the code moved: update the table)" >&2
        exit 1
    fi
    printf '%s\n' "${content/"$text"/"$replacement"}" >"$file"
}

echo "[mutations] the unmutated copy" >&2
baseline=$(failing_tests)
if [ -n "$baseline" ]; then
    echo "urpc-mutations.sh: the unmutated code already fails:" >&2
    printf '  %s\n' "$baseline" >&2
    exit 1
fi

missed=0
results=()
for entry in "${MUTATIONS[@]}"; do
    IFS='|' read -r name file text replacement what <<<"$entry"
    if [ "${#wanted[@]}" -gt 0 ] && ! printf '%s\n' "${wanted[@]}" | grep -qx -- "$name"; then
        continue
    fi
    echo "[mutations] $name: $what" >&2
    cp "$REPO_ROOT/$file" "$copy/$file.orig"
    apply "$file" "$text" "$replacement"
    caught=$(failing_tests | sort -u | paste -sd ' ' -)
    mv "$copy/$file.orig" "$copy/$file"
    if [ -n "$caught" ]; then
        results+=("$(printf '%-22s %s\n%-22s   caught by: %s' "$name" "$what" "" "$caught")")
    else
        results+=("$(printf '%-22s %s\n%-22s   NOT CAUGHT by any test' "$name" "$what" "")")
        missed=1
    fi
done
printf '%s\n' "${results[@]}"
if [ "$missed" -ne 0 ]; then
    echo "urpc-mutations.sh: some mutation passed every test" >&2
    exit 1
fi
echo "urpc-mutations.sh: every mutation fails at least one test"
