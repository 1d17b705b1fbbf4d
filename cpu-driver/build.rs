//! Links the two bare-metal binaries with their linker scripts and records which
//! `-C target-cpu` this build was compiled for, so each core can print the build it runs.

fn main() {
    let manifest = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let linker_dir = std::path::Path::new(&manifest).join("../linker");
    println!("cargo:rerun-if-changed=../linker");
    println!("cargo:rerun-if-env-changed=CARGO_ENCODED_RUSTFLAGS");
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("none") {
        println!("cargo:rustc-link-arg-bin=boot=-T{}", linker_dir.join("boot.ld").display());
        println!("cargo:rustc-link-arg-bin=boot=--pie");
        // The prebuilt core and alloc are not PIC: their read-only data carries absolute
        // addresses. Let the linker turn those into R_AARCH64_RELATIVE entries too; the stub
        // applies them with the MMU off, when nothing is read-only yet.
        println!("cargo:rustc-link-arg-bin=boot=-znotext");
        println!("cargo:rustc-link-arg-bin=kernel=-T{}", linker_dir.join("kernel.ld").display());
    }
    let flags = std::env::var("CARGO_ENCODED_RUSTFLAGS").unwrap_or_default();
    let target_cpu = flags
        .split('\x1f')
        .collect::<Vec<_>>()
        .windows(2)
        .find_map(|w| match (w[0], w[1]) {
            ("-C", flag) => flag.strip_prefix("target-cpu=").map(str::to_owned),
            (flag, _) => flag.strip_prefix("-Ctarget-cpu=").map(str::to_owned),
        })
        .unwrap_or_else(|| "generic".to_owned());
    println!("cargo:rustc-env=CPU_DRIVER_TARGET_CPU={target_cpu}");
}
