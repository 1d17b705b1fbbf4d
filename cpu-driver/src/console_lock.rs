//! The console lock: the one cache line of the shared region ([`crate::shared_region`], offset
//! 0) that every core writes, since the board has one UART and lines from different cores
//! must not interleave. Everything else between cores is a URPC message (see
//! [`crate::kernel_messages`]). All-zero is its valid initial state (the stub zeroes the region).

use core::sync::atomic::{AtomicU32, Ordering};

/// Bytes of a cache line, the unit of single-writer ownership.
pub const CACHE_LINE: usize = 64;

/// A ticket lock that keeps console lines whole.
#[repr(C, align(64))]
pub struct ConsoleLock {
    next_ticket: AtomicU32,
    now_serving: AtomicU32,
}

impl ConsoleLock {
    /// Runs `f` while holding the lock; `relax` is called while waiting (a spin hint).
    pub fn with<R>(&self, relax: impl Fn(), f: impl FnOnce() -> R) -> R {
        let ticket = self.next_ticket.fetch_add(1, Ordering::Relaxed);
        while self.now_serving.load(Ordering::Acquire) != ticket {
            relax();
        }
        let result = f();
        self.now_serving.store(ticket.wrapping_add(1), Ordering::Release);
        result
    }
}

const _: () = assert!(core::mem::size_of::<ConsoleLock>() == CACHE_LINE);

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn console_lock_keeps_lines_whole() {
        let lock = Arc::new(ConsoleLock { next_ticket: AtomicU32::new(0), now_serving: AtomicU32::new(0) });
        let out = Arc::new(std::sync::Mutex::new(String::new()));
        let threads: Vec<_> = (0..3)
            .map(|t| {
                let (lock, out) = (Arc::clone(&lock), Arc::clone(&out));
                std::thread::spawn(move || {
                    for _ in 0..50 {
                        lock.with(std::hint::spin_loop, || {
                            for c in format!("core {t} line\n").chars() {
                                out.lock().unwrap().push(c);
                                std::thread::yield_now();
                            }
                        });
                    }
                })
            })
            .collect();
        threads.into_iter().for_each(|t| t.join().unwrap());
        let text = out.lock().unwrap();
        assert_eq!(text.lines().count(), 150);
        assert!(text.lines().all(|l| l.starts_with("core ") && l.ends_with(" line") && l.len() == 11));
    }
}
