#!/usr/bin/env bash
# The release archives reproduce: a fresh clone of the same commit, in a
# folder of another name and depth, runs `make dist` and must give archives
# and a SHA256SUMS byte-identical to those already in target/dist (CI's
# own `make dist-linux` and `make dist-windows`). A difference names the
# files inside that differ.
#   bash tests/dist/reproduce.sh
# Needs a work tree whose tracked files match HEAD (the archives are the
# commit's), and what `make dist` needs (see Makefile).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
fail() { echo "reproduce: FAILED: $*" >&2; exit 1; }

# fuzz/ is its own crate, in no archive; CI's fuzz stage updates its lock
# and corpus before this runs.
[ -z "$(git status --porcelain --untracked-files=no -- . ':!fuzz')" ] \
  || fail "tracked files differ from HEAD: the archives in target/dist are not the commit's"
version="$(sed -n 's/^version *= *"\([^"]*\)".*/\1/p' Cargo.toml | head -n 1)"
linux="herohealth-$version-x86_64-linux-gnu.tar.gz"
windows="herohealth-$version-x86_64-windows-gnu.zip"
[ -f "target/dist/$linux" ] || fail "no target/dist/$linux: run make dist-linux first"
targets=(dist-linux)
archives=("$linux")
if [ -f "target/dist/$windows" ]; then
  targets+=(dist-windows)
  archives+=("$windows")
else
  echo "reproduce: !!! no target/dist/$windows (Windows stage skipped?): Linux only !!!"
fi

work="$root/target/reproduce"
rm -rf "$work"
other="$work/another/folder/herohealth-$(git rev-parse --short HEAD)"
mkdir -p "$(dirname "$other")"
git clone -q --no-hardlinks "$root" "$other"
git -C "$other" checkout -q --detach "$(git rev-parse HEAD)"
# The same environment but for the folder: cargo's variables from a
# caller are dropped as the Makefile drops them.
(cd "$other" && make --no-print-directory "${targets[@]}")

status=0
for a in "${archives[@]}" SHA256SUMS; do
  if cmp -s "target/dist/$a" "$other/target/dist/$a"; then
    echo "reproduce: $a identical ($(sha256sum < "target/dist/$a" | cut -c1-16)…)"
    continue
  fi
  status=1
  echo "reproduce: $a DIFFERS" >&2
  mkdir -p "$work/a" "$work/b"
  case "$a" in
    *.tar.gz) tar -xzf "target/dist/$a" -C "$work/a"; tar -xzf "$other/target/dist/$a" -C "$work/b"
              tar -tvzf "target/dist/$a" > "$work/a.list"; tar -tvzf "$other/target/dist/$a" > "$work/b.list" ;;
    *.zip) unzip -q -o "target/dist/$a" -d "$work/a"; unzip -q -o "$other/target/dist/$a" -d "$work/b"
           unzip -Z -l "target/dist/$a" > "$work/a.list"; unzip -Z -l "$other/target/dist/$a" > "$work/b.list" ;;
    *) diff "target/dist/$a" "$other/target/dist/$a" >&2 || true; continue ;;
  esac
  diff "$work/a.list" "$work/b.list" >&2 || true
  diff -rq "$work/a" "$work/b" >&2 || true
  rm -rf "$work/a" "$work/b"
done
[ "$status" -eq 0 ] || fail "make dist in another folder gave different archives"
rm -rf "$work"
echo "reproduce: make dist in two folders gave identical archives"
