//! What a real core needs and QEMU can still show: exceptions taken on their own stack when the
//! kernel stack overflows, a console that a core stopped half-way through a line cannot block,
//! a physmap that maps no other core's region, the EL0 instructions `SCTLR_EL1` lets through or
//! traps, the timer chosen by the entry level, PSCI over HVC on a machine entered at EL2, waiting
//! without an interrupt controller, cores whose design the device tree does not name, and a core
//! whose start method lacks a fact. (What QEMU cannot show is checked in `disassembly.rs` or listed in
//! the README's "What QEMU cannot show".)

use system_tests::{built, Qemu, Run};

/// The run still came to its end: every core but `missing` up and powered off cleanly.
fn assert_run_ends(run: &Run, up: u32) {
    let (cores, _) = run.roll_call();
    assert_eq!(cores, up, "{:?}", run.lines_starting("all "));
    assert!(run.powered_off_cleanly(), "QEMU must exit 0 through PSCI SYSTEM_OFF: {:?}", run.status);
}

/// One hexadecimal `name=0x...` field of a line.
fn hex_field(line: &str, name: &str) -> u64 {
    let value = line
        .split([' ', ',', ';', '(', ')'])
        .find_map(|w| w.strip_prefix(name))
        .unwrap_or_else(|| panic!("no {name} in {line:?}"));
    u64::from_str_radix(value.trim_start_matches("0x"), 16).unwrap_or_else(|_| panic!("{name} in {line:?}"))
}

/// Boots the big.LITTLE machine with `word` on the kernel command line.
fn boot_with(word: &str) -> Run {
    Qemu { append: Some(word.into()), ..Qemu::big_little() }.boot()
}

/// The one line of the run that starts with `prefix`.
fn said_once<'a>(run: &'a Run, prefix: &str) -> &'a str {
    let lines = run.lines_starting(prefix);
    assert_eq!(lines.len(), 1, "one line {prefix:?} expected: {}", run.console);
    lines[0]
}

#[test]
fn a_kernel_stack_overflow_is_reported_with_its_address_and_the_other_cores_run_on() {
    let run = boot_with("kernel-stack-overflow-test");
    said_once(&run, "core 2: recursing until the kernel stack overflows");
    let reports =
        run.lines_starting("core mpidr=0x2: kernel stack overflow: synchronous (EL1): data abort at far=");
    assert_eq!(reports.len(), 1, "one report, not a recursion: {}", run.console);
    let line = reports[0];
    // The fault address lies in the guard page the report names, right under the stack.
    let far = hex_field(line, "far=");
    let guard = hex_field(line, "guard=");
    let stack = hex_field(line, "bottom=");
    assert_eq!(guard + 4096, stack, "{line}");
    assert!((guard..stack).contains(&far), "the fault must be in the guard page: {line}");
    let sp = hex_field(line, "sp=");
    assert!((guard..stack + 4096).contains(&sp), "the faulting SP is at the stack's bottom: {line}");
    assert!(run.lines_starting("core mpidr=0x2: unexpected exception").is_empty(), "{}", run.console);
    // Core 2 never reports in: the roll call names it offline and the run ends with the rest.
    // The roll call's 5 s deadline is the boot core's timer interrupt waking it from WFI, so
    // this also shows the timer it chose (the virtual one, entered at EL1) really fires: with
    // the GIC enabling the physical timer's PPI instead, the boot core sleeps for ever.
    assert_eq!(run.lines_starting("core 2 offline: ").len(), 1, "{}", run.console);
    for core in [0, 1, 3, 4, 5] {
        assert_eq!(run.lines_starting(&format!("core {core} up ")).len(), 1);
    }
    assert_run_ends(&run, 5);
}

/// Core 2 stops for good with its log ring's next line written but not published, interrupts
/// masked: the way a core dies in the middle of a print. With one console lock held across
/// the print every other core would wait for it for ever; with per-core rings the owner never
/// sees the half line and every other core's lines keep coming, up to the end of the run.
#[test]
fn a_core_stopped_half_way_through_a_console_line_holds_no_other_core_up() {
    let run = boot_with("console-stall-test");
    said_once(&run, "core 2: stopping for good half-way through a console line");
    assert!(
        !run.console.contains("this line is never published"),
        "a half-written line came out: {}",
        run.console
    );
    assert!(run.lines_starting("core 2 timer: ").is_empty(), "core 2 went on: {}", run.console);
    // The other cores print after core 2 stopped: their own bring-up, their monitors, the
    // roll call that names core 2 offline after its deadline, and the end of the run.
    for core in [0, 1, 3, 4, 5] {
        assert_eq!(run.lines_starting(&format!("core {core} timer: ")).len(), 1, "{}", run.console);
    }
    assert_eq!(run.lines_starting("core 2 offline: ").len(), 1, "{}", run.console);
    // Each monitor binds to its peers only after the roll call, 5 s after core 2 stopped: these
    // lines come out of the other cores' rings after the stall.
    let stopped = run.console.find("core 2: stopping for good").expect("said above");
    let after = &run.console[stopped..];
    for core in [1, 3, 4, 5] {
        assert!(
            after.contains(&format!("monitor {core} bound to ")),
            "core {core} printed nothing after the stall: {}",
            run.console
        );
    }
    assert_run_ends(&run, 5);
}

