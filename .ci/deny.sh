#!/usr/bin/env bash
# Dependency policy (deny.toml): licences, sources, bans and RustSec
# advisories, checked with a pinned cargo-deny against the advisory
# snapshot beside the repository (../shared/advisory-db.git), never the
# network. Also used by .ci/minimal-versions.sh on its lockfile.
#   bash .ci/deny.sh [manifest folder, default: the repository]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "${1:-$root}"
source "$root/.ci/tools.sh"
need_tool cargo-deny "$CARGO_DENY_VERSION" cargo deny --version

# Beside the repository; for a clone of a local checkout (a fresh clone made
# to rehearse CI, say), beside the checkout it was cloned from.
snapshot="${HERO_ADVISORY_DB:-$root/../shared/advisory-db.git}"
if [ -z "${HERO_ADVISORY_DB:-}" ] && [ ! -e "$snapshot/HEAD" ]; then
  origin="$(git -C "$root" config --get remote.origin.url || true)"
  [ -d "$origin" ] && snapshot="$(cd "$origin" && pwd)/../shared/advisory-db.git"
fi
[ -e "$snapshot/HEAD" ] || { echo "deny: no advisory snapshot at $snapshot" >&2; exit 1; }
# cargo-deny looks for the default database (github.com/rustsec/advisory-db)
# under deny.toml's db-path in a folder named from that URL's hash.
db="target/advisory-dbs/advisory-db-3157b0e258782691"
rm -rf target/advisory-dbs "target/advisory-db-snapshot.git"
mkdir -p target/advisory-dbs
# The shared copy is read-only and may have lost its empty refs/ folder,
# without which git does not take it for a repository: clone from a copy.
cp -R "$snapshot" target/advisory-db-snapshot.git
chmod -R u+w target/advisory-db-snapshot.git
mkdir -p target/advisory-db-snapshot.git/refs/heads target/advisory-db-snapshot.git/refs/tags
git clone -q --no-hardlinks target/advisory-db-snapshot.git "$db"
rm -rf target/advisory-db-snapshot.git
echo "deny: advisories from $(git -C "$db" log -1 --format='%h %s')"

# cargo-deny reads every target's crates (windows-sys too) through cargo
# metadata, which under --offline needs them already downloaded: a fresh
# machine's cargo cache has only the host's. Crates come from the registry
# as for any build; the advisories never leave the snapshot.
cargo fetch --locked --manifest-path "$PWD/Cargo.toml"
# deny.toml's db-path is relative to this folder; --offline: nothing fetched.
cargo deny --offline --manifest-path "$PWD/Cargo.toml" --config "$root/deny.toml" check
