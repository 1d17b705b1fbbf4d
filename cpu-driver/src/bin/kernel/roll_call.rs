//! Coming up: every core says it is up, starts its dispatchers, and once they have settled
//! reports to the boot core. The boot core waits for every started core (with a deadline),
//! names the ones that did not come, and ends the run.

extern crate alloc;

use alloc::string::String;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicBool, Ordering};

use cpu_driver::arch::aarch64::psci::{describe, Conduit};
use cpu_driver::arch::aarch64::{cpu, shared_region::SharedRegion};
use cpu_driver::boot_record::{
    BootRecord, StartStatus, FLAG_BENCH, FLAG_FAULT_TEST, FLAG_POWER_OFF_WHEN_DONE, MAX_CORES,
};
use cpu_driver::intercore::ticks_to_ns;
use spin::{Mutex, Once};
use syscall_abi::Error;
use urpc::messages::CoreUp;

use crate::channels;
use crate::console::{self, kprintln};
use crate::dispatch::{IdleAction, Scheduler};
use crate::entry::halt;
use crate::interrupts;

/// Round trips timed per core pair for the boot-time URPC figures (after the warm-up).
const MEASURE_ROUNDS: u32 = 10_000;
/// Round trips before timing starts.
const MEASURE_WARMUP: u32 = 1_000;

/// The micro-architecture this build was compiled for.
const BUILD_TARGET_CPU: &str = if cfg!(cpu_driver_build = "cortex-a53") {
    "cortex-a53"
} else if cfg!(cpu_driver_build = "cortex-a72") {
    "cortex-a72"
} else {
    "generic"
};

/// The build's name where the packer (`mkbootimage`) reads it: it refuses to pack this ELF as
/// any other build, so a stale or mixed-up artifact cannot boot under the wrong name.
#[no_mangle]
#[used]
static CPU_DRIVER_BUILD: [u8; 16] = build_name_field(BUILD_TARGET_CPU);

/// `name` NUL-padded to the 16 bytes of a payload-table name.
const fn build_name_field(name: &str) -> [u8; 16] {
    let mut field = [0u8; 16];
    let bytes = name.as_bytes();
    let mut i = 0;
    while i < bytes.len() && i < field.len() {
        field[i] = bytes[i];
        i += 1;
    }
    field
}

/// This core's boot record (set once at start).
static RECORD: Once<&'static BootRecord> = Once::new();
/// The boot core's roll call, while it is open.
static ROLL_CALL: Mutex<Option<RollCall>> = Mutex::new(None);
/// Set on the boot core once the roll call is over.
static ROLL_CALL_DONE: AtomicBool = AtomicBool::new(false);
/// Whether this core's monitor started (then it, not the CPU driver, ends the run).
static MONITOR_RUNNING: AtomicBool = AtomicBool::new(false);

fn class_name(build: u64) -> &'static str {
    if build == 0 {
        "little"
    } else {
        "big"
    }
}