/// No core's physmap maps another core's private memory or its own text: core 2 reads its
/// own region through its physmap and takes a translation fault, reported with that address;
/// the boot core, which wrote each started core's region through its physmap, has unmapped it
/// and the core's monitor share afterwards (checked there with `AT S1E1R`).
#[test]
fn no_core_maps_another_cores_region_or_its_own_text_through_its_physmap() {
    let run = boot_with("physmap-test");
    let va = hex_field(said_once(&run, "core 2: reading its own region "), "va=");
    // The read must fault.
    let fault = said_once(&run, "core mpidr=0x2: unexpected exception: synchronous (EL1): data abort");
    assert_eq!(hex_field(fault, "far="), va, "{fault}");
    let esr = hex_field(fault, "esr=");
    assert_eq!(esr >> 26, 0x25, "a data abort taken at EL1: {fault}");
    assert_eq!(esr & 0x3c, 0x04, "a translation fault (DFSC 0b0001xx), not a permission fault: {fault}");
    assert!(run.lines_starting("core 2: read ").is_empty(), "{}", run.console);
    for core in 1..6 {
        said_once(
            &run,
            &format!("core 0: physmap: core {core}'s region and its monitor's share are unmapped here"),
        );
    }
    assert!(!run.console.contains("still mapped"), "{}", run.console);
    said_once(&run, "core 2 offline: ");
    assert_run_ends(&run, 5);
}

#[test]
fn el0_reads_ctr_zeroes_blocks_cleans_caches_and_waits_for_events_and_its_wfi_is_trapped() {
    let qemu = Qemu { append: Some("el0-instructions-test".into()), ..Qemu::big_little() };
    let run = qemu.boot();
    let said = |what: &str| run.lines_starting(&format!("faulter on core 1: el0 {what}"));
    let ctr = said("ctr_el0=");
    assert_eq!(ctr.len(), 1, "EL0 must read CTR_EL0 (SCTLR_EL1.UCT): {}", run.console);
    assert!(ctr[0].ends_with(": ok") && hex_field(ctr[0], "ctr_el0=") != 0, "{ctr:?}");
    let zva = said("dc zva: ");
    assert_eq!(zva.len(), 1, "EL0 must run DC ZVA (SCTLR_EL1.DZE): {}", run.console);
    assert!(zva[0].ends_with("block zeroed: ok"), "{zva:?}");
    assert_eq!(
        said("cache maintenance (dc cvau, dc cvac, dc civac, ic ivau): ok").len(),
        1,
        "SCTLR_EL1.UCI: {}",
        run.console
    );
    assert_eq!(said("wfe: ok").len(), 1, "SCTLR_EL1.nTWE: {}", run.console);
    assert_eq!(said("wfi: the kernel must trap it").len(), 1, "{}", run.console);
    assert!(said("wfi: FAILED").is_empty(), "WFI at EL0 must trap (SCTLR_EL1.nTWI clear): {}", run.console);
    let stopped = run.lines_starting("core 1: dispatcher faulter stopped: WFI/WFE trapped");
    assert_eq!(stopped.len(), 1, "{}", run.console);
    assert_eq!(hex_field(stopped[0], "esr=") >> 26, 0x01, "{stopped:?}");
    assert!(run.lines_starting("faulter on core 1: reading kernel memory").is_empty(), "not the fault role");
    assert_run_ends(&run, 6);
}

fn timer_lines(run: &Run, cores: usize) -> Vec<&str> {
    (0..cores)
        .map(|core| {
            let lines = run.lines_starting(&format!("core {core} timer: "));
            assert_eq!(lines.len(), 1, "core {core} says its timer once: {}", run.console);
            lines[0]
        })
        .collect()
}

#[test]
fn entered_at_el1_every_core_uses_the_virtual_timer() {
    let run = Qemu::big_little().boot();
    for line in timer_lines(&run, 6) {
        assert!(line.contains(" timer: virtual (INTID 27): entered at EL1"), "{line}");
    }
    assert_run_ends(&run, 6);
}

#[test]
fn entered_at_el2_every_core_keeps_the_physical_timer() {
    let qemu = Qemu {
        machine: "virt,gic-version=3,virtualization=on".into(),
        dtb: Some(built("qemu-virt-biglittle-el2.dtb")),
        ..Qemu::big_little()
    };
    let run = qemu.boot();
    for line in timer_lines(&run, 6) {
        assert!(line.contains(" timer: physical (INTID 30): entered at EL2"), "{line}");
    }
    assert_run_ends(&run, 6);
}

