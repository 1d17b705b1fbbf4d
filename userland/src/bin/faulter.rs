//! A misbehaving program: it reads kernel memory. The CPU driver must stop it with a reported
//! fault and keep everything else running.
//!
//! With `el0-instructions-test` on the kernel command line it takes a second role: it runs the
//! instructions `SCTLR_EL1` decides about at EL0 (`cpu_driver::system_control::KERNEL`) and
//! prints what each did: `CTR_EL0` read, `DC ZVA`, cache maintenance by address, `WFE` (all
//! allowed), and last `WFI`, which the kernel traps and stops the program for.
#![cfg_attr(target_os = "none", no_std, no_main)]

use userland::{info, println, Info, FLAG_EL0_INSTRUCTIONS_TEST};

/// The start of the kernel window, where each little core's CPU driver lives (the faulter runs
/// on core 1, a little core; the big build sits higher in the same window).
const KERNEL_ADDRESS: u64 = 0xffff_ffff_c000_0000;
/// Where it asks for a frame of its own first.
const OWN_FRAME: u64 = 0x3000_0000;

fn run() -> u64 {
    let core = info(Info::CoreIndex).unwrap_or(u64::MAX);
    if info(Info::Flags).unwrap_or(0) & FLAG_EL0_INSTRUCTIONS_TEST != 0 {
        return el0_instructions(core);
    }
    // First what it may do: map a frame of its own and use it.
    match userland::map_frame(OWN_FRAME) {
        Ok(va) => {
            // SAFETY: the kernel just mapped a zeroed, writable frame at `va` for this program.
            let word = unsafe { &mut *(va as *mut u64) };
            *word = 0x5eed;
            println!("faulter on core {core}: own frame at {va:#x} holds {:#x}", *word);
        }
        Err(e) => println!("faulter on core {core}: map_frame failed: {e:?}"),
    }
    println!("faulter on core {core}: reading kernel memory at {KERNEL_ADDRESS:#x}");
    // SAFETY: none: this read is meant to fault; the kernel must stop this program.
    let value = unsafe { core::ptr::read_volatile(KERNEL_ADDRESS as *const u64) };
    println!("faulter on core {core}: read {value:#x}: the kernel did not protect itself");
    1
}

#[cfg(all(target_arch = "aarch64", target_os = "none"))]
/// The largest `DC ZVA` block there is (`DCZID_EL0.BS` at most 9: 2 KiB), aligned to itself.
#[repr(C, align(2048))]
struct ZeroBlock([u8; 2048]);

#[cfg(all(target_arch = "aarch64", target_os = "none"))]
fn el0_instructions(core: u64) -> u64 {
    use core::arch::asm;

    let ctr: u64;
    // SAFETY: reading CTR_EL0 has no side effect (it traps if SCTLR_EL1.UCT is clear).
    unsafe { asm!("mrs {}, ctr_el0", out(reg) ctr, options(nomem, nostack, preserves_flags)) };
    let dline = 4u64 << ((ctr >> 16) & 0xf);
    let iline = 4u64 << (ctr & 0xf);
    println!("faulter on core {core}: el0 ctr_el0={ctr:#x} dminline={dline} iminline={iline}: ok");

    let dczid: u64;
    // SAFETY: DCZID_EL0 is always readable at EL0.
    unsafe { asm!("mrs {}, dczid_el0", out(reg) dczid, options(nomem, nostack, preserves_flags)) };
    let block = 4usize << (dczid & 0xf);
    if dczid & (1 << 4) != 0 {
        println!("faulter on core {core}: el0 dc zva: FAILED: prohibited (dczid_el0={dczid:#x})");
    } else {
        let mut buffer = ZeroBlock([0xa5; 2048]);
        let start = buffer.0.as_mut_ptr();
        // SAFETY: the block is this program's own writable stack memory, aligned to the
        // largest DC ZVA block; DC ZVA zeroes exactly one block at `start`.
        unsafe { asm!("dc zva, {0}", "dsb ish", in(reg) start, options(nostack, preserves_flags)) };
        // SAFETY: reading back the buffer just written, through its own pointer.
        let bytes = unsafe { core::slice::from_raw_parts(start.cast_const(), 2048) };
        let zeroed = bytes[..block].iter().all(|&b| b == 0) && bytes[block..].iter().all(|&b| b == 0xa5);
        let verdict = if zeroed { "ok" } else { "FAILED: block not zeroed" };
        println!("faulter on core {core}: el0 dc zva: {block}-byte block zeroed: {verdict}");
    }

    let code = [0xd503_201fu32; 16]; // NOPs: the lines a JIT would have written
    let address = code.as_ptr() as u64;
    // SAFETY: cleaning and invalidating lines of this program's own readable memory changes no
    // contents; the barriers only order.
    unsafe {
        asm!(
            "dc cvau, {0}",
            "dc cvac, {0}",
            "dc civac, {0}",
            "dsb ish",
            "ic ivau, {0}",
            "dsb ish",
            "isb",
            in(reg) address,
            options(nostack, preserves_flags)
        )
    };
    println!("faulter on core {core}: el0 cache maintenance (dc cvau, dc cvac, dc civac, ic ivau): ok");

    // SAFETY: SEVL sets this core's event register, so the first WFE returns at once; the
    // second sleeps until the next event (the kernel's event stream, an interrupt).
    unsafe { asm!("sevl", "wfe", "wfe", options(nomem, nostack, preserves_flags)) };
    println!("faulter on core {core}: el0 wfe: ok");

    println!("faulter on core {core}: el0 wfi: the kernel must trap it and stop this program");
    // SAFETY: WFI has no effect on memory; the kernel traps it (SCTLR_EL1.nTWI clear).
    unsafe { asm!("wfi", options(nomem, nostack, preserves_flags)) };
    println!("faulter on core {core}: el0 wfi: FAILED: returned, not trapped");
    1
}

#[cfg(not(all(target_arch = "aarch64", target_os = "none")))]
fn el0_instructions(_core: u64) -> u64 {
    1
}

userland::entry!(run);
