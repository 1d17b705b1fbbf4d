//! What `scripts/build` produced: one CPU-driver ELF per core class, each knowing its own
//! build, and a packer that refuses to pack an ELF under another build's name.

use std::path::PathBuf;
use std::process::Command;

use system_tests::built;

fn packer() -> PathBuf {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/release/mkbootimage");
    assert!(path.exists(), "{} is missing: run scripts/build (scripts/test does) first", path.display());
    path
}

/// The builds whose `CPU_DRIVER_BUILD` field (the name NUL-padded to 16 bytes) the kernel ELF
/// holds; exactly one is expected.
fn build_name_in(elf: &[u8]) -> String {
    let needle = |name: &str| {
        let mut field = [0u8; 16];
        field[..name.len()].copy_from_slice(name.as_bytes());
        elf.windows(16).any(|w| w == field)
    };
    ["cortex-a53", "cortex-a72"].into_iter().filter(|n| needle(n)).collect::<Vec<_>>().join(",")
}

#[test]
fn each_kernel_elf_is_the_build_of_its_class() {
    let little = std::fs::read(built("cpu-driver-cortex-a53.elf")).unwrap();
    let big = std::fs::read(built("cpu-driver-cortex-a72.elf")).unwrap();
    assert_eq!(build_name_in(&little), "cortex-a53");
    assert_eq!(build_name_in(&big), "cortex-a72");
    assert_ne!(little, big, "the two class builds must differ in their code generation");
}

#[test]
fn packer_refuses_a_kernel_under_another_builds_name() {
    let out = std::env::temp_dir().join(format!("mk-wrong-build-{}.img", std::process::id()));
    let little = built("cpu-driver-cortex-a53.elf");
    let big = built("cpu-driver-cortex-a72.elf");
    let output = Command::new(packer())
        .arg("--stub")
        .arg(built("boot-stub.elf"))
        .arg("--cpu-driver")
        .arg(format!("0:cortex-a53:{}", big.display()))
        .arg("--cpu-driver")
        .arg(format!("1:cortex-a72:{}", little.display()))
        .arg("-o")
        .arg(&out)
        .output()
        .expect("running mkbootimage");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "packing swapped builds must fail; stderr: {stderr}");
    assert!(stderr.contains("compiled as the cortex-a72 build"), "{stderr}");
    assert!(!out.exists(), "no image may be written");
}