#[test]
fn without_an_interrupt_controller_cores_wait_on_the_event_stream() {
    // The big.LITTLE tree with its GIC's compatible string replaced: the SKB finds no
    // interrupt controller (QEMU's GIC is still there, unused).
    let (dir, dtb) = edited_tree(
        "qemu-virt-biglittle.dtb",
        "nogic",
        &[&["/intc@8000000", "compatible", "none,no-interrupt-controller"]],
    );
    let run = Qemu { dtb: Some(dtb), ..Qemu::big_little() }.boot();
    let _ = std::fs::remove_dir_all(&dir);
    for core in 0..6 {
        let lines = run.lines_starting(&format!("core {core}: interrupt controller: "));
        assert_eq!(lines.len(), 1, "{}", run.console);
        assert!(lines[0].contains("waiting in WFE with the timer's event stream"), "{lines:?}");
        let cntkctl = hex_field(lines[0], "cntkctl_el1=");
        assert_ne!(cntkctl & (1 << 2), 0, "CNTKCTL_EL1.EVNTEN must be set: {lines:?}");
    }
    assert_run_ends(&run, 6);
}

/// A design the tree does not name (`qcom,kryo385` covers two): the boot core reads its own
/// MIDR in the stub (QEMU's Cortex-A72: the big build); another core is started before its
/// MIDR can be read, with the portable little build, and the roll call says what its MIDR
/// would have chosen.
#[test]
fn a_core_the_tree_does_not_name_runs_what_its_midr_or_the_portable_build_gives() {
    let (dir, dtb) = edited_tree(
        "qemu-virt-biglittle.dtb",
        "unknown-design",
        &[&["/cpus/cpu@0", "compatible", "qcom,kryo385"], &["/cpus/cpu@4", "compatible", "qcom,kryo385"]],
    );
    let run = Qemu { dtb: Some(dtb), ..Qemu::big_little() }.boot();
    let _ = std::fs::remove_dir_all(&dir);
    let decided =
        run.lines_starting("boot stub: the device tree does not name core 0's design (qcom,kryo385)");
    assert_eq!(decided.len(), 1, "{}", run.console);
    assert!(decided[0].ends_with("its MIDR 0x410fd083 says cortex-a72"), "{}", decided[0]);
    let planned = run.lines_starting("boot stub: core 0 ");
    assert!(planned.len() == 1 && planned[0].contains("qcom,kryo385 -> cortex-a72 build"), "{planned:?}");
    let started = run.lines_starting("core 0: started core 4 ");
    assert!(started.len() == 1 && started[0].contains("with the cortex-a53 build"), "{started:?}");
    assert_eq!(
        run.lines_starting("core 4: its MIDR (cortex-a72) suits the big build; it runs the little build")
            .len(),
        1
    );
    assert!(run.lines_starting("core 0: its MIDR").is_empty(), "the boot core runs what its MIDR chose");
    assert_run_ends(&run, 6);
}

/// A spin-table core without `cpu-release-addr`: a warning, not a refused tree; the boot cannot
/// start that core, says so, and the roll call names it offline while the rest run.
#[test]
fn a_spin_table_core_without_a_release_address_stays_offline_and_the_rest_boot() {
    let (dir, dtb) = edited_tree(
        "qemu-virt-biglittle.dtb",
        "no-release",
        &[&["/cpus/cpu@5", "enable-method", "spin-table"]],
    );
    let run = Qemu { dtb: Some(dtb), ..Qemu::big_little() }.boot();
    let _ = std::fs::remove_dir_all(&dir);
    let warning = "boot stub: warning: device tree: /cpus/cpu@5: property cpu-release-addr is missing; this spin-table core cannot be started";
    assert_eq!(run.lines_starting(warning).len(), 1, "{}", run.console);
    let refusal = "boot stub: warning: core 5 (/cpus/cpu@5) cannot be started: spin-table without a usable cpu-release-addr";
    assert_eq!(run.lines_starting(refusal).len(), 1, "{}", run.console);
    assert_eq!(run.lines_starting("core 5 offline: ").len(), 1, "{}", run.console);
    assert_run_ends(&run, 5);
}

