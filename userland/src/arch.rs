//! The AArch64 side of the runtime: the entry point, `SVC`, and the panic handler.

use core::arch::{asm, global_asm};

use syscall_abi::Call;

// The entry point: the outermost frame. Its call-frame information says so (the return
// address is undefined), so a debugger's backtrace ends here; it goes to .debug_frame, which
// the packer leaves out of the image (the linker discards .eh_frame).
global_asm!(
    ".cfi_sections .debug_frame",
    ".section .text._start, \"ax\"",
    ".global _start",
    "_start:",
    "    .cfi_startproc",
    "    .cfi_undefined x30",
    "    mov x29, #0",
    "    mov x30, #0",
    "    bl __user_main",
    "1:  b 1b",
    "    .cfi_endproc",
);

/// Makes a system call.
pub fn syscall(call: Call, args: [u64; 4]) -> u64 {
    let ret: u64;
    // SAFETY: SVC enters the CPU driver, which preserves every register but x0 and reads or
    // writes only the memory an argument names, after checking the caller owns it.
    unsafe {
        asm!(
            "svc #0",
            inlateout("x0") args[0] => ret,
            in("x1") args[1],
            in("x2") args[2],
            in("x3") args[3],
            in("x8") call as u64,
            options(nostack),
        );
    }
    ret
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    crate::console::print_line(format_args!("panic: {info}"));
    crate::exit(101)
}

/// Makes a call whose results come back in `x0`..`x3`.
pub fn syscall_with_words(call: Call) -> (u64, [u64; 3]) {
    let (ret, w0, w1, w2): (u64, u64, u64, u64);
    // SAFETY: as in `syscall`; the kernel writes only x0 to x3.
    unsafe {
        asm!(
            "svc #0",
            inlateout("x0") 0u64 => ret,
            inlateout("x1") 0u64 => w0,
            inlateout("x2") 0u64 => w1,
            inlateout("x3") 0u64 => w2,
            in("x8") call as u64,
            options(nostack),
        );
    }
    (ret, [w0, w1, w2])
}

/// Makes a call with six arguments (`x0`..`x5`) whose results come back in `x0`..`x3`.
pub fn syscall6(call: Call, args: [u64; 6]) -> (u64, [u64; 3]) {
    let (ret, w0, w1, w2): (u64, u64, u64, u64);
    // SAFETY: as in `syscall`; the kernel reads x0 to x5 and writes only x0 to x3.
    unsafe {
        asm!(
            "svc #0",
            inlateout("x0") args[0] => ret,
            inlateout("x1") args[1] => w0,
            inlateout("x2") args[2] => w1,
            inlateout("x3") args[3] => w2,
            in("x4") args[4],
            in("x5") args[5],
            in("x8") call as u64,
            options(nostack),
        );
    }
    (ret, [w0, w1, w2])
}

/// `line_send(endpoint, w0..w6)`: the same-core line transport's one-line send, the line in
/// `x1`..`x7`; returns `x0`.
pub fn syscall_line_send(endpoint: u64, words: &[u64; 7]) -> u64 {
    let ret: u64;
    // SAFETY: as in `syscall`; the kernel reads x0 to x7 and writes only x0.
    unsafe {
        asm!(
            "svc #0",
            inlateout("x0") endpoint => ret,
            in("x1") words[0],
            in("x2") words[1],
            in("x3") words[2],
            in("x4") words[3],
            in("x5") words[4],
            in("x6") words[5],
            in("x7") words[6],
            in("x8") Call::LineSend as u64,
            options(nostack),
        );
    }
    ret
}

/// `line_recv(badge, only_badge)`: returns `x0` (lines still queued, or the error), the line
/// from `x1`..`x7` and the badge it came through from `x8`.
pub fn syscall_line_recv(badge: u64, only_badge: u64) -> (u64, [u64; 7], u64) {
    let (ret, from): (u64, u64);
    let mut words = [0u64; 7];
    // SAFETY: as in `syscall`; the kernel reads x0, x1 and x8 and writes x0 to x8 (x1 to x8
    // only when it returns a line; they hold what they held otherwise, all declared here).
    unsafe {
        asm!(
            "svc #0",
            inlateout("x0") badge => ret,
            inlateout("x1") only_badge => words[0],
            inlateout("x2") 0u64 => words[1],
            inlateout("x3") 0u64 => words[2],
            inlateout("x4") 0u64 => words[3],
            inlateout("x5") 0u64 => words[4],
            inlateout("x6") 0u64 => words[5],
            inlateout("x7") 0u64 => words[6],
            inlateout("x8") Call::LineRecv as u64 => from,
            options(nostack),
        );
    }
    (ret, words, from)
}

/// The virtual counter (the kernel lets EL0 read it), ordered after earlier instructions.
pub fn counter() -> u64 {
    let value: u64;
    // SAFETY: reading CNTVCT_EL0 has no side effects; the kernel enabled EL0 access.
    unsafe { asm!("isb", "mrs {}, cntvct_el0", out(reg) value, options(nomem, nostack, preserves_flags)) };
    value
}

