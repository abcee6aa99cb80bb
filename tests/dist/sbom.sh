#!/usr/bin/env bash
# The release archives' bill of materials (CycloneDX JSON, made by the
# pinned cargo-cyclonedx): every crate compiled into the library for one
# target triple, with version, licence and the crates.io checksum.
#   bash tests/dist/sbom.sh write <triple> <out.cdx.json>   (make dist does this)
#   bash tests/dist/sbom.sh check <file.cdx.json> <triple>  (tests/dist/check-archive.sh)
# `check` fails unless the SBOM lists exactly the crates `cargo tree`
# reports for the library's normal dependencies on that triple, each with a
# licence and the checksum Cargo.lock records, and no dev-dependency.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
source "$root/.ci/tools.sh"
fail() { echo "sbom: FAILED: $*" >&2; exit 1; }

case "${1:-}" in
write)
  triple="$2" out="$3"
  need_tool cargo-cyclonedx "$CARGO_CYCLONEDX_VERSION" cargo cyclonedx --version
  name="target-sbom-$triple-$$"
  trap 'rm -f "$root/$name.json"' EXIT
  # Normal dependencies only (no build scripts' or tests' crates); the
  # time stamp comes from SOURCE_DATE_EPOCH (the commit's), as the archive's.
  SOURCE_DATE_EPOCH="${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct)}" \
    cargo cyclonedx --quiet --format json --spec-version 1.5 --target "$triple" --no-build-deps \
    --override-filename "$name"
  # The checkout's path is in the crate's own references: replaced by the
  # one the binaries carry (Makefile, DIST_RUSTFLAGS), so the file is the
  # same from any folder. Cargo's id for the crate also drops its name when
  # the folder has the same name (`#0.1.0`, else `#herohealth@0.1.0`):
  # always the long form. The mock (a cargo bin target) is not shipped.
  python3 - "$root/$name.json" "$out" "$root" <<'PY'
import json, re, sys
src, out, root = sys.argv[1:]
text = open(src, encoding="utf-8").read().replace("path+file://" + root, "path+file:///build/herohealth")
text = re.sub(r'(path\+file:///build/herohealth#)(\d)', r'\1herohealth@\2', text)
bom = json.loads(text)
comp = bom["metadata"]["component"]
comp["components"] = [c for c in comp.get("components", []) if c["name"] != "hero-mock"]
with open(out, "w", encoding="utf-8") as f:
    json.dump(bom, f, indent=2, ensure_ascii=False)
    f.write("\n")
PY
  ;;
check)
  file="$2" triple="$3"
  [ -f "$file" ] || fail "no SBOM at $file"
  python3 - "$file" "$triple" "$root/Cargo.lock" <<'PY'
import json, re, sys, subprocess
path, triple, lock_path = sys.argv[1:]
bom = json.load(open(path, encoding="utf-8"))
errors = []
if bom.get("bomFormat") != "CycloneDX":
    errors.append("not a CycloneDX document")
props = {p["name"]: p["value"] for p in bom["metadata"].get("properties", [])}
if props.get("cdx:rustc:sbom:target:triple") != triple:
    errors.append(f"made for {props.get('cdx:rustc:sbom:target:triple')}, not {triple}")

def crates(edges):
    """cargo tree's packages ("name v1.2.3 ...") for the triple, this crate left out."""
    out = subprocess.run(["cargo", "tree", "--locked", "-e", edges, "--target", triple, "--prefix", "none",
                          "--format", "{p}"], check=True, capture_output=True, text=True).stdout
    return {m.groups() for m in re.finditer(r"^(\S+) v(\S+)", out, re.M)} - {("herohealth", own_version)}
own_version = json.loads(subprocess.run(["cargo", "metadata", "--locked", "--format-version", "1", "--no-deps"],
                         check=True, capture_output=True, text=True).stdout)["packages"][0]["version"]
tree = crates("normal")
if len(tree) < 10:
    errors.append(f"cargo tree listed only {len(tree)} crates")
listed = {(c["name"], c["version"]): c for c in bom.get("components", [])}
for name, version in sorted(tree - listed.keys()):
    errors.append(f"{name} {version} is compiled in but missing from the SBOM")
for name, version in sorted(listed.keys() - tree):
    errors.append(f"{name} {version} is in the SBOM but not a normal dependency on {triple}")
# Cargo.lock's checksums: the registry's SHA-256 of each crate file.
lock = {}
for block in open(lock_path, encoding="utf-8").read().split("[[package]]")[1:]:
    fields = dict(re.findall(r'^(\w+) = "([^"]*)"', block, re.M))
    if "checksum" in fields:
        lock[(fields["name"], fields["version"])] = fields["checksum"]
for key, c in sorted(listed.items()):
    if not c.get("licenses"):
        errors.append(f"{key[0]} {key[1]} has no licence")
    sums = [h["content"] for h in c.get("hashes", []) if h.get("alg") == "SHA-256"]
    if sums != [lock.get(key)]:
        errors.append(f"{key[0]} {key[1]}: SHA-256 {sums} is not Cargo.lock's {lock.get(key)}")
# Crates only the tests bring in (cbindgen, rcgen...) must not appear: the
# exact match above implies it; named here so a failure says why.
dev_only = crates("normal,dev") - crates("normal")
if not dev_only:
    errors.append("cargo tree shows no test-only crates: the dev-dependency check has nothing to compare")
for name, version in sorted(dev_only & listed.keys()):
    errors.append(f"{name} {version} comes from dev-dependencies only, yet is in the SBOM")
if errors:
    sys.exit("sbom: FAILED:\n  " + "\n  ".join(errors))
print(f"sbom: {len(listed)} crates for {triple}, as cargo tree lists them, each with licence and checksum")
PY
  ;;
*)
  echo "usage: sbom.sh write <triple> <out> | check <file> <triple>" >&2
  exit 2
  ;;
esac
