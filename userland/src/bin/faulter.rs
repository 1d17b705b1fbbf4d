//! A misbehaving program: it reads kernel memory. The CPU driver must stop it with a reported
//! fault and keep everything else running.
#![cfg_attr(target_os = "none", no_std, no_main)]

use userland::{info, println, Info};

/// The start of the kernel window, where each little core's CPU driver lives (the faulter runs
/// on core 1, a little core; the big build sits higher in the same window).
const KERNEL_ADDRESS: u64 = 0xffff_ffff_c000_0000;
/// Where it asks for a frame of its own first.
const OWN_FRAME: u64 = 0x3000_0000;

fn run() -> u64 {
    let core = info(Info::CoreIndex).unwrap_or(u64::MAX);
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

userland::entry!(run);
