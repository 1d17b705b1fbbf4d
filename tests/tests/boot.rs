//! Boot tests: every core comes up at EL1 with the CPU-driver build of its class, cores that
//! cannot start are reported offline, and the run ends with a clean power-off.

use system_tests::{built, Qemu, Run};

/// The `core <n> up ...` line of core `n`, checked field by field.
fn assert_core_up(run: &Run, core: usize, class: &str, build: &str) {
    let prefix = format!("core {core} up ");
    let lines = run.lines_starting(&prefix);
    assert_eq!(lines.len(), 1, "core {core} must print exactly one up line, got {lines:?}");
    let fields: Vec<&str> = lines[0].split(' ').collect();
    assert_eq!(fields.len(), 7, "unexpected line {:?}", lines[0]);
    assert!(fields[3].starts_with("mpidr=0x"), "{:?}", lines[0]);
    assert_eq!(fields[4], format!("class={class}"), "{:?}", lines[0]);
    assert_eq!(fields[5], format!("cpu-driver={build}"), "{:?}", lines[0]);
    assert_eq!(fields[6], "el=1", "{:?}", lines[0]);
}

/// Every console line is one whole line from one core: nothing interleaved.
fn assert_no_interleaving(run: &Run) {
    for line in run.lines() {
        let starts = [
            "core ",
            "all ",
            "boot stub: ",
            "PSCI",
            "monitor ",
            "monitors ",
            "faulter ",
            "urpc ",
            "latency ",
            "multicast ",
        ];
        assert!(starts.iter().any(|s| line.starts_with(s)), "unexpected or mixed line {line:?}");
        assert_eq!(line.matches("core ").count().min(2), line.matches("core ").count(), "{line:?}");
        assert!(!line["core".len()..].contains(" up mpidr=") || line.starts_with("core "), "{line:?}");
    }
}

/// Every core's monitor runs at EL0, says so exactly once, says what memory it holds, and binds
/// a URPC channel to every other online core's monitor.
fn assert_monitors_up(run: &Run, cores: usize) {
    for core in 0..cores {
        assert_eq!(run.lines_starting(&format!("monitor {core} up ")), [format!("monitor {core} up el=0")]);
        // What it holds from boot, read at EL0 with cap_identify: the Kernel capability and
        // its core's free memory as RAM capabilities.
        let memory = run.lines_starting(&format!("monitor {core} memory: "));
        assert_eq!(memory.len(), 1, "{memory:?}");
        assert!(memory[0].ends_with(" RAM capabilities") && !memory[0].contains(" 0.0 MiB"), "{memory:?}");
        assert_eq!(
            run.lines_starting(&format!("monitor {core} bound ")),
            [format!("monitor {core} bound to {} peers", cores - 1)]
        );
    }
    assert_eq!(run.lines_starting("monitors bound: "), [format!("monitors bound: {cores} of {cores}")]);
}

fn assert_big_little(run: &Run) {
    assert_monitors_up(run, 6);
    for core in 0..4 {
        assert_core_up(run, core, "little", "cortex-a53");
    }
    for core in 4..6 {
        assert_core_up(run, core, "big", "cortex-a72");
    }
    run.assert_all_up_in_time(6);
    assert!(run.lines_starting("core ").iter().all(|l| !l.contains("offline")));
    assert_no_interleaving(run);
    assert!(run.powered_off_cleanly(), "QEMU must exit 0 through PSCI SYSTEM_OFF: {:?}", run.status);
}

/// The boot core measured the URPC round trip and the raw cache-line limit to every other
/// core that came up: `urpc 0-<n> rtt_ns=<n> limit_ns=<m>`, both positive.
fn assert_urpc_figures(run: &Run, peers: std::ops::Range<usize>) {
    for core in peers {
        let lines = run.lines_starting(&format!("urpc 0-{core} "));
        assert_eq!(lines.len(), 1, "one figure for pair 0-{core}: {lines:?}");
        let fields: Vec<&str> = lines[0].split(' ').collect();
        assert_eq!(fields.len(), 4, "{:?}", lines[0]);
        for (field, name) in fields[2..].iter().zip(["rtt_ns=", "limit_ns="]) {
            let value: u64 =
                field.strip_prefix(name).and_then(|v| v.parse().ok()).unwrap_or_else(|| panic!("{field:?}"));
            assert!(value > 0, "{:?}", lines[0]);
        }
    }
}

