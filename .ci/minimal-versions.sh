#!/usr/bin/env bash
# The declared minimums in Cargo.toml are real: a copy of the tree gets a
# lockfile in which every direct dependency (normal, build and dev) sits at
# exactly the minimum Cargo.toml declares (cargo's direct-minimal-versions
# resolver; everything else at its newest compatible version, as a user's
# fresh resolve would give), then it is built and the Rust tests run on the
# stable toolchain, and cargo-deny checks that lockfile's advisories too,
# so no declared minimum admits a version with a known advisory.
# The tests that drive make, C compilers or a browser check the build
# system rather than the dependencies and run only in the main test step.
#   bash .ci/minimal-versions.sh
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
work="$root/target/minimal-versions"
rm -rf "$work/src"
mkdir -p "$work/src"
# The tracked files as they are in the work tree (a maintainer's edits too).
git ls-files -z | tar --null -T - -cf - | tar -xf - -C "$work/src"
cd "$work/src"

# The resolver mode is unstable in cargo, so it is switched on for this one
# resolve (RUSTC_BOOTSTRAP reaches cargo only here); the build and tests
# below are plain stable cargo on the lockfile it wrote.
RUSTC_BOOTSTRAP=1 cargo update -Z direct-minimal-versions

# Check the resolve did what it says: each direct dependency locked at the
# minimum its requirement names.
cargo metadata --format-version 1 --locked | python3 -c '
import json, re, sys
meta = json.load(sys.stdin)
pkgs = {p["id"]: p for p in meta["packages"]}
root = next(p for p in meta["packages"] if p["name"] == "herohealth")
node = next(n for n in meta["resolve"]["nodes"] if n["id"] == root["id"])
locked = {}
for dep in node["deps"]:
    p = pkgs[dep["pkg"]]
    locked[p["name"]] = p["version"]
bad = []
for dep in root["dependencies"]:
    req, name = dep["req"], dep["name"]
    m = re.fullmatch(r"[\^=]?(\d+)(?:\.(\d+))?(?:\.(\d+))?", req)
    if not m:
        bad.append(f"{name}: requirement {req} is not a plain minimum")
        continue
    want = ".".join(x or "0" for x in m.groups())
    have = locked.get(name)
    if have is None:
        continue  # a dependency for another target (cfg(windows)) is not resolved here
    if have != want:
        bad.append(f"{name}: declared {req}, locked {have}")
    else:
        print(f"minimal-versions: {name} {have}")
if bad:
    sys.exit("minimal-versions: " + "; ".join(bad))
'

export CARGO_TARGET_DIR="$work/target"
# Every integration test target but those that build C programs, install
# with make or drive a browser (named here; a new test file runs here too).
build_system_tests=" c_programs batch_cli install tooling inbox_browser "
tests=()
for t in tests/*.rs tests/*/main.rs; do
  [ -f "$t" ] || continue
  name="${t#tests/}"; name="${name%.rs}"; name="${name%/main}"
  case "$build_system_tests" in *" $name "*) continue ;; esac
  tests+=(--test "$name")
done
[ "${#tests[@]}" -ge 5 ] || { echo "minimal-versions: only ${#tests[@]} test targets found" >&2; exit 1; }
cargo test --locked --lib --bins "${tests[@]}"
bash "$root/.ci/deny.sh" "$work/src"
