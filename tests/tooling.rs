//! The build and check scripts must not pass by accident: the C programs
//! relink whenever cargo rebuilt the library, a build started by `cargo
//! test` leaves the release build fresh for the user's own commands, the
//! benchmark guard fails when callgrind gave it nothing to measure, and CI
//! fails when a stage's script is missing.

// Unix only: these check the shell scripts and Makefiles, which run on
// the Linux build machine (Windows builds are cross-compiled there too).
#![cfg(unix)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub mod common;
use common::{ok, root, run, text};

/// A fresh directory of this test's own under cargo's temporary directory.
fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn write_script(path: &Path, body: &str) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, body).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// The release library, built (or found fresh) by the examples' Makefile.
fn release_library() -> PathBuf {
    ok(Command::new("make")
        .arg("-C")
        .arg(root().join("examples-c"))
        .arg("lib")
        .arg(format!("CARGO={}", env!("CARGO"))));
    root().join("target/release/libherohealth.a")
}

/// make must read the library's time stamp after cargo ran, so a program
/// relinks exactly when cargo rebuilt the library. A stand-in cargo
/// "rebuilds" it (touches it) only when told to.
#[test]
fn c_programs_relink_exactly_when_cargo_rebuilt_the_library() {
    let library = release_library();
    let dir = scratch("relink");
    let target = dir.join("target");
    std::fs::create_dir_all(target.join("release")).unwrap();
    std::fs::copy(&library, target.join("release/libherohealth.a")).unwrap();
    let rebuild = dir.join("rebuild-now");
    let fake_cargo = dir.join("cargo");
    write_script(
        &fake_cargo,
        &format!(
            "#!/bin/sh\nif [ -e '{}' ]; then touch '{}'; fi\n",
            rebuild.display(),
            target.join("release/libherohealth.a").display()
        ),
    );
    let program = dir.join("build/send_message");
    let make = || {
        let out = ok(Command::new("make")
            .arg("-C")
            .arg(root().join("examples-c"))
            .arg(format!("TARGET_DIR={}", target.display()))
            .arg(format!("BUILD={}", dir.join("build").display()))
            .arg(format!("CARGO={}", fake_cargo.display()))
            .arg(&program));
        text(&out.stdout)
    };
    let links = |stdout: &str| stdout.contains(&format!("-o {}", program.display()));

    assert!(links(&make()), "first build links");
    assert!(!links(&make()), "nothing changed: no relink");
    std::fs::write(&rebuild, "").unwrap();
    // Coarse file systems: make sure the rebuilt library is strictly newer.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    assert!(
        links(&make()),
        "cargo rebuilt the library: the program must relink"
    );
}

/// `cargo test` runs `make -C examples-c` with its own variables in the
/// environment (CARGO_MANIFEST_DIR, OUT_DIR...). Build scripts watch some
/// of them, so unless the Makefile drops them the user's next plain
/// `cargo build --release` (or the README's mock command) rebuilds
/// everything. This test process has exactly that environment.
#[test]
fn release_build_from_cargo_test_stays_fresh_for_the_user() {
    assert!(
        std::env::var_os("CARGO_MANIFEST_DIR").is_some(),
        "run by cargo test, with its environment"
    );
    release_library();
    let mut user = Command::new(env!("CARGO"));
    user.current_dir(root())
        .args(["build", "--release", "--lib", "--bin", "hero-mock"]);
    for (name, _) in std::env::vars_os() {
        let name = name.to_string_lossy().into_owned();
        if name == "OUT_DIR"
            || name.starts_with("CARGO_PKG_")
            || name.starts_with("CARGO_MANIFEST_")
            || name.starts_with("CARGO_BIN_")
            || name == "CARGO_CRATE_NAME"
            || name == "CARGO_PRIMARY_PACKAGE"
            || name == "CARGO_TARGET_TMPDIR"
            || name == "CARGO_RUSTC_CURRENT_DIR"
        {
            user.env_remove(&name);
        }
    }
    let out = ok(&mut user);
    let stderr = text(&out.stderr);
    assert!(
        !stderr.contains("Compiling"),
        "the user's own build recompiled what make had built:\n{stderr}"
    );
}

/// Runs `ir_per_send` from bench/common.sh with a stand-in valgrind that
/// writes `short` / `long` as callgrind's summary line (nothing if None).
fn ir_per_send_with(short: Option<&str>, long: Option<&str>) -> Output {
    let dir = scratch(&format!(
        "guard-{}-{}",
        short.unwrap_or("none"),
        long.unwrap_or("none")
    ));
    let summary = |v: Option<&str>| v.map_or(String::new(), |v| format!("summary: {v}\\n"));
    write_script(
        &dir.join("valgrind"),
        &format!(
            "#!/bin/sh\n\
             out=${{2#--callgrind-out-file=}}\n\
             case $out in *short) printf '{}' > \"$out\" ;; *) printf '{}' > \"$out\" ;; esac\n",
            summary(short),
            summary(long)
        ),
    );
    let script = format!(
        "set -euo pipefail\nROOT='{}'\nWORK='{}'\n. \"$ROOT/bench/common.sh\"\n\
         CG_SHORT=200 CG_LONG=2000\nv=$(ir_per_send t http://127.0.0.1:1 - /bin/true)\necho \"measured $v\"\n",
        root().display(),
        dir.display()
    );
    let path = std::env::var("PATH").unwrap_or_default();
    run(Command::new("bash")
        .arg("-c")
        .arg(script)
        .env("PATH", format!("{}:{path}", dir.display())))
}

#[test]
fn benchmark_guard_fails_without_a_measurement() {
    // A real pair of counts gives the per-send figure.
    let out = ir_per_send_with(Some("1000000"), Some("1180000"));
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "measured 100\n");
    // A missing summary, a garbled one, or no growth must fail, not read as 0.
    for (short, long) in [
        (None, None),
        (Some("1000000"), None),
        (Some("lots"), Some("1180000")),
        (Some("1000000"), Some("1000000")),
    ] {
        let out = ir_per_send_with(short, long);
        assert!(
            !out.status.success(),
            "{short:?}/{long:?} passed: {}",
            text(&out.stdout)
        );
        assert!(
            !text(&out.stdout).contains("measured"),
            "{short:?}/{long:?}"
        );
    }
}

#[test]
fn ci_fails_when_a_stage_script_is_missing() {
    let dir = scratch("ci");
    std::fs::create_dir_all(dir.join(".ci")).unwrap();
    std::fs::copy(root().join(".ci/run"), dir.join(".ci/run")).unwrap();
    for (present, missing) in [
        (None, "fuzz/run.sh"),
        (Some("fuzz/run.sh"), "bench/guard.sh"),
    ] {
        if let Some(file) = present {
            let path = dir.join(file);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, "exit 0\n").unwrap();
        }
        let out = run(Command::new("bash").arg(dir.join(".ci/run")));
        assert!(!out.status.success(), "CI passed without {missing}");
        assert!(
            text(&out.stderr).contains(&format!("{missing} is missing")),
            "{}",
            text(&out.stderr)
        );
        assert!(
            !text(&out.stdout).contains("==="),
            "no stage may run first: {}",
            text(&out.stdout)
        );
    }
}
