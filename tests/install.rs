//! `make install` into a temporary prefix, then the installed library used
//! the ways integrators use a C library, each program sending to the real
//! `hero-mock`: a C program through `pkg-config` (shared, then static), a
//! CMake project through `find_package(herohealth 0.1 CONFIG)` with both
//! imported targets, and the C++ example through CMake. Also checks the
//! installed layout, the SONAME, the exported symbols (exactly the header's
//! functions), the static library's symbols, and the CMake version rules.
//!
//! The install reuses the release build in `target/` (the Makefile runs
//! cargo, which finds it fresh after `make -C examples-c`). Needs make,
//! cc, c++, pkg-config, cmake, readelf and nm: when one is missing the
//! tests say so loudly and skip, except under CI (`CI` set), where they fail.

// Unix only: `make install` lays out ELF shared libraries with SONAMEs;
// Windows packages are made by the Makefile's Windows target instead.
#![cfg(unix)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;

pub mod common;
use common::{GROUP, KEY, Mock};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Runs a command that must succeed; returns its output.
fn ok(cmd: &mut Command) -> Output {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}):\n{}\n{}",
        out.status,
        text(&out.stdout),
        text(&out.stderr)
    );
    out
}

fn on_path(tool: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(tool).is_file()))
}

/// True when every tool is installed. Otherwise a loud note and false, or
/// a failure under CI, which installs them all (.ci/run).
fn tools_present(tools: &[&str]) -> bool {
    let missing: Vec<&str> = tools.iter().copied().filter(|t| !on_path(t)).collect();
    if missing.is_empty() {
        return true;
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "CI is set but {missing:?} are not on PATH (.ci/run installs them)"
    );
    eprintln!(
        "\n*** NOTE: {missing:?} not on PATH: SKIPPING the installed-library consumer checks ***\n"
    );
    false
}

/// Where `make install` put everything.
struct Installed {
    prefix: PathBuf,
    libdir: PathBuf,
    work: PathBuf,
}

/// `make install PREFIX=<temp>/p`, once per test binary.
fn installed() -> &'static Installed {
    static ONCE: OnceLock<Installed> = OnceLock::new();
    ONCE.get_or_init(|| {
        let work = Path::new(env!("CARGO_TARGET_TMPDIR")).join("install-consumers");
        let _ = std::fs::remove_dir_all(&work);
        std::fs::create_dir_all(&work).expect("create the work directory");
        let prefix = work.join("p");
        let out = ok(Command::new("make")
            .arg("-C")
            .arg(root())
            .arg("install")
            .arg(format!("PREFIX={}", prefix.display()))
            .arg(format!("TARGET_DIR={}", root().join("target").display()))
            .arg(format!("CARGO={}", env!("CARGO"))));
        eprintln!("{}", text(&out.stderr));
        Installed {
            libdir: prefix.join("lib"),
            prefix,
            work,
        }
    })
}

/// `0.<minor>` while 0.x, else the major version: the ABI part of the SONAME.
fn abi_version() -> String {
    let major = env!("CARGO_PKG_VERSION_MAJOR");
    if major == "0" {
        format!("0.{}", env!("CARGO_PKG_VERSION_MINOR"))
    } else {
        major.to_string()
    }
}

/// The functions `include/herohealth.h` declares.
fn declared_functions() -> BTreeSet<String> {
    let header = std::fs::read_to_string(root().join("include/herohealth.h")).unwrap();
    header
        .lines()
        .filter(|line| !line.trim_start().starts_with("//") && !line.starts_with(" *"))
        .flat_map(|line| line.split(|c: char| c.is_whitespace() || c == '*'))
        .filter_map(|token| token.split_once('(').map(|(name, _)| name))
        .filter(|name| {
            name.starts_with("hero_") && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        })
        .map(String::from)
        .collect()
}

/// Global symbols defined in `file`, from `nm` with `flags`.
fn defined_globals(flags: &[&str], file: &Path) -> BTreeSet<String> {
    let out = ok(Command::new("nm").args(flags).arg(file));
    text(&out.stdout)
        .lines()
        .filter_map(|line| {
            let mut parts = line.split_whitespace();
            let (_, kind, name) = (parts.next()?, parts.next()?, parts.next()?);
            kind.chars()
                .all(|c| c.is_ascii_uppercase())
                .then(|| name.to_string())
        })
        .collect()
}

