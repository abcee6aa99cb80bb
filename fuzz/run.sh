#!/usr/bin/env bash
# Bounded fuzzing of every herohealth fuzz target with cargo-fuzz (libFuzzer).
#
#   FUZZ_SECONDS=60 fuzz/run.sh        # seconds per target (default 60)
#   FUZZ_SANITIZER=none fuzz/run.sh    # address (default), none, ...
#   FUZZ_TARGETS="c_api" fuzz/run.sh   # a subset
#
# Only a stable toolchain is needed: RUSTC_BOOTSTRAP=1 lets it accept the
# nightly-only flags cargo-fuzz passes (-Zsanitizer=address, ...).
#
# Exits non-zero if any target crashes or breaks an invariant (the input is
# left in fuzz/artifacts/<target>/), or if an input saved under
# fuzz/findings/ reproduces again (replayed at the end as regression tests;
# see fuzz/findings/README.md). New inputs the fuzzer finds go to
# fuzz/corpus/<target>/.
set -uo pipefail

cd "$(dirname "$0")"
export RUSTC_BOOTSTRAP=1
# Known LeakSanitizer false positives (ureq's resolver thread): see lsan.supp.
export LSAN_OPTIONS="suppressions=$PWD/lsan.supp:print_suppressions=0${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
seconds=${FUZZ_SECONDS:-60}
sanitizer=${FUZZ_SANITIZER:-address}
read -r -a targets <<< "${FUZZ_TARGETS:-response_parse request_validate c_api}"

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "== installing cargo-fuzz 0.13.2 (the version this was set up with)"
    cargo install cargo-fuzz --version 0.13.2 --locked || exit 1
fi

# Release build with debug assertions (and so overflow checks) on.
flags=(--sanitizer "$sanitizer" --debug-assertions)

echo "== building fuzz targets (sanitizer: $sanitizer)"
cargo fuzz build "${flags[@]}" || exit 1

# The c_api target writes its fuzzed CA file under $TMPDIR: keep it private.
scratch=$(mktemp -d "${TMPDIR:-/tmp}/herohealth-fuzz.XXXXXX") || exit 1
trap 'rm -rf "$scratch"' EXIT

status=0
for t in "${targets[@]}"; do
    echo "== fuzzing $t for ${seconds}s"
    mkdir -p "corpus/$t"
    if ! TMPDIR="$scratch" cargo fuzz run "${flags[@]}" "$t" "corpus/$t" -- \
        -max_total_time="$seconds" -timeout=20 -print_final_stats=1; then
        echo "!! $t crashed: input saved under fuzz/artifacts/$t/"
        status=1
    fi
done

shopt -s nullglob
for f in findings/*; do
    t=$(basename "$f")
    t=${t%%-*}
    case " ${targets[*]} " in *" $t "*) ;; *) continue ;; esac
    echo "== replaying $f on $t"
    if TMPDIR="$scratch" cargo fuzz run "${flags[@]}" "$t" "$f" -- -runs=1 >"$scratch/replay.log" 2>&1; then
        echo "   ok: does not reproduce"
    else
        echo "   REPRODUCES:"
        grep -m1 -A1 -E "panicked at|ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)" \
            "$scratch/replay.log" | sed 's/^/     /'
        status=1
    fi
done

[ "$status" -eq 0 ] && echo "== all targets passed" || echo "== FAILED"
exit "$status"
