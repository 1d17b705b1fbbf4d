//! Views of this core's own frames through the kernel window. The frame pool hands out each
//! frame once, so a view made here is the only one.

use cpu_driver::frames::Frames;
use cpu_driver::paging::Table;

/// The frames as bytes.
///
/// # Safety
/// `frames` must come from this core's frame pool (mapped read-write in the kernel window) and
/// no other view of them may be live.
pub unsafe fn bytes(frames: &Frames) -> &'static mut [u8] {
    // SAFETY: guaranteed by the caller; the pool maps its frames for good.
    unsafe { core::slice::from_raw_parts_mut(frames.va as *mut u8, frames.len() as usize) }
}

/// The frames as translation tables.
///
/// # Safety
/// As [`bytes`].
pub unsafe fn tables(frames: &Frames) -> &'static mut [Table] {
    // SAFETY: guaranteed by the caller; a table is 4 KiB of u64, valid for any contents.
    unsafe { core::slice::from_raw_parts_mut(frames.va as *mut Table, frames.count as usize) }
}
