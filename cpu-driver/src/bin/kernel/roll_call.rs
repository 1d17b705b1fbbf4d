//! Coming up: every core says it is up, starts its dispatchers, and once they have settled
//! reports to the boot core. The boot core waits for every started core (with a deadline),
//! names the ones that did not come, and ends the run.

extern crate alloc;

use alloc::string::String;

use cpu_driver::arch::aarch64::psci::{describe, Conduit};
use cpu_driver::arch::aarch64::{cpu, shared_frame::shared_frame};
use cpu_driver::boot_record::{BootRecord, StartStatus, FLAG_FAULT_TEST, FLAG_POWER_OFF_WHEN_DONE};
use cpu_driver::shared::{CoreReport, SharedFrame};
use spin::{Mutex, Once};
use syscall_abi::Error;

use crate::console::{self, kprintln};
use crate::dispatch::Scheduler;
use crate::entry::halt;
use crate::interrupts;

/// The micro-architecture this build was compiled for.
const BUILD_TARGET_CPU: &str = env!("CPU_DRIVER_TARGET_CPU");

/// This core's boot record and the shared frame (set once at start).
static CONTEXT: Once<(&'static BootRecord, &'static SharedFrame)> = Once::new();
/// The boot core's roll call, while it is open.
static ROLL_CALL: Mutex<Option<RollCall>> = Mutex::new(None);

fn class_name(build: u64) -> &'static str {
    if build == 0 {
        "little"
    } else {
        "big"
    }
}

/// Runs this core's part of the boot, then its dispatchers.
pub fn run(record: &'static BootRecord) -> ! {
    // SAFETY: the stub zeroed the shared frame and handed its address to every core.
    let Some(shared) = (unsafe { shared_frame(record.shared_pa) }) else { halt() };
    CONTEXT.call_once(|| (record, shared));
    console::init(&record.console, &shared.console_lock);
    let core = record.core_index;
    kprintln!(
        "core {core} up mpidr={:#x} class={} cpu-driver={BUILD_TARGET_CPU} el={}",
        cpu::mpidr(),
        class_name(record.build),
        cpu::current_el()
    );
    interrupts::init(&record.gic, core);
    if record.is_boot_core() {
        *ROLL_CALL.lock() = Some(RollCall::new(record));
    }
    let mut scheduler = Scheduler::new(record, report_in, poll_roll_call);
    let mut programs = alloc::vec!["monitor"];
    if record.flags & FLAG_FAULT_TEST != 0 && core == 1 {
        programs.push("faulter");
    }
    let mut started = 0;
    for program in programs {
        match scheduler.spawn(program) {
            Ok(()) => started += 1,
            Err(e) => kprintln!("core {core}: cannot start {program}: {e}"),
        }
    }
    if started == 0 {
        report_in();
    }
    scheduler.run()
}

/// Tells the boot core this core is up (its boot dispatchers have settled).
fn report_in() {
    let Some(&(record, shared)) = CONTEXT.get() else { return };
    // SAFETY: the GIC was set up before any dispatcher ran; reading the banked register is
    // harmless.
    let gic_target = unsafe {
        cpu_driver::arch::aarch64::gic::own_target(
            &record.gic,
            cpu::mpidr(),
            cpu_driver::layout::phys_to_virt,
        )
    };
    let report = CoreReport {
        mpidr: cpu::mpidr(),
        midr: cpu::midr(),
        build: record.build,
        el: cpu::current_el(),
        gic_target,
    };
    if let Some(line) = shared.reports.get(record.core_index as usize) {
        line.publish(report);
        interrupts::wake(record.gic.boot_core_target);
    }
}

/// Wakes the monitor of `core` (the `notify` system call).
pub fn notify_core(core: u64) -> Result<(), Error> {
    let &(_, shared) = CONTEXT.get().ok_or(Error::InvalidArgument)?;
    let report =
        shared.reports.get(core as usize).and_then(|line| line.read()).ok_or(Error::InvalidArgument)?;
    interrupts::wake(report.gic_target);
    Ok(())
}

/// The idle hook: on the boot core, advances the roll call; returns its deadline while open.
fn poll_roll_call() -> Option<u64> {
    let &(record, shared) = CONTEXT.get()?;
    let mut guard = ROLL_CALL.lock();
    let roll_call = guard.as_mut()?;
    if let Some(deadline) = roll_call.poll(record, shared) {
        return Some(deadline);
    }
    *guard = None;
    drop(guard);
    if record.flags & FLAG_POWER_OFF_WHEN_DONE != 0 {
        if let Some(conduit) = Conduit::from_raw(record.psci_conduit) {
            let result = conduit.system_off();
            kprintln!("PSCI SYSTEM_OFF failed: {result:?}");
        }
    }
    None
}

/// The boot core's view of who has come up.
struct RollCall {
    deadline: u64,
    /// Per core: `None` while waiting, `Some(None)` up, `Some(Some(reason))` offline.
    outcome: [Option<Option<String>>; cpu_driver::boot_record::MAX_CORES],
}

impl RollCall {
    fn new(record: &BootRecord) -> Self {
        RollCall {
            deadline: cpu::counter() + record.report_timeout_ticks,
            outcome: [const { None }; cpu_driver::boot_record::MAX_CORES],
        }
    }

    /// Checks the reports; returns the deadline while some core is still awaited, or prints
    /// the result and returns `None` once everyone is accounted for.
    fn poll(&mut self, record: &BootRecord, shared: &SharedFrame) -> Option<u64> {
        let now = cpu::counter();
        let mut waiting = false;
        for index in 0..record.core_count as usize {
            if self.outcome[index].is_some() {
                continue;
            }
            let reported = shared.reports[index].read().is_some();
            self.outcome[index] = match record.start_status(index) {
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
                StartStatus::Absent => Some(Some("not set up".into())),
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
        for index in 0..record.core_count as usize {
            if let Some(report) = shared.reports[index].read() {
                let model = skb::micro_arch_from_midr(report.midr).map_or("unknown", |arch| arch.name());
                kprintln!(
                    "core {index} midr={:#x} ({model}) runs the {} build",
                    report.midr,
                    class_name(report.build)
                );
            }
        }
        kprintln!("all {up} cores up");
        None
    }
}
