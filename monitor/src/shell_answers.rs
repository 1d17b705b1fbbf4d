//! What the shell's commands print, from a monitor's replica of the System Knowledge Base and
//! what it knows of the cores: kept apart from the monitor program so it is tested on the host.
//! Every function returns the lines to print; a bad argument is an `Err` line, never a panic.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use skb::Skb;

/// The class name of a performance class (0 little, 1 big, as the CPU-driver builds).
fn class_name(class: u8) -> &'static str {
    match class {
        0 => "little",
        1 => "big",
        _ => "other",
    }
}

/// An `Err` line for a core index the replica does not list.
fn no_such_core(skb: &Skb, core: u32) -> String {
    format!("error: no core {core} (this machine has cores 0 to {})", skb.cpus.len().saturating_sub(1))
}

/// `cores`: one line per core: index, MPIDR, class, cluster, CPU-driver build and state
/// (`online` says which cores the boot monitor's membership holds live; the replica's offline
/// reason, where it has one, is printed).
pub fn cores(skb: &Skb, online: u64) -> Vec<String> {
    let mut lines = Vec::with_capacity(skb.cpus.len() + 1);
    lines.push(String::from("core  mpidr     class   cluster  build       state"));
    for cpu in &skb.cpus {
        let build = skb.cpu_driver_build(cpu.index).map_or("from-midr", |b| b.target_cpu());
        let state = if cpu.index < 64 && online & (1 << cpu.index) != 0 {
            String::from("online")
        } else {
            match skb.offline_reason(cpu.index) {
                Some(reason) => format!("offline ({reason})"),
                None => String::from("offline"),
            }
        };
        lines.push(format!(
            "{:<5} {:<9} {:<7} {:<8} {:<11} {}",
            cpu.index,
            format!("{:#x}", cpu.mpidr),
            class_name(cpu.class),
            cpu.cluster,
            build,
            state
        ));
    }
    lines
}

/// `skb facts`: the table `skb facts` prints on the host, line by line.
pub fn facts(skb: &Skb) -> Vec<String> {
    skb::text::facts(skb).lines().map(String::from).collect()
}

/// `skb class <n>`: the cores of class `class`.
pub fn class(skb: &Skb, class: u8) -> Vec<String> {
    let cores: Vec<String> = skb.cores_of_class(class).map(|c| format!("{}", c.index)).collect();
    if cores.is_empty() {
        return alloc::vec![format!("class {class} ({}): no cores", class_name(class))];
    }
    alloc::vec![format!("class {class} ({}): cores {}", class_name(class), cores.join(" "))]
}

/// `skb tree <root>`: the multicast tree the replica computes from `root` (its measured
/// latencies where it has them), as `parent -> children` lines and its depth.
pub fn tree(skb: &Skb, root: u32) -> Vec<String> {
    let index = root as usize;
    if index >= skb.cpus.len() {
        return alloc::vec![no_such_core(skb, root)];
    }
    if !skb.is_online(index) {
        return alloc::vec![format!("error: core {root} is offline")];
    }
    let tree = skb.multicast_tree(index);
    let mut lines = alloc::vec![format!("multicast tree from core {root}: depth {}", tree.depth())];
    let mut parents: Vec<usize> = Vec::new();
    for &(parent, _) in &tree.edges {
        if !parents.contains(&parent) {
            parents.push(parent);
        }
    }
    for parent in parents {
        let children: Vec<String> = tree.children(parent).map(|c| format!("{c}")).collect();
        lines.push(format!("  {parent} -> {}", children.join(" ")));
    }
    lines
}

/// `skb latency <a> <b>`: the p50 the benchmark measured from `a` to `b`, as the replica
/// recorded it.
pub fn latency(skb: &Skb, from: u32, to: u32) -> Vec<String> {
    for core in [from, to] {
        if core as usize >= skb.cpus.len() {
            return alloc::vec![no_such_core(skb, core)];
        }
    }
    match skb.latency(from as usize, to as usize) {
        Some(ns) => alloc::vec![format!("latency {from}-{to}: p50_ns={ns}")],
        None => alloc::vec![format!(
            "latency {from}-{to}: not measured (run 'bench latency' or boot with 'bench')"
        )],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The big.LITTLE QEMU tree's facts (the SKB's fixture of the tree `make-dtb` writes):
    /// cores 0-3 little (cluster 0), 4-5 big (cluster 1).
    fn biglittle() -> Skb {
        let dtb = include_bytes!("../../skb/tests/data/qemu-virt-big-little-patched.dtb");
        Skb::from_dtb(dtb).expect("it parses")
    }

    #[test]
    fn cores_lists_every_core_with_class_cluster_build_and_state() {
        let mut skb = biglittle();
        skb.mark_offline(5, "offline at the roll call");
        let lines = cores(&skb, 0b01_1111);
        assert_eq!(lines.len(), 7);
        assert!(lines[1].starts_with("0     0x0       little  0        cortex-a53  online"), "{}", lines[1]);
        assert!(lines[5].starts_with("4     0x4       big     1        cortex-a72  online"), "{}", lines[5]);
        assert_eq!(
            lines[6],
            "5     0x5       big     1        cortex-a72  offline (offline at the roll call)"
        );
    }

    #[test]
    fn queries_answer_and_bad_cores_are_errors() {
        let mut skb = biglittle();
        assert_eq!(class(&skb, 0), ["class 0 (little): cores 0 1 2 3"]);
        assert_eq!(class(&skb, 1), ["class 1 (big): cores 4 5"]);
        assert_eq!(latency(&skb, 0, 9), ["error: no core 9 (this machine has cores 0 to 5)"]);
        assert!(latency(&skb, 0, 4)[0].contains("not measured"));
        assert!(skb.record_latency(0, 4, 1234));
        assert_eq!(latency(&skb, 0, 4), ["latency 0-4: p50_ns=1234"]);
        let tree_lines = tree(&skb, 0);
        assert!(tree_lines[0].starts_with("multicast tree from core 0: depth "), "{tree_lines:?}");
        let reached: usize =
            tree_lines[1..].iter().map(|l| l.split("->").nth(1).unwrap().split_whitespace().count()).sum();
        assert_eq!(reached, 5, "every other core is reached once: {tree_lines:?}");
        assert_eq!(tree(&skb, 6), ["error: no core 6 (this machine has cores 0 to 5)"]);
        skb.mark_offline(3, "test");
        assert_eq!(tree(&skb, 3), ["error: core 3 is offline"]);
        assert!(facts(&skb).iter().any(|l| l.starts_with("6 cores, 2 classes")), "{:?}", facts(&skb));
    }
}
