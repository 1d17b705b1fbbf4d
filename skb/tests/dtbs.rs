//! Facts from real boards' device trees (Debian's Linux 6.12 builds, committed in `tests/data/boards`) and
//! from QEMU's own `virt` trees, including one as QEMU patches it (with FDT_NOP tokens).

use skb::{
    CpuDriverBuild, EnableMethod, InterruptController, IrqTrigger, LineFormat, MemoryRange, Parity,
    PsciConduit, Skb, UartKind,
};

fn board(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/data/boards/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path)
        .unwrap_or_else(|e| panic!("{path}: {e} (a committed fixture: see tests/data/README.md)"))
}

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!("{}/tests/data/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

#[test]
fn the_console_uart_s_interrupt_is_its_gic_intid() {
    let intid = |dtb: &[u8]| Skb::from_dtb(dtb).unwrap().console.unwrap().intid;
    // QEMU virt's PL011: SPI 1; RockPro64's UART2: SPI 100 (four cells, a GICv3 with PPI
    // partitions); the Raspberry Pi 4's mini-UART: SPI 93 through the GIC-400.
    assert_eq!(intid(&fixture("qemu-virt-gicv3.dtb")), Some(33));
    assert_eq!(intid(&board("rk3399-rockpro64.dtb")), Some(132));
    assert_eq!(intid(&board("bcm2711-rpi-4-b.dtb")), Some(125));
}

#[test]
fn the_console_uart_s_interrupt_trigger_is_its_flags_cell() {
    let trigger = |dtb: &[u8]| Skb::from_dtb(dtb).unwrap().console.unwrap().irq_trigger;
    // A made-up tree's edge-triggered UART (IRQ_TYPE_EDGE_RISING, 1), SPI 5.
    let edge = Skb::from_dtb(&fixture("synthetic/three-classes.dtb")).unwrap().console.unwrap();
    assert_eq!((edge.intid, edge.irq_trigger), (Some(37), Some(IrqTrigger::Edge)));
    // All three say IRQ_TYPE_LEVEL_HIGH (4): QEMU virt's PL011, RockPro64's DesignWare UART,
    // the Pi 4's mini-UART.
    assert_eq!(trigger(&fixture("qemu-virt-gicv3.dtb")), Some(IrqTrigger::Level));
    assert_eq!(trigger(&board("rk3399-rockpro64.dtb")), Some(IrqTrigger::Level));
    assert_eq!(trigger(&board("bcm2711-rpi-4-b.dtb")), Some(IrqTrigger::Level));
    assert_eq!(trigger(&board("rk3588-rock-5b.dtb")), Some(IrqTrigger::Level));
}

fn summary(skb: &Skb) -> Vec<(u64, Option<u32>, u32, u8)> {
    skb.cpus.iter().map(|c| (c.mpidr, c.capacity, c.cluster, c.class)).collect()
}

#[test]
fn rockpro64_is_four_little_and_two_big_in_two_clusters() {
    let skb = Skb::from_dtb(&board("rk3399-rockpro64.dtb")).unwrap();
    assert_eq!(
        summary(&skb),
        [
            (0x0, Some(485), 0, 0),
            (0x1, Some(485), 0, 0),
            (0x2, Some(485), 0, 0),
            (0x3, Some(485), 0, 0),
            (0x100, Some(1024), 1, 1),
            (0x101, Some(1024), 1, 1)
        ]
    );
    assert!(skb.cpus.iter().all(|c| c.enable_method == EnableMethod::Psci));
    assert_eq!(skb.cpu_driver_build(0), Some(CpuDriverBuild::Little));
    assert_eq!(skb.cpu_driver_build(5), Some(CpuDriverBuild::Big));
    assert_eq!(skb.psci.as_ref().map(|p| p.conduit), Some(PsciConduit::Smc));
    assert!(matches!(
        skb.interrupt_controller,
        Some(InterruptController::GicV3 { distributor: 0xfee0_0000, .. })
    ));
    let console = skb.console.unwrap();
    assert_eq!(
        (console.kind, console.base, console.reg_shift, console.reg_io_width),
        (UartKind::Ns16550, 0xff1a_0000, 2, 4)
    );
    assert_eq!(console.baud, Some(1_500_000));
    assert_eq!(console.line, Some(LineFormat { data_bits: 8, parity: Parity::None }), "1500000n8");
    assert_eq!(console.clock_hz, None, "the UART's clock comes from the CRU: the firmware's divisor stays");
    assert!(skb.memory.is_empty(), "U-Boot adds /memory; the kernel's tree has none");
}

#[test]
fn rock5b_is_four_plus_four_in_three_clusters() {
    let skb = Skb::from_dtb(&board("rk3588-rock-5b.dtb")).unwrap();
    assert_eq!(skb.cpus.len(), 8);
    assert_eq!(skb.cluster_count(), 3);
    assert_eq!(skb.class_count(), 2);
    assert_eq!(skb.cores_of_class(0).count(), 4);
    assert_eq!(skb.cores_of_class(1).count(), 4);
    // RK3588 numbers its cores in Aff1: the low MPIDR byte is not an index.
    assert_eq!(
        skb.cpus.iter().map(|c| c.mpidr).collect::<Vec<_>>(),
        [0, 0x100, 0x200, 0x300, 0x400, 0x500, 0x600, 0x700]
    );
    assert_eq!(skb.cpus.iter().map(|c| c.cluster).collect::<Vec<_>>(), [0, 0, 0, 0, 1, 1, 2, 2]);
    assert_eq!(skb.cluster_siblings(4).map(|c| c.index).collect::<Vec<_>>(), [5]);
    assert_eq!(skb.cpu_by_mpidr(0x8100_0600).map(|c| c.index), Some(6), "flag bits ignored");
    assert_eq!(skb.cpu_by_mpidr(0x6), None, "Aff0 is not a core number here");
    let capacities: Vec<_> = skb.cpus.iter().map(|c| c.capacity).collect();
    assert_eq!(capacities, [Some(530); 4].into_iter().chain([Some(1024); 4]).collect::<Vec<_>>());
    assert_eq!(skb.console.unwrap().base, 0xfeb5_0000);
    assert!(matches!(skb.interrupt_controller, Some(InterruptController::GicV3 { .. })));
}

#[test]
fn raspberry_pi_4_is_one_class_with_spin_tables_and_translated_devices() {
    let skb = Skb::from_dtb(&board("bcm2711-rpi-4-b.dtb")).unwrap();
    assert_eq!(skb.cpus.len(), 4);
    assert_eq!(skb.class_count(), 1);
    assert!(skb.cpus.iter().all(|c| c.enable_method == EnableMethod::SpinTable));
    assert_eq!(
        skb.cpus.iter().map(|c| c.release_addr).collect::<Vec<_>>(),
        [Some(0xd8), Some(0xe0), Some(0xe8), Some(0xf0)]
    );
    assert_eq!(skb.cpu_driver_build(0), Some(CpuDriverBuild::Big), "a Cortex-A72 machine runs the big build");
    assert!(skb.psci.is_none());
    assert_eq!(
        skb.interrupt_controller,
        Some(InterruptController::GicV2 { distributor: 0xff84_1000, cpu_interface: 0xff84_2000 })
    );
    let console = skb.console.unwrap();
    assert_eq!(console.kind, UartKind::Bcm2835Aux, "stdout-path is serial1, the mini-UART");
    assert_eq!(console.clock_hz, None, "the core clock is the firmware's: its divisor stays");
    assert_eq!(console.base, 0xfe21_5040, "bus address 0x7e215040 seen from the CPU");
    assert!(
        skb.reserved.iter().any(|r| r.base == 0 && r.size == 0x1000),
        "/memreserve/ protects the spin table"
    );
}

#[test]
fn raspberry_pi_5_is_four_a76_with_psci_a_gic_400_and_the_debug_uart_above_4_gib() {
    let skb = Skb::from_dtb(&board("bcm2712-rpi-5-b.dtb")).unwrap();
    assert_eq!(skb.model.as_deref(), Some("Raspberry Pi 5"));
    assert_eq!(skb.cpus.iter().map(|c| c.mpidr).collect::<Vec<_>>(), [0x0, 0x100, 0x200, 0x300]);
    assert!(skb
        .cpus
        .iter()
        .all(|c| c.compatible.as_deref() == Some("arm,cortex-a76") && c.enable_method == EnableMethod::Psci));
    assert_eq!(skb.class_count(), 1);
    assert_eq!(skb.cpu_driver_build(0), Some(CpuDriverBuild::Big), "the Cortex-A76 is out of order");
    let psci = skb.psci.unwrap();
    assert_eq!(psci.conduit, PsciConduit::Smc, "the firmware's own TF-A at EL3");
    assert_eq!(
        skb.interrupt_controller,
        Some(InterruptController::GicV2 { distributor: 0x10_7fff_9000, cpu_interface: 0x10_7fff_a000 })
    );
    let console = skb.console.unwrap();
    assert_eq!(console.kind, UartKind::Pl011, "stdout-path is serial10, the debug UART");
    assert_eq!(console.base, 0x10_7d00_1000, "bus address 0x7d001000 through /soc@107c000000's ranges");
    assert_eq!(console.baud, Some(115_200));
    assert_eq!(console.clock_hz, Some(9_216_000), "the fixed clk_uart clock the tree names");
    assert_eq!(
        skb.memory,
        [MemoryRange { base: 0, size: 0x2800_0000 }],
        "until the firmware writes the real size"
    );
    assert!(skb.reserved.iter().any(|r| r.base == 0 && r.size == 0x8_0000), "TF-A's first 512 KiB");
    assert_eq!(skb.no_map, [MemoryRange { base: 0, size: 0x8_0000 }], "TF-A's memory is never mapped");
    let l2 = skb.cpus[0].caches.l2_size();
    assert_eq!(l2, Some(512 * 1024));
}

#[test]
fn juno_lists_big_cores_first_and_they_still_rank_higher() {
    let skb = Skb::from_dtb(&board("juno-r2.dtb")).unwrap();
    assert_eq!(skb.cpus[0].compatible.as_deref(), Some("arm,cortex-a72"));
    assert_eq!(skb.cpus[0].class, 1);
    assert_eq!(skb.cpus[2].class, 0);
    assert_eq!(skb.cpu_driver_build(0), Some(CpuDriverBuild::Big));
    assert_eq!(skb.cpu_driver_build(2), Some(CpuDriverBuild::Little));
    assert_eq!(skb.memory.len(), 2);
    assert!(matches!(skb.interrupt_controller, Some(InterruptController::GicV2 { .. })));
}

#[test]
fn quartz64_without_capacities_falls_back_to_the_core_table() {
    let skb = Skb::from_dtb(&board("rk3566-quartz64-b.dtb")).unwrap();
    assert_eq!(skb.cpus.len(), 4);
    assert!(skb.cpus.iter().all(|c| c.capacity.is_none() && c.class == 0));
    assert_eq!(skb.cpu_driver_build(0), Some(CpuDriverBuild::Little), "Cortex-A55 is a little core");
}

#[test]
fn qemu_virt_gicv3() {
    let skb = Skb::from_dtb(&fixture("qemu-virt-gicv3.dtb")).unwrap();
    assert_eq!(skb.cpus.len(), 6);
    assert_eq!(skb.cluster_count(), 1);
    assert_eq!(skb.class_count(), 1);
    assert!(skb.cpus.iter().all(|c| c.enable_method == EnableMethod::Psci));
    assert_eq!(skb.cpus.iter().map(|c| c.mpidr).collect::<Vec<_>>(), [0, 1, 2, 3, 4, 5]);
    let psci = skb.psci.as_ref().unwrap();
    assert_eq!((psci.conduit, psci.version.as_str()), (PsciConduit::Hvc, "1.0"));
    assert_eq!(psci.compatible, "arm,psci-1.0");
    assert_eq!(skb.memory, [MemoryRange { base: 0x4000_0000, size: 0x4000_0000 }]);
    let console = skb.console.as_ref().unwrap();
    assert_eq!(
        (console.kind, console.base, console.reg_shift, console.reg_io_width),
        (UartKind::Pl011, 0x0900_0000, 0, 1)
    );
    assert_eq!(
        skb.interrupt_controller,
        Some(InterruptController::GicV3 { distributor: 0x0800_0000, redistributor: 0x080a_0000 })
    );
    let timer = skb.timer.as_ref().unwrap();
    assert_eq!(timer.compatible, "arm,armv8-timer");
    assert_eq!(timer.interrupts.len(), 12, "four PPIs of three cells");
    assert_eq!(skb.cpu_driver_build(0), Some(CpuDriverBuild::Big), "-cpu cortex-a72");
}

#[test]
fn qemu_virt_gicv2_and_el2() {
    let v2 = Skb::from_dtb(&fixture("qemu-virt-gicv2.dtb")).unwrap();
    assert_eq!(
        v2.interrupt_controller,
        Some(InterruptController::GicV2 { distributor: 0x0800_0000, cpu_interface: 0x0801_0000 })
    );
    assert_eq!(v2.cpus.len(), 6);
    let el2 = Skb::from_dtb(&fixture("qemu-virt-el2.dtb")).unwrap();
    assert_eq!(
        el2.psci.as_ref().map(|p| p.conduit),
        Some(PsciConduit::Smc),
        "virtualization=on moves PSCI to smc"
    );
    assert!(matches!(el2.interrupt_controller, Some(InterruptController::GicV3 { .. })));
}

#[test]
fn raspberry_pi_4_as_qemu_patches_it() {
    let original = Skb::from_dtb(&board("bcm2711-rpi-4-b.dtb")).unwrap();
    let patched = Skb::from_dtb(&fixture("qemu-raspi4b-patched.dtb")).unwrap();
    assert_eq!(patched.cpus, original.cpus);
    assert_eq!(patched.interrupt_controller, original.interrupt_controller);
    assert_eq!(patched.console, original.console);
    // QEMU replaces the firmware's empty /memory with the machine's 2 GiB (below the 1 GiB
    // DMA hole and above it).
    assert!(original.memory.is_empty());
    assert!(!patched.memory.is_empty());
    assert!(patched.reserved.iter().any(|r| r.base == 0 && r.size == 0x1000));
}

#[test]
fn big_little_on_qemu_virt_as_qemu_patches_it() {
    let skb = Skb::from_dtb(&fixture("qemu-virt-big-little-patched.dtb")).unwrap();
    assert_eq!(
        summary(&skb),
        [
            (0, Some(485), 0, 0),
            (1, Some(485), 0, 0),
            (2, Some(485), 0, 0),
            (3, Some(485), 0, 0),
            (4, Some(1024), 1, 1),
            (5, Some(1024), 1, 1)
        ],
        "clusters numbered by their first core, whatever the map's order"
    );
    let builds: Vec<_> = (0..6).map(|i| skb.cpu_driver_build(i).unwrap().target_cpu()).collect();
    assert_eq!(builds, ["cortex-a53", "cortex-a53", "cortex-a53", "cortex-a53", "cortex-a72", "cortex-a72"]);
    assert_eq!(skb.psci.as_ref().map(|p| p.conduit), Some(PsciConduit::Hvc));
    assert_eq!(skb.memory, [MemoryRange { base: 0x4000_0000, size: 0x4000_0000 }]);
}

#[test]
fn three_classes_from_capacities_with_translated_devices() {
    let skb = Skb::from_dtb(&fixture("synthetic/three-classes.dtb")).unwrap();
    assert_eq!(
        summary(&skb),
        [
            (0x000, Some(250), 0, 0),
            (0x100, Some(250), 0, 0),
            (0x200, Some(250), 0, 0),
            (0x300, Some(250), 0, 0),
            (0x400, Some(620), 1, 1),
            (0x500, Some(620), 1, 1),
            (0x600, Some(1024), 2, 2),
            (0x700, Some(1024), 2, 2)
        ],
        "the disabled core 0x380 is left out and does not take an index"
    );
    assert_eq!(skb.class_count(), 3);
    assert_eq!(skb.cores_of_class(2).map(|c| c.index).collect::<Vec<_>>(), [6, 7]);
    assert_eq!(skb.cpu_driver_build(0), Some(CpuDriverBuild::Little));
    assert_eq!(skb.cpu_driver_build(4), Some(CpuDriverBuild::Big));
    assert_eq!(skb.cpu_driver_build(7), Some(CpuDriverBuild::Big));
    let caches = &skb.cpus[4].caches;
    assert_eq!((caches.l1d, caches.l1i, caches.l2_size()), (Some(0x10000), Some(0x10000), Some(0x40000)));
    let psci = skb.psci.as_ref().unwrap();
    assert_eq!((psci.conduit, psci.version.as_str()), (PsciConduit::Smc, "1.0"));
    // soc bus 0 is CPU 0x1_0000_0000; the GIC's `ranges;` is the identity; its ITS child
    // (`arm,gic-v3-its`) is not taken for the GIC.
    assert_eq!(
        skb.interrupt_controller,
        Some(InterruptController::GicV3 { distributor: 0x1_0001_0000, redistributor: 0x1_0008_0000 })
    );
    // apb 0x3000 -> soc 0x203000 -> CPU 0x1_0020_3000.
    let console = skb.console.as_ref().unwrap();
    assert_eq!(console.path, "/soc/apb/serial@3000");
    assert_eq!((console.kind, console.base), (UartKind::Ns16550, 0x1_0020_3000));
    assert_eq!((console.reg_shift, console.reg_io_width), (2, 4));
    assert_eq!(console.baud, Some(115_200), "the stdout-path options win over current-speed");
    assert_eq!(
        skb.memory,
        [
            MemoryRange { base: 0x8000_0000, size: 0x4000_0000 },
            MemoryRange { base: 0x8_8000_0000, size: 0x1_0000_0000 }
        ]
    );
    assert_eq!(skb.reserved, [MemoryRange { base: 0x9000_0000, size: 0x20_0000 }]);
    assert_eq!(skb.timer.as_ref().unwrap().interrupts, [1, 13, 4, 1, 14, 4, 1, 11, 4, 1, 10, 4]);
}

#[test]
fn three_classes_from_the_core_table_without_capacities() {
    let skb = Skb::from_dtb(&fixture("synthetic/three-classes-no-capacity.dtb")).unwrap();
    assert_eq!(skb.cpus.len(), 8);
    assert!(skb.cpus.iter().all(|c| c.capacity.is_none() && c.cluster == 0));
    assert_eq!(skb.cpus.iter().map(|c| c.class).collect::<Vec<_>>(), [0, 0, 0, 0, 1, 1, 2, 2]);
    assert_eq!(skb.cluster_count(), 1);
}

#[test]
fn a_console_without_translation_is_no_console() {
    let skb = Skb::from_dtb(&fixture("synthetic/untranslatable-console.dtb")).unwrap();
    assert!(skb.console.is_none());
    assert_eq!(skb.cpus[0].release_addr, Some(0xd8));
    assert_eq!(skb.cpus[1].enable_method, EnableMethod::SpinTable, "the usable method of a list");
    assert_eq!(skb.cpu_driver_build(1), Some(CpuDriverBuild::Big));
    assert!(skb.interrupt_controller.is_none() && skb.psci.is_none() && skb.timer.is_none());
}

#[test]
fn micro_architectures_from_midr() {
    let name = |midr| skb::micro_arch_from_midr(midr).map(|a| a.name());
    assert_eq!(name(0x410f_d034), Some("cortex-a53"));
    assert_eq!(name(0x411f_d050), Some("cortex-a55"));
    assert_eq!(name(0x411f_d070), Some("cortex-a57"));
    assert_eq!(name(0x410f_d083), Some("cortex-a72"));
    assert_eq!(name(0x410f_d090), Some("cortex-a73"));
    assert_eq!(name(0x414f_d0b0), Some("cortex-a76"));
    assert_eq!(name(0x411f_d440), Some("cortex-x1"));
    assert_eq!(name(0x610f_0220), None, "Apple is not in the table");
    let rank = |compatible| skb::micro_arch_from_compatible(compatible).unwrap().rank();
    assert!(
        rank("arm,cortex-a55") < rank("arm,cortex-a76") && rank("arm,cortex-a76") < rank("arm,cortex-x1")
    );
    // The running core's MIDR and the tree's compatible name the same design.
    let from_tree = skb::micro_arch_from_compatible("arm,cortex-a72");
    assert_eq!(from_tree, skb::micro_arch_from_midr(0x410f_d083));
    assert!(from_tree.unwrap().is_big());
}

/// Inserts FDT_NOP tokens after every BEGIN_NODE, fixing up the header, as QEMU's patching
/// leaves them.
fn with_nops(dtb: &[u8]) -> Vec<u8> {
    let word = |at: usize| u32::from_be_bytes(dtb[at..at + 4].try_into().unwrap());
    let (off_struct, off_strings, size_struct) = (word(8) as usize, word(12) as usize, word(36) as usize);
    let mut structs = Vec::new();
    let mut i = off_struct;
    let mut inserted = 0;
    while i < off_struct + size_struct {
        let token = word(i);
        structs.extend_from_slice(&dtb[i..i + 4]);
        i += 4;
        match token {
            1 => {
                let start = i;
                while dtb[i] != 0 {
                    i += 1;
                }
                i = (i + 4) & !3;
                structs.extend_from_slice(&dtb[start..i]);
                structs.extend_from_slice(&4u32.to_be_bytes());
                inserted += 4;
            }
            3 => {
                let len = word(i) as usize;
                let end = i + 8 + ((len + 3) & !3);
                structs.extend_from_slice(&dtb[i..end]);
                i = end;
            }
            _ => {}
        }
    }
    assert!(off_strings >= off_struct + size_struct, "strings after the structure block");
    let mut out = dtb[..off_struct].to_vec();
    out.extend_from_slice(&structs);
    out.extend_from_slice(&dtb[off_struct + size_struct..]);
    let put =
        |out: &mut Vec<u8>, at: usize, value: u32| out[at..at + 4].copy_from_slice(&value.to_be_bytes());
    put(&mut out, 4, word(4) + inserted);
    put(&mut out, 12, word(12) + inserted);
    put(&mut out, 36, word(36) + inserted);
    out
}

#[test]
fn nop_tokens_from_qemu_patching_are_skipped() {
    let plain = fixture("qemu-virt-gicv3.dtb");
    let patched = with_nops(&plain);
    assert!(patched.len() > plain.len());
    let a = Skb::from_dtb(&plain).unwrap();
    let b = Skb::from_dtb(&patched).unwrap();
    assert_eq!(a.cpus, b.cpus);
    assert_eq!(a.console, b.console);
    assert_eq!(a.memory, b.memory);
}

#[test]
fn measured_facts_drive_the_peer_and_multicast_queries() {
    let mut skb = Skb::from_dtb(&board("rk3399-rockpro64.dtb")).unwrap();
    // Without measurements: cluster siblings, and a tree along the clusters.
    assert_eq!(skb.cheapest_peer(4), Some(5));
    let tree = skb.multicast_tree(0);
    // The big cluster's representative first (a link between clusters, and a core behind it),
    // then the root's own cluster.
    assert_eq!(tree.children(0).collect::<Vec<_>>(), [4, 1, 2, 3]);
    assert_eq!(tree.children(4).collect::<Vec<_>>(), [5]);
    assert_eq!(tree.depth(), 2);
    // Measurements for every pair: the tree follows them.
    for a in 0..6 {
        for b in 0..6 {
            if a != b {
                let same_cluster = skb.cpus[a].cluster == skb.cpus[b].cluster;
                skb.record_latency(a, b, if same_cluster { 100 } else { 400 } + (a + b) as u64);
            }
        }
    }
    skb.record_latency(4, 2, 50);
    skb.record_latency(2, 4, 50);
    assert_eq!(skb.cheapest_peer(4), Some(2));
    let tree = skb.multicast_tree(0);
    assert_eq!(tree.edges.len(), 5);
    assert_eq!(tree.depth(), 2, "shallow, not the lightest chain: {:?}", tree.edges);
    // The big cluster's representative is the member the root reaches fastest (4: 404 ns,
    // against 405 for 5); the root sends to it first (404 + 109 to forward), then to its own
    // cluster, farthest first.
    assert_eq!(tree.children(0).collect::<Vec<_>>(), [4, 3, 2, 1]);
    assert_eq!(tree.children(4).collect::<Vec<_>>(), [5]);
    skb.record_latency(0, 5, 90);
    let tree = skb.multicast_tree(0);
    assert_eq!(tree.children(5).collect::<Vec<_>>(), [4], "a faster link makes 5 the representative");
    assert_eq!(tree.edges[0], (0, 5));
    // Offline cores are left out.
    skb.mark_offline(5, "no report");
    assert_eq!(skb.offline_reason(5), Some("no report"));
    assert!(skb.multicast_tree(0).edges.iter().all(|&(p, c)| p != 5 && c != 5));
}

#[test]
fn without_measurements_the_multicast_tree_follows_the_clusters() {
    let mut skb = Skb::from_dtb(&fixture("synthetic/three-classes.dtb")).unwrap();
    // From an X1 (cluster 2): its sibling, and the first core of clusters 0 and 1, which
    // forward to their own siblings.
    // In send order: the representatives with most cores behind them first, then its sibling.
    let tree = skb.multicast_tree(6);
    assert_eq!(tree.children(6).collect::<Vec<_>>(), [0, 4, 7]);
    assert_eq!(tree.children(0).collect::<Vec<_>>(), [1, 2, 3]);
    assert_eq!(tree.children(4).collect::<Vec<_>>(), [5]);
    assert_eq!(tree.edges.len(), 7, "every other core reached once");
    assert_eq!(tree.depth(), 2);
    // An offline cluster leader is replaced by the next core of its cluster.
    skb.mark_offline(0, "PSCI CPU_ON returned DENIED");
    let tree = skb.multicast_tree(6);
    assert_eq!(tree.children(6).collect::<Vec<_>>(), [1, 4, 7]);
    assert_eq!(tree.children(1).collect::<Vec<_>>(), [2, 3]);
    assert_eq!(skb.offline_cores().collect::<Vec<_>>(), [(0, "PSCI CPU_ON returned DENIED")]);
    // Unknown cores have no answers.
    assert_eq!(skb.cheapest_peer(8), None);
    assert_eq!(skb.cpu_driver_build(8), None);
    assert!(skb.multicast_tree(8).edges.is_empty());
    assert_eq!(skb.cluster_siblings(8).count(), 0);
}

#[test]
fn cpu_driver_build_names() {
    assert_eq!(
        (CpuDriverBuild::Little.target_cpu(), CpuDriverBuild::Little.class_name()),
        ("cortex-a53", "little")
    );
    assert_eq!((CpuDriverBuild::Big.target_cpu(), CpuDriverBuild::Big.class_name()), ("cortex-a72", "big"));
}

#[test]
fn reserved_memory_tells_no_map_from_reusable_and_skips_disabled_children() {
    let skb = Skb::from_dtb(&fixture("synthetic/reserved-memory.dtb")).unwrap();
    let range = |base, size| skb::MemoryRange { base, size };
    assert_eq!(
        skb.reserved,
        [range(0, 0x1000), range(0x4000_0000, 0x20_0000), range(0x5000_0000, 0x100_0000)],
        "the /memreserve/ entry, the no-map firmware and the reusable pool; not the disabled child, not the size-only one"
    );
    assert_eq!(skb.no_map, [range(0x4000_0000, 0x20_0000)], "only the no-map child is never mapped");
}

/// Whatever the measurements and whichever cores are offline: the tree reaches every online
/// core but the root exactly once, from a parent reached before it, in at most two hops.
#[test]
fn every_multicast_tree_spans_the_online_cores_in_two_hops() {
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for round in 0..300 {
        let mut skb = Skb::from_dtb(&fixture("synthetic/three-classes.dtb")).unwrap();
        let n = skb.cpus.len();
        if round % 2 == 0 {
            for a in 0..n {
                for b in (0..n).filter(|&b| b != a) {
                    skb.record_latency(a, b, 50 + next() % 2000);
                }
            }
        }
        let root = (next() % n as u64) as usize;
        let offline = (next() % n as u64) as usize;
        if offline != root && round % 3 == 0 {
            skb.mark_offline(offline, "test");
        }
        let tree = skb.multicast_tree(root);
        let mut reached = vec![root];
        for &(parent, child) in &tree.edges {
            assert!(
                reached.contains(&parent),
                "round {round}: {parent} sends before it is reached: {:?}",
                tree.edges
            );
            assert!(!reached.contains(&child), "round {round}: {child} reached twice: {:?}", tree.edges);
            reached.push(child);
        }
        let mut online: Vec<usize> = (0..n).filter(|&c| skb.is_online(c) || c == root).collect();
        reached.sort_unstable();
        online.sort_unstable();
        assert_eq!(reached, online, "round {round}");
        assert!(tree.depth() <= 2, "round {round}: {:?}", tree.edges);
    }
}

#[test]
fn a_console_with_a_fixed_clock_and_a_line_format() {
    let skb = Skb::from_dtb(&fixture("synthetic/console-fixed-clock.dtb")).unwrap();
    let console = skb.console.unwrap();
    assert_eq!((console.kind, console.base, console.reg_shift), (UartKind::Ns16550, 0x10000, 2));
    assert_eq!(console.baud, Some(9600));
    assert_eq!(console.line, Some(LineFormat { data_bits: 7, parity: Parity::Even }), "9600e7");
    assert_eq!(console.clock_hz, Some(24_000_000), "from the fixed-clock `clocks` names");
}

#[test]
fn a_console_that_states_its_own_clock_and_only_a_baud_rate() {
    let skb = Skb::from_dtb(&fixture("synthetic/console-aux-clock-frequency.dtb")).unwrap();
    let console = skb.console.unwrap();
    assert_eq!(console.kind, UartKind::Bcm2835Aux);
    assert_eq!(console.baud, Some(115_200));
    assert_eq!(console.line, None, "no format in the options: none guessed");
    assert_eq!(console.clock_hz, Some(500_000_000), "its own clock-frequency");
}

#[test]
fn a_console_clocked_by_a_clock_controller_has_no_known_clock() {
    let skb = Skb::from_dtb(&fixture("synthetic/console-clock-controller.dtb")).unwrap();
    let console = skb.console.unwrap();
    assert_eq!(console.baud, Some(115_200));
    assert_eq!(console.clock_hz, None, "a controller's own clock-frequency is not its outputs' rate");
}

#[test]
fn a_controller_that_is_its_own_interrupt_parent_is_the_root_not_a_loop() {
    // Raspberry Pi 3-family trees: read, with no GIC, cores and spin tables intact.
    let skb = Skb::from_dtb(&fixture("synthetic/interrupt-parent-self.dtb")).unwrap();
    assert_eq!(skb.interrupt_controller, None);
    assert_eq!(skb.cpus.len(), 2);
    assert_eq!(skb.cpus[1].release_addr, Some(0xe0));
    assert!(skb.warnings.is_empty(), "{:?}", skb.warnings);
    // Two controllers naming each other are still a loop: no interrupt controller, a warning.
    let looped = Skb::from_dtb(&fixture("synthetic/interrupt-parent-loop.dtb")).unwrap();
    assert_eq!(looped.warnings[0].problem.to_string(), "phandle references loop (interrupt-parent)");
    assert_eq!(looped.interrupt_controller, None);
}

#[test]
fn facts_about_cores_the_tree_does_not_have_are_not_recorded() {
    let mut skb = Skb::from_dtb(&fixture("synthetic/three-classes.dtb")).unwrap();
    let n = skb.cpus.len();
    assert!(skb.record_latency(0, 1, 100));
    assert!(!skb.record_latency(0, n, 100), "no such core");
    assert!(!skb.record_latency(n, 0, 100));
    assert!(!skb.record_latency(2, 2, 100), "a core with itself");
    assert_eq!(skb.latencies().count(), 1);
    assert!(!skb.mark_offline(n + 3, "never there"));
    assert_eq!(skb.offline_cores().count(), 0);
    assert!(skb.mark_offline(1, "test"));
}

#[test]
fn malformed_optional_facts_are_warnings_with_the_fact_absent() {
    let skb = Skb::from_dtb(&fixture("synthetic/psci-without-method.dtb")).unwrap();
    let problems: Vec<String> = skb.warnings.iter().map(|w| w.problem.to_string()).collect();
    assert_eq!(
        problems,
        [
            "/cpus/cpu@1: property cpu-release-addr is missing",
            "/psci: property method is missing",
            "/soc/interrupt-controller@1000: reg is not memory mapped (no bus ranges reach it)",
        ]
    );
    assert_eq!((skb.psci.as_ref(), skb.interrupt_controller), (None, None));
    // The cores are all there; the one whose method needs a missing fact cannot be started.
    assert_eq!(skb.cpus.len(), 3);
    assert_eq!(skb.cpus[0].enable_method, EnableMethod::Psci, "the boot finds no PSCI to start it with");
    assert_eq!(
        (skb.cpus[1].enable_method.clone(), skb.cpus[1].release_addr),
        (EnableMethod::SpinTable, None)
    );
    assert_eq!(skb.cpus[2].release_addr, Some(0xe8));
    assert!(skb.warnings[0].to_string().ends_with("; this spin-table core cannot be started"));
    let json = skb::json::facts(&skb);
    assert!(json.contains(r#""warnings":["/cpus/cpu@1: property cpu-release-addr is missing; "#), "{json}");
}

#[test]
fn board_trees_read_without_warnings() {
    for name in [
        "bcm2711-rpi-4-b.dtb",
        "bcm2712-rpi-5-b.dtb",
        "juno-r2.dtb",
        "rk3399-rockpro64.dtb",
        "rk3566-quartz64-b.dtb",
        "rk3588-rock-5b.dtb",
    ] {
        let skb = Skb::from_dtb(&board(name)).unwrap();
        assert!(skb.warnings.is_empty(), "{name}: {:?}", skb.warnings);
    }
}

#[test]
fn cache_facts_follow_the_next_level_cache_chain() {
    let skb = Skb::from_dtb(&board("rk3588-rock-5b.dtb")).unwrap();
    let little = &skb.cpus[0].caches;
    assert_eq!(
        (little.l1d, little.l1d_line, little.l1i, little.l1i_line),
        (Some(0x8000), Some(64), Some(0x8000), Some(64))
    );
    let levels: Vec<_> =
        little.outer.iter().map(|c| (c.path.as_str(), c.level, c.unified, c.size, c.line)).collect();
    assert_eq!(
        levels,
        [
            ("/cpus/l2-cache-l0", 2, true, Some(0x20000), Some(64)),
            ("/l3-cache", 3, true, Some(0x30_0000), Some(64))
        ]
    );
    let big = &skb.cpus[4].caches;
    assert_eq!(big.l2_size(), Some(0x8_0000), "the A76s' private 512 KiB L2");
    assert_eq!(big.outer[1].path, "/l3-cache", "shared with the A55s");
    // Juno: the A72 cluster and the A53 cluster each share their own L2.
    let juno = Skb::from_dtb(&board("juno-r2.dtb")).unwrap();
    let l2 = |i: usize| juno.cpus[i].caches.outer[0].path.clone();
    assert_eq!(
        (l2(0), l2(1), l2(2)),
        ("/cpus/l2-cache0".into(), "/cpus/l2-cache0".into(), "/cpus/l2-cache1".into())
    );
    let json = skb::json::facts(&skb);
    assert!(
        json.contains(r#""caches":{"l1d_size":32768,"l1d_line_size":64,"l1i_size":32768,"l1i_line_size":64,"levels":[{"path":"/cpus/l2-cache-l0","level":2,"unified":true,"size":131072,"line_size":64}"#),
        "{json}"
    );
}

#[test]
fn a_cache_chain_that_loops_or_dangles_stops_with_a_warning() {
    let skb = Skb::from_dtb(&fixture("synthetic/cache-chains.dtb")).unwrap();
    let levels = |i: usize| -> Vec<(String, u32)> {
        skb.cpus[i].caches.outer.iter().map(|c| (c.path.clone(), c.level)).collect()
    };
    assert_eq!(
        levels(0),
        [("/cpus/l2-cache-0".into(), 2), ("/l3-cache".into(), 3)],
        "a level without cache-level is counted"
    );
    assert_eq!(skb.cpus[1].caches.l1d_line, Some(128));
    assert_eq!(
        levels(1),
        [("/cpus/l2-cache-1".into(), 2), ("/cpus/other-cache".into(), 3)],
        "up to the loop"
    );
    assert!(levels(2).is_empty());
    let problems: Vec<String> = skb.warnings.iter().map(|w| w.problem.to_string()).collect();
    assert_eq!(
        problems,
        ["phandle references loop (next-level-cache)", "/cpus/cpu@2: property next-level-cache is malformed"]
    );
}

#[test]
fn with_only_some_pairs_measured_measurements_pick_peers_and_clusters_shape_the_tree() {
    let mut skb = Skb::from_dtb(&board("rk3399-rockpro64.dtb")).unwrap();
    // One pair across the clusters measured, in one direction only.
    assert!(skb.record_latency(4, 1, 300));
    assert_eq!(skb.cheapest_peer(4), Some(1), "a measured peer beats an unmeasured sibling");
    assert_eq!(skb.cheapest_peer(1), Some(4), "a round trip costs the same either way");
    assert_eq!(skb.cheapest_peer(2), Some(0), "no measurement: the first cluster sibling");
    // The nearest of some candidates (the cores offering a service), judged the same way.
    assert_eq!(skb.nearest_of(4, [2, 1, 3]), Some(1), "the measured candidate");
    assert_eq!(skb.nearest_of(2, [4, 5, 3]), Some(3), "no measurement: a cluster sibling");
    assert_eq!(skb.nearest_of(2, [5, 4]), Some(5), "no sibling: the first candidate");
    assert_eq!(skb.nearest_of(2, [2]), None, "a core is not its own nearest");
    assert_eq!(skb.nearest_of(99, [1]), None, "no such core");
    // Not every pair measured: the multicast tree keeps the cluster shape, whatever was measured.
    let unmeasured = Skb::from_dtb(&board("rk3399-rockpro64.dtb")).unwrap().multicast_tree(0);
    assert_eq!(skb.multicast_tree(0), unmeasured);
    assert_eq!(skb.multicast_tree(0).children(0).collect::<Vec<_>>(), [4, 1, 2, 3]);
}
