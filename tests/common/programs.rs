//! The C programs, built once per test binary, and the one way to run them
//! (and any other tool) from a test.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use super::mock::{GROUP, KEY, Mock};

/// Every setting the library reads from the environment: a program under
/// test sees only those a test sets.
const HERO_VARS: [&str; 5] = [
    "HERO_API_KEY",
    "HERO_PRACTICE_GROUP_ID",
    "HERO_BASE_URL",
    "HERO_ENVIRONMENT",
    "HERO_CA_FILE",
];

/// The repository's root.
pub fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Output bytes as text, for messages.
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Runs a command with no stdin; returns its output, whatever its status.
pub fn run(cmd: &mut Command) -> Output {
    cmd.stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("run {cmd:?}: {e}"))
}

/// Runs a command that must succeed; returns its output.
pub fn ok(cmd: &mut Command) -> Output {
    let out = run(cmd);
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}):\n{}\n{}",
        out.status,
        text(&out.stdout),
        text(&out.stderr)
    );
    out
}

/// A command for a built C program (under Wine for the Windows builds)
/// with no `HERO_*` settings at all and no stdin.
pub fn program(name: &str) -> Command {
    let mut cmd = if windows_programs() {
        let mut wine = Command::new("wine");
        // Wine's own diagnostics would land in the program's stderr.
        wine.arg(c_programs().join(format!("{name}.exe")))
            .env("WINEDEBUG", "-all");
        wine
    } else {
        Command::new(c_programs().join(name))
    };
    for var in HERO_VARS {
        cmd.env_remove(var);
    }
    cmd.stdin(Stdio::null());
    cmd
}

/// [`program`] aimed at a server at `base_url` with these credentials.
pub fn program_for(name: &str, base_url: &str, key: &str, group: &str) -> Command {
    let mut cmd = program(name);
    cmd.env("HERO_BASE_URL", base_url)
        .env("HERO_API_KEY", key)
        .env("HERO_PRACTICE_GROUP_ID", group);
    cmd
}

/// The one `hero_send` runner: aimed at `mock` with the credentials it
/// expects, given `args`.
pub fn hero_send<S: AsRef<std::ffi::OsStr>>(mock: &Mock, args: &[S]) -> Command {
    let mut cmd = program_for("hero_send", &mock.base_url(), KEY, GROUP);
    cmd.args(args);
    cmd
}

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
