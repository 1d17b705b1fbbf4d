//! A dead core never takes the system down, and a boot that cannot go on says why and ends:
//! device trees the stub refuses (an empty `/cpus`, a corrupt blob, no blob at all) print the
//! reason and QEMU exits 1; a `stdout-path` naming nothing still gives a console; QEMU's own
//! dumped tree, which QEMU pads past 2 MiB, boots; a panic on the boot core, its monitor
//! exiting or every core panicking end the run with status 1; a one-core benchmark does not
//! wait for peers it does not have; a core whose monitor died is left out of the benchmark and
//! the multicast tree instead of being waited for pair after pair.
//!
//! Every run has a deadline; none is judged by how long it took (a run past its deadline is
//! killed and its missing lines fail the test). The broken trees are made here from the built
//! one by rewriting tokens in place (`FDT_NOP` where something is removed, a same-length
//! string where a path is changed), so every offset of the blob stays valid for QEMU, which
//! must still load it.

use std::path::PathBuf;
use std::time::Duration;

use system_tests::{build_dir, built, Qemu, Run};

/// A few seconds of work each; the deadline only keeps a hang from stalling the suite.
const DEADLINE: Duration = Duration::from_secs(60);

const FDT_BEGIN_NODE: u32 = 1;
const FDT_END_NODE: u32 = 2;
const FDT_PROP: u32 = 3;
const FDT_NOP: u32 = 4;
const FDT_END: u32 = 9;

fn be32(blob: &[u8], at: usize) -> u32 {
    u32::from_be_bytes(blob[at..at + 4].try_into().unwrap())
}

/// One structure-block token: its offset, kind, depth (of the node it is in or opens) and, for
/// a node its name, for a property its name and the offset and length of its value.
#[derive(Debug)]
struct Token {
    at: usize,
    kind: u32,
    depth: usize,
    name: String,
    value: (usize, usize),
}

/// Every token of a well-formed blob, in order.
fn tokens(blob: &[u8]) -> Vec<Token> {
    let (structs, strings) = (be32(blob, 8) as usize, be32(blob, 12) as usize);
    let end = structs + be32(blob, 36) as usize;
    let c_string = |at: usize| {
        let len = blob[at..].iter().position(|&b| b == 0).unwrap();
        String::from_utf8_lossy(&blob[at..at + len]).into_owned()
    };
    let (mut at, mut depth, mut list) = (structs, 0, Vec::new());
    while at < end {
        let kind = be32(blob, at);
        let mut token = Token { at, kind, depth, name: String::new(), value: (0, 0) };
        at += 4;
        match kind {
            FDT_BEGIN_NODE => {
                depth += 1;
                token.depth = depth;
                token.name = c_string(at);
                at = (at + token.name.len() + 1).next_multiple_of(4);
            }
            FDT_END_NODE => depth -= 1,
            FDT_PROP => {
                let len = be32(blob, at) as usize;
                token.name = c_string(strings + be32(blob, at + 4) as usize);
                token.value = (at + 8, len);
                at = (at + 8 + len).next_multiple_of(4);
            }
            _ => {}
        }
        list.push(token);
    }
    list
}

/// The built big.LITTLE tree.
fn big_little_tree() -> Vec<u8> {
    std::fs::read(built("qemu-virt-biglittle.dtb")).unwrap()
}

/// Writes `blob` to the build folder as `name` and returns the path.
fn write_tree(name: &str, blob: &[u8]) -> PathBuf {
    let dir = build_dir().join("test-trees");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, blob).unwrap();
    path
}

/// The tokens of the top-level node `name`: the index of its `FDT_BEGIN_NODE` and of its
/// `FDT_END_NODE`.
fn top_level_node(list: &[Token], name: &str) -> (usize, usize) {
    let open = list.iter().position(|t| t.kind == FDT_BEGIN_NODE && t.depth == 2 && t.name == name).unwrap();
    let close = list[open..].iter().position(|t| t.kind == FDT_END_NODE && t.depth == 2).unwrap() + open;
    (open, close)
}

/// `blob` with the bytes `[from, to)` of its structure block turned into `FDT_NOP`s.
fn nop(blob: &mut [u8], from: usize, to: usize) {
    for word in (from..to).step_by(4) {
        blob[word..word + 4].copy_from_slice(&FDT_NOP.to_be_bytes());
    }
}

