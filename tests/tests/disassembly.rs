//! Properties of the built kernels that QEMU cannot show, checked in their disassembly
//! (`llvm-objdump` from Rust's `llvm-tools` component, which `rust-toolchain.toml` lists):
//! QEMU neither reorders memory nor walks translation tables speculatively, so a missing
//! barrier boots fine there and hangs or faults a board.

use std::process::Command;

use system_tests::built;

/// One function of a disassembly: its symbol and its instructions, in address order.
struct Function {
    name: String,
    instructions: Vec<String>,
}

fn objdump() -> std::path::PathBuf {
    let rustc = |arg: &str| {
        let out = Command::new("rustc").arg(arg).output().expect("rustc runs");
        String::from_utf8(out.stdout).expect("utf-8")
    };
    let sysroot = rustc("--print=sysroot");
    let host = rustc("-vV")
        .lines()
        .find_map(|l| l.strip_prefix("host: ").map(str::to_owned))
        .expect("rustc -vV names the host");
    let path = std::path::Path::new(sysroot.trim()).join("lib/rustlib").join(host).join("bin/llvm-objdump");
    assert!(
        path.exists(),
        "{} is missing: rustup component add llvm-tools (scripts/test does)",
        path.display()
    );
    path
}

fn functions(elf: &str) -> Vec<Function> {
    let out = Command::new(objdump())
        .args(["-d", "--no-show-raw-insn", "--demangle"])
        .arg(built(elf))
        .output()
        .expect("llvm-objdump runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let mut functions = Vec::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        if let Some(name) = line.split_once(" <").and_then(|(_, rest)| rest.strip_suffix(">:")) {
            functions.push(Function { name: name.to_owned(), instructions: Vec::new() });
        } else if let (Some(f), Some((_, insn))) = (functions.last_mut(), line.split_once(':')) {
            let insn = insn.trim().replace('\t', " ");
            if !insn.is_empty() {
                f.instructions.push(insn);
            }
        }
    }
    functions
}

const KERNELS: [&str; 2] = ["cpu-driver-cortex-a53.elf", "cpu-driver-cortex-a72.elf"];

/// Whether `insn` hands a software-generated interrupt to the GIC: a GICv3 `ICC_SGI1R_EL1` or
/// `ICC_ASGI1R_EL1` write, or a call into `arm-gic`'s GICv2 or GICv3 `send_sgi`.
fn raises_sgi(insn: &str) -> bool {
    insn.starts_with("msr ICC_SGI1R_EL1")
        || insn.starts_with("msr ICC_ASGI1R_EL1")
        || ((insn.starts_with("bl ") || insn.starts_with("b ")) && insn.contains("::send_sgi::"))
}

#[test]
fn every_wake_sgi_is_raised_after_a_store_barrier() {
    for kernel in KERNELS {
        let mut raised = 0;
        for function in functions(kernel) {
            // Inside arm-gic's own send_sgi: its callers are what is checked.
            if function.name.contains("::send_sgi::") {
                continue;
            }
            let mut barrier = false;
            for insn in &function.instructions {
                barrier |= insn == "dsb ishst" || insn == "dsb ish" || insn == "dsb sy";
                if raises_sgi(insn) {
                    raised += 1;
                    assert!(
                        barrier,
                        "{kernel}: {} raises an SGI ({insn}) with no `dsb ishst` before it: the target may \
                         take the interrupt before it can see the message",
                        function.name
                    );
                }
            }
        }
        assert!(raised > 0, "{kernel}: no SGI found at all; the check would prove nothing");
    }
}

#[test]
fn every_user_address_space_switch_follows_a_store_barrier() {
    for kernel in KERNELS {
        let mut switches = 0;
        for function in functions(kernel).iter().filter(|f| f.name != "_kernel_entry") {
            for (at, insn) in function.instructions.iter().enumerate() {
                if insn.starts_with("msr TTBR0_EL1") {
                    switches += 1;
                    let before = at.checked_sub(1).map(|i| function.instructions[i].as_str());
                    assert_eq!(
                        before,
                        Some("dsb ishst"),
                        "{kernel}: {} switches TTBR0 without completing its table stores first",
                        function.name
                    );
                }
            }
        }
        assert!(switches > 0, "{kernel}: no TTBR0 switch found; the check would prove nothing");
    }
}
