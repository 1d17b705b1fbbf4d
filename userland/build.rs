//! Links EL0 programs with `linker/user.ld` (bare-metal target only), each at its own address.
//! Every EL0 program package uses this one script (`build = ...` in its manifest); it finds
//! the linker script in the first ancestor of the package that has `linker/user.ld`.

/// Link address of every EL0 program: (package, binary, address). Each program runs in its
/// own address space, so they could share one address; distinct ones let a debugger load all
/// their symbol files at once without clashes. Each range runs to the next program's start
/// (12, 16, 16, 16 and 16 MiB; the last one up to `USER_FRAMES_BASE`), far more than a program needs; `tests/tests/build.rs` checks they do not
/// overlap. The lowest is `cpu_driver::layout::USER_MIN`, under which nothing is mapped.
const PROGRAMS: &[(&str, &str, u64)] = &[
    ("monitor", "monitor", 0x40_0000),
    ("latency", "latency", 0x100_0000),
    ("userland", "faulter", 0x200_0000),
    ("selftest", "selftest", 0x300_0000),
    ("console", "console", 0x400_0000),
    ("shell", "shell", 0x500_0000),
];

fn main() {
    let manifest = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let package = std::env::var("CARGO_PKG_NAME").expect("cargo sets CARGO_PKG_NAME");
    let script = std::path::Path::new(&manifest)
        .ancestors()
        .map(|dir| dir.join("linker/user.ld"))
        .find(|candidate| candidate.exists())
        .expect("linker/user.ld in an ancestor of the package");
    println!("cargo:rerun-if-changed={}", script.display());
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("none") {
        println!("cargo:rustc-link-arg-bins=-T{}", script.display());
        // Cortex-A53 erratum 843419: every program may run on a little core (see
        // cpu-driver/build.rs).
        println!("cargo:rustc-link-arg-bins=--fix-cortex-a53-843419");
        // user.ld links at `__user_base`; a program missing from the table fails to link
        // with "symbol not found: __user_base".
        for (_, bin, base) in PROGRAMS.iter().filter(|(p, _, _)| *p == package) {
            println!("cargo:rustc-link-arg-bin={bin}=--defsym=__user_base={base:#x}");
        }
    }
}
