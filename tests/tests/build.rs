//! What `scripts/build` produced: one CPU-driver ELF per core class, each knowing its own
//! build and linked at its own base, a packer that refuses to pack an ELF under another
//! build's name, EL0 programs with debug information in build/ and only their loadable
//! segments in the image, and the gdb script that loads every symbol file.

use std::path::PathBuf;
use std::process::Command;

use object::{Object, ObjectSegment, ObjectSymbol};

use system_tests::built;

fn packer() -> PathBuf {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/debug/mkbootimage");
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

/// The EL0 programs `scripts/build` keeps in build/ for the debugger.
const PROGRAMS: [&str; 3] = ["monitor", "latency", "faulter"];

/// The boot image's payload table.
fn payloads(image: &[u8]) -> bootimage::PayloadTable {
    let stub = std::fs::read(built("boot-stub.elf")).unwrap();
    let stub = object::File::parse(&*stub).unwrap();
    let stub_end = stub.symbols().find(|s| s.name() == Ok("__stub_end")).expect("__stub_end").address();
    bootimage::PayloadTable::parse(image, stub_end as usize).expect("the image's payload table")
}

/// The address range `[lowest, highest)` of an ELF's loadable segments.
fn loaded_range(elf: &[u8]) -> std::ops::Range<u64> {
    let file = object::File::parse(elf).unwrap();
    let segments: Vec<_> = file.segments().map(|s| (s.address(), s.address() + s.size())).collect();
    segments.iter().map(|s| s.0).min().unwrap()..segments.iter().map(|s| s.1).max().unwrap()
}

#[test]
fn each_kernel_build_is_linked_and_packed_at_its_own_base_in_the_kernel_window() {
    let image = std::fs::read(built("Image")).unwrap();
    let table = payloads(&image);
    for (class, name) in [(0, "cortex-a53"), (1, "cortex-a72")] {
        let base = cpu_driver::layout::kernel_base(class).unwrap();
        let elf = std::fs::read(built(&format!("cpu-driver-{name}.elf"))).unwrap();
        let range = loaded_range(&elf);
        assert_eq!(range.start, base, "{name} must be linked at its class's base");
        assert!(cpu_driver::layout::kernel_region_fits(base, range.end - base), "{name}: {range:x?}");
        let entry = table.cpu_driver(class).unwrap_or_else(|| panic!("no payload for class {class}"));
        assert_eq!((entry.name(), entry.load_va), (name, base), "the stub maps the build where it is linked");
    }
    assert_ne!(cpu_driver::layout::kernel_base(0), cpu_driver::layout::kernel_base(1));
}

#[test]
fn el0_programs_keep_debug_information_at_distinct_addresses_and_the_image_only_their_segments() {
    let image = std::fs::read(built("Image")).unwrap();
    let table = payloads(&image);
    let mut ranges = Vec::new();
    for name in PROGRAMS {
        let full = std::fs::read(built(&format!("el0-{name}.elf"))).unwrap();
        let file = object::File::parse(&*full).unwrap();
        for section in [".debug_info", ".debug_line", ".symtab"] {
            assert!(file.section_by_name(section).is_some(), "build/el0-{name}.elf must keep {section}");
        }
        ranges.push((name, loaded_range(&full)));

        // The image holds exactly the packer's loadable copy of this very ELF ...
        let entry = table.program(name).unwrap_or_else(|| panic!("no payload {name}"));
        let packed = table.payload_bytes(&image, entry).unwrap();
        assert_eq!(packed, bootimage::pack::loadable_elf(&full, name).unwrap(), "{name}");
        let packed_file = object::File::parse(packed).unwrap();
        assert_eq!(packed_file.sections().count(), 0, "{name}: no sections (debug information) in the image");
        assert!(packed.len() * 4 < full.len(), "{name}: {} of {} bytes packed", packed.len(), full.len());
        // ... which the CPU driver's loader reads into the same plan as the full ELF.
        let plan = |elf: &[u8]| {
            let plan = cpu_driver::program::plan(elf).unwrap();
            let segments: Vec<_> = plan
                .segments
                .iter()
                .map(|s| (s.vaddr, s.mem_size, s.attributes, elf[s.file_range.clone()].to_vec()))
                .collect();
            (plan.entry, segments)
        };
        assert_eq!(plan(packed), plan(&full), "{name}");
    }
    // So that a debugger can load every program's symbols at once.
    for (i, (a, ra)) in ranges.iter().enumerate() {
        for (b, rb) in &ranges[i + 1..] {
            assert!(ra.end <= rb.start || rb.end <= ra.start, "{a} {ra:x?} overlaps {b} {rb:x?}");
        }
        assert!(ra.start >= cpu_driver::layout::USER_MIN, "{a} {ra:x?}");
    }
}

#[test]
fn the_gdb_symbol_script_loads_every_elf_in_the_build_folder() {
    let script = std::fs::read_to_string(built("gdb/symbols.gdb")).unwrap();
    let loads: Vec<&str> = script.lines().filter(|l| l.starts_with("add-symbol-file ")).collect();
    let mut elfs: Vec<String> = std::fs::read_dir(system_tests::build_dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".elf"))
        .collect();
    elfs.sort();
    for expected in ["boot-stub.elf", "cpu-driver-cortex-a53.elf", "cpu-driver-cortex-a72.elf"] {
        assert!(elfs.iter().any(|e| e == expected), "{expected} missing: {elfs:?}");
    }
    for program in PROGRAMS {
        assert!(elfs.contains(&format!("el0-{program}.elf")), "el0-{program}.elf missing: {elfs:?}");
    }
    for elf in &elfs {
        let line = loads
            .iter()
            .find(|l| l.contains(&format!("/{elf}\"")))
            .unwrap_or_else(|| panic!("{elf}: {script}"));
        // Only the stub is position independent: linked at 0, loaded where QEMU virt's -kernel
        // puts the image (the stub prints it: "image at 0x40200000").
        assert_eq!(line.ends_with(" -o 0x40200000"), elf == "boot-stub.elf", "{line}");
    }
    assert_eq!(loads.len(), elfs.len(), "{script}");
}
