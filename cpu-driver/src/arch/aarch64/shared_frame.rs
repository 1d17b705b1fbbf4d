//! Turning the shared frame's physical address into a reference.

use crate::layout::phys_to_virt;
use crate::shared::SharedFrame;

/// The frame all cores share, as seen through this core's physmap.
///
/// # Safety
/// `shared_pa` must be the frame the boot stub zeroed and handed to every core (its size at
/// least `size_of::<SharedFrame>()`), mapped as normal cacheable memory by the physmap. All its
/// fields are atomics, so references from several cores are sound.
pub unsafe fn shared_frame(shared_pa: u64) -> Option<&'static SharedFrame> {
    let va = phys_to_virt(shared_pa)?;
    // SAFETY: the caller guarantees the frame is mapped, zero-initialised (a valid SharedFrame)
    // and never freed; SharedFrame consists of atomics only.
    Some(unsafe { &*(va as *const SharedFrame) })
}
