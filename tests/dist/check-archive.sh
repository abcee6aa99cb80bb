#!/usr/bin/env bash
# Checks a release archive the way an integrator meets it: unpacked into an
# empty folder, a CMake project (tests/dist/consumer) finds the package
# there and nowhere else, builds against the shared and the static library
# (and the C++ example against herohealth.hpp), and each program sends to
# the local mock. For the Windows zip the build
# uses MinGW (tests/windows/mingw-toolchain.cmake), the programs and the
# archive's own hero_send.exe run under Wine (in WINEPREFIX, default
# target/wine, prepared here by tests/windows/wine-prefix.sh), and
# hero_send.exe must carry "£", "ŵ" and
# an emoji to the mock byte for byte. A file missing from the archive fails
# the build or a run. Its SBOM is checked by tests/dist/sbom.sh.
#   bash tests/dist/check-archive.sh target/dist/herohealth-<v>-<platform>.{zip,tar.gz}
# Needs target/release/hero-mock (cargo build --release --bin hero-mock).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
archive="$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"
mock_bin="$root/target/release/hero-mock"
[ -x "$mock_bin" ] || { echo "check-archive: build the mock first ($mock_bin)" >&2; exit 1; }

work="$(mktemp -d)"
mock_pid=""
cleanup() {
  if [ -n "$mock_pid" ]; then kill "$mock_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "check-archive: FAILED: $*" >&2; exit 1; }

mkdir "$work/unpacked"
case "$archive" in
  *.zip) platform=windows; unzip -q "$archive" -d "$work/unpacked" ;;
  *.tar.gz) platform=linux; tar -xzf "$archive" -C "$work/unpacked" ;;
  *) fail "not a .zip or .tar.gz: $archive" ;;
esac
# The archive holds one folder, named like the archive.
prefix="$work/unpacked/$(basename "$archive" | sed 's/\.zip$//; s/\.tar\.gz$//')"
[ -d "$prefix" ] || fail "no folder $(basename "$prefix") at the archive's top"
echo "check-archive: $(basename "$archive") ($platform), $(find "$prefix" -type f | wc -l) files"
# Its bill of materials lists exactly the crates compiled in for its target.
case "$platform" in
  windows) triple=x86_64-pc-windows-gnu ;;
  linux) triple=x86_64-unknown-linux-gnu ;;
esac
bash "$root/tests/dist/sbom.sh" check "$prefix/share/doc/herohealth/herohealth.cdx.json" "$triple"
if [ "$platform" = windows ]; then
  # Not the user's own prefix: the test one, with the ProcessPrng stand-in.
  export WINEPREFIX="${WINEPREFIX:-$root/target/wine}"
  bash "$root/tests/windows/wine-prefix.sh" >/dev/null
fi

cmake_args=(-S "$root/tests/dist/consumer" -B "$work/build" -DCMAKE_BUILD_TYPE=Release
  -DCMAKE_PREFIX_PATH="$prefix" -DHERO_EXAMPLES="$root/examples-c" -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF
  -DCMAKE_FIND_USE_SYSTEM_PACKAGE_REGISTRY=OFF)
