//! Bad input gives an error value naming the problem, never a panic or a hang: truncations at
//! every length, flipped bits, hostile header fields, and hand-built trees that are well formed
//! but lie (loops, absurd cell counts, wrong property shapes, deep nesting).

use skb::{Error, Skb};

fn board(name: &str) -> Vec<u8> {
    std::fs::read(format!("{}/tests/data/boards/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!("{}/tests/data/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

fn word(dtb: &[u8], at: usize) -> u32 {
    u32::from_be_bytes(dtb[at..at + 4].try_into().unwrap())
}

fn put(dtb: &mut [u8], at: usize, value: u32) {
    dtb[at..at + 4].copy_from_slice(&value.to_be_bytes());
}

/// A small xorshift generator, so the "random" cases are the same on every run.
struct Xorshift(u64);

impl Xorshift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

#[test]
fn every_truncation_is_an_error() {
    for name in ["rk3399-rockpro64.dtb", "bcm2711-rpi-4-b.dtb"] {
        let dtb = board(name);
        for len in 0..dtb.len() {
            assert!(Skb::from_dtb(&dtb[..len]).is_err(), "{name}: prefix of {len} bytes accepted");
        }
    }
}

/// Truncations whose header is fixed up to match, so the structure-block walk itself meets
/// the cut (a plain truncation is caught by `totalsize` alone).
#[test]
fn every_truncation_with_a_matching_header_is_an_error() {
    let dtb = fixture("qemu-virt-gicv3.dtb");
    let (structs, strings) = (word(&dtb, 8) as usize, word(&dtb, 12) as usize);
    for len in 0..dtb.len() {
        let mut cut = dtb[..len].to_vec();
        if len >= 40 {
            put(&mut cut, 4, len as u32);
            put(&mut cut, 36, (word(&dtb, 36) as usize).min(len.saturating_sub(structs)) as u32 & !3);
            put(&mut cut, 32, (word(&dtb, 32) as usize).min(len.saturating_sub(strings)) as u32);
        }
        // A cut inside the strings block may still leave a whole, valid structure block whose
        // property names are all there; anything shorter must fail.
        if len < strings {
            assert!(Skb::from_dtb(&cut).is_err(), "prefix of {len} bytes with a fixed header accepted");
        } else {
            let _ = Skb::from_dtb(&cut);
        }
    }
}

#[test]
fn wrong_magic_and_header_fields_are_named() {
    let dtb = board("bcm2711-rpi-4-b.dtb");
    let mut bad = dtb.clone();
    put(&mut bad, 0, 0x1234_5678);
    assert_eq!(Skb::from_dtb(&bad).unwrap_err(), Error::BadMagic(0x1234_5678));
    assert_eq!(
        Skb::from_dtb(&bad).unwrap_err().to_string(),
        "not a device tree: magic 0x12345678, expected 0xd00dfeed"
    );
    let mut bad = dtb.clone();
    put(&mut bad, 4, u32::MAX);
    assert!(matches!(Skb::from_dtb(&bad), Err(Error::Truncated { .. })));
    for field in [8, 12, 16, 32, 36] {
        for value in [0xffff_fff0, u32::MAX, 0x8000_0000, dtb.len() as u32 - 4] {
            let mut bad = dtb.clone();
            put(&mut bad, field, value);
            assert!(Skb::from_dtb(&bad).is_err(), "header field at {field} = {value:#x}");
        }
    }
    for field in [8, 16, 36] {
        let mut misaligned = dtb.clone();
        put(&mut misaligned, field, word(&dtb, field) + 2);
        assert!(Skb::from_dtb(&misaligned).is_err(), "header field at {field} misaligned");
    }
    let mut old = dtb.clone();
    put(&mut old, 20, 16);
    assert_eq!(Skb::from_dtb(&old).unwrap_err(), Error::BadHeader("version older than 17"));
    assert!(Skb::from_dtb(b"").is_err());
    assert!(Skb::from_dtb(&[0xd0, 0x0d, 0xfe, 0xed]).is_err());
    // x0 = 0x100 from QEMU without -dtb points at zeros.
    assert_eq!(Skb::from_dtb(&[0; 64]).unwrap_err(), Error::BadMagic(0));
}

#[test]
fn every_flipped_bit_in_the_header_and_first_nodes_is_survived() {
    let dtb = fixture("qemu-virt-gicv3.dtb");
    for byte in 0..2048 {
        for bit in 0..8 {
            let mut bad = dtb.clone();
            bad[byte] ^= 1 << bit;
            let result = Skb::from_dtb(&bad);
            if byte < 4 {
                assert!(matches!(result, Err(Error::BadMagic(_))));
            }
        }
    }
}

#[test]
fn random_flipped_bytes_never_panic() {
    let trees = [
        board("rk3588-rock-5b.dtb"),
        board("juno-r2.dtb"),
        fixture("synthetic/cache-chains.dtb"),
        fixture("synthetic/psci-without-method.dtb"),
        fixture("synthetic/tegra186-denver-a57.dtb"),
    ];
    for dtb in trees {
        let mut random = Xorshift(0x9e37_79b9_7f4a_7c15);
        for _ in 0..1500 {
            let mut bad = dtb.clone();
            for _ in 0..4 {
                let value = random.next();
                let at = (value as usize) % bad.len();
                bad[at] ^= (value >> 32) as u8 | 1;
            }
            if let Ok(skb) = Skb::from_dtb(&bad) {
                let _ = skb::json::facts(&skb);
                let _ = skb.multicast_tree(0);
                let _ = skb.warnings.iter().map(ToString::to_string).count();
                for index in 0..=skb.cpus.len() {
                    let _ = (skb.build_choice(index), skb.cpu_driver_build_running(index, 0x4e0f_0030));
                }
            }
        }
    }
}

#[test]
fn a_huge_property_length_is_refused() {
    let mut dtb = fixture("qemu-virt-gicv3.dtb");
    let structs = word(&dtb, 8) as usize;
    // The root's name is empty: BEGIN_NODE, a zero word, then the first property's token.
    assert_eq!((word(&dtb, structs), word(&dtb, structs + 8)), (1, 3));
    for length in [u32::MAX, 0x8000_0000, word(&dtb, 36)] {
        put(&mut dtb, structs + 12, length);
        assert!(matches!(Skb::from_dtb(&dtb), Err(Error::Structure(_))), "length {length:#x}");
    }
}

#[test]
fn a_property_name_outside_the_strings_block_is_refused() {
    let mut dtb = fixture("qemu-virt-gicv3.dtb");
    let structs = word(&dtb, 8) as usize;
    put(&mut dtb, structs + 16, 0xffff_0000);
    assert!(matches!(Skb::from_dtb(&dtb), Err(Error::Structure(_))));
}

/// Writes small flattened device trees by hand (properties with any bytes, any nesting).
struct Writer {
    structs: Vec<u8>,
    strings: Vec<u8>,
}

impl Writer {
    fn new() -> Writer {
        Writer { structs: Vec::new(), strings: Vec::new() }
    }

    fn token(&mut self, token: u32) -> &mut Writer {
        self.structs.extend_from_slice(&token.to_be_bytes());
        self
    }

    fn pad(&mut self) {
        while !self.structs.len().is_multiple_of(4) {
            self.structs.push(0);
        }
    }

    fn begin(&mut self, name: &str) -> &mut Writer {
        self.begin_bytes(name.as_bytes())
    }

    fn begin_bytes(&mut self, name: &[u8]) -> &mut Writer {
        self.token(1);
        self.structs.extend_from_slice(name);
        self.structs.push(0);
        self.pad();
        self
    }

    fn end(&mut self) -> &mut Writer {
        self.token(2)
    }

    fn prop(&mut self, name: &str, value: &[u8]) -> &mut Writer {
        let offset = self.strings.len() as u32;
        self.strings.extend_from_slice(name.as_bytes());
        self.strings.push(0);
        self.token(3).token(value.len() as u32).token(offset);
        self.structs.extend_from_slice(value);
        self.pad();
        self
    }

    fn cell(&mut self, name: &str, value: u32) -> &mut Writer {
        self.prop(name, &value.to_be_bytes())
    }

    /// `/cpus` with `#address-cells = 1` and one core with the given extra properties.
    fn cpus(&mut self, core_props: &[(&str, &[u8])]) -> &mut Writer {
        self.begin("cpus").cell("#address-cells", 1).cell("#size-cells", 0);
        self.cpu("cpu@0", &0u32.to_be_bytes(), core_props).end()
    }

    /// A `cpu` node called `name` with `reg` and `props`, inside an open `/cpus`.
    fn cpu(&mut self, name: &str, reg: &[u8], props: &[(&str, &[u8])]) -> &mut Writer {
        self.begin(name).prop("device_type", b"cpu\0").prop("reg", reg);
        for (property, value) in props {
            self.prop(property, value);
        }
        self.end()
    }

    fn finish(&mut self) -> Vec<u8> {
        self.token(9);
        let (rsvmap, structs) = (40, 56);
        let strings = structs + self.structs.len();
        let total = strings + self.strings.len();
        let mut out = vec![0u8; structs];
        for (at, value) in
            [(0, 0xd00d_feed), (4, total), (8, structs), (12, strings), (16, rsvmap), (20, 17), (24, 16)]
        {
            put(&mut out, at, value as u32);
        }
        put(&mut out, 32, self.strings.len() as u32);
        put(&mut out, 36, self.structs.len() as u32);
        out.extend_from_slice(&self.structs);
        out.extend_from_slice(&self.strings);
        out
    }
}

fn tree_with_core(core_props: &[(&str, &[u8])]) -> Vec<u8> {
    Writer::new().begin("").cpus(core_props).end().finish()
}

#[test]
fn a_minimal_tree_parses() {
    let skb = Skb::from_dtb(&tree_with_core(&[])).unwrap();
    assert_eq!(skb.cpus.len(), 1);
    assert!(skb.console.is_none() && skb.psci.is_none() && skb.memory.is_empty());
    assert!(skb.interrupt_controller.is_none() && skb.timer.is_none() && skb.reserved.is_empty());
}

#[test]
fn nop_tokens_anywhere_are_skipped() {
    let dtb = Writer::new()
        .token(4)
        .begin("")
        .token(4)
        .cell("#address-cells", 1)
        .token(4)
        .cpus(&[])
        .token(4)
        .end()
        .token(4)
        .finish();
    assert_eq!(Skb::from_dtb(&dtb).unwrap().cpus.len(), 1);
    let only_nops = Writer::new().token(4).token(4).finish();
    assert!(matches!(Skb::from_dtb(&only_nops), Err(Error::Structure(_))));
}

#[test]
fn malformed_structure_blocks_are_refused() {
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("no root", Writer::new().finish()),
        ("unclosed root", Writer::new().begin("").cpus(&[]).finish()),
        ("extra END_NODE", Writer::new().begin("").cpus(&[]).end().end().finish()),
        ("two roots", Writer::new().begin("").cpus(&[]).end().begin("").end().finish()),
        ("property outside a node", Writer::new().cell("x", 1).begin("").cpus(&[]).end().finish()),
        ("property after a child", Writer::new().begin("").cpus(&[]).cell("late", 1).end().finish()),
        ("unknown token", Writer::new().begin("").token(7).cpus(&[]).end().finish()),
        ("name not UTF-8", Writer::new().begin("").begin_bytes(b"\xff\xfe").end().cpus(&[]).end().finish()),
    ];
    for (what, dtb) in cases {
        assert!(Skb::from_dtb(&dtb).is_err(), "{what}");
    }
    let mut unterminated = Writer::new().begin("").cpus(&[]).end().finish();
    let len = unterminated.len();
    let structs_size = word(&unterminated, 36);
    put(&mut unterminated, 36, structs_size - 4); // FDT_END left outside the block
    assert!(Skb::from_dtb(&unterminated[..len]).is_err());
}

#[test]
fn nesting_beyond_the_limit_is_refused() {
    let mut writer = Writer::new();
    writer.begin("").cpus(&[]);
    for _ in 0..40 {
        writer.begin("deeper");
    }
    for _ in 0..40 {
        writer.end();
    }
    let dtb = writer.end().finish();
    assert_eq!(Skb::from_dtb(&dtb).unwrap_err(), Error::TooLarge("nesting deeper than 32"));
}

#[test]
fn too_many_nodes_are_refused() {
    let mut writer = Writer::new();
    writer.begin("").cpus(&[]);
    for _ in 0..20_001 {
        writer.begin("n").end();
    }
    let dtb = writer.end().finish();
    assert_eq!(Skb::from_dtb(&dtb).unwrap_err(), Error::TooLarge("more than 20000 nodes"));
}

#[test]
fn absurd_cell_counts_are_refused() {
    let dtb = Writer::new()
        .begin("")
        .begin("cpus")
        .cell("#address-cells", 200)
        .cell("#size-cells", 0)
        .begin("cpu@0")
        .prop("device_type", b"cpu\0")
        .cell("reg", 0)
        .end()
        .end()
        .end()
        .finish();
    assert!(matches!(Skb::from_dtb(&dtb), Err(Error::AbsurdCells { cells: 200, .. })));
    // On the console's bus only the console is lost.
    let bus = Skb::from_dtb(&fixture("synthetic/absurd-bus-cells.dtb")).unwrap();
    assert_eq!(problems(&bus), [Error::AbsurdCells { node: "/bus".into(), cells: 200 }]);
    assert!(bus.console.is_none());
    assert_eq!(bus.cpus.len(), 1);
}

/// The problems an accepted tree was warned about.
fn problems(skb: &Skb) -> Vec<Error> {
    skb.warnings.iter().map(|w| w.problem.clone()).collect()
}

#[test]
fn property_values_of_the_wrong_length_are_errors_or_warnings_not_panics() {
    let bad_reg = Writer::new()
        .begin("")
        .begin("cpus")
        .cell("#address-cells", 1)
        .begin("cpu@0")
        .prop("device_type", b"cpu\0")
        .prop("reg", &[0, 0])
        .end()
        .end()
        .end()
        .finish();
    assert_eq!(
        Skb::from_dtb(&bad_reg).unwrap_err(),
        Error::BadProperty { node: "/cpus/cpu@0".into(), property: "reg" },
        "a core without an identity refuses the tree"
    );
    // A malformed optional fact of a core is left out, with a warning.
    let cases: [(&str, &[u8]); 4] = [
        ("capacity-dmips-mhz", &[0, 0, 1]),
        ("capacity-dmips-mhz", &[0, 0, 0, 0, 0, 0, 4, 0]),
        ("cpu-release-addr", &[0, 0, 0, 0, 0, 0xd8]),
        ("cpu-release-addr", &[]),
    ];
    for (name, value) in cases {
        let skb = Skb::from_dtb(&tree_with_core(&[(name, value)])).unwrap();
        assert_eq!(problems(&skb), [Error::BadProperty { node: "/cpus/cpu@0".into(), property: name }]);
        assert_eq!((skb.cpus[0].capacity, skb.cpus[0].release_addr), (None, None), "{name} = {value:?}");
    }
    // Shapes that are merely odd are read as far as they make sense.
    let odd = Writer::new()
        .begin("")
        .cell("#address-cells", 1)
        .cell("#size-cells", 1)
        .prop("model", b"\xff\xfe\0")
        .cpus(&[("compatible", b"arm,cortex-a53"), ("enable-method", b"")])
        .begin("timer")
        .prop("compatible", b"arm,armv8-timer\0")
        .prop("interrupts", &[0, 0, 0, 1, 0, 0])
        .end()
        .end()
        .finish();
    let skb = Skb::from_dtb(&odd).unwrap();
    assert_eq!(skb.model, None, "not UTF-8");
    assert_eq!(skb.cpus[0].compatible.as_deref(), Some("arm,cortex-a53"), "no terminating NUL");
    assert_eq!(skb.cpus[0].enable_method, skb::EnableMethod::None);
    assert_eq!(skb.timer.unwrap().interrupts, [1], "whole cells only");
    // A `reg` that is not a whole number of entries is an error.
    let memory = Writer::new()
        .begin("")
        .cell("#address-cells", 1)
        .cell("#size-cells", 1)
        .cpus(&[])
        .begin("memory@0")
        .prop("device_type", b"memory\0")
        .prop("reg", &[0; 11])
        .end()
        .end()
        .finish();
    assert_eq!(
        Skb::from_dtb(&memory).unwrap_err(),
        Error::BadProperty { node: "/memory@0".into(), property: "reg" }
    );
}

#[test]
fn a_phandle_loop_is_reported() {
    // The root's interrupt-parent names the root itself, which is no interrupt controller: the
    // interrupt controller is left out, with a warning; the cores stay.
    let dtb = Writer::new().begin("").cell("phandle", 7).cell("interrupt-parent", 7).cpus(&[]).end().finish();
    let skb = Skb::from_dtb(&dtb).unwrap();
    assert_eq!(problems(&skb), [Error::PhandleCycle("interrupt-parent")]);
    assert!(skb.interrupt_controller.is_none());
    assert_eq!(skb.cpus.len(), 1);
    // Two controllers naming each other.
    let two = Skb::from_dtb(&fixture("synthetic/interrupt-parent-loop.dtb")).unwrap();
    assert_eq!(problems(&two), [Error::PhandleCycle("interrupt-parent")]);
}

#[test]
fn missing_nodes_are_reported() {
    let no_cpus = Writer::new().begin("").begin("cpuz").end().end().finish();
    assert_eq!(Skb::from_dtb(&no_cpus).unwrap_err(), Error::MissingNode("/cpus"));
    let no_cores = Writer::new().begin("").begin("cpus").end().end().finish();
    assert_eq!(Skb::from_dtb(&no_cores).unwrap_err(), Error::NoCpus);
    let all_disabled = tree_with_core(&[("status", b"disabled\0")]);
    assert_eq!(Skb::from_dtb(&all_disabled).unwrap_err(), Error::NoCpus);
    let no_reg = Writer::new()
        .begin("")
        .begin("cpus")
        .begin("cpu@0")
        .prop("device_type", b"cpu\0")
        .end()
        .end()
        .end()
        .finish();
    assert!(matches!(Skb::from_dtb(&no_reg), Err(Error::BadProperty { property: "reg", .. })));
}

#[test]
fn errors_and_warnings_read_as_one_line() {
    let dtb = board("rk3399-rockpro64.dtb");
    let error = Skb::from_dtb(&dtb[..64]).unwrap_err().to_string();
    let warned = [
        Skb::from_dtb(&fixture("synthetic/absurd-bus-cells.dtb")).unwrap(),
        Skb::from_dtb(&fixture("synthetic/interrupt-parent-loop.dtb")).unwrap(),
    ];
    let warnings = warned.iter().flat_map(|skb| skb.warnings.iter().map(ToString::to_string));
    for text in warnings.chain([error]) {
        assert!(!text.is_empty() && !text.contains('\n'), "{text:?}");
    }
    assert_eq!(
        warned[1].warnings[0].to_string(),
        "phandle references loop (interrupt-parent); no interrupt controller: cores wait on the timer's event stream"
    );
}

#[test]
fn a_cpu_reg_longer_than_its_address_cells_is_refused() {
    // `reg = <0 0x100>` with one address cell would read as MPIDR 0.
    let reg = [0u32.to_be_bytes(), 0x100u32.to_be_bytes()].concat();
    let mut dtb = Writer::new();
    dtb.begin("").begin("cpus").cell("#address-cells", 1).cell("#size-cells", 0);
    let dtb = dtb.cpu("cpu@100", &reg, &[]).end().end().finish();
    assert_eq!(
        Skb::from_dtb(&dtb).unwrap_err(),
        Error::BadProperty { node: "/cpus/cpu@100".into(), property: "reg" }
    );
}

#[test]
fn two_cpus_with_one_mpidr_are_refused() {
    let mut dtb = Writer::new();
    dtb.begin("").begin("cpus").cell("#address-cells", 1).cell("#size-cells", 0);
    let reg = 0u32.to_be_bytes();
    let dtb = dtb.cpu("cpu@0", &reg, &[]).cpu("cpu@1", &reg, &[]).end().end().finish();
    assert_eq!(
        Skb::from_dtb(&dtb).unwrap_err(),
        Error::DuplicateCpu { node: "/cpus/cpu@1".into(), mpidr: 0 }
    );
}

#[test]
fn blocks_inside_the_header_or_over_each_other_are_refused() {
    let dtb = tree_with_core(&[]);
    let refused = |field: usize, value: u32| {
        let mut bad = dtb.clone();
        put(&mut bad, field, value);
        Skb::from_dtb(&bad).unwrap_err()
    };
    // `off_mem_rsvmap = 16` read the header's own fields as ten reservations.
    assert_eq!(refused(16, 16), Error::BadHeader("memory reservation block starts inside the header"));
    assert_eq!(refused(16, 0), Error::BadHeader("memory reservation block starts inside the header"));
    assert_eq!(refused(8, 32), Error::BadHeader("structure block starts inside the header"));
    assert_eq!(refused(12, 8), Error::BadHeader("strings block starts inside the header"));
    // The Writer lays out: header, reservations at 40 (one terminator), structure at 56, then
    // strings. Strings pointed into the structure block, reservations into either block:
    let (structs, strings) = (word(&dtb, 8), word(&dtb, 12));
    assert_eq!(refused(12, structs + 8), Error::BadHeader("structure and strings blocks overlap"));
    // Sixteen zero bytes (8-aligned) between the structure and strings blocks, the reservation
    // block pointed at them: a terminator, valid; then the structure block grown over them.
    let mut gap = dtb[..strings as usize].to_vec();
    let padding = (8 - gap.len() % 8) % 8 + 16;
    gap.resize(gap.len() + padding, 0);
    gap.extend_from_slice(&dtb[strings as usize..]);
    let total = gap.len() as u32;
    put(&mut gap, 4, total);
    put(&mut gap, 12, strings + padding as u32);
    put(&mut gap, 16, strings + padding as u32 - 16);
    assert!(Skb::from_dtb(&gap).is_ok());
    put(&mut gap, 36, word(&dtb, 36) + padding as u32);
    assert_eq!(
        Skb::from_dtb(&gap).unwrap_err(),
        Error::BadHeader("memory reservation block overlaps the structure block")
    );
    // A strings block ending in 16 zero bytes (8-aligned), with the reservation block pointed
    // at them: a terminator, but inside the strings block.
    let mut into_strings = dtb.clone();
    let padding = (8 - into_strings.len() % 8) % 8 + 16;
    into_strings.resize(into_strings.len() + padding, 0);
    let total = into_strings.len() as u32;
    put(&mut into_strings, 4, total);
    put(&mut into_strings, 32, total - strings);
    put(&mut into_strings, 16, total - 16);
    assert_eq!(
        Skb::from_dtb(&into_strings).unwrap_err(),
        Error::BadHeader("memory reservation block overlaps the strings block")
    );
    put(&mut into_strings, 32, total - strings - padding as u32);
    assert!(
        Skb::from_dtb(&into_strings).is_ok(),
        "the same zeros after the strings block are its terminator"
    );
}

#[test]
fn more_than_256_classes_merge_the_fastest_with_a_warning() {
    let mut writer = Writer::new();
    writer.begin("").begin("cpus").cell("#address-cells", 1).cell("#size-cells", 0);
    for core in 0..258u32 {
        let capacity = (core + 1).to_be_bytes();
        writer.cpu(&format!("cpu@{core:x}"), &core.to_be_bytes(), &[("capacity-dmips-mhz", &capacity)]);
    }
    let skb = Skb::from_dtb(&writer.end().end().finish()).unwrap();
    assert_eq!(skb.cpus[254].class, 254);
    assert_eq!((skb.cpus[255].class, skb.cpus[256].class, skb.cpus[257].class), (255, 255, 255));
    assert_eq!(skb.class_count(), 256);
    assert_eq!(problems(&skb), [Error::TooLarge("more than 256 performance classes")]);
    // 256 distinct capacities fit without a warning.
    let mut writer = Writer::new();
    writer.begin("").begin("cpus").cell("#address-cells", 1).cell("#size-cells", 0);
    for core in 0..256u32 {
        writer.cpu(
            &format!("cpu@{core:x}"),
            &core.to_be_bytes(),
            &[("capacity-dmips-mhz", &(core + 1).to_be_bytes())],
        );
    }
    let skb = Skb::from_dtb(&writer.end().end().finish()).unwrap();
    assert_eq!((skb.cpus[255].class, skb.warnings.len()), (255, 0));
}

#[test]
fn a_spin_table_core_without_a_release_address_is_kept_but_unusable() {
    let skb = Skb::from_dtb(&tree_with_core(&[("enable-method", b"spin-table\0")])).unwrap();
    assert_eq!(skb.cpus[0].release_addr, None);
    assert_eq!(
        problems(&skb),
        [Error::MissingProperty { node: "/cpus/cpu@0".into(), property: "cpu-release-addr" }]
    );
    // A PSCI core needs no release address: no warning.
    let psci = Skb::from_dtb(&tree_with_core(&[("enable-method", b"psci\0")])).unwrap();
    assert!(psci.warnings.is_empty());
}

#[test]
fn a_cache_chain_past_six_levels_is_cut_with_a_warning() {
    let mut writer = Writer::new();
    writer.begin("").begin("cpus").cell("#address-cells", 1).cell("#size-cells", 0);
    writer.cpu("cpu@0", &0u32.to_be_bytes(), &[("next-level-cache", &1u32.to_be_bytes())]);
    for level in 1..=8u32 {
        writer
            .begin(&format!("cache{level}"))
            .cell("phandle", level)
            .cell("next-level-cache", level + 1)
            .end();
    }
    let skb = Skb::from_dtb(&writer.end().end().finish()).unwrap();
    let levels: Vec<u32> = skb.cpus[0].caches.outer.iter().map(|c| c.level).collect();
    assert_eq!(levels, [2, 3, 4, 5, 6, 7]);
    assert_eq!(problems(&skb), [Error::TooLarge("more than 6 cache levels")]);
}

/// A root with `/cpus`, UARTs `(name, status)` at 0x1000 apart, and the `/chosen` and
/// `/aliases` properties given.
fn tree_with_uarts(uarts: &[(&str, &str)], chosen: &[(&str, &str)], aliases: &[(&str, &str)]) -> Vec<u8> {
    let mut writer = Writer::new();
    writer.begin("").cpus(&[]);
    for (index, (name, status)) in uarts.iter().enumerate() {
        let reg =
            [(0x1000u64 * (index as u64 + 1)).to_be_bytes().as_slice(), &0x1000u32.to_be_bytes()].concat();
        writer.begin(name).prop("compatible", b"arm,pl011\0arm,primecell\0").prop("reg", &reg);
        writer.prop("status", &[status.as_bytes(), b"\0"].concat()).end();
    }
    for (node, properties) in [("chosen", chosen), ("aliases", aliases)] {
        writer.begin(node);
        for (name, value) in properties {
            writer.prop(name, &[value.as_bytes(), b"\0"].concat());
        }
        writer.end();
    }
    writer.end().finish()
}

#[test]
fn the_console_is_stdout_path_else_serial0_else_the_first_enabled_uart() {
    use skb::ConsoleSource::{FirstUart, Serial0Alias, StdoutPath};
    let uarts = [("uart@1000", "disabled"), ("uart@2000", "okay"), ("uart@3000", "okay")];
    let found = |chosen: &[(&str, &str)], aliases: &[(&str, &str)]| {
        let skb = Skb::from_dtb(&tree_with_uarts(&uarts, chosen, aliases)).unwrap();
        let console = skb.console.clone().expect("a console");
        (console.path, console.found_by, problems(&skb))
    };
    let serial0 = [("serial0", "/uart@3000")];
    assert_eq!(
        found(&[("stdout-path", "/uart@3000:115200n8")], &[]),
        ("/uart@3000".into(), StdoutPath, vec![])
    );
    assert_eq!(found(&[("stdout-path", "serial0")], &serial0), ("/uart@3000".into(), StdoutPath, vec![]));
    // stdout-path names a node that is not there: serial0, and a warning naming the path.
    let missing = Error::UnusableStdoutPath("/uart@9000".into());
    assert_eq!(
        found(&[("stdout-path", "/uart@9000")], &serial0),
        ("/uart@3000".into(), Serial0Alias, vec![missing])
    );
    // Neither names anything: the first enabled UART (uart@1000 is disabled).
    let (path, by, _) = found(&[("stdout-path", "serial7")], &[("serial0", "/nowhere")]);
    assert_eq!((path.as_str(), by), ("/uart@2000", FirstUart));
    assert_eq!(found(&[], &[]).0, "/uart@2000", "no stdout-path at all");
    let none = Skb::from_dtb(&tree_with_uarts(&[("uart@1000", "disabled")], &[], &[])).unwrap();
    assert!(none.console.is_none(), "a disabled UART is no console");
}

#[test]
fn a_refused_tree_still_gives_its_console_and_psci_conduit() {
    // No core: the SKB refuses the tree, the rescue still reads what a refusal needs.
    let dtb = Writer::new()
        .begin("")
        .begin("uart@1000")
        .prop("compatible", b"arm,pl011\0")
        .prop("reg", &[0x1000u64.to_be_bytes().as_slice(), &0x1000u32.to_be_bytes()].concat())
        .end()
        .begin("psci")
        .prop("compatible", b"arm,psci-1.0\0")
        .prop("method", b"smc\0")
        .end()
        .end()
        .finish();
    assert!(Skb::from_dtb(&dtb).is_err());
    let rescue = skb::Rescue::from_dtb(&dtb);
    assert_eq!(rescue.console.map(|c| (c.base, c.found_by)), Some((0x1000, skb::ConsoleSource::FirstUart)));
    assert_eq!(rescue.psci_conduit, Some(skb::PsciConduit::Smc));
    // A blob that cannot be read gives nothing, and no panic.
    let nothing = skb::Rescue::from_dtb(&dtb[..dtb.len() / 2]);
    assert!(nothing.console.is_none() && nothing.psci_conduit.is_none());
}