/// The `NEEDED` and `SONAME` entries of an ELF file.
fn dynamic_entries(file: &Path, tag: &str) -> Vec<String> {
    let out = ok(Command::new("readelf").arg("-d").arg(file));
    text(&out.stdout)
        .lines()
        .filter(|l| l.contains(&format!("({tag})")))
        .filter_map(|l| Some(l.split('[').nth(1)?.trim_end_matches(']').to_string()))
        .collect()
}

/// Runs a consumer program against a fresh mock: it must send one message.
fn assert_sends(program: &Path) {
    let mock = Mock::start();
    let out = Command::new(program)
        .env("HERO_BASE_URL", mock.base_url())
        .env("HERO_API_KEY", KEY)
        .env("HERO_PRACTICE_GROUP_ID", GROUP)
        .env_remove("HERO_ENVIRONMENT")
        .env_remove("HERO_CA_FILE")
        // Only the install's own paths: no cargo test library directories.
        .env_remove("LD_LIBRARY_PATH")
        .stdin(Stdio::null())
        .output()
        .expect("run the consumer");
    assert!(
        out.status.success(),
        "{}: {}\n{}",
        program.display(),
        text(&out.stdout),
        text(&out.stderr)
    );
    assert!(
        text(&out.stdout).starts_with("sent: Hero message id "),
        "{}",
        text(&out.stdout)
    );
    assert_eq!(mock.requests().len(), 1, "{}", program.display());
}

fn pkg_config(args: &[&str]) -> Vec<String> {
    let inst = installed();
    let out = ok(Command::new("pkg-config")
        .env("PKG_CONFIG_PATH", inst.libdir.join("pkgconfig"))
        .args(args)
        .arg("herohealth"));
    text(&out.stdout)
        .split_whitespace()
        .map(String::from)
        .collect()
}

fn example(name: &str) -> PathBuf {
    root().join("examples-c").join(name)
}

#[test]
fn install_layout_soname_and_exports() {
    if !tools_present(&["make", "cmake", "readelf", "nm"]) {
        return;
    }
    let inst = installed();
    let version = env!("CARGO_PKG_VERSION");
    let soname = format!("libherohealth.so.{}", abi_version());
    for file in [
        "include/herohealth.h",
        "include/herohealth.hpp",
        "lib/libherohealth.a",
        "lib/pkgconfig/herohealth.pc",
        "lib/cmake/herohealth/herohealthConfig.cmake",
        "lib/cmake/herohealth/herohealthConfigVersion.cmake",
    ] {
        assert!(inst.prefix.join(file).is_file(), "{file} not installed");
    }
    let real = inst.libdir.join(format!("libherohealth.so.{version}"));
    assert!(real.is_file() && !real.is_symlink(), "{}", real.display());
    assert_eq!(
        std::fs::read_link(inst.libdir.join(&soname)).unwrap(),
        Path::new(&format!("libherohealth.so.{version}"))
    );
    assert_eq!(
        std::fs::read_link(inst.libdir.join("libherohealth.so")).unwrap(),
        Path::new(&soname)
    );
    assert_eq!(
        dynamic_entries(&real, "SONAME"),
        std::slice::from_ref(&soname)
    );

    // Exactly the header's functions are exported; nothing of Rust's.
    let declared = declared_functions();
    assert!(declared.len() > 50, "{declared:?}");
    let exported = defined_globals(&["-D", "--defined-only"], &real);
    assert_eq!(exported, declared, "shared library exports");
    // The static library's only global symbols are the same functions.
    let archive = inst.libdir.join("libherohealth.a");
    let globals = defined_globals(&["-g", "--defined-only"], &archive);
    assert_eq!(globals, declared, "static library globals");

    let pc = std::fs::read_to_string(inst.libdir.join("pkgconfig/herohealth.pc")).unwrap();
    assert!(pc.contains(&format!("\nVersion: {version}\n")), "{pc}");
    // Libs.private is what rustc reports for this library, not a guess.
    let reported = std::fs::read_to_string(
        root()
            .join("target/release/install/native-static-libs")
            .as_path(),
    )
    .unwrap();
    assert!(reported.contains("-l"), "{reported:?}");
    assert!(
        pc.contains(&format!("\nLibs.private: {}\n", reported.trim())),
        "{pc}"
    );

    // make uninstall removes every file it installed (in a staged copy).
    let stage = inst.work.join("stage");
    let make = |target: &str| {
        ok(Command::new("make")
            .arg("-C")
            .arg(root())
            .arg(target)
            .arg(format!("DESTDIR={}", stage.display()))
            .arg("PREFIX=/opt/hero")
            .arg(format!("TARGET_DIR={}", root().join("target").display()))
            .arg(format!("CARGO={}", env!("CARGO"))));
    };
    make("install");
    let staged = stage.join("opt/hero");
    assert!(staged.join("lib/libherohealth.a").is_file());
    let staged_pc = std::fs::read_to_string(staged.join("lib/pkgconfig/herohealth.pc")).unwrap();
    assert!(staged_pc.starts_with("prefix=/opt/hero\n"), "{staged_pc}");
    make("uninstall");
    let left: Vec<_> = walk(&stage).into_iter().filter(|p| !p.is_dir()).collect();
    assert!(left.is_empty(), "left after uninstall: {left:?}");
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut all = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            all.extend(walk(&path));
        }
        all.push(path);
    }
    all
}

