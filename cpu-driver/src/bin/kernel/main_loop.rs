//! What a core does from `kernel_main` on: start its services (console, kernel channels, its
//! GIC part), print its `core <n> up` line, load its monitor and hand the core to the
//! scheduler for good. The scheduler calls back here when every boot dispatcher has settled
//! (report to the boot core) and whenever the core is idle: the boot core then advances its
//! roll call and, once it completes, shares the wake-up directory, takes the URPC figures and
//! lets its monitor go on (or powers off if there is none); the other cores serve what the
//! boot core sent. Uses every module below [`crate::entry`] but [`crate::syscalls`].

use core::sync::atomic::{AtomicBool, Ordering};

use cpu_driver::arch::aarch64::cpu::{self, halt};
use cpu_driver::boot_record::{
    BootRecord, FLAG_CONSOLE_STALL_TEST, FLAG_KERNEL_STACK_OVERFLOW_TEST, FLAG_PHYSMAP_TEST,
};
use cpu_driver::shared_region::SharedRegion;

use crate::build_info::{class_name, BUILD_TARGET_CPU};
use crate::console::{self, kprintln};
use crate::dispatchers::Dispatchers;
use crate::roll_call::{self, Progress};
use crate::scheduler::{Hooks, IdleAction, Scheduler};
use crate::{channels, interrupts, power, urpc_figures};

/// Whether this core's monitor started (then it, not the CPU driver, ends the run).
static MONITOR_RUNNING: AtomicBool = AtomicBool::new(false);

/// Runs this core's part of the boot, then its dispatchers (`entry_el`: the exception level the
/// core entered the kernel at).
pub fn run(record: &'static BootRecord, entry_el: u64) -> ! {
    // SAFETY: the stub zeroed the shared region for this many cores and handed it to every
    // core; the physmap maps all RAM.
    let Some(region) = (unsafe { SharedRegion::new(record.shared_pa, record.core_count) }) else { halt() };
    let core = record.core_index;
    console::init(&record.console, region, core, record.is_boot_core());
    channels::init(record, region);
    kprintln!(
        "core {core} up mpidr={:#x} class={} cpu-driver={BUILD_TARGET_CPU} el={}",
        cpu::mpidr(),
        class_name(record.build),
        cpu::current_el()
    );
    if record.inject_panic & (1 << core) != 0 {
        panic!("injected (inject=panic@core{core})");
    }
    if record.flags & FLAG_KERNEL_STACK_OVERFLOW_TEST != 0 && core == 2 {
        kprintln!("core {core}: recursing until the kernel stack overflows (kernel-stack-overflow-test)");
        recurse(0);
    }
    if record.flags & FLAG_PHYSMAP_TEST != 0 && core == 2 {
        read_own_region_through_the_physmap(record);
    }
    if record.flags & FLAG_CONSOLE_STALL_TEST != 0 && core == 2 {
        kprintln!("core {core}: stopping for good half-way through a console line (console-stall-test)");
        console::stall_mid_line(format_args!("core {core}: this line is never published"));
    }
    // The boot core enters its kernel from the stub, which has already dropped to EL1 if the
    // firmware gave it EL2: the level the machine was entered at is the stub's.
    interrupts::init(&record.gic, core, entry_el.max(record.stub_entry_el));
    cpu::allow_el0_counter();
    if record.is_boot_core() {
        roll_call::open(record);
    }
    let mut dispatchers = Dispatchers::new(record);
    // Only the monitor is loaded by the kernel; it spawns every other program itself
    // (`spawn`, from the boot-module capabilities it gets below).
    match dispatchers.spawn("monitor") {
        Ok(_) => MONITOR_RUNNING.store(true, Ordering::Relaxed),
        Err(e) => kprintln!("core {core}: cannot start monitor: {e}"),
    }
    // The monitor is loaded: what is left of the pool, but a reserve for `map_frame` and
    // spawned programs, is its, as RAM capabilities, with the Kernel capability and one per
    // boot module (it prints what it holds itself, at EL0).
    if MONITOR_RUNNING.load(Ordering::Relaxed) {
        if let Err(e) = dispatchers.endow_monitor() {
            kprintln!("core {core}: monitor gets no capabilities: {e}");
        }
    }
    if dispatchers.len() == 0 {
        roll_call::report_in(record); // nothing to wait for
    }
    Scheduler::new(record, dispatchers, Hooks { ready: roll_call::report_in, idle: on_idle }).run()
}

/// Recurses until the kernel stack overflows into its guard page, half a KiB of stack a call
/// (less than the guard page, so no frame jumps over it); the exception vectors must report
/// the overflow (`entry::kernel_exception`) rather than recurse themselves.
#[inline(never)]
fn recurse(depth: u64) -> u64 {
    let mut chunk = [0u8; 512];
    chunk[(depth % 512) as usize] = depth as u8;
    let chunk = core::hint::black_box(chunk);
    if depth == u64::MAX {
        return 0;
    }
    recurse(core::hint::black_box(depth + 1)) + u64::from(chunk[0])
}

/// For the `physmap-test`: reads the first word of this core's own region (its kernel's text)
/// through the physmap, which maps no part of it; the translation fault must be reported by
/// `entry::kernel_exception` and stop this core.
fn read_own_region_through_the_physmap(record: &BootRecord) {
    let Some(va) = cpu_driver::layout::phys_to_virt(record.region_pa) else { return };
    kprintln!(
        "core {}: reading its own region {:#x} through the physmap at va={va:#x} (physmap-test)",
        record.core_index,
        record.region_pa
    );
    // SAFETY: deliberately not sound if the physmap mapped the region (it would read this
    // core's own text, harmlessly); it does not, so this faults and the core stops.
    let word = unsafe { core::ptr::read_volatile(va as *const u64) };
    kprintln!(
        "core {}: read {word:#x} through the physmap: it maps this core's own region",
        record.core_index
    );
}

/// The idle hook: on the boot core, advances the roll call (its deadline while it is open);
/// on the others, serves what the boot core sent.
fn on_idle(record: &'static BootRecord) -> IdleAction {
    if !record.is_boot_core() {
        while let Some(request) = channels::serve() {
            urpc_figures::echo(request);
        }
        return IdleAction::default();
    }
    match roll_call::advance(record) {
        Progress::Closed => IdleAction::default(),
        Progress::Waiting { deadline } => IdleAction { deadline: Some(deadline), wake_dispatchers: false },
        Progress::Complete { up } => {
            channels::share_directory();
            urpc_figures::measure_and_print(record, &up);
            roll_call::finish();
            if !MONITOR_RUNNING.load(Ordering::Relaxed) {
                power::off(record); // nobody at EL0 to end the run
            }
            // The monitor waits for the roll call to end: let it carry on.
            IdleAction { deadline: None, wake_dispatchers: true }
        }
    }
}