/// `blob` with every node inside `/cpus` turned into `FDT_NOP`s: `/cpus` stays, empty.
fn without_cores(blob: &[u8]) -> Vec<u8> {
    let mut out = blob.to_vec();
    let list = tokens(blob);
    let (open, close) = top_level_node(&list, "cpus");
    let first_child = list[open..close].iter().find(|t| t.kind == FDT_BEGIN_NODE && t.depth == 3).unwrap();
    nop(&mut out, first_child.at, list[close].at);
    out
}

/// `blob` without the top-level node `name` (all `FDT_NOP`s).
fn without_node(blob: &[u8], name: &str) -> Vec<u8> {
    let mut out = blob.to_vec();
    let list = tokens(blob);
    let (open, close) = top_level_node(&list, name);
    nop(&mut out, list[open].at, list[close].at + 4);
    out
}

/// `blob` with the value of every property `name` that equals `from` replaced by `to` (same
/// length).
fn with_property(blob: &[u8], name: &str, from: &str, to: &str) -> Vec<u8> {
    assert_eq!(from.len(), to.len(), "an in-place rewrite keeps the length");
    let mut out = blob.to_vec();
    let mut changed = 0;
    for token in tokens(blob).iter().filter(|t| t.kind == FDT_PROP && t.name == name) {
        let (at, len) = token.value;
        if &blob[at..at + len] == [from.as_bytes(), b"\0"].concat().as_slice() {
            out[at..at + from.len()].copy_from_slice(to.as_bytes());
            changed += 1;
        }
    }
    assert!(changed > 0, "no property {name} = {from:?} in the tree");
    out
}

/// The big.LITTLE machine on `dtb`, with semihosting so a failed run can exit 1.
fn machine(dtb: PathBuf, append: &str) -> Qemu {
    Qemu { dtb: Some(dtb), ..Qemu::big_little_semihosted(append, DEADLINE) }
}

/// The stub refused the boot with a `boot stub: fatal:` line containing `reason`, and nothing
/// ran past it.
fn assert_refused(run: &Run, reason: &str) {
    let fatal = run.lines_starting("boot stub: fatal: ");
    assert!(fatal.iter().any(|l| l.contains(reason)), "no fatal line saying {reason:?}:\n{}", run.console);
    assert!(run.lines_starting("core ").is_empty(), "no kernel may start after a refusal:\n{}", run.console);
    run.assert_exit(1);
}

#[test]
fn qemu_s_own_dumped_tree_padded_past_2_mib_boots() {
    let dumped = build_dir().join("test-trees").join("qemu-virt-dumped.dtb");
    std::fs::create_dir_all(dumped.parent().unwrap()).unwrap();
    let base = Qemu::big_little();
    // QEMU's own tree, not the big.LITTLE one: no `-dtb`.
    let dump =
        Qemu { machine: format!("{},dumpdtb={}", base.machine, dumped.display()), dtb: None, ..base.clone() };
    dump.boot().assert_exit(0);
    // QEMU hands a `-dtb` file on in a buffer twice its size and more: over the old 2 MiB.
    assert!(std::fs::metadata(&dumped).unwrap().len() >= 1 << 20, "QEMU dumps a tree of 1 MiB");
    let run = Qemu { dtb: Some(dumped), timeout: DEADLINE, ..base }.boot();
    let entered = run.lines_starting("boot stub: entered ");
    let size: u64 = entered
        .first()
        .and_then(|l| l.rsplit_once(" (")?.1.strip_suffix(" bytes)")?.parse().ok())
        .unwrap_or_else(|| panic!("no entry line with the tree's size:\n{}", run.console));
    assert!(size > 2 << 20, "QEMU passed the tree on padded, {size} bytes");
    run.assert_all_up_in_time(6);
    assert!(run.powered_off_cleanly(), "{}", run.console);
}

#[test]
fn an_empty_cpus_node_is_refused_aloud_and_qemu_exits_1() {
    let tree = write_tree("no-cores.dtb", &without_cores(&big_little_tree()));
    assert_refused(&machine(tree, "").boot(), "no usable core in /cpus");
}

#[test]
fn a_corrupt_structure_block_is_refused_aloud_on_the_fallback_console() {
    // FDT_END made a NOP: QEMU's libfdt still edits /chosen, the SKB's check refuses it. The
    // tree gives no console then, so the line comes from the build's fallback (QEMU's PL011).
    let mut blob = big_little_tree();
    let end = tokens(&blob).iter().find(|t| t.kind == FDT_END).unwrap().at;
    blob[end..end + 4].copy_from_slice(&FDT_NOP.to_be_bytes());
    let run = machine(write_tree("no-end.dtb", &blob), "").boot();
    assert_refused(&run, "structure block ends without FDT_END");
}

