//! Bad input gives an error value naming the problem, never a panic or a hang.

use skb::{Error, Skb};

fn shared(name: &str) -> Vec<u8> {
    std::fs::read(format!("{}/../../shared/dtbs/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

fn put(dtb: &mut [u8], at: usize, value: u32) {
    dtb[at..at + 4].copy_from_slice(&value.to_be_bytes());
}

#[test]
fn every_truncation_is_an_error() {
    let dtb = shared("rk3399-rockpro64.dtb");
    for len in (0..dtb.len()).step_by(7).chain(dtb.len() - 8..dtb.len()) {
        assert!(Skb::from_dtb(&dtb[..len]).is_err(), "prefix of {len} bytes accepted");
    }
}

#[test]
fn wrong_magic_and_header_fields_are_named() {
    let dtb = shared("bcm2711-rpi-4-b.dtb");
    let mut bad = dtb.clone();
    put(&mut bad, 0, 0x1234_5678);
    assert_eq!(Skb::from_dtb(&bad).unwrap_err(), Error::BadMagic(0x1234_5678));
    let mut bad = dtb.clone();
    put(&mut bad, 4, u32::MAX);
    assert!(matches!(Skb::from_dtb(&bad), Err(Error::Truncated { .. })));
    for field in [8, 12, 16, 32, 36] {
        let mut bad = dtb.clone();
        put(&mut bad, field, 0xffff_fff0);
        assert!(Skb::from_dtb(&bad).is_err(), "header field at {field}");
    }
    assert!(Skb::from_dtb(b"").is_err());
    assert!(Skb::from_dtb(&[0xd0, 0x0d, 0xfe, 0xed]).is_err());
}

#[test]
fn flipped_bytes_never_panic() {
    let dtb = shared("rk3588-rock-5b.dtb");
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    for _ in 0..3000 {
        let mut bad = dtb.clone();
        for _ in 0..4 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let at = (state as usize) % bad.len();
            bad[at] ^= (state >> 32) as u8 | 1;
        }
        let _ = Skb::from_dtb(&bad);
    }
}

/// Builds a tiny tree: `/` with the given root properties and a `/cpus` with one core.
fn tiny_tree(root_props: &[(&str, Vec<u8>)], cpus_props: &[(&str, Vec<u8>)]) -> Vec<u8> {
    let mut strings = Vec::new();
    let mut structs = Vec::new();
    let name_offset = |name: &str, strings: &mut Vec<u8>| {
        let at = strings.len() as u32;
        strings.extend_from_slice(name.as_bytes());
        strings.push(0);
        at
    };
    let begin = |structs: &mut Vec<u8>, name: &str| {
        structs.extend_from_slice(&1u32.to_be_bytes());
        structs.extend_from_slice(name.as_bytes());
        structs.push(0);
        while !structs.len().is_multiple_of(4) {
            structs.push(0);
        }
    };
    let prop = |structs: &mut Vec<u8>, strings: &mut Vec<u8>, name: &str, value: &[u8]| {
        structs.extend_from_slice(&3u32.to_be_bytes());
        structs.extend_from_slice(&(value.len() as u32).to_be_bytes());
        structs.extend_from_slice(&name_offset(name, strings).to_be_bytes());
        structs.extend_from_slice(value);
        while !structs.len().is_multiple_of(4) {
            structs.push(0);
        }
    };
    begin(&mut structs, "");
    for (name, value) in root_props {
        prop(&mut structs, &mut strings, name, value);
    }
    begin(&mut structs, "cpus");
    for (name, value) in cpus_props {
        prop(&mut structs, &mut strings, name, value);
    }
    begin(&mut structs, "cpu@0");
    prop(&mut structs, &mut strings, "device_type", b"cpu\0");
    prop(&mut structs, &mut strings, "reg", &0u32.to_be_bytes());
    structs.extend_from_slice(&2u32.to_be_bytes());
    structs.extend_from_slice(&2u32.to_be_bytes());
    structs.extend_from_slice(&2u32.to_be_bytes());
    structs.extend_from_slice(&9u32.to_be_bytes());
    let header = 40;
    let rsvmap = header;
    let off_struct = rsvmap + 16;
    let off_strings = off_struct + structs.len();
    let total = off_strings + strings.len();
    let mut out = vec![0u8; off_struct];
    for (at, value) in
        [(0, 0xd00d_feed), (4, total), (8, off_struct), (12, off_strings), (16, rsvmap), (20, 17), (24, 16)]
    {
        put(&mut out, at, value as u32);
    }
    put(&mut out, 32, strings.len() as u32);
    put(&mut out, 36, structs.len() as u32);
    out.extend_from_slice(&structs);
    out.extend_from_slice(&strings);
    out
}

fn cells(n: u32) -> Vec<u8> {
    n.to_be_bytes().to_vec()
}

#[test]
fn a_minimal_tree_parses() {
    let dtb = tiny_tree(&[], &[("#address-cells", cells(1)), ("#size-cells", cells(0))]);
    let skb = Skb::from_dtb(&dtb).unwrap();
    assert_eq!(skb.cpus.len(), 1);
    assert!(skb.console.is_none() && skb.psci.is_none() && skb.memory.is_empty());
}

#[test]
fn absurd_cell_counts_are_refused() {
    let dtb = tiny_tree(&[], &[("#address-cells", cells(200)), ("#size-cells", cells(0))]);
    assert!(matches!(Skb::from_dtb(&dtb), Err(Error::AbsurdCells { cells: 200, .. })));
}

#[test]
fn a_phandle_loop_is_reported() {
    // The root's interrupt-parent names the root itself, which is no interrupt controller.
    let dtb = tiny_tree(
        &[("phandle", cells(7)), ("interrupt-parent", cells(7))],
        &[("#address-cells", cells(1)), ("#size-cells", cells(0))],
    );
    assert!(matches!(Skb::from_dtb(&dtb), Err(Error::PhandleCycle(_))));
}

#[test]
fn missing_cpus_is_reported() {
    let dtb = shared("rk3399-rockpro64.dtb");
    let text = Skb::from_dtb(&dtb[..64]).unwrap_err().to_string();
    assert!(!text.is_empty());
    let mut no_cpus = tiny_tree(&[], &[("#address-cells", cells(1)), ("#size-cells", cells(0))]);
    // Rename "cpus" to "cpuz".
    let at = no_cpus.windows(5).position(|w| w == b"cpus\0").unwrap();
    no_cpus[at + 3] = b'z';
    assert_eq!(Skb::from_dtb(&no_cpus).unwrap_err(), Error::MissingNode("/cpus"));
}
