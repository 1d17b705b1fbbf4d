//! Declares the `loom` cfg: the workspace's loom models build this crate with `--cfg loom`
//! (through the CPU driver), where `urpc`'s atomics are loom's and the watch is left out.
fn main() {
    println!("cargo::rustc-check-cfg=cfg(loom)");
}
