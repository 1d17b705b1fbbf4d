//! Property tests: random sequences of operations (valid, invalid and forged) on one core's
//! capabilities, with the invariants of the capability system checked after every step against
//! a shadow model built from the capabilities themselves.

mod common;

use std::collections::BTreeSet;

use caps::{CapAddr, CapError, CapType, Capability, Region, Removal, Retype, Rights, SlotRef, PAGE_SIZE};
use common::{fixture_with_limit, fixture_with_ram, Fixture, FIXTURE_USAGE, RAM, RAM_BASE};
use proptest::prelude::*;

const RAM_PAGES: u64 = 32;
/// A second RAM root, so that deletes can leave memory no capability names.
const SPARE_BASE: u64 = 0x8000_0000;
const SPARE_PAGES: u64 = 16;
const SLOTS: u8 = 16;

#[derive(Clone, Copy, Debug)]
enum Op {
    Retype { src: CapAddr, kind: CapType, offset_pages: u64, size_pages: u64, count: u64, dest: CapAddr },
    Copy { src: CapAddr, dest: CapAddr },
    Mint { src: CapAddr, dest: CapAddr, rights: u64 },
    Endpoint { src: CapAddr, badge: u64, dest: CapAddr },
    Delete { at: CapAddr },
    Revoke { at: CapAddr },
    Identify { at: CapAddr },
}

/// A slot to take a capability from: mostly the two RAM roots (slots 0 and 1) and the slots
/// operations fill, sometimes any `u32` at all (a forged address).
fn src() -> impl Strategy<Value = CapAddr> {
    prop_oneof![
        10 => (0..2u8).prop_map(|slot| CapAddr::leaf(0, slot)),
        8 => (2..SLOTS).prop_map(|slot| CapAddr::leaf(0, slot)),
        3 => mounted(),
        1 => any::<u32>().prop_map(CapAddr::from_raw),
    ]
}

/// Root slot 1 (empty at first: a retype of a CNode there mounts it) and slots of the CNode
/// mounted there, so that deleting a CNode with contents happens too.
fn mounted() -> impl Strategy<Value = CapAddr> {
    prop_oneof![Just(CapAddr::level1(1)), (0..8u8).prop_map(|slot| CapAddr::leaf(1, slot))]
}

/// A slot to delete or revoke: seldom one of the RAM roots, so that sequences go on long
/// after the first delete.
fn victim() -> impl Strategy<Value = CapAddr> {
    prop_oneof![
        1 => (0..2u8).prop_map(|slot| CapAddr::leaf(0, slot)),
        12 => (2..SLOTS).prop_map(|slot| CapAddr::leaf(0, slot)),
        4 => mounted(),
        1 => any::<u32>().prop_map(CapAddr::from_raw),
    ]
}

/// A slot to put a capability in, or any `u32`.
fn dest() -> impl Strategy<Value = CapAddr> {
    prop_oneof![
        18 => (2..SLOTS).prop_map(|slot| CapAddr::leaf(0, slot)),
        4 => mounted(),
        1 => any::<u32>().prop_map(CapAddr::from_raw),
    ]
}