#[test]
fn c_program_through_pkg_config_shared() {
    if !tools_present(&["make", "cmake", "cc", "pkg-config", "readelf"]) {
        return;
    }
    let inst = installed();
    let exe = inst.work.join("pc_shared");
    let libdir = pkg_config(&["--variable=libdir"]).join(" ");
    ok(Command::new("cc")
        .args(["-std=c99", "-Wall", "-Wextra", "-pedantic", "-Werror"])
        .args(pkg_config(&["--cflags"]))
        .arg(example("send_message.c"))
        .arg("-o")
        .arg(&exe)
        .args(pkg_config(&["--libs"]))
        .arg(format!("-Wl,-rpath,{libdir}")));
    // The program records the ABI it was linked against, not a bare name.
    let needed = dynamic_entries(&exe, "NEEDED");
    assert!(
        needed.contains(&format!("libherohealth.so.{}", abi_version())),
        "{needed:?}"
    );
    assert_sends(&exe);
}

#[test]
fn c_program_through_pkg_config_static() {
    if !tools_present(&["make", "cmake", "cc", "pkg-config", "readelf"]) {
        return;
    }
    let inst = installed();
    let exe = inst.work.join("pc_static");
    // With both libraries installed the linker takes the shared one for
    // -lherohealth, so the archive is asked for by file name (README).
    let libs: Vec<String> = pkg_config(&["--static", "--libs"])
        .into_iter()
        .map(|a| {
            if a == "-lherohealth" {
                "-l:libherohealth.a".to_string()
            } else {
                a
            }
        })
        .collect();
    assert!(libs.contains(&"-l:libherohealth.a".to_string()), "{libs:?}");
    ok(Command::new("cc")
        .args(["-std=c99", "-Wall", "-Wextra", "-pedantic", "-Werror"])
        .args(pkg_config(&["--static", "--cflags"]))
        .arg(example("send_message.c"))
        .arg("-o")
        .arg(&exe)
        .args(&libs));
    let needed = dynamic_entries(&exe, "NEEDED");
    assert!(
        !needed.iter().any(|n| n.contains("herohealth")),
        "{needed:?}"
    );
    assert_sends(&exe);
}

/// Another Rust static library in the same program brings its own copy of
/// std. From the same toolchain it shares std's symbol names and the
/// COMDAT group of its unwinding personality; from another toolchain it
/// defines `rust_eh_personality` a second time. Both must link beside the
/// installed archive: a real Rust static library built here (whose panic is
/// caught on its side), and a stand-in defining that symbol.
#[test]
fn static_library_links_beside_another_rust_static_library() {
    if !tools_present(&["make", "cmake", "cc", "ar", "rustc"]) {
        return;
    }
    let inst = installed();
    let dir = inst.work.join("other");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("other.rs"),
        "#[unsafe(no_mangle)]\n\
         pub extern \"C\" fn other_answer(n: i32) -> i32 {\n\
         \x20   std::panic::set_hook(Box::new(|_| {}));\n\
         \x20   let t = std::thread::spawn(move || n).join().unwrap_or(0);\n\
         \x20   std::panic::catch_unwind(|| if t == 3 { panic!(\"three\") } else { t * 21 })\n\
         \x20       .unwrap_or(-1)\n\
         }\n",
    )
    .unwrap();
    ok(Command::new("rustc")
        .args(["--edition", "2024", "-O", "--crate-type", "staticlib"])
        .arg(dir.join("other.rs"))
        .arg("-o")
        .arg(dir.join("libother_rust.a")));
    std::fs::write(
        dir.join("foreign.c"),
        "int rust_eh_personality(void) { return 0; }\nint foreign_answer(void) { return 7; }\n",
    )
    .unwrap();
    ok(Command::new("cc")
        .arg("-c")
        .arg(dir.join("foreign.c"))
        .arg("-o")
        .arg(dir.join("foreign.o")));
    ok(Command::new("ar")
        .arg("rcs")
        .arg(dir.join("libforeign.a"))
        .arg(dir.join("foreign.o")));
    let native =
        std::fs::read_to_string(root().join("target/release/install/native-static-libs")).unwrap();
    // One program with each: the stand-in and the real library clash with
    // each other, as two unlocalized Rust libraries from different
    // toolchains would; neither may clash with herohealth.
    for (name, other, call, expected) in [
        (
            "with_rust",
            "libother_rust.a",
            "other_answer(2), other_answer(3)",
            "42 -1",
        ),
        (
            "with_foreign",
            "libforeign.a",
            "foreign_answer(), foreign_answer()",
            "7 7",
        ),
    ] {
        let source = dir.join(format!("{name}.c"));
        std::fs::write(
            &source,
            format!(
                "#include <stdio.h>\n#include \"herohealth.h\"\n\
                 int other_answer(int);\nint foreign_answer(void);\n\
                 int main(void) {{ printf(\"%s %d %d\\n\", hero_version(), {call}); return 0; }}\n"
            ),
        )
        .unwrap();
        ok(Command::new("cc")
            .arg(format!("-I{}", inst.prefix.join("include").display()))
            .arg(&source)
            .arg(inst.libdir.join("libherohealth.a"))
            .arg(dir.join(other))
            .args(native.split_whitespace())
            .arg("-o")
            .arg(dir.join(name)));
        let out = ok(&mut Command::new(dir.join(name)));
        assert_eq!(
            text(&out.stdout),
            format!("{} {expected}\n", env!("CARGO_PKG_VERSION")),
            "{name}"
        );
    }
}