[ "$platform" = windows ] && cmake_args+=(-DCMAKE_TOOLCHAIN_FILE="$root/tests/windows/mingw-toolchain.cmake")
cmake "${cmake_args[@]}" >"$work/cmake.log" 2>&1 || { cat "$work/cmake.log"; fail "cmake configure"; }
found="$(sed -n 's/^herohealth_DIR:PATH=//p' "$work/build/CMakeCache.txt")"
case "$found" in
  "$prefix"/*) ;;
  *) fail "find_package used $found, not the unpacked archive" ;;
esac
cmake --build "$work/build" >"$work/build.log" 2>&1 || { cat "$work/build.log"; fail "cmake build"; }

"$mock_bin" --port 0 --api-key archive-key --practice-group-id archive-group \
  --record "$work/record.jsonl" >"$work/mock.out" 2>/dev/null &
mock_pid=$!
for _ in $(seq 50); do grep -q listening "$work/mock.out" 2>/dev/null && break; sleep 0.1; done
port="$(sed -n 's|^hero-mock listening on http://127.0.0.1:||p' "$work/mock.out")"
[ -n "$port" ] || fail "the mock did not start"
export HERO_BASE_URL="http://127.0.0.1:$port" HERO_API_KEY=archive-key HERO_PRACTICE_GROUP_ID=archive-group
unset HERO_ENVIRONMENT HERO_CA_FILE

run() {
  if [ "$platform" = windows ]; then WINEDEBUG=-all wine "$@.exe"; else "$@"; fi
}
sent=0
for app in consumer_shared consumer_static consumer_cpp; do
  out="$(run "$work/build/$app" 2>"$work/$app.err")" \
    || fail "$app did not send (exit $?): $(cat "$work/$app.err")"
  echo "  $app: $out"
  sent=$((sent + 1))
done
if [ "$platform" = linux ]; then
  # The README promises glibc 2.34 or later: no symbol may need a newer one.
  promised=2.34
  needed="$(objdump -T "$prefix"/lib/libherohealth.so.*.*.* | grep -o 'GLIBC_[0-9.]*' \
    | sed 's/GLIBC_//' | sort -uV | tail -n 1)"
  [ "$(printf '%s\n%s\n' "$needed" "$promised" | sort -V | tail -n 1)" = "$promised" ] \
    || fail "libherohealth.so needs glibc $needed; the README says $promised"
  echo "  libherohealth.so needs glibc $needed (README: $promised or later)"
  # The shared consumer must have loaded the archive's library.
  # grep reads all of it: with pipefail, an early exit could fail ldd with SIGPIPE.
  ldd "$work/build/consumer_shared" | grep "$prefix/lib/libherohealth.so" >/dev/null \
    || fail "consumer_shared does not load the archive's libherohealth.so"
fi

if [ "$platform" = windows ]; then
  # The archive's own hero_send.exe, beside its DLL in bin/.
  text='£5 prescription charge — ŵ 🙂'
  WINEDEBUG=-all wine "$prefix/bin/hero_send.exe" --patient-id 4242 --type hero --message "$text" \
    >"$work/hero_send.out" || fail "hero_send.exe exited $?"
  sent=$((sent + 1))
  grep -qF "\"message_string\\\":\\\"$text\\\"" "$work/record.jsonl" \
    || fail "hero_send.exe's text did not reach the mock byte-exact: $(tail -n 1 "$work/record.jsonl")"
  set +e
  WINEDEBUG=-all wine "$prefix/bin/hero_send.exe" --patient-id 999500 --type hero --message x 2>/dev/null
  code=$?
  set -e
  [ "$code" = 6 ] || fail "hero_send.exe: exit $code after a 500, expected 6 (may have been sent)"
  sent=$((sent + 1))
  echo "  hero_send.exe: non-ASCII text byte-exact; 500 gives exit 6"

  # MSVC's side, as far as it can be tried without MSVC: the header in
  # clang-cl's MSVC mode (C and C++, /W4 /WX), linked by lld-link against
  # the zip's herohealth.lib, run beside the zip's DLL.
  clang_cl="$(command -v clang || command -v clang-14)" || fail "clang is needed for the MSVC check"
  lld_link="$(command -v lld-link || command -v lld-link-14)" || fail "lld-link is needed for the MSVC check"
  mkdir "$work/msvc"
  # Relative names: clang-cl would read an absolute /path as an option.
  cp "$root/tests/dist/consumer/msvc_link.c" "$work/msvc/"
  for lang in /TC /TP; do
    (cd "$work/msvc" && "$clang_cl" --driver-mode=cl --target=x86_64-pc-windows-msvc /X /W4 /WX /GS- \
      "$lang" -Xclang -ffreestanding /I"$prefix/include" /c msvc_link.c /Fomsvc_link.obj) \
      || fail "herohealth.h in clang-cl's MSVC mode ($lang)"
  done
  "$lld_link" /nologo /entry:entry /subsystem:console /nodefaultlib /out:"$work/msvc/msvc_link.exe" \
    "$work/msvc/msvc_link.obj" "$prefix/lib/herohealth.lib" || fail "lld-link against herohealth.lib"
  cp "$prefix/bin/herohealth.dll" "$work/msvc/"
  WINEDEBUG=-all wine "$work/msvc/msvc_link.exe" || fail "the lld-link program exited $?"
  echo "  herohealth.lib: linked by lld-link, runs against herohealth.dll"
fi

requests="$(wc -l <"$work/record.jsonl")"
[ "$requests" = "$sent" ] || fail "the mock saw $requests requests, expected $sent"
echo "check-archive: $(basename "$archive") passed"
