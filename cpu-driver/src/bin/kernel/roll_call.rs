//! Coming up: every core says it is up and reports to the boot core; the boot core waits for
//! every started core (with a deadline), names the ones that did not come, and ends the run.

use cpu_driver::arch::aarch64::psci::{describe, Conduit};
use cpu_driver::arch::aarch64::{cpu, shared_frame::shared_frame};
use cpu_driver::boot_record::{BootRecord, StartStatus, FLAG_POWER_OFF_WHEN_DONE};
use cpu_driver::shared::{CoreReport, SharedFrame};

use crate::console::{self, kprintln};
use crate::entry::halt;
use crate::interrupts;

/// The micro-architecture this build was compiled for.
const BUILD_TARGET_CPU: &str = env!("CPU_DRIVER_TARGET_CPU");

fn class_name(build: u64) -> &'static str {
    if build == 0 {
        "little"
    } else {
        "big"
    }
}

/// Runs this core's part of the boot.
pub fn run(record: &'static BootRecord) -> ! {
    // SAFETY: the stub zeroed the shared frame and handed its address to every core.
    let Some(shared) = (unsafe { shared_frame(record.shared_pa) }) else { halt() };
    console::init(&record.console, &shared.console_lock);
    let el = cpu::current_el();
    let mpidr = cpu::mpidr();
    kprintln!(
        "core {} up mpidr={mpidr:#x} class={} cpu-driver={BUILD_TARGET_CPU} el={el}",
        record.core_index,
        class_name(record.build)
    );
    interrupts::init(&record.gic, record.core_index);
    let report = CoreReport { mpidr, midr: cpu::midr(), build: record.build, el };
    if let Some(line) = shared.reports.get(record.core_index as usize) {
        line.publish(report);
        interrupts::wake(record.gic.boot_core_target);
    }
    if record.is_boot_core() {
        collect_reports(record, shared);
    }
    // Nothing to do yet: sleep in WFI until an interrupt.
    loop {
        interrupts::sleep_until(None);
    }
}

/// The boot core's roll call.
fn collect_reports(record: &BootRecord, shared: &SharedFrame) {
    let deadline = cpu::counter() + record.report_timeout_ticks;
    let mut up = 0;
    for index in 0..record.core_count as usize {
        let reason = match record.start_status(index) {
            StartStatus::BootCore => None,
            StartStatus::Started => loop {
                if shared.reports[index].read().is_some() {
                    break None;
                }
                if cpu::counter() > deadline {
                    break Some("no report within the deadline".into());
                }
                interrupts::sleep_until(Some(deadline));
            },
            StartStatus::PsciError(code) => {
                Some(alloc_format(format_args!("PSCI CPU_ON failed: {} ({code})", describe(code))))
            }
            StartStatus::NoEnableMethod => Some("no usable enable-method in the device tree".into()),
            StartStatus::NoBuild => Some("no CPU-driver build for its class".into()),
            StartStatus::NoMemory => Some("no memory for its region".into()),
            StartStatus::Absent => Some("not set up".into()),
        };
        match reason {
            None => up += 1,
            Some(reason) => kprintln!("core {index} offline: {reason}"),
        }
    }
    for index in 0..record.core_count as usize {
        if let Some(report) = shared.reports[index].read() {
            print_midr_check(index, &report);
        }
    }
    kprintln!("all {up} cores up");
    if record.flags & FLAG_POWER_OFF_WHEN_DONE != 0 {
        if let Some(conduit) = Conduit::from_raw(record.psci_conduit) {
            let result = conduit.system_off();
            kprintln!("PSCI SYSTEM_OFF failed: {result:?}");
        }
    }
}

/// The MIDR a core read from itself, as a cross-check of the class the device tree gave it.
fn print_midr_check(index: usize, report: &CoreReport) {
    let model = skb::micro_arch_from_midr(report.midr).map_or("unknown", |arch| arch.name());
    kprintln!("core {index} midr={:#x} ({model}) runs the {} build", report.midr, class_name(report.build));
}

extern crate alloc;

fn alloc_format(args: core::fmt::Arguments<'_>) -> alloc::string::String {
    alloc::fmt::format(args)
}