#[test]
fn cmake_find_package_both_targets_and_the_cpp_example() {
    if !tools_present(&["make", "cmake", "cc", "c++", "readelf"]) {
        return;
    }
    let inst = installed();
    let build = inst.work.join("cmake-build");
    ok(Command::new("cmake")
        .arg("-S")
        .arg(root().join("tests/consumer"))
        .arg("-B")
        .arg(&build)
        .arg(format!("-DCMAKE_PREFIX_PATH={}", inst.prefix.display()))
        .arg(format!(
            "-DHERO_EXAMPLES={}",
            root().join("examples-c").display()
        ))
        .arg("-DCMAKE_BUILD_TYPE=Release"));
    ok(Command::new("cmake").arg("--build").arg(&build));
    let soname = format!("libherohealth.so.{}", abi_version());
    for (program, shared) in [
        ("send_shared", true),
        ("send_static", false),
        ("send_message_cpp", true),
    ] {
        let exe = build.join(program);
        let needed = dynamic_entries(&exe, "NEEDED");
        assert_eq!(needed.contains(&soname), shared, "{program}: {needed:?}");
        assert_sends(&exe);
    }
}

#[test]
fn cmake_version_file_accepts_the_same_minor_only() {
    if !tools_present(&["make", "cmake"]) {
        return;
    }
    let inst = installed();
    let major: u32 = env!("CARGO_PKG_VERSION_MAJOR").parse().unwrap();
    let minor: u32 = env!("CARGO_PKG_VERSION_MINOR").parse().unwrap();
    assert_eq!(
        major, 0,
        "from 1.0 the rule is SameMajorVersion: update this test"
    );
    let cases = [
        (format!("0.{minor}"), true),
        (env!("CARGO_PKG_VERSION").to_string(), true),
        (format!("0.{}", minor + 1), false),
        ("1.0".to_string(), false),
    ];
    for (n, (want, found)) in cases.iter().enumerate() {
        let build = inst.work.join(format!("cmake-version-{n}"));
        let out = ok(Command::new("cmake")
            .arg("-S")
            .arg(root().join("tests/consumer/version"))
            .arg("-B")
            .arg(&build)
            .arg(format!("-DCMAKE_PREFIX_PATH={}", inst.prefix.display()))
            .arg(format!("-DWANT={want}")));
        let line = format!(
            "herohealth {want} found: {}",
            if *found { "1" } else { "0" }
        );
        assert!(
            text(&out.stdout).contains(&line),
            "{want}: {}",
            text(&out.stdout)
        );
    }
}

