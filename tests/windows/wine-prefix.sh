#!/usr/bin/env bash
# Prepares the Wine prefix the Windows tests run in: WINEPREFIX (default
# target/wine), created quietly, with the ProcessPrng stand-in installed
# (see bcryptprimitives.c for why), and its wineserver running. Idempotent;
# prints the prefix.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
export WINEPREFIX="${WINEPREFIX:-$root/target/wine}"
export WINEDEBUG=-all
# No Mono or Gecko download prompts: nothing here needs .NET or a browser.
export WINEDLLOVERRIDES="mscoree,mshtml="
if [ ! -f "$WINEPREFIX/system.reg" ]; then
  mkdir -p "$WINEPREFIX"
  wineboot -i >/dev/null 2>&1
  wineserver -w
fi
# Wine 9 and later have their own bcryptprimitives.dll: it is left alone.
dll="$WINEPREFIX/drive_c/windows/system32/bcryptprimitives.dll"
src="$root/tests/windows/bcryptprimitives.c"
mark="$WINEPREFIX/herohealth-prng-stand-in"
if [ ! -f "$dll" ] || { [ -f "$mark" ] && [ "$src" -nt "$dll" ]; }; then
  x86_64-w64-mingw32-gcc -shared -O2 -Wall -Wextra -Werror -o "$dll" "$src" -ladvapi32
  touch "$mark"
fi
# A wineserver kept running makes each program start in about 0.1 s instead
# of 2 s; it exits by itself once idle for WINE_SERVER_SECONDS (or on
# `wineserver -k` with the same WINEPREFIX).
# (It refuses when one is already running for this prefix: that one serves.)
wineserver -p "${WINE_SERVER_SECONDS:-600}" </dev/null >/dev/null 2>&1 || true
echo "$WINEPREFIX"
