//! Making changes to a user address space's (and, for the physmap, the kernel's own)
//! translation tables visible to this core's walks
//! and TLB (Arm ARM DDI 0487, D8.13 "Translation Lookaside Buffers", D8.14 "TLB maintenance",
//! and B2.3.11 / D8.2.6 on ordering translation table writes with the walks).
//!
//! Shareability: a user address space only ever runs on the core whose CPU driver built it (a
//! multikernel shares no address space between cores: a program spanning cores has one
//! page-table replica per core, each with its own ASID, and a dispatcher never migrates), so
//! only this PE ever walks its tables and only this PE's TLB and walk caches can hold its
//! entries (Arm ARM D8.13: a PE caches translations from its own walks). The local forms
//! (`tlbi vale1` / `aside1`, completed with `dsb nsh`) are therefore enough, and they are what
//! the multikernel's unmap costs: no broadcast, no wait for every other core's acknowledgement
//! that `dsb ish` after a broadcast `tlbi` implies. The broadcast form is kept
//! ([`invalidate_page_inner_shareable`]) for the shared-memory baseline of the unmap
//! experiment, which measures what a kernel sharing one page table across cores must do.

use core::arch::asm;

/// Orders a write that made a translation table entry valid (it was invalid before, so no
/// TLB can hold it) before any later walk: `dsb ishst`. The Arm ARM (D8.2.6, "Ordering of
/// memory accesses from translation table walks") says a table walk is not ordered by program
/// order with the PE's own stores to the tables; a DSB completes the store so that a walk
/// started after it (for the EL0 access after the `eret`, which is a context synchronization
/// event) sees the new entry. No TLB invalidation is needed: invalid entries are never cached.
pub fn publish_new_entry() {
    // SAFETY: a barrier has no effect but ordering.
    unsafe { asm!("dsb ishst", options(nostack, preserves_flags)) };
}

/// After an entry for the page at `va` in address space `asid` (one of this core's) was
/// cleared or reduced in permissions: `dsb nshst` (the store reaches the tables before the
/// invalidation, so this PE's walk after it cannot refetch the old entry), `tlbi vale1`
/// (last-level entries for that VA and ASID, this PE: only a level-3 entry changed, not a
/// table entry), `dsb nsh` (the invalidation has completed), `isb` (this core's instruction
/// stream uses no translation fetched before). The break-before-make rule (D8.16.1) is kept by
/// the caller: an entry is only ever written over when invalid, or cleared and invalidated
/// through here. Local: see the module documentation.
pub fn invalidate_page(asid: u16, va: u64) {
    let operand = page_operand(asid, va);
    // SAFETY: TLB maintenance only removes cached translations (walks refetch them from the
    // tables); the barriers only order. None of it touches memory or registers Rust relies on.
    unsafe {
        asm!("dsb nshst", "tlbi vale1, {0}", "dsb nsh", "isb", in(reg) operand, options(nostack, preserves_flags))
    };
}

/// As [`invalidate_page`], broadcast to every PE of the Inner Shareable domain (`dsb ishst`,
/// `tlbi vale1is`, `dsb ish`: complete once every PE has dropped the entry): what a kernel
/// whose page table several cores walk must do. Only the unmap experiment's shared-memory
/// baseline asks for it.
pub fn invalidate_page_inner_shareable(asid: u16, va: u64) {
    let operand = page_operand(asid, va);
    // SAFETY: as in `invalidate_page`.
    unsafe {
        asm!("dsb ishst", "tlbi vale1is, {0}", "dsb ish", "isb", in(reg) operand, options(nostack, preserves_flags))
    };
}

/// The operand of `tlbi vale1(is)`: VA[55:12] in bits 43:0, ASID in bits 63:48.
fn page_operand(asid: u16, va: u64) -> u64 {
    ((va >> 12) & ((1 << 44) - 1)) | (u64::from(asid) << 48)
}

/// Break-before-make's break for an entry of this core's kernel tables (TTBR1: the kernel
/// window and the physmap) that was valid and has just been cleared, before anything else is
/// written in its place: `dsb ishst` (the clear, and the replacement table's contents written
/// before it, reach the tables), `tlbi vaae1` (every entry for that address, of any level and
/// any ASID, on this core), `dsb nsh` (the invalidation completed), `isb`. Local forms: each
/// core walks its own kernel tables only, so no other core's TLB can hold these entries.
pub fn break_kernel_entry(va: u64) {
    let operand = (va >> 12) & ((1 << 44) - 1);
    // SAFETY: as in `invalidate_page`.
    unsafe {
        asm!("dsb ishst", "tlbi vaae1, {0}", "dsb nsh", "isb", in(reg) operand, options(nostack, preserves_flags))
    };
}

/// After entries of this core's kernel tables were cleared (a range unmapped from the
/// physmap): `dsb ishst`, `tlbi vmalle1` (every entry of this core's EL1&0 regime), `dsb nsh`,
/// `isb`. Local for the reason given at [`break_kernel_entry`].
pub fn invalidate_kernel_all() {
    // SAFETY: as in `invalidate_page`.
    unsafe { asm!("dsb ishst", "tlbi vmalle1", "dsb nsh", "isb", options(nostack, preserves_flags)) };
}

/// Whether this core's kernel may read `va` now (`AT S1E1R`): for checks that a mapping is
/// gone.
pub fn kernel_readable(va: u64) -> bool {
    let par: u64;
    // SAFETY: an address translation instruction only writes PAR_EL1, which is read right after.
    unsafe {
        asm!("at s1e1r, {0}", "isb", "mrs {1}, par_el1", in(reg) va, out(reg) par, options(nostack, preserves_flags))
    };
    par & 1 == 0
}

/// Removes every non-global TLB entry of this core's address space `asid` (`tlbi aside1`),
/// when one of its table entries changed or before the ASID is given to another address
/// space, with the same barriers as [`invalidate_page`]: the new address space must not hit an
/// entry cached for the old one. Local, as [`invalidate_page`].
pub fn invalidate_asid(asid: u16) {
    let operand = u64::from(asid) << 48;
    // SAFETY: as in `invalidate_page`.
    unsafe {
        asm!("dsb nshst", "tlbi aside1, {0}", "dsb nsh", "isb", in(reg) operand, options(nostack, preserves_flags))
    };
}
