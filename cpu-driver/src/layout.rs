//! The virtual memory layout every core's CPU driver shares.
//!
//! Translation uses a 4 KiB granule and 39-bit virtual addresses (`T0SZ = T1SZ = 25`), so a
//! walk starts at level 1, where each of the 512 entries covers 1 GiB. One level-1 table serves
//! both halves of the address space:
//!
//! ```text
//! TTBR1 (kernel half)                          TTBR0 (low half, only while entering)
//! 0xffff_ff80_0000_0000  physmap: PA 0..511 GiB   0x0  identity: PA 0..511 GiB
//! 0xffff_ffff_c000_0000  this core's own region   511 GiB  (same entry, unused)
//! ```
//!
//! Every core maps *its own* region at [`KERNEL_BASE`], so the same virtual address names a
//! different physical copy on each core and no kernel `static` is shared between cores. Device
//! registers, the DTB and the inter-core frames are reached through the physmap.

/// Bits of virtual address the translation regime resolves.
pub const VA_BITS: u32 = 39;
/// Bytes one level-1 entry maps.
pub const GIB: u64 = 1 << 30;
/// Bytes one level-2 entry maps.
pub const MIB2: u64 = 2 << 20;
/// Bytes of a page.
pub const PAGE_SIZE: u64 = 4096;
/// Level-1 index of the kernel window (the last entry).
pub const KERNEL_L1_INDEX: usize = 511;
/// Virtual address at which each core sees its own CPU driver.
pub const KERNEL_BASE: u64 = 0xffff_ffff_c000_0000;
/// Virtual address of physical address 0 in the kernel half.
pub const PHYSMAP_BASE: u64 = 0xffff_ff80_0000_0000;
/// Physical addresses at or above this are not reachable through the physmap.
pub const PHYSMAP_LIMIT: u64 = KERNEL_L1_INDEX as u64 * GIB;

/// Lowest address an EL0 program may be linked at (page 0 to 4 MiB stays unmapped, so null
/// pointers fault).
pub const USER_MIN: u64 = 0x0040_0000;
/// Top of an EL0 stack.
pub const USER_STACK_TOP: u64 = 0x40_0000_0000;
/// Bytes of an EL0 stack.
pub const USER_STACK_SIZE: u64 = 64 << 10;
/// Where frames a dispatcher maps (URPC channels) appear in its address space.
pub const USER_FRAMES_BASE: u64 = 0x10_0000_0000;
/// Where the device tree is mapped (read-only) for a dispatcher that asks for it.
pub const USER_DTB_BASE: u64 = 0x20_0000_0000;
/// End of the EL0 half (`TTBR0`), one past the last valid address.
pub const USER_LIMIT: u64 = 1 << VA_BITS;

/// The kernel virtual address of a physical address, if the physmap covers it.
pub const fn phys_to_virt(pa: u64) -> Option<u64> {
    if pa < PHYSMAP_LIMIT {
        Some(PHYSMAP_BASE + pa)
    } else {
        None
    }
}

/// Rounds `value` up to a multiple of `align` (a power of two).
pub const fn align_up(value: u64, align: u64) -> u64 {
    (value + align - 1) & !(align - 1)
}

/// Rounds `value` down to a multiple of `align` (a power of two).
pub const fn align_down(value: u64, align: u64) -> u64 {
    value & !(align - 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernel_window_is_the_last_level1_entry() {
        assert_eq!((KERNEL_BASE >> 30) & 511, KERNEL_L1_INDEX as u64);
        assert_eq!(KERNEL_BASE.wrapping_sub(PHYSMAP_BASE), PHYSMAP_LIMIT);
        assert_eq!(PHYSMAP_BASE, u64::MAX << VA_BITS);
    }

    #[test]
    fn physmap_stops_below_the_kernel_window() {
        assert_eq!(phys_to_virt(0x0900_0000), Some(0xffff_ff80_0900_0000));
        assert_eq!(phys_to_virt(PHYSMAP_LIMIT), None);
    }
}