#[test]
fn big_little_machine_brings_up_six_cores_with_their_own_builds() {
    let run = Qemu::big_little().boot();
    assert_big_little(&run);
    assert_urpc_figures(&run, 1..6);
    assert!(!run.console.contains("interrupt controller:"), "every core must set up its GICv3 redistributor");
    assert_eq!(run.lines_starting("boot stub: entered at EL1").len(), 1);
    // The stub prepares only the boot core's region; the boot core's monitor has its kernel
    // start the other five, each in a region of its own: six distinct regions.
    let stub_regions = run.lines_starting("boot stub: core ");
    assert_eq!(stub_regions.len(), 1, "the stub sets up the boot core alone: {stub_regions:?}");
    let started = run.lines_starting("core 0: started core ");
    assert_eq!(started.len(), 5, "{started:?}");
    let regions: std::collections::HashSet<&str> = stub_regions
        .iter()
        .chain(&started)
        .filter_map(|l| l.split("region ").nth(1))
        .map(|r| r.split(',').next().unwrap_or(r))
        .collect();
    assert_eq!(regions.len(), 6, "{regions:?}");
    // Every core reads its own CTR_EL0 and reports its data cache line size with CoreUp.
    for core in 0..6 {
        let line = run.lines_starting(&format!("core {core} midr="));
        assert_eq!(line.len(), 1, "{line:?}");
        assert!(line[0].ends_with(", 64-byte data cache lines"), "{}", line[0]);
    }
    for (core, line) in (1..6).zip(&started) {
        let build = if core < 4 { "cortex-a53" } else { "cortex-a72" };
        assert!(line.starts_with(&format!("core 0: started core {core} mpidr=")), "{line}");
        assert!(line.contains(&format!("with the {build} build")), "the SKB's build for its class: {line}");
    }
}

#[test]
fn same_image_boots_when_entered_at_el2() {
    let qemu = Qemu {
        machine: "virt,gic-version=3,virtualization=on".into(),
        dtb: Some(built("qemu-virt-biglittle-el2.dtb")),
        ..Qemu::big_little()
    };
    let run = qemu.boot();
    assert_eq!(
        run.lines_starting("boot stub: entered at EL2").len(),
        1,
        "QEMU with virtualization=on enters at EL2"
    );
    assert_big_little(&run);
}

#[test]
fn big_little_machine_works_with_a_gicv2() {
    let qemu = Qemu {
        machine: "virt,gic-version=2".into(),
        dtb: Some(built("qemu-virt-biglittle-gicv2.dtb")),
        ..Qemu::big_little()
    };
    let run = qemu.boot();
    assert!(!run.console.contains("interrupt controller:"), "every core must set up its GICv2 interface");
    assert_big_little(&run);
}

#[test]
fn homogeneous_cortex_a53_machine_runs_the_little_build_everywhere() {
    let qemu = Qemu { cpu: "cortex-a53".into(), smp: 4, dtb: None, ..Qemu::big_little() };
    let run = qemu.boot();
    for core in 0..4 {
        assert_core_up(&run, core, "little", "cortex-a53");
    }
    run.assert_all_up_in_time(4);
    assert_monitors_up(&run, 4);
    assert!(run.powered_off_cleanly(), "{:?}", run.status);
}

