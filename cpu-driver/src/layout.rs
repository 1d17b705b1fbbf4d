//! The virtual memory layout every core's CPU driver shares.
//!
//! Translation uses a 4 KiB granule and 39-bit virtual addresses (`T0SZ = T1SZ = 25`), so a
//! walk starts at level 1, where each of the 512 entries covers 1 GiB. One level-1 table serves
//! both halves of the address space:
//!
//! ```text
//! TTBR1 (kernel half)                          TTBR0 (low half, only while entering)
//! 0xffff_ff80_0000_0000  physmap: PA 0..511 GiB   0x0  identity: PA 0..511 GiB
//! 0xffff_ffff_c000_0000  kernel window (1 GiB):   511 GiB  (same entry, unused)
//!   +0        little build: this core's region
//!   +512 MiB  big build: this core's region
//! ```
//!
//! Every core maps *its own* region at its build's base ([`kernel_base`]), so the same virtual
//! address names a different physical copy on each core of a class and no kernel `static` is
//! shared between cores. The two builds link at different bases, half the kernel window apart,
//! so that a debugger holding both builds' symbols shows the right ones on every core: a
//! little core never executes an address of the big build, and the reverse. Device registers,
//! the DTB and the inter-core frames are reached through the physmap.

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
/// Start of the kernel window: the virtual range of the last level-1 entry, where each core
/// maps its own region.
pub const KERNEL_WINDOW: u64 = 0xffff_ffff_c000_0000;
/// Bytes of the kernel window given to each build class (half of it: a region is a few MiB).
pub const KERNEL_BUILD_SPAN: u64 = GIB / 2;
/// Build classes (payload table `build`): 0 is the little build, 1 the big one.
pub const KERNEL_BUILDS: u32 = 2;

/// Virtual address a CPU-driver build is linked at and mapped at on every core that runs it:
/// the little build (class 0) at the start of the kernel window, the big build (class 1)
/// [`KERNEL_BUILD_SPAN`] above. `None` for a class there is no build for.
pub const fn kernel_base(build: u32) -> Option<u64> {
    if build < KERNEL_BUILDS {
        Some(KERNEL_WINDOW + build as u64 * KERNEL_BUILD_SPAN)
    } else {
        None
    }
}

/// The build class this crate is being compiled as (`cpu_driver_build`, set by
/// `scripts/build`); a build without it (clippy, host tests) counts as the little one.
const THIS_BUILD: u32 = if cfg!(cpu_driver_build = "cortex-a72") { 1 } else { 0 };

/// Virtual address at which each core sees its own CPU driver, for the build being compiled.
/// The kernel binary hands it to the linker (`linker/kernel.ld` links at the symbol
/// `KERNEL_BASE` the kernel defines from this constant), so it is the one place the address
/// is written down.
pub const KERNEL_BASE: u64 = match kernel_base(THIS_BUILD) {
    Some(base) => base,
    None => panic!("no kernel base for this build"),
};

/// Whether a CPU driver's region of `size` bytes, mapped at `base`, fits where the boot stub
/// may map it: page aligned, inside the kernel window and inside one build's span, so no two
/// builds' ranges overlap and none wraps past the top of the address space.
pub const fn kernel_region_fits(base: u64, size: u64) -> bool {
    if base < KERNEL_WINDOW || !base.is_multiple_of(PAGE_SIZE) || size == 0 {
        return false;
    }
    let span_start = KERNEL_WINDOW + (base - KERNEL_WINDOW) / KERNEL_BUILD_SPAN * KERNEL_BUILD_SPAN;
    // `span_start + KERNEL_BUILD_SPAN - 1` is at most u64::MAX: the window is the last GiB.
    size - 1 <= span_start + (KERNEL_BUILD_SPAN - 1) - base
}
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
/// The 2 MiB window (one level-2 entry) where the kernel installs each dispatcher's own
/// level-3 VNode: user code maps Frame capabilities there with `vnode_map` (entry `n` is the
/// page at `USER_MAPPABLE_BASE + n * PAGE_SIZE`). Must equal `syscall_abi::USER_MAPPABLE_BASE`.
pub const USER_MAPPABLE_BASE: u64 = 0x30_0000_0000;
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
        assert_eq!((KERNEL_WINDOW >> 30) & 511, KERNEL_L1_INDEX as u64);
        assert_eq!(KERNEL_WINDOW.wrapping_sub(PHYSMAP_BASE), PHYSMAP_LIMIT);
        assert_eq!(PHYSMAP_BASE, u64::MAX << VA_BITS);
        assert_eq!(KERNEL_WINDOW.wrapping_add(GIB), 0, "the window ends at the top of the address space");
    }

    #[test]
    fn each_build_links_at_its_own_base_in_the_kernel_window() {
        let little = kernel_base(0).unwrap();
        let big = kernel_base(1).unwrap();
        assert_eq!(little, 0xffff_ffff_c000_0000);
        assert_eq!(big, 0xffff_ffff_e000_0000);
        assert_eq!(kernel_base(2), None);
        for base in [little, big] {
            assert_eq!(
                (base >> 30) & 511,
                KERNEL_L1_INDEX as u64,
                "{base:#x} is in the kernel's level-1 entry"
            );
            assert!(base.is_multiple_of(MIB2), "{base:#x} starts a level-2 block");
        }
        // Host tests are compiled without `cpu_driver_build`: they see the little build.
        assert_eq!(KERNEL_BASE, little);
    }

    #[test]
    fn a_region_must_stay_inside_its_builds_span() {
        let (little, big) = (kernel_base(0).unwrap(), kernel_base(1).unwrap());
        let region = 6 << 20;
        assert!(kernel_region_fits(little, region));
        assert!(kernel_region_fits(big, region));
        assert!(kernel_region_fits(little, KERNEL_BUILD_SPAN), "a whole span");
        assert!(!kernel_region_fits(little, KERNEL_BUILD_SPAN + PAGE_SIZE), "into the big build's span");
        assert!(kernel_region_fits(big, KERNEL_BUILD_SPAN), "up to the last byte of the address space");
        assert!(!kernel_region_fits(big, KERNEL_BUILD_SPAN + PAGE_SIZE), "past the top: would wrap");
        assert!(!kernel_region_fits(big + 4 * PAGE_SIZE, u64::MAX), "no overflow");
        assert!(!kernel_region_fits(little - PAGE_SIZE, PAGE_SIZE), "below the window (the physmap)");
        assert!(!kernel_region_fits(little + 1, PAGE_SIZE), "not page aligned");
        assert!(!kernel_region_fits(little, 0), "empty");
        assert!(kernel_region_fits(u64::MAX - PAGE_SIZE + 1, PAGE_SIZE), "the last page");
    }

    #[test]
    fn physmap_stops_below_the_kernel_window() {
        assert_eq!(phys_to_virt(0x0900_0000), Some(0xffff_ff80_0900_0000));
        assert_eq!(phys_to_virt(PHYSMAP_LIMIT), None);
    }
}
