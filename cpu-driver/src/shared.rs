//! The one frame every core may write: the console lock and each core's report line.
//!
//! The design keeps kernel state private to a core; this frame is the explicit exception, in
//! the same spirit as a URPC channel: every cache line in it has a single writer, except the
//! console lock, which arbitrates the one UART the board has. The boot stub zeroes the frame
//! before any core starts, and all-zero is the valid initial state of everything in it.
//!
//! ```text
//! line 0            console ticket lock (next ticket, now serving)
//! line 1 + n        core n's report: written only by core n, read by the boot core
//! ```

use core::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use crate::boot_record::MAX_CORES;

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

/// What a core reports once its CPU driver is up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CoreReport {
    /// The MPIDR the core read from itself.
    pub mpidr: u64,
    /// The MIDR the core read from itself.
    pub midr: u64,
    /// The CPU-driver build it runs.
    pub build: u64,
    /// The exception level the CPU driver runs at.
    pub el: u64,
    /// How other cores address this one with an SGI (MPIDR on GICv3, CPU interface mask on
    /// GICv2).
    pub gic_target: u64,
}

/// One core's report line. `sequence` is written last (Release) and read first (Acquire), so
/// a reader that sees it non-zero sees the whole report.
#[repr(C, align(64))]
pub struct ReportLine {
    mpidr: AtomicU64,
    midr: AtomicU64,
    build: AtomicU64,
    el: AtomicU64,
    gic_target: AtomicU64,
    sequence: AtomicU64,
}

impl ReportLine {
    /// Publishes a report (only the owning core calls this).
    pub fn publish(&self, report: CoreReport) {
        self.mpidr.store(report.mpidr, Ordering::Relaxed);
        self.midr.store(report.midr, Ordering::Relaxed);
        self.build.store(report.build, Ordering::Relaxed);
        self.el.store(report.el, Ordering::Relaxed);
        self.gic_target.store(report.gic_target, Ordering::Relaxed);
        let next = self.sequence.load(Ordering::Relaxed).wrapping_add(1).max(1);
        self.sequence.store(next, Ordering::Release);
    }

    /// The report, once one was published.
    pub fn read(&self) -> Option<CoreReport> {
        if self.sequence.load(Ordering::Acquire) == 0 {
            return None;
        }
        Some(CoreReport {
            mpidr: self.mpidr.load(Ordering::Relaxed),
            midr: self.midr.load(Ordering::Relaxed),
            build: self.build.load(Ordering::Relaxed),
            el: self.el.load(Ordering::Relaxed),
            gic_target: self.gic_target.load(Ordering::Relaxed),
        })
    }
}

/// The layout of the shared frame.
#[repr(C)]
pub struct SharedFrame {
    /// Keeps console lines whole.
    pub console_lock: ConsoleLock,
    /// Core `n` writes `reports[n]`.
    pub reports: [ReportLine; MAX_CORES],
}

const _: () = assert!(core::mem::size_of::<ConsoleLock>() == CACHE_LINE);
const _: () = assert!(core::mem::size_of::<ReportLine>() == CACHE_LINE);
const _: () = assert!(core::mem::size_of::<SharedFrame>() == CACHE_LINE * (1 + MAX_CORES));

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn zeroed_frame() -> Box<SharedFrame> {
        // All-zero is the documented initial state, so build it the way the stub does.
        Box::new(SharedFrame {
            console_lock: ConsoleLock { next_ticket: AtomicU32::new(0), now_serving: AtomicU32::new(0) },
            reports: core::array::from_fn(|_| ReportLine {
                mpidr: AtomicU64::new(0),
                midr: AtomicU64::new(0),
                build: AtomicU64::new(0),
                el: AtomicU64::new(0),
                gic_target: AtomicU64::new(0),
                sequence: AtomicU64::new(0),
            }),
        })
    }

    #[test]
    fn a_report_is_seen_whole_by_another_thread() {
        let frame: Arc<SharedFrame> = Arc::from(zeroed_frame());
        assert_eq!(frame.reports[3].read(), None);
        let writer = Arc::clone(&frame);
        let report = CoreReport { mpidr: 0x8000_0103, midr: 0x410f_d034, build: 1, el: 1, gic_target: 0x103 };
        std::thread::spawn(move || writer.reports[3].publish(report)).join().unwrap();
        assert_eq!(frame.reports[3].read(), Some(report));
        assert_eq!(frame.reports[2].read(), None);
    }

    #[test]
    fn console_lock_keeps_lines_whole() {
        let frame: Arc<SharedFrame> = Arc::from(zeroed_frame());
        let out = Arc::new(std::sync::Mutex::new(String::new()));
        let threads: Vec<_> = (0..3)
            .map(|t| {
                let (frame, out) = (Arc::clone(&frame), Arc::clone(&out));
                std::thread::spawn(move || {
                    for _ in 0..50 {
                        frame.console_lock.with(std::hint::spin_loop, || {
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
