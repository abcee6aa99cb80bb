//! The C programs, built once per test binary.

use std::path::PathBuf;
use std::process::{Command, Stdio};

/// True when the Windows builds of the C programs are under test
/// (`HERO_C_PROGRAMS=windows`, run under Wine).
pub fn windows_programs() -> bool {
    std::env::var_os("HERO_C_PROGRAMS").is_some_and(|v| v == "windows")
}

/// The C programs of `examples-c/`, built once per test binary with their
/// Makefile against the library in `target/`; returns `build/` (or
/// `build-windows/` when [`windows_programs`]).
pub fn c_programs() -> &'static std::path::Path {
    static BUILT: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    BUILT.get_or_init(|| {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let started = std::time::Instant::now();
        let out = Command::new("make")
            .arg("-C")
            .arg(root.join("examples-c"))
            .args(windows_programs().then_some("windows"))
            .arg(format!("TARGET_DIR={}", root.join("target").display()))
            .arg(format!("CARGO={}", env!("CARGO")))
            .stdin(Stdio::null())
            .output()
            .expect("run make (is it installed?)");
        assert!(
            out.status.success(),
            "make -C examples-c failed ({}):\n{}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        eprintln!("make -C examples-c took {:?}", started.elapsed());
        let build = if windows_programs() {
            "build-windows"
        } else {
            "build"
        };
        root.join("examples-c").join(build)
    })
}
