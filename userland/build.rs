//! Links EL0 programs at the user address with `linker/user.ld` (bare-metal target only).
//! Every EL0 program package uses this one script (`build = ...` in its manifest); it finds
//! the linker script in the first ancestor of the package that has `linker/user.ld`.

fn main() {
    let manifest = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let script = std::path::Path::new(&manifest)
        .ancestors()
        .map(|dir| dir.join("linker/user.ld"))
        .find(|candidate| candidate.exists())
        .expect("linker/user.ld in an ancestor of the package");
    println!("cargo:rerun-if-changed={}", script.display());
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("none") {
        println!("cargo:rustc-link-arg-bins=-T{}", script.display());
    }
}