/// Runs this core's part of the boot, then its dispatchers.
pub fn run(record: &'static BootRecord) -> ! {
    // SAFETY: the stub zeroed the shared region for this many cores and handed it to every core.
    let Some(region) = (unsafe { SharedRegion::new(record.shared_pa, record.core_count) }) else { halt() };
    RECORD.call_once(|| record);
    console::init(&record.console, region.console_lock());
    channels::init(record, region);
    let core = record.core_index;
    kprintln!(
        "core {core} up mpidr={:#x} class={} cpu-driver={BUILD_TARGET_CPU} el={}",
        cpu::mpidr(),
        class_name(record.build),
        cpu::current_el()
    );
    interrupts::init(&record.gic, core);
    cpu::allow_el0_counter();
    if record.is_boot_core() {
        *ROLL_CALL.lock() = Some(RollCall::new(record));
    }
    let mut scheduler = Scheduler::new(record, report_in, on_idle);
    let mut programs = alloc::vec!["monitor"];
    if record.flags & FLAG_FAULT_TEST != 0 && core == 1 {
        programs.push("faulter");
    }
    if record.flags & FLAG_BENCH != 0 {
        programs.push("latency");
    }
    let mut started = 0;
    for program in programs {
        match scheduler.spawn(program) {
            Ok(()) => {
                started += 1;
                if program == "monitor" {
                    MONITOR_RUNNING.store(true, Ordering::Relaxed);
                }
            }
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
    let Some(&record) = RECORD.get() else { return };
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
    };
    channels::report_in(report, wake_target);
}

/// Sends the wake SGI to `core` (the `notify` system call): every dispatcher waiting there,
/// its monitor among them, runs again.
pub fn notify_core(core: u64) -> Result<(), Error> {
    let target = channels::wake_target(core).ok_or(Error::InvalidArgument)?;
    interrupts::wake(target);
    Ok(())
}

/// Whether the roll call is over (meaningful on the boot core).
pub fn is_done() -> bool {
    ROLL_CALL_DONE.load(Ordering::Relaxed)
}

/// Ends the run with PSCI `SYSTEM_OFF` if this boot asks for it and the firmware offers it;
/// returns if it does not.
pub fn power_off() {
    let Some(&record) = RECORD.get() else { return };
    if record.flags & FLAG_POWER_OFF_WHEN_DONE == 0 {
        return;
    }
    if let Some(conduit) = Conduit::from_raw(record.psci_conduit) {
        let result = conduit.system_off();
        kprintln!("PSCI SYSTEM_OFF failed: {result:?}");
    }
}

/// The idle hook: on the boot core, advances the roll call (its deadline while it is open);
/// on the others, serves what the boot core sent.
fn on_idle() -> IdleAction {
    let Some(&record) = RECORD.get() else { return IdleAction::default() };
    if !record.is_boot_core() {
        channels::serve();
        return IdleAction::default();
    }
    let mut guard = ROLL_CALL.lock();
    let Some(roll_call) = guard.as_mut() else { return IdleAction::default() };
    if let Some(deadline) = roll_call.poll(record) {
        return IdleAction { deadline: Some(deadline), wake_dispatchers: false };
    }
    let up: Vec<u64> = roll_call.up_cores().collect();
    *guard = None;
    drop(guard);
    channels::share_directory();
    measure_round_trips(record, &up);
    ROLL_CALL_DONE.store(true, Ordering::Relaxed);
    if !MONITOR_RUNNING.load(Ordering::Relaxed) {
        power_off(); // nobody at EL0 to end the run
    }
    // The monitor waits for the roll call to end: let it carry on.
    IdleAction { deadline: None, wake_dispatchers: true }
}

/// The boot core's URPC round trip to every other core, next to the raw cache-line limit on
/// the same pair, measured in the same boot.
fn measure_round_trips(record: &BootRecord, up: &[u64]) {
    let boot = record.boot_core_index;
    let frequency = cpu::counter_frequency();
    for &core in up.iter().filter(|&&core| core != boot) {
        match channels::measure(core, MEASURE_ROUNDS, MEASURE_WARMUP) {
            Some(m) => kprintln!(
                "urpc {boot}-{core} rtt_ns={} limit_ns={}",
                ticks_to_ns(m.urpc_ticks, frequency),
                ticks_to_ns(m.limit_ticks, frequency)
            ),
            None => kprintln!("urpc {boot}-{core} measurement failed: the core stopped answering"),
        }
    }
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
            outcome: [const { None }; cpu_driver::boot_record::MAX_CORES],
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
            *outcome = match record.start_status(index) {
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
        for (index, report) in reports.iter().enumerate().take(record.core_count as usize) {
            if let Some(report) = report {
                let model = skb::micro_arch_from_midr(report.midr).map_or("unknown", |arch| arch.name());
                let build = class_name(u64::from(report.class));
                kprintln!("core {index} midr={:#x} ({model}) runs the {build} build", report.midr);
            }
        }
        kprintln!("all {up} cores up");
        None
    }

    /// The cores that came up.
    fn up_cores(&self) -> impl Iterator<Item = u64> + '_ {
        self.outcome.iter().enumerate().filter(|(_, o)| matches!(o, Some(None))).map(|(i, _)| i as u64)
    }
}
