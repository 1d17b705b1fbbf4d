//! Access to physical memory through an identity map (the boot stub's view of memory).

/// The bytes at physical `[pa, pa + len)`.
///
/// # Safety
/// The range must be mapped (identity, or the MMU off), hold initialised memory that nothing
/// writes while the slice lives, and stay valid for `'static`.
pub unsafe fn bytes(pa: u64, len: usize) -> &'static [u8] {
    // SAFETY: guaranteed by the caller.
    unsafe { core::slice::from_raw_parts(pa as *const u8, len) }
}

/// The bytes at physical `[pa, pa + len)`, writable.
///
/// # Safety
/// As [`bytes`], and nothing else may access the range while the slice lives.
pub unsafe fn bytes_mut(pa: u64, len: usize) -> &'static mut [u8] {
    // SAFETY: guaranteed by the caller.
    unsafe { core::slice::from_raw_parts_mut(pa as *mut u8, len) }
}

/// The page-aligned physical range as translation tables.
///
/// # Safety
/// As [`bytes_mut`]; `pa` must be 4 KiB aligned.
pub unsafe fn tables_mut(pa: u64, count: usize) -> &'static mut [crate::paging::Table] {
    // SAFETY: guaranteed by the caller; `Table` is plain `u64`s, valid for any bit pattern.
    unsafe { core::slice::from_raw_parts_mut(pa as *mut crate::paging::Table, count) }
}

/// Writes `value` at physical `pa`.
///
/// # Safety
/// `[pa, pa + size_of::<T>())` must be mapped, writable, suitably aligned for `T`, and not
/// referenced by anything else.
pub unsafe fn write<T>(pa: u64, value: T) {
    // SAFETY: guaranteed by the caller.
    unsafe { core::ptr::write(pa as *mut T, value) }
}

/// Reads a `T` at physical `pa`.
///
/// # Safety
/// `[pa, pa + size_of::<T>())` must be mapped, aligned for `T` and hold a valid `T`.
pub unsafe fn read<T: Copy>(pa: u64) -> T {
    // SAFETY: guaranteed by the caller.
    unsafe { core::ptr::read(pa as *const T) }
}