#[test]
fn cores_missing_from_the_machine_are_reported_offline_and_the_run_ends_cleanly() {
    let qemu = Qemu { smp: 4, ..Qemu::big_little() };
    let run = qemu.boot();
    for core in 0..4 {
        assert_core_up(&run, core, "little", "cortex-a53");
    }
    for core in 4..6 {
        let offline = run.lines_starting(&format!("core {core} offline: "));
        assert_eq!(offline.len(), 1, "core {core} must be reported offline once");
        assert!(run.lines_starting(&format!("core {core} up")).is_empty());
        assert!(run.lines_starting(&format!("urpc 0-{core} ")).is_empty(), "no figure for an offline core");
    }
    assert_urpc_figures(&run, 1..4);
    // The firmware refused CPU_ON for the missing cores, so the roll call knew at once not to
    // wait for them: no deadline in the bring-up time.
    run.assert_all_up_in_time(4);
    assert_monitors_up(&run, 4);
    assert!(run.powered_off_cleanly(), "{:?}", run.status);
}

#[test]
fn an_el0_program_that_touches_kernel_memory_is_stopped_and_the_rest_runs_on() {
    let qemu = Qemu { append: Some("fault-test".into()), ..Qemu::big_little() };
    let run = qemu.boot();
    assert_eq!(
        run.lines_starting("faulter on core 1: reading kernel memory").len(),
        1,
        "the faulter must have run"
    );
    let stopped = run.lines_starting("core 1: dispatcher faulter stopped: data abort from a lower EL");
    assert_eq!(stopped.len(), 1, "the fault must be reported once");
    assert!(stopped[0].contains("far=0xffffffffc0000000"), "{stopped:?}");
    assert!(run.lines_starting("faulter on core 1: read ").is_empty(), "the read must not have succeeded");
    // Everything else, core 1's own monitor included, carries on to a clean end.
    assert_big_little(&run);
}

/// Reserved memory marked `no-map` (secure firmware on a board) is never mapped and never
/// handed out: the big.LITTLE tree with a 2 MiB `no-map` child just below the regions the
/// stub and the boot core's monitor carve from the top of RAM boots as usual, the stub says it
/// leaves the range unmapped, and no core's region overlaps it. (That no table maps it is the
/// host test `paging::tests::no_map_holes_get_no_mapping_at_all`.)
#[test]
fn no_map_reserved_memory_is_never_mapped_or_handed_out() {
    let dir = std::env::temp_dir().join(format!("mk-no-map-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let dtb = dir.join("no-map.dtb");
    std::fs::copy(built("qemu-virt-biglittle.dtb"), &dtb).unwrap();
    let fdtput = |args: &[&str]| {
        let status = std::process::Command::new("fdtput")
            .args(args)
            .status()
            .expect("fdtput (device-tree-compiler) runs");
        assert!(status.success(), "fdtput {args:?}");
    };
    let path = dtb.to_str().unwrap();
    let node = "/reserved-memory/firmware@7f400000";
    fdtput(&["-p", "-c", path, node]);
    fdtput(&["-t", "x", path, "/reserved-memory", "#address-cells", "2"]);
    fdtput(&["-t", "x", path, "/reserved-memory", "#size-cells", "2"]);
    fdtput(&["-t", "x", path, "/reserved-memory", "ranges"]);
    fdtput(&["-t", "x", path, node, "reg", "0", "0x7f400000", "0", "0x200000"]);
    fdtput(&["-t", "x", path, node, "no-map"]);
    let run = Qemu { dtb: Some(dtb), ..Qemu::big_little() }.boot();
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(
        run.lines_starting("boot stub: reserved "),
        ["boot stub: reserved 0x7f400000..0x7f600000 is no-map: never mapped"]
    );
    assert_big_little(&run);
    let regions: Vec<(u64, u64)> = run
        .lines()
        .filter_map(|l| l.split("region 0x").nth(1))
        .filter_map(|r| {
            let (start, end) = r.split(',').next()?.split_once("..0x")?;
            Some((u64::from_str_radix(start, 16).ok()?, u64::from_str_radix(end, 16).ok()?))
        })
        .collect();
    assert_eq!(regions.len(), 6, "{regions:x?}");
    for (start, end) in regions {
        assert!(
            end <= 0x7f40_0000 || start >= 0x7f60_0000,
            "region {start:#x}..{end:#x} overlaps the no-map range"
        );
    }
}
