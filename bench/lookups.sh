#!/usr/bin/env bash
# Batch rows that name the patient by NHS number: rows per second with and
# without the patient lookup, for 10,000 rows of 2,000 distinct patients
# against hero-mock replying after 20 ms (to lookups and sends alike).
#
#   bash bench/lookups.sh     # ROWS=10000 PATIENTS=2000 ROUNDS=2 DELAY_MS=20 CONCURRENCY=8
#
# "without lookups": each row gives patient_id (2,000 distinct ids).
# "with lookups": each row gives NHS Number and Date of Birth (dd/mm/yyyy)
# instead, so the batch looks each patient up once and sends to the id Hero
# returned. Every row's text differs (((first_name))), so every row is sent.
# Both through BatchRunner with a fresh send journal under target/ per run.
# Rounds interleave the two cases; medians are printed for BENCHMARKS.md.
# Not run in CI.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ROWS=${ROWS:-10000}
PATIENTS=${PATIENTS:-2000}
ROUNDS=${ROUNDS:-2}
DELAY_MS=${DELAY_MS:-20}
CONCURRENCY=${CONCURRENCY:-8}
mkdir -p "$ROOT/target"
WORK=$(mktemp -d "$ROOT/target/bench-lookups.XXXXXX")
MOCK_PID=""

say() { printf '[lookups bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
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

say "writing $ROWS rows of $PATIENTS patients"
# Patient p: NHS number 943 then p in six digits then its Modulus 11 check
# digit (prefixes whose check would be 10 move on to the next number).
awk -v rows="$ROWS" -v patients="$PATIENTS" -v ids="$WORK/ids.csv" -v nhs="$WORK/nhs.csv" 'BEGIN {
    print "patient_id,first_name,recipient_contact_detail" > ids
    print "NHS Number,Date of Birth,first_name,recipient_contact_detail" > nhs
    n = 0
    for (p = 0; n < patients; p++) {
        s = sprintf("943%06d", p); sum = 0
        for (i = 1; i <= 9; i++) sum += substr(s, i, 1) * (11 - i)
        c = 11 - sum % 11; if (c == 11) c = 0; if (c == 10) continue
        number[n++] = s c
    }
    for (r = 0; r < rows; r++) {
        k = r % patients
        printf "%d,Name%d,07700 900123\n", 5000000 + k, r > ids
        printf "%s,%02d/%02d/19%02d,Name%d,07700 900123\n", number[k], k % 28 + 1, k % 12 + 1, k % 90 + 10, r > nhs
    }
}'

"$ROOT/target/release/hero-mock" --port 0 --api-key bench-api-key-0123456789 \
    --practice-group-id bench-practice-group --reply-delay-ms "$DELAY_MS" >"$WORK/mock.out" 2>/dev/null &
MOCK_PID=$!
PORT=""
for _ in $(seq 1 100); do
    PORT=$(sed -n 's|^hero-mock listening on http://127.0.0.1:\([0-9]*\).*|\1|p' "$WORK/mock.out")
    [ -n "$PORT" ] && break
    sleep 0.05
done
[ -n "$PORT" ] || { echo "hero-mock did not start" >&2; exit 1; }
URL=http://127.0.0.1:$PORT

: >"$WORK/results.tsv"
for round in $(seq 1 "$ROUNDS"); do
    for kind in ids nhs; do
        line=$("$BATCH" "$URL" "$WORK/$kind.csv" "$CONCURRENCY" "$WORK/journal-$kind-$round")
        case "$line" in *"sent=$ROWS "*) ;; *) echo "not every row was sent: $line" >&2; exit 1 ;; esac
        rate=${line##*rows_per_s=}
        say "round $round $kind: $line"
        printf '%s\t%s\n' "$kind" "$rate" >>"$WORK/results.tsv"
    done
done

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
rate() { awk -F'\t' -v c="$1" '$1==c {print $2}' "$WORK/results.tsv" | median; }
ids=$(rate ids)
nhs=$(rate nhs)
echo "| server | rows | patients | concurrency | without lookups (rows/s) | with lookups (rows/s) | lookup cost |"
echo "|---|---|---|---|---|---|---|"
echo "| hero-mock, reply after $DELAY_MS ms | $ROWS | $PATIENTS | $CONCURRENCY | $ids | $nhs |" \
    "$(awk -v a="$ids" -v b="$nhs" 'BEGIN {printf "%.0f %%", (1 - b / a) * 100}') |"
echo
echo "$ROUNDS interleaved rounds, medians, with a send journal; $(nproc) cores, load average" \
    "$(cut -d' ' -f1-3 /proc/loadavg); herohealth $(git -C "$ROOT" rev-parse --short HEAD)."
