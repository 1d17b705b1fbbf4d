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
    addresses: Vec<u64>,
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
            functions.push(Function {
                name: name.to_owned(),
                instructions: Vec::new(),
                addresses: Vec::new(),
            });
        } else if let (Some(f), Some((address, insn))) = (functions.last_mut(), line.split_once(':')) {
            let insn = insn.trim().replace('\t', " ");
            if let (false, Ok(address)) = (insn.is_empty(), u64::from_str_radix(address.trim(), 16)) {
                f.instructions.push(insn);
                f.addresses.push(address);
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

/// Whether the instructions from `at` on start Cortex-A53 erratum 843419's sequence: an
/// `adrp xN` in a page's last two words, a load or store, at most one more instruction, then a
/// load or store with an unsigned immediate offset based on `xN`.
fn erratum_843419_at(function: &Function, at: usize) -> bool {
    let is_memory = |insn: &str| {
        let op = insn.split(' ').next().unwrap_or("");
        (op.starts_with("ld") || op.starts_with("st")) && !op.starts_with("ldadd") && !op.starts_with("stadd")
    };
    let Some(register) = function.instructions[at].strip_prefix("adrp ").and_then(|r| r.split(',').next())
    else {
        return false;
    };
    if !matches!(function.addresses[at] & 0xfff, 0xff8 | 0xffc) {
        return false;
    }
    let next: Vec<&str> = function.instructions[at + 1..].iter().take(3).map(String::as_str).collect();
    let based_on = |insn: &str| is_memory(insn) && insn.contains(&format!("[{register}, #"));
    next.first().is_some_and(|i| is_memory(i))
        && (next.get(1).is_some_and(|i| based_on(i)) || next.get(2).is_some_and(|i| based_on(i)))
}

/// Every build that can run on a Cortex-A53 (all of them: the stub, both kernels, the EL0
/// programs) is linked with `--fix-cortex-a53-843419`, so none may hold the erratum's sequence.
/// (Without the flag none holds it today either: the check guards against the code changing.)
#[test]
fn no_build_holds_the_cortex_a53_erratum_843419_sequence() {
    let elves =
        ["boot-stub.elf", KERNELS[0], KERNELS[1], "el0-monitor.elf", "el0-selftest.elf", "el0-latency.elf"];
    let mut adrps_at_page_end = 0;
    for elf in elves {
        for function in functions(elf) {
            for at in 0..function.instructions.len() {
                let adrp = function.instructions[at].starts_with("adrp ");
                adrps_at_page_end +=
                    usize::from(adrp && matches!(function.addresses[at] & 0xfff, 0xff8 | 0xffc));
                assert!(
                    !erratum_843419_at(&function, at),
                    "{elf}: {} holds erratum 843419's sequence at {:#x}",
                    function.name,
                    function.addresses[at]
                );
            }
        }
    }
    println!("adrp instructions in a page's last two words, none starting the sequence: {adrps_at_page_end}");
}

#[test]
fn the_erratum_check_finds_the_sequence() {
    let function = |first: u64, insns: &[&str]| Function {
        name: "f".into(),
        instructions: insns.iter().map(|i| (*i).to_owned()).collect(),
        addresses: (0..insns.len() as u64).map(|i| first + 4 * i).collect(),
    };
    let sequence = ["adrp x1, 0x5000", "ldr x2, [x3]", "add x4, x4, #1", "ldr x5, [x1, #0x18]"];
    assert!(erratum_843419_at(&function(0x4ff8, &sequence), 0));
    assert!(erratum_843419_at(&function(0x4ffc, &[sequence[0], sequence[1], sequence[3]]), 0));
    assert!(!erratum_843419_at(&function(0x4ff0, &sequence), 0), "not at a page's end");
    assert!(!erratum_843419_at(
        &function(0x4ff8, &["adrp x1, 0x5000", "add x2, x2, #1", "ldr x5, [x1, #0x18]"]),
        0
    ));
    assert!(!erratum_843419_at(
        &function(0x4ff8, &["adrp x1, 0x5000", "ldr x2, [x3]", "ldr x5, [x6, #0x18]"]),
        0
    ));
}

/// Whether `insn` calls `arm-gic`'s `GicV2::setup`, which writes the shared distributor's
/// `GICD_CTLR` and all its group registers.
fn calls_gicv2_setup(insn: &str) -> bool {
    (insn.starts_with("bl ") || insn.starts_with("b ")) && insn.contains("GicV2::setup")
}

/// On GICv2 only the boot stub configures the distributor; a CPU driver sets up its own CPU
/// interface and banked registers only (`gic::Gic::this_core`). QEMU cannot show a core
/// rewriting `GICD_CTLR` under the others (its GIC model takes the same value again), so the
/// builds are checked: neither kernel holds or calls `GicV2::setup`, while the stub does (so
/// the check can see it).
#[test]
fn only_the_boot_stub_sets_up_the_gicv2_distributor() {
    let holds = |elf: &str| {
        functions(elf).iter().any(|f| {
            f.name.contains("arm_gic::gicv2::GicV2::setup")
                || f.instructions.iter().any(|i| calls_gicv2_setup(i))
        })
    };
    assert!(holds("boot-stub.elf"), "the stub must set up the distributor; the check would prove nothing");
    for kernel in KERNELS {
        assert!(!holds(kernel), "{kernel} sets up the GICv2 distributor again on every core");
    }
}

/// The `SCTLR_EL1` value `_kernel_entry` writes (with the MMU on): the `mov`/`movk` pair into
/// the register the `msr` writes.
fn kernel_sctlr(kernel: &str) -> u64 {
    let functions = functions(kernel);
    let entry = functions.iter().find(|f| f.name == "_kernel_entry").expect("_kernel_entry");
    let at = entry
        .instructions
        .iter()
        .rposition(|i| i.starts_with("msr SCTLR_EL1, "))
        .unwrap_or_else(|| panic!("{kernel}: no SCTLR_EL1 write in _kernel_entry"));
    let register = entry.instructions[at].rsplit(' ').next().expect("a register");
    let immediate = |insn: &str| {
        let hex = insn.split('#').nth(1).and_then(|h| h.split([',', ' ']).next()).expect("an immediate");
        u64::from_str_radix(hex.trim_start_matches("0x"), 16).expect("hex immediate")
    };
    let mut value = 0;
    for insn in &entry.instructions[at.saturating_sub(2)..at] {
        if insn.starts_with(&format!("mov {register}, #")) {
            value = immediate(insn);
        } else if insn.starts_with(&format!("movk {register}, #")) && insn.ends_with("lsl #16") {
            value |= immediate(insn) << 16;
        }
    }
    value
}

/// The EL0 controls of `SCTLR_EL1` as `cpu_driver::system_control::KERNEL` decides them,
/// checked in what the kernels really write: UCT (15), DZE (14), UCI (26) and nTWE (18) set,
/// nTWI (16) clear. QEMU traps a WFE at EL0 never, so the boot test cannot show nTWE; this can.
#[test]
fn the_kernels_write_the_decided_el0_controls_into_sctlr_el1() {
    for kernel in KERNELS {
        let sctlr = kernel_sctlr(kernel);
        for (bit, name) in
            [(15, "UCT"), (14, "DZE"), (26, "UCI"), (18, "nTWE"), (0, "M"), (2, "C"), (12, "I")]
        {
            assert_ne!(sctlr & (1 << bit), 0, "{kernel}: SCTLR_EL1 {sctlr:#x} lacks {name}");
        }
        assert_eq!(sctlr & (1 << 16), 0, "{kernel}: SCTLR_EL1 {sctlr:#x} lets EL0 run WFI (nTWI)");
    }
}

/// The EL2-to-EL1 drop (`el2_to_el1.S`, in the stub and in every kernel's entry) sets
/// `VPIDR_EL2` from `MIDR_EL1` and `VMPIDR_EL2` from `MPIDR_EL1`, whose reset values are
/// UNKNOWN on a board (QEMU resets them to the real values, so a boot there cannot tell), and
/// points `VBAR_EL2` at `el2_vectors`.
#[test]
fn the_el2_drop_sets_the_virtual_identity_registers_and_el2_vectors() {
    for (elf, function) in
        [("boot-stub.elf", "stub_entry"), (KERNELS[0], "_kernel_entry"), (KERNELS[1], "_kernel_entry")]
    {
        let functions = functions(elf);
        let code = &functions
            .iter()
            .find(|f| f.name == function)
            .unwrap_or_else(|| panic!("{elf}: {function}"))
            .instructions;
        let copies = |from: &str, to: &str| {
            code.windows(2).any(|w| {
                let register = w[0].strip_prefix("mrs ").and_then(|r| r.strip_suffix(&format!(", {from}")));
                register.is_some_and(|r| w[1] == format!("msr {to}, {r}"))
            })
        };
        assert!(copies("MIDR_EL1", "VPIDR_EL2"), "{elf}: {function} does not set VPIDR_EL2 from MIDR_EL1");
        assert!(
            copies("MPIDR_EL1", "VMPIDR_EL2"),
            "{elf}: {function} does not set VMPIDR_EL2 from MPIDR_EL1"
        );
        let eret =
            code.iter().position(|i| i == "eret").unwrap_or_else(|| panic!("{elf}: no eret in {function}"));
        let vbar = code.iter().rposition(|i| i.starts_with("msr VBAR_EL2, ")).expect("a VBAR_EL2 write");
        assert!(vbar < eret, "{elf}: VBAR_EL2 must be set before the drop");
        assert!(functions.iter().any(|f| f.name == "el2_vectors"), "{elf}: no el2_vectors");
    }
}

/// Instructions of extensions that ARMv8.0 leaves optional (CRC32, the cryptographic ones,
/// PMULL) or that later versions add (LSE atomics, pointer authentication, ...): none of them
/// in a build.
fn beyond_armv8_0(insn: &str) -> bool {
    let mnemonic = insn.split_whitespace().next().unwrap_or("");
    let optional = ["crc32", "aes", "sha1", "sha256", "sha512", "pmull"];
    // LSE atomics: the base name with acquire/release (a, l) and size (b, h) or pair (p) suffixes.
    let atomic = ["cas", "ldadd", "ldclr", "ldeor", "ldset", "ldsmax", "ldsmin", "ldumax", "ldumin", "swp"];
    optional.iter().any(|prefix| mnemonic.starts_with(prefix))
        || atomic.iter().any(|base| {
            mnemonic.strip_prefix(base).is_some_and(|suffix| suffix.chars().all(|c| "albhp".contains(c)))
        })
        || ["paciasp", "autiasp", "pacia", "autia", "retaa", "bti", "ldapr", "stlur", "ldapur"]
            .contains(&mnemonic)
}

/// The SKB gives a core whose design the tree does not name the little build before anything
/// can read its MIDR (skb/README.md, "Which build a core runs"): that is sound only if the
/// builds run on every ARMv8.0 core. `-C target-cpu=cortex-a53`/`cortex-a72` enable CRC32,
/// which ARMv8.0 leaves optional; the compiler emits it only for intrinsics, which nothing
/// here uses. So no build holds an instruction beyond ARMv8.0, the stub included.
#[test]
fn every_build_runs_on_any_armv8_0_core() {
    for elf in KERNELS.iter().chain(&["boot-stub.elf"]) {
        let mut checked = 0;
        for function in functions(elf) {
            for insn in &function.instructions {
                assert!(!beyond_armv8_0(insn), "{elf}: {} holds `{insn}`", function.name);
                checked += 1;
            }
        }
        assert!(checked > 1000, "{elf}: only {checked} instructions disassembled");
    }
    assert!(beyond_armv8_0("crc32cx w0, w0, x1") && beyond_armv8_0("casal x0, x1, [x2]"));
    assert!(
        !beyond_armv8_0("ldaxr x0, [x1]") && !beyond_armv8_0("stlr x0, [x1]") && !beyond_armv8_0("casual")
    );
}

/// Whether `insn` calls the function `name` (a direct branch with link).
fn calls(insn: &str, name: &str) -> bool {
    insn.starts_with("bl ") && insn.ends_with(&format!("<{name}>"))
}

/// The stub turns translation on once, from off (`stub_enable_mmu`), and replaces that live
/// early identity map by the full one, whose block sizes differ, only with the MMU off
/// (`stub_switch_map`): break-before-make for every entry at once, so no TLB can hold an entry
/// of each map for one address (a TLB conflict abort on a board; QEMU's TLB never conflicts).
/// Between clearing `SCTLR_EL1.M` and setting it again the switch writes the TTBRs,
/// invalidates the whole TLB and waits for that, and touches no memory.
#[test]
fn the_boot_stub_replaces_its_live_identity_map_with_the_mmu_off() {
    let stub = functions("boot-stub.elf");
    let count_calls =
        |name: &str| stub.iter().flat_map(|f| &f.instructions).filter(|i| calls(i, name)).count();
    assert_eq!(count_calls("stub_enable_mmu"), 1, "translation is turned on once, from off");
    assert_eq!(
        count_calls("stub_switch_map"),
        1,
        "the full map replaces the early one through stub_switch_map"
    );
    for function in stub.iter().filter(|f| f.name != "stub_enable_mmu" && f.name != "stub_switch_map") {
        assert!(
            !function
                .instructions
                .iter()
                .any(|i| i.starts_with("msr TTBR0_EL1") || i.starts_with("msr TTBR1_EL1")),
            "{} changes a translation table base outside the two checked functions",
            function.name
        );
    }
    let switch =
        stub.iter().find(|f| f.name == "stub_switch_map").expect("boot-stub.elf holds stub_switch_map");
    let insns = &switch.instructions;
    let sctlr_writes: Vec<usize> =
        (0..insns.len()).filter(|&i| insns[i].starts_with("msr SCTLR_EL1")).collect();
    let [off, on] = sctlr_writes[..] else { panic!("two SCTLR_EL1 writes expected: {insns:?}") };
    let off_register = insns[off].rsplit(' ').next().expect("msr names a register");
    assert!(
        insns[off - 1].starts_with(&format!("and {off_register}, "))
            && insns[off - 1].ends_with("#0xfffffffffffffffe"),
        "the first SCTLR_EL1 write must clear M (bit 0): {insns:?}"
    );
    let between = &insns[off..on];
    let at = |what: &str| between.iter().position(|i| i.starts_with(what));
    let ttbr0 = at("msr TTBR0_EL1").expect("TTBR0 written with the MMU off");
    let tlbi = at("tlbi vmalle1").expect("the whole TLB invalidated with the MMU off");
    let dsb = between[tlbi..].iter().position(|i| i.starts_with("dsb ")).expect("the invalidation completed");
    assert!(ttbr0 < tlbi && dsb > 0, "{insns:?}");
    assert!(
        !between.iter().any(|i| ["ld", "st", "prfm"].iter().any(|p| i.starts_with(p))),
        "no memory access with the MMU off (it would be Device memory, past the cache): {insns:?}"
    );
    assert!(
        !insns[..off].iter().chain(&insns[on..]).any(|i| i.starts_with("msr TTBR")),
        "the TTBRs change only while the MMU is off: {insns:?}"
    );
}

/// The barriers a TLB invalidation of a user address space needs around it: the local forms
/// (`tlbi vale1` / `aside1`, every address space being one core's) with `dsb nshst` before and
/// `dsb nsh` after; the broadcast form only for the unmap experiment's shared-memory baseline
/// (`tlbi vale1is`, with `dsb ishst` / `dsb ish`), and never a broadcast of a whole ASID.
#[test]
fn user_tlb_maintenance_is_local_and_completed() {
    for kernel in KERNELS {
        let (mut local, mut broadcast) = (0, 0);
        for function in functions(kernel) {
            let insns = &function.instructions;
            for (at, insn) in insns.iter().enumerate() {
                let around = |before: &str, after: &str| {
                    at.checked_sub(1).map(|i| insns[i].as_str()) == Some(before)
                        && insns.get(at + 1).map(String::as_str) == Some(after)
                };
                if insn.starts_with("tlbi vale1,") || insn.starts_with("tlbi aside1,") {
                    local += 1;
                    assert!(
                        around("dsb nshst", "dsb nsh"),
                        "{kernel}: {}: `{insn}` without its barriers",
                        function.name
                    );
                } else if insn.starts_with("tlbi vale1is,") {
                    broadcast += 1;
                    assert!(
                        around("dsb ishst", "dsb ish"),
                        "{kernel}: {}: `{insn}` without its barriers",
                        function.name
                    );
                }
                assert!(
                    !insn.starts_with("tlbi aside1is"),
                    "{kernel}: {}: a broadcast ASID invalidation",
                    function.name
                );
            }
        }
        assert!(local >= 2, "{kernel}: {local} local user TLB invalidations; the check would prove nothing");
        assert!(broadcast >= 1, "{kernel}: the shared-memory baseline's broadcast invalidation is missing");
    }
}

/// Whether `insn` stores a byte or a halfword (`strb`, `sturh`, `stlrb`, ...).
fn stores_sub_word(insn: &str) -> bool {
    let mnemonic = insn.split_whitespace().next().unwrap_or("");
    mnemonic.starts_with("st") && (mnemonic.ends_with('b') || mnemonic.ends_with('h'))
}

/// The `Message::encode` functions the compiler kept out of line in the kernels and the
/// monitor store whole words: `urpc::message::Body` is 8-aligned and `BodyWriter` merges each
/// field into its words. (With the 1-aligned `[u8; 48]` body the monitor's `Hello::encode`
/// held 12 `strb` and `BenchResult::encode` 20, since `+strict-align` forbids wider stores to
/// an address the compiler cannot prove aligned.) `scripts/lib/urpc-codegen.sh` checks the
/// same when the binaries are built before it runs.
#[test]
fn out_of_line_message_encoders_store_only_words() {
    let mut checked = 0;
    for elf in ["cpu-driver-cortex-a53.elf", "cpu-driver-cortex-a72.elf", "el0-monitor.elf"] {
        for function in functions(elf) {
            // Demangled, or as the ELF keeps legacy symbols (`$u20$as$u20$...$GT$::encode`).
            let encoder = function.name.contains(" as urpc::message::Message>::encode")
                || function.name.contains("$u20$as$u20$urpc..message..Message$GT$::encode");
            if !encoder {
                continue;
            }
            checked += 1;
            let narrow: Vec<&String> =
                function.instructions.iter().filter(|insn| stores_sub_word(insn)).collect();
            assert!(narrow.is_empty(), "{elf}: {} stores sub-words into the body: {narrow:?}", function.name);
        }
    }
    assert!(checked >= 3, "only {checked} out-of-line encoders found: the check would prove nothing");
}

#[test]
fn the_sub_word_store_check_knows_the_mnemonics() {
    for insn in
        ["strb w8, [x1]", "sturb w9, [x1, #0x3]", "strh w8, [x1, #0x2]", "sturh w8, [x1]", "stlrb w8, [x0]"]
    {
        assert!(stores_sub_word(insn), "{insn}");
    }
    for insn in
        ["str x8, [x1]", "stp x8, x9, [x1]", "stur w8, [x1, #0x4]", "ldrb w8, [x0]", "sub sp, sp, #0x10"]
    {
        assert!(!stores_sub_word(insn), "{insn}");
    }
}

/// The short loops of `function` that poll a word: a backward branch at most 16 instructions
/// from its target, with an `ldar` and a `spin_loop` hint (`isb`) in between. Each is given as
/// its instructions, target first.
fn polling_loops(function: &Function) -> Vec<&[String]> {
    let mut loops = Vec::new();
    for (end, insn) in function.instructions.iter().enumerate() {
        let Some(target) = branch_target(insn) else { continue };
        let Some(start) = function.addresses.iter().position(|&a| a == target) else { continue };
        if start > end || end - start > 16 {
            continue;
        }
        let body = &function.instructions[start..=end];
        if body.iter().any(|i| i.starts_with("ldar ")) && body.iter().any(|i| i.starts_with("isb")) {
            loops.push(body);
        }
    }
    loops
}

/// The address a direct branch (`b`, `b.<cond>`, `cbz`/`cbnz`, `tbz`/`tbnz`) goes to.
fn branch_target(insn: &str) -> Option<u64> {
    let mnemonic = insn.split_whitespace().next()?;
    let branch = mnemonic == "b"
        || mnemonic.starts_with("b.")
        || mnemonic.starts_with("cb")
        || mnemonic.starts_with("tb");
    if !branch {
        return None;
    }
    let address = insn.split_whitespace().find_map(|token| token.strip_prefix("0x"))?;
    u64::from_str_radix(address.trim_end_matches(','), 16).ok()
}

/// Whether `insn` reads memory other than through `ldar`.
fn loads_more(insn: &str) -> bool {
    let mnemonic = insn.split_whitespace().next().unwrap_or("");
    mnemonic.starts_with("ld") && mnemonic != "ldar"
}

/// Whether `insn` reads or writes memory (loads, stores, exclusives, pairs).
fn touches_memory(insn: &str) -> bool {
    let mnemonic = insn.split_whitespace().next().unwrap_or("");
    mnemonic.starts_with("ld") || mnemonic.starts_with("st")
}

/// The `latency` program's raw cache-line bounce touches no memory but the line, as Linux's
/// (`bench-linux/pingpong`) does: the echoing side (`bounce_back`) is a leaf whose only memory
/// accesses are the line's `ldar` and `stlr`, and every polling loop of the program loads only
/// the line. Inlined into the program's dispatch loop, the line's address was loaded from the
/// channel table before every poll and the round count from the stack once a round trip; each
/// put the raw limit 20-40 % above Linux's under QEMU.
#[test]
fn the_raw_bounce_touches_only_the_line() {
    // The CPU drivers' boot figures bounce the line the same way (`urpc_figures`).
    for (elf, prefix) in [
        ("el0-latency.elf", "latency::"),
        (KERNELS[0], "kernel::urpc_figures::"),
        (KERNELS[1], "kernel::urpc_figures::"),
    ] {
        let functions = functions(elf);
        let named = |name: &str| functions.iter().find(|f| f.name.starts_with(&format!("{prefix}{name}")));
        let echo = named("bounce_back").unwrap_or_else(|| panic!("{elf}: bounce_back is its own function"));
        let other: Vec<&String> = echo
            .instructions
            .iter()
            .filter(|i| touches_memory(i) && !i.starts_with("ldar ") && !i.starts_with("stlr "))
            .collect();
        assert!(other.is_empty(), "{elf}: bounce_back touches memory besides the line: {other:?}");
        assert!(named("bounce_timed").is_some(), "{elf}: bounce_timed is its own function");
    }
    let functions = functions("el0-latency.elf");
    let mut polls = 0;
    for function in &functions {
        for body in polling_loops(function) {
            polls += 1;
            let extra: Vec<&String> = body.iter().filter(|insn| loads_more(insn)).collect();
            assert!(
                extra.is_empty(),
                "{}: a polling loop loads {extra:?} besides the line: {body:#?}",
                function.name
            );
        }
    }
    assert!(
        polls >= 2,
        "found {polls} polling loops, not both sides of the bounce: the check would prove nothing"
    );
}

#[test]
fn the_polling_loop_finder_sees_a_loop_and_its_loads() {
    let function = Function {
        name: "bounce".into(),
        instructions: [
            "add w11, w11, #0x1",
            "isb",
            "ldr x12, [x26, #0x40]",
            "ldar x12, [x12]",
            "cmp x12, x9",
            "b.ne 0x1000",
        ]
        .map(String::from)
        .to_vec(),
        addresses: vec![0x1000, 0x1004, 0x1008, 0x100c, 0x1010, 0x1014],
    };
    let loops = polling_loops(&function);
    assert_eq!(loops.len(), 1);
    assert_eq!(loops[0].iter().filter(|insn| loads_more(insn)).count(), 1);
    assert_eq!(branch_target("tbz w10, #0x0, 0x1002008 <__user_main+0x12a8>"), Some(0x1002008));
    assert_eq!(branch_target("bl 0x1002b0c <send>"), None);
}

/// Where `instructions` watch a line: an exclusive load followed, within four instructions and
/// with no store-exclusive between, by a `WFE` (the load arms the monitor the `WFE` waits on).
fn line_watches(instructions: &[String]) -> Vec<usize> {
    let mnemonic = |insn: &String| insn.split_whitespace().next().unwrap_or("").to_owned();
    (0..instructions.len())
        .filter(|&at| matches!(mnemonic(&instructions[at]).as_str(), "ldxr" | "ldaxr"))
        .filter(|&at| {
            let after = &instructions[at + 1..instructions.len().min(at + 5)];
            let wfe = after.iter().position(|insn| mnemonic(insn) == "wfe");
            wfe.is_some_and(|w| !after[..w].iter().any(|insn| mnemonic(insn).starts_with("st")))
        })
        .collect()
}

/// Every line watch, in the CPU drivers (the kernel's wait comparison) and the EL0 programs
/// (the waitset), first clears a stale event with `SEVL; WFE`: an exception return sets the
/// Event Register, and a watch after it returned at once without waiting. QEMU's `WFE` returns
/// at once anyway, so only the binary can show it.
#[test]
fn every_line_watch_first_clears_a_stale_event() {
    let mut watches = 0;
    for elf in [KERNELS[0], KERNELS[1], "el0-monitor.elf", "el0-latency.elf"] {
        let mut in_elf = 0;
        for function in functions(elf) {
            for at in line_watches(&function.instructions) {
                in_elf += 1;
                let before: Vec<&str> =
                    function.instructions[at.saturating_sub(2)..at].iter().map(String::as_str).collect();
                assert_eq!(
                    before,
                    ["sevl", "wfe"],
                    "{elf}: {} watches a line without clearing a stale event",
                    function.name
                );
            }
        }
        assert!(in_elf >= 1, "{elf}: no line watch found: the check would prove nothing");
        watches += in_elf;
    }
    assert!(watches >= 4);
}

#[test]
fn the_line_watch_finder_tells_a_watch_from_an_atomic_update() {
    let code = |insns: &[&str]| insns.iter().map(|i| i.to_string()).collect::<Vec<_>>();
    let watch = code(&["sevl", "wfe", "ldxr x10, [x9]", "cmp x10, x29", "b.ne 0x10", "wfe"]);
    assert_eq!(line_watches(&watch), [2]);
    let increment = code(&["ldxr x10, [x9]", "add x10, x10, #0x1", "stxr w11, x10, [x9]", "wfe"]);
    assert_eq!(line_watches(&increment), Vec::<usize>::new());
}