/// The channel frame the kernel mapped at `va` (from `map_channel`).
pub fn channel_frame(va: u64) -> &'static urpc::ChannelFrame {
    // SAFETY: `map_channel` mapped a zero-initialised, page-aligned channel frame of the shared
    // region at `va` for the rest of this program's life; it is only accessed through atomics.
    unsafe { &*(va as *const urpc::ChannelFrame) }
}

/// The channel frame of a channel bound on demand, whose Frame capability the program mapped
/// read-write at `va` with `vnode_map` (the address `vnode_map` returned).
pub fn bound_channel_frame(va: u64) -> &'static urpc::ChannelFrame {
    // SAFETY: a Frame is zeroed when retyped, and an all-zero frame is a valid empty channel;
    // `vnode_map` mapped all of its page, page-aligned and writable, at `va`, as Normal memory
    // the other side maps the same way; it is only accessed through atomics. Should the Frame
    // be revoked, the entry is cleared and the next access faults, which stops the program:
    // nothing else is ever mapped at that entry behind its back.
    unsafe { &*(va as *const urpc::ChannelFrame) }
}

/// The ping-pong cache line of an application region mapped at `va` (its second page).
pub fn pingpong_line(va: u64) -> &'static core::sync::atomic::AtomicU64 {
    // SAFETY: `map_channel` maps an application region as a channel frame followed by a zeroed
    // page for the pair's ping-pong line; an aligned atomic word at its start is valid.
    unsafe { &*((va + 4096) as *const core::sync::atomic::AtomicU64) }
}

/// Reads a word of the kernel's half of the address space, which EL0 may never read: the
/// fault harness's `el0-fault`. The kernel ends the program at the fault, so this returns
/// only if EL0 isolation is broken.
pub fn read_kernel_memory() -> u64 {
    let value: u64;
    // SAFETY: a load through an address outside this program's space touches no Rust object;
    // it faults (translation fault at EL0) and the kernel ends the program there.
    unsafe {
        asm!("ldr {v}, [{a}]", v = out(reg) value, a = in(reg) 0xffff_0000_0000_0000u64, options(nostack, readonly))
    };
    value
}

/// The device tree mapped at `va` (from `map_device_tree`), its length read from the header.
pub fn device_tree_at(va: u64) -> &'static [u8] {
    // SAFETY: the kernel mapped the whole blob read-only at `va`, where its header starts; the
    // header's size word is within the first page.
    let header = unsafe { core::slice::from_raw_parts(va as *const u8, 8) };
    let size = u32::from_be_bytes([header[4], header[5], header[6], header[7]]) as usize;
    // SAFETY: the kernel mapped `size` bytes (it rounds the mapping up to pages).
    unsafe { core::slice::from_raw_parts(va as *const u8, size) }
}

/// Reads the 32-bit device register at `va`, a word-aligned address inside a page this
/// program mapped from a device Frame capability (`device::DevicePage` checks both).
pub(crate) fn device_read32(va: u64) -> u32 {
    // SAFETY: `DevicePage` passes only word-aligned addresses within the page `vnode_map`
    // mapped for it as Device-nGnRE, read-write, for the rest of the program (it never
    // unmaps); a volatile access is exactly one load the device sees.
    unsafe { core::ptr::read_volatile(va as *const u32) }
}

/// Writes the 32-bit device register at `va` (as [`device_read32`]).
pub(crate) fn device_write32(va: u64, value: u32) {
    // SAFETY: as in `device_read32`: a mapped, aligned, writable device register.
    unsafe { core::ptr::write_volatile(va as *mut u32, value) }
}

#[global_allocator]
static HEAP: linked_list_allocator::LockedHeap = linked_list_allocator::LockedHeap::empty();

/// Whether the allocator has its memory.
static HEAP_GIVEN: core::sync::atomic::AtomicBool = core::sync::atomic::AtomicBool::new(false);

/// The memory of a program's heap: a zeroed static (in the program's bss) of `N` bytes, which
/// `entry!` declares and hands to [`init_heap`]. Nothing but the allocator touches it.
pub struct HeapSpace<const N: usize>(core::cell::UnsafeCell<[u8; N]>);

// SAFETY: the bytes are reached only through the allocator, which `init_heap` hands them to
// once; the allocator's lock orders every use.
unsafe impl<const N: usize> Sync for HeapSpace<N> {}

impl<const N: usize> HeapSpace<N> {
    /// Zeroed memory (so it lies in the bss and costs no file space).
    pub const fn new() -> Self {
        HeapSpace(core::cell::UnsafeCell::new([0; N]))
    }
}

impl<const N: usize> Default for HeapSpace<N> {
    fn default() -> Self {
        Self::new()
    }
}

/// Gives the allocator `space` (called once by the entry code; later calls change nothing).
pub fn init_heap<const N: usize>(space: &'static HeapSpace<N>) {
    if HEAP_GIVEN.swap(true, core::sync::atomic::Ordering::Relaxed) {
        return;
    }
    // SAFETY: the first call (checked above), before anything allocates; the static array
    // lives as long as the program and its field is private, so nothing else refers to it.
    unsafe { HEAP.lock().init(space.0.get().cast(), N) };
}