#[test]
fn no_device_tree_at_all_is_refused_aloud_with_the_mmu_off() {
    // Started by QEMU's generic loader: no boot protocol, so x0 (the tree's address) is 0. The
    // stub refuses before its MMU is on, on the fallback console.
    let image = built("Image");
    let run = Qemu {
        smp: 1,
        dtb: None,
        kernel: PathBuf::new(),
        timeout: DEADLINE,
        extra_args: vec![
            "-semihosting-config".into(),
            "enable=on,target=native".into(),
            "-device".into(),
            format!("loader,file={},addr=0x40200000,cpu-num=0,force-raw=on", image.display()),
        ],
        ..Qemu::big_little()
    }
    .boot();
    assert_refused(&run, "no usable device tree at 0x0");
}

#[test]
fn a_refusal_without_semihosting_still_powers_off() {
    // No semihosting: the HLT traps, the stub goes on to PSCI SYSTEM_OFF, and QEMU exits 0
    // rather than hanging (the console is what tells the failure).
    let tree = write_tree("no-cores-plain.dtb", &without_cores(&big_little_tree()));
    let run = Qemu { dtb: Some(tree), timeout: DEADLINE, ..Qemu::big_little() }.boot();
    assert!(
        run.lines_starting("boot stub: fatal: ").iter().any(|l| l.contains("no usable core")),
        "{}",
        run.console
    );
    run.assert_exit(0);
}

#[test]
fn a_stdout_path_naming_nothing_falls_back_to_serial0_then_to_the_first_uart() {
    let tree = big_little_tree();
    let missing = with_property(&tree, "stdout-path", "/pl011@9000000", "/pl011@9999999");
    let no_alias_either = with_property(&missing, "serial0", "/pl011@9000000", "/pl011@9999999");
    for (name, blob) in [("stdout-missing.dtb", missing), ("stdout-and-serial0-missing.dtb", no_alias_either)]
    {
        let run = machine(write_tree(name, &blob), "").boot();
        let warning = run.lines_starting("boot stub: warning: device tree: /chosen/stdout-path ");
        assert!(
            warning.iter().any(|l| l.contains("\"/pl011@9999999\" names no UART")),
            "{name}: the fallback must be said:\n{}",
            run.console
        );
        run.assert_all_up_in_time(6);
        assert_eq!(run.lines_starting("monitors bound: "), ["monitors bound: 6 of 6"], "{name}");
        run.assert_exit(0);
    }
}

#[test]
fn a_panic_on_the_boot_core_ends_the_run_with_status_1() {
    let run = machine(built("qemu-virt-biglittle.dtb"), "inject=panic@core0").boot();
    assert!(run.console.contains("injected (inject=panic@core0)"), "{}", run.console);
    assert_eq!(
        run.lines_starting("core 0: the boot core panicked"),
        ["core 0: the boot core panicked: the run cannot go on; ending it as failed"]
    );
    run.assert_exit(1);
}

#[test]
fn a_panic_on_every_core_ends_the_run_with_status_1() {
    let run = machine(built("qemu-virt-biglittle.dtb"), "inject=panic@all").boot();
    assert!(run.console.contains("injected (inject=panic@core0)"), "{}", run.console);
    run.assert_exit(1);
}

#[test]
fn the_boot_core_s_monitor_exiting_ends_the_run_with_status_1() {
    let run = machine(built("qemu-virt-biglittle.dtb"), "inject=monitor-exit@core0").boot();
    assert_eq!(
        run.lines_starting("core 0: the boot core's monitor ended"),
        ["core 0: the boot core's monitor ended: the run cannot go on; ending it as failed"],
        "{}",
        run.console
    );
    run.assert_exit(1);
}

#[test]
fn a_one_core_benchmark_binds_at_once_and_measures_nothing() {
    let run = Qemu { smp: 1, ..machine(built("qemu-virt-biglittle.dtb"), "bench bench-rounds=100") }.boot();
    assert_eq!(run.lines_starting("monitors bound: "), ["monitors bound: 1 of 1"], "{}", run.console);
    assert!(run.lines_starting("latency benchmark: 0 ordered pairs").len() == 1, "{}", run.console);
    assert_eq!(
        run.lines_starting("multicast tree from 0 "),
        ["multicast tree from 0 (measured): "],
        "no edge to an offline core"
    );
    run.assert_exit(0);
}

