//! Gives the Linux shared library its SONAME, so a program records which ABI
//! it was linked against (`NEEDED libherohealth.so.0.1`), not a bare
//! `libherohealth.so`. The name changes exactly when the C ABI may break:
//! with every minor version while 0.x, with every major version from 1.0.
//! The top-level Makefile installs the file under the same name.
//!
//! Only Linux: Windows DLLs have no SONAME, and macOS uses an install name
//! set differently.

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() != Ok("linux") {
        return;
    }
    let major = std::env::var("CARGO_PKG_VERSION_MAJOR").expect("cargo sets the version");
    let minor = std::env::var("CARGO_PKG_VERSION_MINOR").expect("cargo sets the version");
    let abi = if major == "0" {
        format!("0.{minor}")
    } else {
        major
    };
    println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libherohealth.so.{abi}");
}
