//! Crossing between EL1 and EL0: entering a dispatcher, switching user address spaces,
//! checking user pointers with the MMU itself, and making loaded code visible to fetches.

use core::arch::asm;

use super::exception::TrapFrame;

extern "C" {
    fn kernel_exception_return() -> !;
}

/// Resumes the dispatcher whose registers are in `frame` (at EL0, with its `spsr`).
///
/// # Safety
/// `frame` must sit at the top of this core's kernel stack (exceptions from EL0 start with an
/// empty kernel stack) and describe an EL0 context (`spsr.M == EL0t`); the user address space
/// must be installed.
pub unsafe fn enter_user(frame: *const TrapFrame) -> ! {
    // SAFETY: the caller guarantees the frame is a valid EL0 context at the top of the stack;
    // the return path restores it and ERETs, never coming back here.
    unsafe { asm!("mov sp, {0}", "b {1}", in(reg) frame, sym kernel_exception_return, options(noreturn)) }
}

/// Installs a user address space: `table_pa` with `asid` in `TTBR0_EL1`, and turns TTBR0 walks
/// back on (they are off while no dispatcher runs).
pub fn install_address_space(table_pa: u64, asid: u16) {
    use aarch64_cpu::registers::TCR_EL1;
    use tock_registers::interfaces::ReadWriteable;
    let ttbr0 = table_pa | (u64::from(asid) << 48);
    // SAFETY: switching TTBR0 changes only EL0 mappings; the kernel runs from TTBR1. Entries
    // are tagged with ASIDs, so no TLB maintenance is needed for the switch. The `dsb ishst`
    // first completes every store to the new space's tables (a spawn writes them all just
    // before its first switch), so no walk after the switch reads an entry still in flight
    // (Arm ARM D8.2.6); the `isb` makes the new TTBR0 apply to what follows.
    unsafe {
        asm!("dsb ishst", "msr ttbr0_el1, {0}", "isb", in(reg) ttbr0, options(nostack, preserves_flags))
    };
    TCR_EL1.modify(TCR_EL1::EPD0::EnableTTBR0Walks);
    aarch64_cpu::asm::barrier::isb(aarch64_cpu::asm::barrier::SY);
}

/// Stops every translation through `TTBR0_EL1` (`TCR_EL1.EPD0`) until the next
/// [`install_address_space`]: the installed address space is about to end and its tables to be
/// released. With `EPD0` set a miss below the kernel half faults instead of walking (Arm ARM
/// D8.2, `TCR_EL1.EPD0`), so not even a speculative walk reads the tables once they are reused.
pub fn detach_address_space() {
    use aarch64_cpu::registers::TCR_EL1;
    use tock_registers::interfaces::ReadWriteable;
    TCR_EL1.modify(TCR_EL1::EPD0::DisableTTBR0Walks);
    aarch64_cpu::asm::barrier::isb(aarch64_cpu::asm::barrier::SY);
}

/// Physical address of the translation table `TTBR0_EL1` holds (the installed address space).
pub fn installed_tables() -> u64 {
    use aarch64_cpu::registers::TTBR0_EL1;
    use tock_registers::interfaces::Readable;
    TTBR0_EL1.get() & 0x0000_ffff_ffff_fffe
}

/// Whether EL0 may read the byte at `va` in the installed address space (`AT S1E0R`).
pub fn user_readable(va: u64) -> bool {
    let par: u64;
    // SAFETY: an address translation instruction only writes PAR_EL1, which is read right after.
    unsafe {
        asm!("at s1e0r, {0}", "isb", "mrs {1}, par_el1", in(reg) va, out(reg) par, options(nostack, preserves_flags))
    };
    par & 1 == 0
}

/// Whether EL0 may read every byte of `[start, end)` in the installed address space: each page
/// it touches checked with [`user_readable`]. (The caller checks the range lies in user space.)
pub fn user_range_readable(start: u64, end: u64) -> bool {
    let page_size = crate::layout::PAGE_SIZE;
    let mut page = start & !(page_size - 1);
    while page < end {
        if !user_readable(page) {
            return false;
        }
        page += page_size;
    }
    true
}

/// Invalidates this core's instruction cache (`ic iallu`, completed, then the pipeline
/// resynchronised): for code another core wrote and cleaned to the point of unification.
pub fn invalidate_local_instruction_cache() {
    // SAFETY: an invalidate of this core's instruction cache and barriers only cost time.
    unsafe { asm!("ic iallu", "dsb nsh", "isb", options(nostack, preserves_flags)) };
}

/// Makes freshly written instructions at kernel address `va` visible to instruction fetches
/// (clean the data cache to the point of unification, invalidate the instruction cache).
pub fn sync_instruction_cache(va: u64, len: u64) {
    let ctr: u64;
    // SAFETY: reading CTR_EL0 has no side effects.
    unsafe { asm!("mrs {}, ctr_el0", out(reg) ctr, options(nomem, nostack, preserves_flags)) };
    let line = 4u64 << ((ctr >> 16) & 0xf);
    let mut addr = va & !(line - 1);
    while addr < va + len {
        // SAFETY: cleaning a mapped line writes back data and changes no contents.
        unsafe { asm!("dc cvau, {0}", in(reg) addr, options(nostack, preserves_flags)) };
        addr += line;
    }
    // SAFETY: barriers and a full instruction-cache invalidate only cost time.
    unsafe { asm!("dsb ish", "ic iallu", "dsb ish", "isb", options(nostack, preserves_flags)) };
}
