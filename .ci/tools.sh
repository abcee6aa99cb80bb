# Sourced by CI scripts: the pinned supply-chain tools, installed from
# crates.io with their own lockfiles into ~/.cargo/bin when missing or at
# another version (so a clean clone on a fresh machine gets the same ones).
# Debug builds: they run for seconds in CI, and compile in about half the time.
CARGO_DENY_VERSION=0.20.2
CARGO_CYCLONEDX_VERSION=0.5.9

# need_tool <crate> <version> <command that prints the version>
need_tool() {
  local crate="$1" version="$2"
  shift 2
  if "$@" 2>/dev/null | grep -F "$version" >/dev/null; then return 0; fi
  echo "installing $crate $version (cargo install --locked)"
  cargo install --locked --debug "$crate" --version "$version"
}
