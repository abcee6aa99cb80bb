#!/usr/bin/env bash
# Batch runner throughput: rows per second for a 10,000-row CSV against
# hero-mock, at concurrency 1 and 8, with and without the send journal.
#
#   bash bench/batch.sh     # ROWS=10000 ROUNDS=3 DELAY_MS=20 DELAYED_ROWS=1000
#
# Two servers: hero-mock replying at once (loopback: the journal's fsync is
# most of each row's time), and hero-mock replying after DELAY_MS, like Hero
# across the internet (DELAYED_ROWS rows, to keep the run to a few minutes).
#
# The journal lives under target/ (the repository's disk), never a tmpfs:
# its fsyncs must be real. Rounds interleave the four cases; medians are
# printed as a Markdown table for BENCHMARKS.md. Not run in CI.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ROWS=${ROWS:-10000}
ROUNDS=${ROUNDS:-3}
DELAY_MS=${DELAY_MS:-20}
DELAYED_ROWS=${DELAYED_ROWS:-1000}
mkdir -p "$ROOT/target"
WORK=$(mktemp -d "$ROOT/target/bench-batch.XXXXXX")
MOCK_PID=""

say() { printf '[batch bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
cleanup() {
    [ -n "$MOCK_PID" ] && kill "$MOCK_PID" 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

say "building hero-mock and bench/rust (release)"
(cd "$ROOT" && cargo build --release --quiet --bin hero-mock) >&2
cp "$ROOT/Cargo.lock" "$ROOT/bench/rust/Cargo.lock"
(cd "$ROOT/bench/rust" && CARGO_TARGET_DIR="$ROOT/target/bench-rust" cargo build --release --quiet --bin batch_rust) >&2
BATCH=$ROOT/target/bench-rust/release/batch_rust

say "writing $ROWS rows"
{
    echo "patient_id,first_name,recipient_contact_detail"
    for i in $(seq 1 "$ROWS"); do echo "$((5000000 + i)),Name$i,07700 900123"; done
} >"$WORK/rows.csv"

# start_mock DELAY_MS: a fresh hero-mock answering after DELAY_MS; sets URL.
start_mock() {
    [ -n "$MOCK_PID" ] && kill "$MOCK_PID" 2>/dev/null || true
    : >"$WORK/mock.out"
    "$ROOT/target/release/hero-mock" --port 0 --api-key bench-api-key-0123456789 \
        --practice-group-id bench-practice-group --reply-delay-ms "$1" >"$WORK/mock.out" 2>/dev/null &
    MOCK_PID=$!
    PORT=""
    for _ in $(seq 1 100); do
        PORT=$(sed -n 's|^hero-mock listening on http://127.0.0.1:\([0-9]*\).*|\1|p' "$WORK/mock.out")
        [ -n "$PORT" ] && break
        sleep 0.05
    done
    [ -n "$PORT" ] || { echo "hero-mock did not start" >&2; exit 1; }
    URL=http://127.0.0.1:$PORT
}

# measure LABEL FILE: the four cases, ROUNDS interleaved rounds, into results.tsv.
measure() {
    local label=$1 file=$2 round c j journal line rate
    for round in $(seq 1 "$ROUNDS"); do
        for c in 1 8; do
            for j in none journal; do
                journal=-
                if [ "$j" = journal ]; then
                    journal=$WORK/journal-$label-$round-$c
                fi
                line=$("$BATCH" "$URL" "$file" "$c" "$journal")
                rate=${line##*rows_per_s=}
                say "$label round $round concurrency $c $j: $rate rows/s"
                printf '%s\t%s\t%s\t%s\n' "$label" "$c" "$j" "$rate" >>"$WORK/results.tsv"
            done
        done
    done
}

: >"$WORK/results.tsv"
start_mock 0
measure loopback "$WORK/rows.csv"
# A reply time like a real server's across the internet: the journal's fsync
# is then a small part of each row.
head -n $((DELAYED_ROWS + 1)) "$WORK/rows.csv" >"$WORK/rows-delayed.csv"
start_mock "$DELAY_MS"
measure delayed "$WORK/rows-delayed.csv"

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
rate() { awk -F'\t' -v l="$1" -v c="$2" -v j="$3" '$1==l && $2==c && $3==j {print $4}' "$WORK/results.tsv" | median; }

echo "| server | rows | concurrency | without journal (rows/s) | with journal (rows/s) | journal cost |"
echo "|---|---|---|---|---|---|"
for label in loopback delayed; do
    if [ "$label" = loopback ]; then
        what="hero-mock, immediate reply"; n=$ROWS
    else
        what="hero-mock, reply after $DELAY_MS ms"; n=$DELAYED_ROWS
    fi
    for c in 1 8; do
        none=$(rate "$label" "$c" none)
        with=$(rate "$label" "$c" journal)
        cost=$(awk -v a="$none" -v b="$with" 'BEGIN {printf "%.0f %%", (1 - b / a) * 100}')
        echo "| $what | $n | $c | $none | $with | $cost |"
    done
done
echo
echo "$ROUNDS interleaved rounds, medians; $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg);" \
    "journal on $(df -T "$WORK" | awk 'NR==2 {print $2}'), herohealth $(git -C "$ROOT" rev-parse --short HEAD)."
