//! Coming up: every core reports to the boot core once its boot dispatchers have settled (a
//! `WakeTarget` and a `CoreUp` message on its kernel channel), and the boot core holds the roll
//! call: it waits for every core its monitor started (with a deadline), names the ones that did
//! not come (`core <n> offline: <reason>`) and prints `all <k> cores up in <t> us`. Uses
//! [`crate::channels`], [`crate::build_info`] and [`crate::console`]; the main loop drives it.

extern crate alloc;

use alloc::string::String;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use cpu_driver::arch::aarch64::cpu;
use cpu_driver::arch::aarch64::psci::describe;
use cpu_driver::boot_record::{BootRecord, StartStatus, MAX_CORES};
use cpu_driver::time::ticks_to_us;
use spin::Mutex;
use urpc::messages::CoreUp;

use crate::build_info;
use crate::channels;
use crate::console::kprintln;
use crate::core_boot;

/// The boot core's roll call, while it is open.
static ROLL_CALL: Mutex<Option<RollCall>> = Mutex::new(None);
/// Set on the boot core once the roll call and what follows it are over.
static DONE: AtomicBool = AtomicBool::new(false);
/// Set on the boot core when the roll call completes: how many other cores came up.
static OTHERS_UP: AtomicU64 = AtomicU64::new(0);

/// Tells the boot core this core is up (its boot dispatchers have settled); on the boot core,
/// records its own report.
pub fn report_in(record: &BootRecord) {
    // SAFETY: the physmap maps the GIC as device memory; reading a banked register is harmless.
    let wake_target = unsafe {
        cpu_driver::arch::aarch64::gic::own_target(
            &record.gic,
            cpu::mpidr(),
            cpu_driver::layout::phys_to_virt,
        )
    };
    let report = CoreUp {
        core: record.core_index as u32,
        mpidr: cpu::mpidr(),
        midr: cpu::midr(),
        class: record.build as u8,
        el: cpu::current_el() as u8,
        ctr: cpu::cache_type(),
    };
    channels::report_in(report, wake_target);
}

/// Boot core: opens the roll call; its deadline starts now.
pub fn open(record: &BootRecord) {
    *ROLL_CALL.lock() = Some(RollCall::new(record));
}

/// Where the roll call stands after [`advance`].
pub enum Progress {
    /// No roll call is open (not the boot core, or it is over).
    Closed,
    /// Some core is still awaited; look again by this counter value at the latest.
    Waiting {
        /// Counter value of the deadline.
        deadline: u64,
    },
    /// Everyone is accounted for, just now: these cores are up.
    Complete {
        /// Indices of the cores that came up, the boot core among them.
        up: Vec<u64>,
    },
}

/// Boot core: takes the reports that arrived and checks the deadline; once every core is
/// accounted for, prints the result and closes the roll call.
pub fn advance(record: &BootRecord) -> Progress {
    let mut guard = ROLL_CALL.lock();
    let Some(roll_call) = guard.as_mut() else { return Progress::Closed };
    if let Some(deadline) = roll_call.poll(record) {
        return Progress::Waiting { deadline };
    }
    let up: Vec<u64> = roll_call.up_cores().collect();
    OTHERS_UP.store(up.len().saturating_sub(1) as u64, Ordering::Relaxed);
    *guard = None;
    Progress::Complete { up }
}

/// Boot core: the roll call and the work that follows it are over; the dispatchers that wait
/// for it (`Info::RollCallDone`) may go on.
pub fn finish() {
    DONE.store(true, Ordering::Relaxed);
}

/// Whether [`finish`] was called (meaningful on the boot core).
pub fn is_done() -> bool {
    DONE.load(Ordering::Relaxed)
}

/// (Boot core) whether the other cores carry the run on if this core's monitor or kernel
/// fails: the roll call is over, so their monitors run the failure detector and the lowest
/// live one takes the run and the console over, and at least one other core came up.
pub fn others_carry_on() -> bool {
    is_done() && OTHERS_UP.load(Ordering::Relaxed) > 0
}

/// The boot core's view of who has come up.
struct RollCall {
    deadline: u64,
    /// Per core: `None` while waiting, `Some(None)` up, `Some(Some(reason))` offline.
    outcome: [Option<Option<String>>; MAX_CORES],
}

