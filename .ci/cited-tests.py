#!/usr/bin/env python3
"""Every test cited in SECURITY.md and docs/clinical-safety.md exists.

Citations read `path/to/file.rs::test_function`. Each must name a function
marked #[test] in that file; when the test has moved, the failure says where
it is now, and `--fix` rewrites the citations to the new files. A document
citing nothing fails too (the check would prove nothing).
    python3 .ci/cited-tests.py [--fix]
"""
import pathlib
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
DOCS = ["SECURITY.md", "docs/clinical-safety.md"]
CITATION = re.compile(r"`((?:src|tests|examples-c|hero_send|bench|fuzz)/[\w./-]+\.rs)::(\w+)`")
# A test function: #[test], then other attributes or comments, then the fn.
TEST_FN = re.compile(r"#\[test\]\s*(?:(?:#\[[^\]]*\]|//[^\n]*)\s*)*(?:pub\s+)?(?:async\s+)?fn\s+(\w+)")


def tests_by_file():
    found = {}
    for path in sorted(ROOT.glob("**/*.rs")):
        rel = path.relative_to(ROOT).as_posix()
        if rel.startswith(("target/", "fuzz/target/")) or "/target/" in rel:
            continue
        for name in TEST_FN.findall(path.read_text(encoding="utf-8", errors="replace")):
            found.setdefault(name, []).append(rel)
    return found


def main():
    fix = "--fix" in sys.argv[1:]
    where = tests_by_file()
    errors = []
    for doc in DOCS:
        path = ROOT / doc
        text = path.read_text(encoding="utf-8")
        cited = CITATION.findall(text)
        if len(cited) < 5:
            errors.append(f"{doc}: cites {len(cited)} tests; expected its controls to cite tests")
        new_text = text
        for file, name in cited:
            homes = where.get(name, [])
            if file in homes:
                continue
            if len(homes) == 1:
                if fix:
                    new_text = new_text.replace(f"`{file}::{name}`", f"`{homes[0]}::{name}`")
                else:
                    errors.append(f"{doc}: {file}::{name} has moved to {homes[0]} (run with --fix)")
            elif homes:
                errors.append(f"{doc}: {file}::{name} is not there; a test of that name is in {', '.join(homes)}")
            else:
                errors.append(f"{doc}: {file}::{name} does not exist: a control cites a test that is gone")
        if fix and new_text != text:
            path.write_text(new_text, encoding="utf-8")
            print(f"cited-tests: rewrote moved citations in {doc}")
        print(f"cited-tests: {doc}: {len(cited)} citations, {len(set(cited))} distinct tests")
    if errors:
        sys.exit("cited-tests: FAILED:\n  " + "\n  ".join(errors))
    print("cited-tests: every cited test exists where it is cited")


main()