/// Each header compiles on its own at its stated minimum standard, with
/// every warning an error (C++: without exceptions).
#[test]
fn headers_compile_alone_at_their_minimum_standards() {
    if !tools_present(&["cc", "c++"]) {
        return;
    }
    let include = root().join("include");
    for (compiler, lang, flags, header) in [
        ("cc", "c", &["-std=c99"][..], "herohealth.h"),
        (
            "c++",
            "c++",
            &["-std=c++17", "-fno-exceptions"][..],
            "herohealth.hpp",
        ),
        ("c++", "c++", &["-std=c++17"][..], "herohealth.h"),
    ] {
        let mut child = Command::new(compiler)
            .args(flags)
            .args(["-Wall", "-Wextra", "-Werror", "-pedantic", "-fsyntax-only"])
            .arg(format!("-I{}", include.display()))
            .args(["-x", lang, "-"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run the compiler");
        use std::io::Write;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(format!("#include \"{header}\"\n").as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{header} with {compiler} {flags:?}:\n{}",
            text(&out.stderr)
        );
    }
}

/// The Makefile's step that hides everything but `hero_*` in the static
/// library must keep unwinding intact: a panic caught inside the library
/// (as every C entry point does) still lands in its handler. Checked on a
/// tiny Rust static library that panics on purpose, run through that very
/// make rule, linked beside a stand-in for another Rust static library.
#[test]
fn localized_static_library_still_catches_panics() {
    if !tools_present(&["make", "cc", "ar", "ld", "objcopy", "rustc"]) {
        return;
    }
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("localize-unwind");
    let _ = std::fs::remove_dir_all(&dir);
    let (out, stage) = (dir.join("out"), dir.join("stage"));
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(
        dir.join("panicky.rs"),
        "#[unsafe(no_mangle)]\n\
         pub extern \"C\" fn hero_count(n: i32) -> i32 {\n\
         \x20   std::panic::set_hook(Box::new(|_| {}));\n\
         \x20   std::panic::catch_unwind(|| {\n\
         \x20       let v = vec![String::from(\"x\"); n as usize];\n\
         \x20       if v.len() == 3 { panic!(\"three\") }\n\
         \x20       v.len() as i32\n\
         \x20   })\n\
         \x20   .unwrap_or(-1)\n\
         }\n",
    )
    .unwrap();
    ok(Command::new("rustc")
        .args(["--edition", "2024", "-O", "--crate-type", "staticlib"])
        .arg(dir.join("panicky.rs"))
        .arg("-o")
        .arg(out.join("libherohealth.a")));
    ok(Command::new("make")
        .arg("-C")
        .arg(root())
        .arg(format!("OUT={}", out.display()))
        .arg(format!("STAGE={}", stage.display()))
        .arg(stage.join("libherohealth.a")));
    let globals = defined_globals(&["-g", "--defined-only"], &stage.join("libherohealth.a"));
    assert_eq!(globals, BTreeSet::from(["hero_count".to_string()]));
    std::fs::write(
        dir.join("other.c"),
        "int rust_eh_personality(void) { return 0; }\nint other_answer(void) { return 42; }\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("main.c"),
        "#include <stdio.h>\nint hero_count(int);\nint other_answer(void);\n\
         int main(void) { printf(\"%d %d %d\\n\", hero_count(2), hero_count(3), other_answer()); return 0; }\n",
    )
    .unwrap();
    let native = std::fs::read_to_string(root().join("target/release/install/native-static-libs"))
        .unwrap_or_else(|_| "-lgcc_s -lutil -lrt -lpthread -lm -ldl -lc".to_string());
    ok(Command::new("cc")
        .arg(dir.join("main.c"))
        .arg(dir.join("other.c"))
        .arg(stage.join("libherohealth.a"))
        .args(native.split_whitespace())
        .arg("-o")
        .arg(dir.join("count")));
    let run = ok(&mut Command::new(dir.join("count")));
    assert_eq!(text(&run.stdout), "2 -1 42\n", "the panic was not caught");
}

/// The C++ layer covers the whole C API: every function the C header
/// declares is called somewhere in `herohealth.hpp`. A new C function fails
/// this until the C++ layer wraps it (or it is listed here, with a reason).
#[test]
fn cpp_header_wraps_every_c_function() {
    // Functions the C++ layer does not call on purpose: (name, reason).
    const NOT_WRAPPED: [(&str, &str); 0] = [];
    let hpp = std::fs::read_to_string(root().join("include/herohealth.hpp")).unwrap();
    let missing: Vec<String> = declared_functions()
        .into_iter()
        .filter(|name| NOT_WRAPPED.iter().all(|(n, _)| n != name))
        .filter(|name| {
            !hpp.match_indices(name.as_str()).any(|(at, _)| {
                // A whole identifier, not the prefix of a longer name.
                let next = hpp[at + name.len()..].chars().next();
                !next.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
            })
        })
        .collect();
    assert!(
        missing.is_empty(),
        "herohealth.hpp does not wrap {missing:?}"
    );
}