/// A copy of built device tree `name` with `fdtput` edits, in a folder of its own.
fn edited_tree(name: &str, tag: &str, edits: &[&[&str]]) -> (std::path::PathBuf, std::path::PathBuf) {
    let dir = std::env::temp_dir().join(format!("mk-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temporary folder");
    let dtb = dir.join(format!("{tag}.dtb"));
    std::fs::copy(built(name), &dtb).expect("copy the tree");
    for edit in edits {
        let status = std::process::Command::new("fdtput")
            .args(["-t", "s"])
            .arg(&dtb)
            .args(*edit)
            .status()
            .expect("fdtput (device-tree-compiler) runs");
        assert!(status.success(), "fdtput {edit:?}");
    }
    (dir, dtb)
}

/// Entered at EL2 with a device tree that says PSCI over `hvc`: nothing but this kernel runs at
/// EL2, so EL2's vectors must pass every HVC on to the firmware (QEMU's PSCI, on `smc`). Every
/// core is started with CPU_ON over HVC and the run ends with SYSTEM_OFF over HVC.
#[test]
fn entered_at_el2_psci_over_hvc_is_passed_on_to_the_firmware() {
    let (dir, dtb) = edited_tree("qemu-virt-biglittle-el2.dtb", "el2-hvc", &[&["/psci", "method", "hvc"]]);
    let run = Qemu::firmware_boot("virt,gic-version=3,virtualization=on", &dir, &dtb).boot();
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(run.lines_starting("boot stub: entered at EL2").len(), 1, "{}", run.console);
    assert_eq!(
        run.lines_starting("boot stub: PSCI over hvc, entered at EL2: EL2's vectors pass each call on").len(),
        1,
        "{}",
        run.console
    );
    assert_eq!(run.lines_starting("core 0: started core ").len(), 5, "CPU_ON over hvc: {}", run.console);
    assert_run_ends(&run, 6);
}

/// A `/psci` without `method`: a warning and no PSCI, not a refused tree. The boot core runs;
/// the others, whose enable-method is psci, cannot be started, and the boot says so for each.
/// (Without PSCI nothing powers the machine off: the run stops at the roll call.)
#[test]
fn without_a_psci_method_the_boot_core_runs_and_names_the_cores_it_cannot_start() {
    let (dir, dtb) = edited_tree("qemu-virt-biglittle.dtb", "no-psci-method", &[]);
    let status = std::process::Command::new("fdtput")
        .arg("-d")
        .arg(&dtb)
        .args(["/psci", "method"])
        .status()
        .expect("fdtput runs");
    assert!(status.success());
    let qemu = Qemu {
        stop_at: Some("all ".into()),
        timeout: std::time::Duration::from_secs(60),
        ..Qemu::firmware_boot("virt,gic-version=3", &dir, &dtb)
    };
    let run = qemu.boot();
    let _ = std::fs::remove_dir_all(&dir);
    let warning = "boot stub: warning: device tree: /psci: property method is missing; no PSCI";
    assert_eq!(run.lines_starting(warning).len(), 1, "{}", run.console);
    for core in 1..6 {
        let refusal = format!(
            "boot stub: warning: core {core} (/cpus/cpu@{core}) cannot be started: its enable-method is psci, and the tree gives no usable PSCI"
        );
        assert_eq!(run.lines_starting(&refusal).len(), 1, "{}", run.console);
        assert_eq!(run.lines_starting(&format!("core {core} offline: ")).len(), 1, "{}", run.console);
    }
    assert!(run.stopped_at_marker, "{}", run.console);
    assert_eq!(run.roll_call().0, 1);
}

/// A console UART that never takes a byte must not stop the system. The tree's console is a
/// "16550" over QEMU's PL061 GPIO block, whose registers read as 0 there: the line status
/// never says "transmit holding register empty", as a UART the firmware did not enable. Each
/// byte is dropped after a bounded wait (`uart_setup::TransmitWait`; at once after 16 in a
/// row) and the run ends with SYSTEM_OFF. Unbounded, the stub's first line spins for ever.
/// (QEMU's own PL011 never reports its FIFO full, not even with a console pipe nobody reads,
/// so it cannot show this.)
#[test]
fn a_console_that_never_takes_a_byte_does_not_stop_the_system() {
    let gpio = "/pl061@9030000";
    let (dir, dtb) = edited_tree(
        "qemu-virt-biglittle.dtb",
        "stuck-console",
        &[&[gpio, "compatible", "ns16550a"], &["/chosen", "stdout-path", gpio]],
    );
    for (property, value) in [("reg-shift", "2"), ("reg-io-width", "4")] {
        let status = std::process::Command::new("fdtput")
            .args(["-t", "u"])
            .arg(&dtb)
            .args([gpio, property, value])
            .status()
            .expect("fdtput runs");
        assert!(status.success());
    }
    let qemu = Qemu { dtb: Some(dtb), timeout: std::time::Duration::from_secs(60), ..Qemu::big_little() };
    let run = qemu.boot();
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        run.powered_off_cleanly(),
        "the run must end (PSCI SYSTEM_OFF, QEMU exits 0) with its console stuck: {:?} after {:?}",
        run.status,
        run.wall_time
    );
}
