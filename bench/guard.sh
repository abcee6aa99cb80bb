#!/usr/bin/env bash
# CI guard: herohealth C API instructions per send over HTTP keep-alive must
# stay within 20 % of the figure recorded in BENCHMARKS.md
# (`guard-instructions-per-send: N`, written by bench/run.sh).
#
#   bash bench/guard.sh
#
# Builds target/release/libherohealth.a and bench/send_hero.c, starts nginx
# under a temp dir, runs the sender under callgrind for CG_SHORT and CG_LONG
# sends and divides the difference (start-up cancels out). Instruction counts
# do not depend on machine load, so this is stable on a busy CI box.
# Missing nginx or valgrind is installed with apt-get when running as root;
# otherwise the guard fails saying what to install. It never skips.
#
# GUARD_TOLERANCE_PCT (default 20) sets the allowed increase.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TOLERANCE=${GUARD_TOLERANCE_PCT:-20}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/heroguard.XXXXXX")
BIN=$WORK/bin
T_START=$(date +%s)

# shellcheck source=bench/common.sh
. "$ROOT/bench/common.sh"

cleanup() {
    stop_nginx
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

RECORDED=$(sed -n 's/^guard-instructions-per-send: *\([0-9][0-9]*\) *$/\1/p' "$ROOT/BENCHMARKS.md" 2>/dev/null | tail -1)
[ -n "$RECORDED" ] ||
    die "no 'guard-instructions-per-send: N' line in BENCHMARKS.md: run 'bash bench/run.sh' to record one"

need nginx nginx
need valgrind valgrind
need openssl openssl
need cc gcc
command -v cargo >/dev/null || die "cargo is needed"

build_hero_c
make_certs
start_nginx
"$BIN/send_hero" "$HTTP_URL" 5 1 - >/dev/null || die "herohealth C API sender failed against nginx"

say "callgrind: herohealth C API over HTTP ($CG_SHORT vs $CG_LONG sends)"
MEASURED=$(ir_per_send hero-c.http "$HTTP_URL" - "$BIN/send_hero") || die "no measurement"
# A guard that cannot measure must fail, never pass on an empty or zero figure.
case $MEASURED in
'' | *[!0-9]* | 0) die "no instructions-per-send figure (got '$MEASURED')" ;;
esac
LIMIT=$((RECORDED * (100 + TOLERANCE) / 100))
CHANGE=$(awk -v m="$MEASURED" -v r="$RECORDED" 'BEGIN { printf "%+.1f", (m - r) * 100 / r }')
echo "guard: herohealth C API, HTTP keep-alive: $MEASURED instructions/send" \
    "(recorded $RECORDED, $CHANGE %; limit $LIMIT = +$TOLERANCE %); $(($(date +%s) - T_START)) s"
if [ "$MEASURED" -gt "$LIMIT" ]; then
    echo "guard: FAILED: instructions per send rose more than $TOLERANCE % above BENCHMARKS.md." >&2
    echo "guard: profile it: bash bench/run.sh, then see target/bench-results/profile-hero-c-http-*.txt" >&2
    exit 1
fi
echo "guard: ok"
