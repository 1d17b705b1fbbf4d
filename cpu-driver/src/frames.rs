//! A core's pool of physical frames for its dispatchers, handed out in page-sized pieces.
//!
//! The pool is part of the core's private region, so the kernel sees it in its own window
//! (`va`) and maps pieces of it (`pa`) into dispatchers' address spaces. Frames are never
//! returned: a dispatcher that ends keeps its frames (a later change can add a free list).

use crate::layout::PAGE_SIZE;

/// Contiguous frames: where the kernel sees them and what the MMU gets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Frames {
    /// Physical address of the first frame.
    pub pa: u64,
    /// Kernel virtual address of the first frame.
    pub va: u64,
    /// Number of frames.
    pub count: u64,
}

impl Frames {
    /// Bytes covered.
    pub fn len(&self) -> u64 {
        self.count * PAGE_SIZE
    }

    /// Whether no frame is covered.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }
}

/// The pool.
#[derive(Debug)]
pub struct FramePool {
    pa: u64,
    va: u64,
    size: u64,
    used: u64,
}

impl FramePool {
    /// A pool of `size` bytes at physical `pa`, seen by the kernel at `va` (both page aligned).
    pub const fn new(pa: u64, va: u64, size: u64) -> Self {
        FramePool { pa, va, size: size & !(PAGE_SIZE - 1), used: 0 }
    }

    /// Takes `count` contiguous frames, or `None` when the pool is exhausted.
    pub fn take(&mut self, count: u64) -> Option<Frames> {
        let bytes = count.checked_mul(PAGE_SIZE)?;
        if count == 0 || bytes > self.size - self.used {
            return None;
        }
        let frames = Frames { pa: self.pa + self.used, va: self.va + self.used, count };
        self.used += bytes;
        Some(frames)
    }

    /// Bytes still free.
    pub fn free_bytes(&self) -> u64 {
        self.size - self.used
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hands_out_contiguous_frames_until_exhausted() {
        let mut pool = FramePool::new(0x7000_0000, 0xffff_ffff_c010_0000, 5 * PAGE_SIZE);
        let a = pool.take(2).unwrap();
        assert_eq!((a.pa, a.va, a.len()), (0x7000_0000, 0xffff_ffff_c010_0000, 2 * PAGE_SIZE));
        let b = pool.take(3).unwrap();
        assert_eq!(b.pa, 0x7000_2000);
        assert_eq!(pool.take(1), None);
        assert_eq!(pool.take(0), None);
        assert_eq!(pool.free_bytes(), 0);
    }

    #[test]
    fn absurd_requests_fail_cleanly() {
        let mut pool = FramePool::new(0, 0, PAGE_SIZE);
        assert_eq!(pool.take(u64::MAX), None);
        assert!(pool.take(1).is_some());
    }
}
