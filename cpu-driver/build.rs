//! Links the two bare-metal binaries with their linker scripts and declares the
//! `cpu_driver_build` configuration through which a kernel build knows its own core class,
//! and the `loom` configuration of the console rings' models.

fn main() {
    let manifest = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let linker_dir = std::path::Path::new(&manifest).join("../linker");
    println!("cargo:rerun-if-changed=../linker");
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("none") {
        println!("cargo:rustc-link-arg-bin=boot=-T{}", linker_dir.join("boot.ld").display());
        println!("cargo:rustc-link-arg-bin=boot=--pie");
        // The prebuilt core and alloc are not PIC: their read-only data carries absolute
        // addresses. Let the linker turn those into R_AARCH64_RELATIVE entries too; the stub
        // applies them with the MMU off, when nothing is read-only yet.
        println!("cargo:rustc-link-arg-bin=boot=-znotext");
        // Debug information of functions the linker dropped would point at address 0 (the
        // linker's default), which in the stub, linked at 0, is real code: a debugger would
        // name the stub's entry after some dropped function. Point it far away instead, where
        // no code is even after the debugger adds the stub's load address.
        println!("cargo:rustc-link-arg-bin=boot=-zdead-reloc-in-nonalloc=.debug_*=0x8000000000000000");
        println!("cargo:rustc-link-arg-bin=kernel=-T{}", linker_dir.join("kernel.ld").display());
        // Cortex-A53 erratum 843419 (an ADRP in a page's last 8 bytes followed by loads or
        // stores through its result can compute a wrong address): the linker rewrites every
        // such sequence. The stub runs on whatever core the firmware started, the little build
        // on Cortex-A53s; the big build gets it too (one rule, no cost on other cores).
        // `tests/tests/disassembly.rs` checks that no such sequence is left in any build.
        println!("cargo:rustc-link-arg-bins=--fix-cortex-a53-843419");
    }
    // scripts/build names the build it compiles next to its `-C target-cpu`, for this crate's
    // library and kernel binary alone (`--cfg cpu_driver_build="cortex-a53"`, added by its
    // RUSTC_WORKSPACE_WRAPPER scripts/lib/rustc-for-core-class); these are the names the SKB
    // chooses from.
    println!("cargo::rustc-check-cfg=cfg(cpu_driver_build, values(\"cortex-a53\", \"cortex-a72\"))");
    // `--cfg loom` swaps the console rings' atomics for loom's (`tests/loom.rs`).
    println!("cargo::rustc-check-cfg=cfg(loom)");
}