#[test]
fn a_core_whose_monitor_died_is_left_out_of_the_benchmark_and_the_tree() {
    // 30 pairs would wait 10 to 30 s each on core 3 (about 200 s); left out, the run ends well
    // inside the deadline, and no line of the benchmark involves core 3.
    let run = Qemu {
        timeout: Duration::from_secs(120),
        ..machine(built("qemu-virt-biglittle.dtb"), "bench bench-rounds=100 inject=monitor-exit@core3")
    }
    .boot();
    // The membership's failure detector removes it within about half a second, before the
    // boot monitor's bind deadline would have taken it as dead.
    let removed = run.lines_starting("core 3 failed: no message for ").len()
        + run.lines_starting("monitor 0: core 3 taken as dead").len();
    assert_eq!(removed, 1, "{}", run.console);
    assert_eq!(
        run.lines_starting("latency benchmark: "),
        ["latency benchmark: 20 ordered pairs, 100 round trips each, at EL0 over URPC"]
    );
    let pairs = run.lines_starting("latency ");
    assert!(!pairs.iter().any(|l| l.starts_with("latency 3-") || l.contains("-3 class=")), "{pairs:?}");
    let tree = run.lines_starting("multicast tree from 0 ");
    assert_eq!(tree.len(), 1, "{}", run.console);
    assert!(!tree[0].contains("->3"), "the tree routes around core 3: {tree:?}");
    run.assert_exit(0);
}

#[test]
fn a_core_that_dies_mid_benchmark_is_waited_for_once_then_skipped() {
    // Core 3's monitor exits when first asked to echo (pair 0-3): that pair times out once,
    // core 3 is taken as dead, and its nine other pairs are reported as not tried instead of
    // each waiting 10 or 30 s; the tree at the end routes around it.
    let run = Qemu {
        timeout: Duration::from_secs(150),
        ..machine(
            built("qemu-virt-biglittle.dtb"),
            "bench bench-rounds=100 inject=monitor-exit-in-bench@core3",
        )
    }
    .boot();
    assert_eq!(
        run.lines_starting("monitor 0: core 3 taken as dead"),
        ["monitor 0: core 3 taken as dead (echo-not-ready): left out from now on"],
        "{}",
        run.console
    );
    let involving_3: Vec<&str> = run
        .lines_starting("latency ")
        .into_iter()
        .filter(|l| l.starts_with("latency 3-") || l.contains("-3 class="))
        .collect();
    assert_eq!(involving_3.len(), 10, "{involving_3:?}");
    assert!(involving_3[0].starts_with("latency 0-3 ") && involving_3[0].contains("failed: echo-not-ready"));
    for line in &involving_3[1..] {
        assert!(line.contains("failed: core-dead "), "not tried, not waited for: {line}");
        assert!(!line.contains("_ns="), "a failure has no figures: {line}");
    }
    let summary = run.lines_starting("latency summary: ");
    assert_eq!(summary.len(), 1);
    assert!(
        summary[0].contains(" failed=10 ")
            && summary[0].contains("pairs=8 ")
            && summary[0].contains("pairs=12 "),
        "{summary:?}"
    );
    let tree = run.lines_starting("multicast tree from 0 ");
    assert!(tree.len() == 1 && !tree[0].contains("->3"), "the tree routes around core 3: {tree:?}");
    run.assert_exit(0);
}

#[test]
fn with_neither_semihosting_nor_psci_the_stub_parks_and_repeats_why() {
    // A tree with no `/psci` (and no core, so it is refused), entered by a firmware boot so
    // QEMU leaves the tree as it is; no semihosting either: the HLT traps, there is no PSCI
    // to call, and the stub parks, saying so and the reason again (every 10 s after that; the
    // harness stops QEMU once the parked line is out and the console went quiet).
    let tree = write_tree("no-cores-no-psci.dtb", &without_node(&without_cores(&big_little_tree()), "psci"));
    let dir = build_dir().join("test-trees");
    let run = Qemu {
        stop_at: Some("boot stub: nothing could power this machine off".into()),
        timeout: DEADLINE,
        ..Qemu::firmware_boot("virt,gic-version=3", &dir, &tree)
    }
    .boot();
    assert!(run.stopped_at_marker, "the stub must park, not end or hang silently:\n{}", run.console);
    let reason = "boot stub: fatal: the device tree at 0x48000000 is refused: no usable core in /cpus";
    assert_eq!(
        run.lines().filter(|l| *l == reason).count(),
        2,
        "said, then repeated once parked:\n{}",
        run.console
    );
}