fn kind() -> impl Strategy<Value = CapType> {
    prop_oneof![
        4 => Just(CapType::Frame),
        2 => Just(CapType::Ram),
        1 => Just(CapType::CNode),
        1 => Just(CapType::VNodeL3),
        1 => Just(CapType::Dispatcher),
        1 => (0..13u64).prop_map(|raw| CapType::from_raw(raw).unwrap_or(CapType::Kernel)),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    // Sizes up to both RAM roots' whole sizes (16 and 32 pages), so that retypes of a whole
    // object happen too; offsets often 0 for the same reason.
    let size_pages = prop_oneof![
        8 => 1..3u64,
        4 => Just(4u64),
        2 => Just(8u64),
        1 => Just(16u64),
        1 => Just(32u64),
        1 => Just(u64::MAX / PAGE_SIZE)
    ];
    let offset_pages = prop_oneof![Just(0u64), 0..RAM_PAGES + 2];
    prop_oneof![
        6 => (src(), kind(), offset_pages, size_pages, 1..5u64, dest()).prop_map(
            |(src, kind, offset_pages, size_pages, count, dest)| Op::Retype { src, kind, offset_pages, size_pages, count, dest }
        ),
        2 => (src(), dest()).prop_map(|(src, dest)| Op::Copy { src, dest }),
        2 => (src(), dest(), prop_oneof![9 => 0..16u64, 1 => 16..256u64])
            .prop_map(|(src, dest, rights)| Op::Mint { src, dest, rights }),
        1 => (src(), 0..3u64, dest()).prop_map(|(src, badge, dest)| Op::Endpoint { src, badge, dest }),
        // A level-2 CNode mounted at root slot 1, which the other operations then fill.
        1 => (0..2u8, 0..RAM_PAGES).prop_map(|(ram, offset_pages)| Op::Retype {
            src: CapAddr::leaf(0, ram),
            kind: CapType::CNode,
            offset_pages,
            size_pages: 1,
            count: 1,
            dest: CapAddr::level1(1),
        }),
        3 => victim().prop_map(|at| Op::Delete { at }),
        2 => victim().prop_map(|at| Op::Revoke { at }),
        1 => src().prop_map(|at| Op::Identify { at }),
    ]
}

/// The core's limit: the default in most cases, a small one (from just the fixture's own
/// capabilities up) in about one in four, so that refusals for the limit come up.
fn limit() -> impl Strategy<Value = Option<usize>> {
    prop_oneof![3 => Just(None), 1 => (SETUP_USAGE..SETUP_USAGE + 32).prop_map(Some)]
}

/// Units of the limit [`setup`] takes: the fixture's and the spare RAM (capability and slot).
const SETUP_USAGE: usize = FIXTURE_USAGE + 2;

fn setup(limit: Option<usize>) -> Fixture {
    let mut f = match limit {
        Some(limit) => fixture_with_limit(RAM_PAGES * PAGE_SIZE, limit),
        None => fixture_with_ram(RAM_PAGES * PAGE_SIZE),
    };
    let spare = Capability::ram(SPARE_BASE, SPARE_PAGES * PAGE_SIZE).unwrap();
    f.caps.create_root(spare, f.cspace.slot(CapAddr::leaf(0, 1))).unwrap();
    f
}

/// Pages of RAM (not device memory) that some capability names.
fn covered_pages(f: &Fixture) -> BTreeSet<u64> {
    let mut pages = BTreeSet::new();
    for cap in f.caps.capabilities() {
        if let (Some(region), false) = (cap.region(), cap.kind() == CapType::DeviceFrame) {
            pages.extend((region.base / PAGE_SIZE)..(region.end() / PAGE_SIZE));
        }
    }
    pages
}

fn overlaps(a: &Capability, b: &Capability) -> bool {
    a.kind().is_memory()
        && b.kind().is_memory()
        && a.base() < b.base() + b.size()
        && b.base() < a.base() + a.size()
}

/// Live objects never overlap, except along derivation: two capabilities that overlap are
/// copies, or one contains the other and derives it (RAM above anything, a Frame above smaller
/// Frames, a Dispatcher above its Endpoints, Endpoints of one dispatcher side by side).
fn check_no_overlap(all: &[Capability]) -> Result<(), TestCaseError> {
    for (i, a) in all.iter().enumerate() {
        for b in &all[i + 1..] {
            if !overlaps(a, b) || a.same_object(b) {
                continue;
            }
            let (outer, inner) = if a.is_ancestor_of(b) { (a, b) } else { (b, a) };
            prop_assert!(outer.is_ancestor_of(inner), "overlapping, not nested: {a:?} {b:?}");
            let allowed = matches!(
                (outer.kind(), inner.kind()),
                (CapType::Ram, _)
                    | (CapType::Frame, CapType::Frame)
                    | (CapType::DeviceFrame, CapType::DeviceFrame)
                    | (CapType::Dispatcher, CapType::Endpoint)
            );
            let sibling_endpoints = a.kind() == CapType::Endpoint && b.kind() == CapType::Endpoint;
            prop_assert!(allowed || sibling_endpoints, "objects overlap: {outer:?} {inner:?}");
        }
    }
    Ok(())
}

fn check_removal(removal: &Removal, before: &BTreeSet<u64>, f: &Fixture) -> Result<(), TestCaseError> {
    let after = covered_pages(f);
    prop_assert!(after.is_subset(before), "an operation made memory out of nothing");
    // Delete of the last copy frees exactly what nothing names any more, each page once.
    let mut freed = BTreeSet::new();
    for region in &removal.unreferenced {
        for page in (region.base / PAGE_SIZE)..(region.end() / PAGE_SIZE) {
            prop_assert!(freed.insert(page), "page {page:#x} reported free twice");
        }
    }
    let lost: BTreeSet<u64> = before.difference(&after).copied().collect();
    prop_assert_eq!(freed, lost);
    // "Last copy" is reported for exactly the objects no capability names any more.
    let live: Vec<Capability> = f.caps.capabilities().collect();
    for (i, removed) in removal.removed.iter().enumerate() {
        let still_named = live.iter().any(|c| c.same_object(&removed.capability));
        let later_copy =
            removal.removed[i + 1..].iter().any(|r| r.capability.same_object(&removed.capability));
        prop_assert_eq!(removed.last_copy, !still_named && !later_copy, "{:?}", removed);
    }
    Ok(())
}

fn slot(f: &Fixture, addr: CapAddr) -> SlotRef {
    f.cspace.slot(addr)
}

/// Runs one operation and checks the invariants; returns the memory it reported free.
fn step(f: &mut Fixture, op: Op) -> Result<Vec<Region>, TestCaseError> {
    let before = covered_pages(f);
    let count_before = f.caps.len();
    let usage_before = f.caps.usage();
    let caps_before: Vec<Capability> = f.caps.capabilities().collect();
    let forged = |addr: CapAddr| addr.raw() & 0x7f00_0000 != 0;
    let mut freed = Vec::new();
    let (result, addrs): (Result<(), CapError>, Vec<CapAddr>) = match op {
        Op::Retype { src, kind, offset_pages, size_pages, count, dest } => {
            let source = f.caps.identify(slot(f, src));
            let prior: Vec<Capability> = f.caps.capabilities().collect();
            let request = Retype {
                kind,
                offset: offset_pages * PAGE_SIZE,
                object_size: size_pages.saturating_mul(PAGE_SIZE),
                count,
            };
            let result = f.caps.retype(slot(f, src), request, slot(f, dest));
            if let (Ok(region), Ok(source)) = (result, source) {
                prop_assert_eq!(f.caps.len(), count_before + count as usize);
                prop_assert!(source.kind().retypes_into(kind));
                prop_assert!(region.base >= source.base() && region.end() <= source.base() + source.size());
                // A range already retyped is never retyped again: nothing that derived from the
                // source before overlaps the new objects.
                for earlier in prior.iter().filter(|c| source.is_ancestor_of(c)) {
                    let disjoint =
                        earlier.base() >= region.end() || earlier.base() + earlier.size() <= region.base;
                    prop_assert!(disjoint, "retyped again: {:?} over {:?}", region, earlier);
                }
                for i in 0..count as u32 {
                    let child = f.caps.identify(slot(f, dest.offset(i).unwrap())).unwrap();
                    prop_assert!(source.rights().contains(child.rights()), "rights grew in retype");
                    prop_assert!(source.is_ancestor_of(&child));
                }
            } else {
                prop_assert_eq!(f.caps.len(), count_before, "a refused retype changed something");
            }
            (result.map(|_| ()), vec![src, dest])
        }
        Op::Copy { src, dest } | Op::Mint { src, dest, .. } | Op::Endpoint { src, dest, .. } => {
            let source = f.caps.identify(slot(f, src));
            let result = match op {
                Op::Copy { .. } => f.caps.copy(slot(f, src), slot(f, dest)),
                Op::Mint { rights, .. } => match Rights::from_bits(rights) {
                    Some(rights) => f.caps.mint(slot(f, src), slot(f, dest), rights),
                    None => Err(CapError::InvalidArgument),
                },
                _ => {
                    let Op::Endpoint { badge, .. } = op else { unreachable!() };
                    f.caps.create_endpoint(slot(f, src), badge, slot(f, dest))
                }
            };
            if result.is_ok() {
                let source = source.unwrap();
                let made = f.caps.identify(slot(f, dest)).unwrap();
                prop_assert!(source.rights().contains(made.rights()), "rights grew: {source:?} -> {made:?}");
                prop_assert!(made.same_object(&source) || source.is_ancestor_of(&made));
                prop_assert_eq!(f.caps.len(), count_before + 1);
            } else {
                prop_assert_eq!(f.caps.len(), count_before);
            }
            (result, vec![src, dest])
        }
        Op::Delete { at } => {
            let result = f.caps.delete(slot(f, at));
            match &result {
                Ok(removal) => {
                    check_removal(removal, &before, f)?;
                    freed.extend_from_slice(&removal.unreferenced);
                }
                Err(_) => prop_assert_eq!(f.caps.len(), count_before),
            }
            (result.map(|_| ()), vec![at])
        }
        Op::Revoke { at } => {
            let target = f.caps.identify(slot(f, at));
            let result = f.caps.revoke(slot(f, at));
            match (&result, target) {
                (Ok(removal), Ok(target)) => {
                    check_removal(removal, &before, f)?;
                    freed.extend_from_slice(&removal.unreferenced);
                    // No descendant and no other copy is left.
                    let live: Vec<Capability> = f.caps.capabilities().collect();
                    prop_assert!(
                        !live.iter().any(|c| target.is_ancestor_of(c)),
                        "a descendant survived revoke"
                    );
                    prop_assert!(
                        live.iter().filter(|c| c.same_object(&target)).count() <= 1,
                        "a copy survived revoke"
                    );
                }
                _ => prop_assert_eq!(f.caps.len(), count_before),
            }
            (result.map(|_| ()), vec![at])
        }
        Op::Identify { at } => (f.caps.identify(slot(f, at)).map(|_| ()), vec![at]),
    };
    if addrs.iter().any(|&a| forged(a)) {
        prop_assert!(result.is_err(), "a forged address was accepted");
    }
    if let Err(error) = result {
        // A refused operation (for the limit or any other reason) changes nothing.
        prop_assert_eq!(f.caps.usage(), usage_before, "a refused operation changed the usage");
        let caps_after: Vec<Capability> = f.caps.capabilities().collect();
        prop_assert_eq!(&caps_after, &caps_before, "a refused operation changed the capabilities");
        if error == CapError::OutOfCapabilities {
            prop_assert!(f.caps.limit() != caps::DEFAULT_CAPABILITY_LIMIT, "the default limit was reached");
        }
    }
    prop_assert!(f.caps.usage() <= f.caps.limit(), "the usage passed the limit");
    f.caps.check_consistency().map_err(TestCaseError::fail)?;
    let all: Vec<Capability> = f.caps.capabilities().collect();
    check_no_overlap(&all)?;
    Ok(freed)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn invariants_hold_over_random_operations(
        ops in proptest::collection::vec(op(), 1..80),
        limit in limit(),
    ) {
        let mut f = setup(limit);
        // The shadow allocator: every page of the two RAM roots is reported free at most once
        // while the operations run, and exactly once by the time everything is deleted.
        let mut freed_pages = BTreeSet::new();
        let mut account = |regions: Vec<Region>| -> Result<(), TestCaseError> {
            for region in regions {
                for page in region.base / PAGE_SIZE..region.end() / PAGE_SIZE {
                    prop_assert!(freed_pages.insert(page), "page {:#x} freed twice", page);
                }
            }
            Ok(())
        };
        for op in ops {
            account(step(&mut f, op)?)?;
        }
        // Every slot of the level-2 CNode, then every root slot but the one holding it.
        let all_slots: Vec<CapAddr> =
            (0..=u8::MAX).map(|slot| CapAddr::leaf(0, slot)).chain((1..64).map(CapAddr::level1)).collect();
        for &at in &all_slots {
            let at = f.cspace.slot(at);
            if let Ok(removal) = f.caps.revoke(at) {
                account(removal.unreferenced)?;
            }
            if let Ok(removal) = f.caps.delete(at) {
                account(removal.unreferenced)?;
            }
        }
        f.caps.check_consistency().map_err(TestCaseError::fail)?;
        // Nothing the fixture can name is left. What remains is unreachable: a CNode retyped
        // from the RAM whose last capability went into its own slots (or a cycle of such
        // CNodes), with whatever those slots hold, even a copy of the RAM it came from. There is
        // no cycle collector (README, "Left for the kernel"), so that memory stays named; all
        // the rest of the RAM came back, each page once.
        for &at in &all_slots {
            prop_assert!(f.caps.identify(f.cspace.slot(at)).is_err(), "{:?} still holds a capability", at);
        }
        let ram_pages: BTreeSet<u64> = (RAM_BASE / PAGE_SIZE..RAM_BASE / PAGE_SIZE + RAM_PAGES)
            .chain(SPARE_BASE / PAGE_SIZE..SPARE_BASE / PAGE_SIZE + SPARE_PAGES)
            .collect();
        let kept_by_cycles: BTreeSet<u64> = f
            .caps
            .capabilities()
            .flat_map(|c| c.base() / PAGE_SIZE..(c.base() + c.size()) / PAGE_SIZE)
            .filter(|page| ram_pages.contains(page))
            .collect();
        prop_assert!(freed_pages.is_disjoint(&kept_by_cycles), "a page kept by a CNode cycle was freed");
        let accounted: BTreeSet<u64> = freed_pages.union(&kept_by_cycles).copied().collect();
        prop_assert_eq!(accounted, ram_pages);
    }

    #[test]
    fn forged_addresses_never_panic(raw in any::<u32>(), other in any::<u32>()) {
        let mut f = setup(None);
        let a = f.cspace.slot(CapAddr::from_raw(raw));
        let b = f.cspace.slot(CapAddr::from_raw(other));
        let frame = Retype { kind: CapType::Frame, offset: 0, object_size: PAGE_SIZE, count: 1 };
        let _ = f.caps.identify(a);
        let _ = f.caps.copy(a, b);
        let _ = f.caps.mint(a, b, Rights::READ);
        let _ = f.caps.retype(a, frame, b);
        let _ = f.caps.create_endpoint(a, 0, b);
        let _ = f.caps.cspace_at(a);
        let _ = f.caps.revoke(a);
        let _ = f.caps.delete(a);
        f.caps.check_consistency().map_err(TestCaseError::fail)?;
        let _ = f.caps.retype(f.cspace.slot(RAM), frame, b);
        f.caps.check_consistency().map_err(TestCaseError::fail)?;
    }
}
