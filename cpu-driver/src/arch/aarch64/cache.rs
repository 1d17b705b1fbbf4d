//! Data cache maintenance by virtual address, to the point of coherency.
//!
//! The boot stub writes each core's region with its caches on; the core then starts with its
//! MMU and caches off and must find the bytes in memory, so the stub cleans them to PoC first.

use core::arch::asm;

/// The smallest data cache line of this core, from `CTR_EL0.DminLine`.
fn dcache_line_size() -> usize {
    let ctr: u64;
    // SAFETY: reading CTR_EL0 has no side effects and is permitted at EL1.
    unsafe { asm!("mrs {}, ctr_el0", out(reg) ctr, options(nomem, nostack, preserves_flags)) };
    4 << ((ctr >> 16) & 0xf)
}

/// Calls `op` with the address of every data cache line of `[start, start + len)`, then
/// waits for the maintenance to complete.
fn for_each_line(start: usize, len: usize, op: impl Fn(usize)) {
    let line = dcache_line_size();
    let mut addr = start & !(line - 1);
    while addr < start + len {
        op(addr);
        addr += line;
    }
    // SAFETY: a barrier has no memory-safety effect.
    unsafe { asm!("dsb sy", options(nostack, preserves_flags)) };
}

/// Cleans `[start, start + len)` to the point of coherency (`DC CVAC`).
pub fn clean_to_poc(start: usize, len: usize) {
    for_each_line(start, len, |addr| {
        // SAFETY: DC CVAC only writes dirty lines back; it changes no memory contents and is
        // valid for any mapped address.
        unsafe { asm!("dc cvac, {}", in(reg) addr, options(nostack, preserves_flags)) };
    });
}

/// Cleans and invalidates `[start, start + len)` to the point of coherency (`DC CIVAC`): dirty
/// lines are written back and no cache keeps a copy.
pub fn clean_invalidate_to_poc(start: usize, len: usize) {
    for_each_line(start, len, |addr| {
        // SAFETY: DC CIVAC writes dirty lines back before dropping them; memory ends up
        // holding what the caches held, so no contents change.
        unsafe { asm!("dc civac, {}", in(reg) addr, options(nostack, preserves_flags)) };
    });
}

/// Invalidates `[start, start + len)` from the data caches without writing back (`DC IVAC`).
///
/// # Safety
/// Dirty lines in the range are discarded: the caller must know memory holds the truth
/// (e.g. the range was only written with the caches off).
pub unsafe fn invalidate_to_poc(start: usize, len: usize) {
    for_each_line(start, len, |addr| {
        // SAFETY: the caller guarantees no dirty line in the range holds needed data.
        unsafe { asm!("dc ivac, {}", in(reg) addr, options(nostack, preserves_flags)) };
    });
}
