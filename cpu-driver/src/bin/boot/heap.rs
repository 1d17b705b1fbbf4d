//! The stub's heap: a range of its scratch area, handed over once the early identity map makes
//! it normal memory (before that, nothing allocates). The planning code keeps its vectors here.

use linked_list_allocator::LockedHeap;

#[global_allocator]
static HEAP: LockedHeap = LockedHeap::empty();

/// Hands `[start, start + size)` to the heap.
///
/// # Safety
/// The range must be mapped normal memory that nothing else uses, and this is called once.
pub unsafe fn init(start: u64, size: u64) {
    // SAFETY: guaranteed by the caller.
    unsafe { HEAP.lock().init(start as *mut u8, size as usize) };
}