impl RollCall {
    fn new(record: &BootRecord) -> Self {
        RollCall {
            deadline: cpu::counter() + record.report_timeout_ticks,
            outcome: [const { None }; MAX_CORES],
        }
    }

    /// Checks the reports; returns the deadline while some core is still awaited, or prints
    /// the result and returns `None` once everyone is accounted for.
    fn poll(&mut self, record: &BootRecord) -> Option<u64> {
        let reports = channels::collect_reports();
        let now = cpu::counter();
        let mut waiting = false;
        let cores = self.outcome.iter_mut().zip(&reports).enumerate().take(record.core_count as usize);
        for (index, (outcome, report)) in cores {
            if outcome.is_some() {
                continue;
            }
            let reported = report.is_some();
            *outcome = match core_boot::status(record, index) {
                StartStatus::BootCore | StartStatus::Started if reported => Some(None),
                StartStatus::BootCore | StartStatus::Started if now < self.deadline => {
                    waiting = true;
                    None
                }
                StartStatus::BootCore | StartStatus::Started => {
                    Some(Some("no report within the deadline".into()))
                }
                StartStatus::PsciError(code) => {
                    Some(Some(alloc::format!("PSCI CPU_ON failed: {} ({code})", describe(code))))
                }
                StartStatus::NoEnableMethod => {
                    Some(Some("no usable enable-method in the device tree".into()))
                }
                StartStatus::NoBuild => Some(Some("no CPU-driver build for its class".into())),
                StartStatus::NoMemory => Some(Some("no memory for its region".into())),
                StartStatus::Absent => Some(Some("not started by the boot core's monitor".into())),
            };
        }
        if waiting {
            return Some(self.deadline);
        }
        let mut up = 0;
        for (index, outcome) in self.outcome.iter().take(record.core_count as usize).enumerate() {
            match outcome {
                Some(Some(reason)) => kprintln!("core {index} offline: {reason}"),
                _ => up += 1,
            }
        }
        for (index, report) in reports.iter().enumerate().take(record.core_count as usize) {
            if let Some(report) = report {
                let model = skb::micro_arch_from_midr(report.midr).map_or("unknown", |arch| arch.name());
                let build = build_info::class_name(u64::from(report.class));
                let line = report.dcache_line_bytes();
                kprintln!(
                    "core {index} midr={:#x} ({model}) runs the {build} build, {line}-byte data cache lines",
                    report.midr
                );
                // Another core's build is chosen before it runs, from the device tree (only the
                // core itself can read its MIDR; a design the tree does not name gets the
                // portable build). Where the MIDR disagrees, say so: the build still runs
                // correctly (both are ARMv8.0), only scheduled for the other pipeline.
                let suits = skb::build_for_midr(report.midr).class_name();
                if suits != build {
                    kprintln!(
                        "core {index}: its MIDR ({model}) suits the {suits} build; it runs the {build} build, chosen from the device tree (the portable build where the tree does not name the design)"
                    );
                }
                // URPC's frames give each writer its own 128-byte blocks, so lines up to 128
                // bytes still have one writer (a wider line makes the core refuse its channels,
                // `channels::init`, and it never reports).
                if line > urpc::LINE_BYTES as u64 {
                    kprintln!(
                        "core {index}: data cache lines of {line} bytes, wider than a {}-byte message: URPC's {}-byte blocks keep one writer per line",
                        urpc::LINE_BYTES,
                        urpc::WRITER_BLOCK_BYTES
                    );
                }
            }
        }
        // Bring-up time in guest counter time, from the stub's first instruction on this core
        // (its counter read, handed on in the boot record) to now.
        let ticks = cpu::counter().saturating_sub(record.boot_entry_counter);
        kprintln!("all {up} cores up in {} us", ticks_to_us(ticks, cpu::counter_frequency()));
        None
    }

    /// The cores that came up.
    fn up_cores(&self) -> impl Iterator<Item = u64> + '_ {
        self.outcome.iter().enumerate().filter(|(_, o)| matches!(o, Some(None))).map(|(i, _)| i as u64)
    }
}
