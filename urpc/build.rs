//! Declares the `loom` cfg so `#[cfg(loom)]` passes the `unexpected_cfgs` check (the package's
//! `[lints]` table inherits the workspace's and cannot also hold a `[lints.rust]` table).
fn main() {
    println!("cargo::rustc-check-cfg=cfg(loom)");
}
