//! Scheduling this core's dispatchers: round robin with time slices from the generic timer,
//! sleeping in `WFI` while none can run, and stopping one that faults. The decisions (who runs
//! next, when the timer fires, what `wait` and a wake-up do) are `cpu_driver::run_queue`'s,
//! portable and host-tested; this module adds the registers, address spaces and the timer.
//!
//! Every exception from EL0 arrives (through [`crate::entry`]) with the dispatcher's registers
//! in a `TrapFrame` at the top of the kernel stack; [`Scheduler::resume`] may swap that frame
//! for another dispatcher's before the vector code restores it, which is all a context switch
//! is. What the rest of the kernel does when the core is idle, or once every boot dispatcher
//! has settled, it passes in as hooks ([`Hooks`]), so this module never calls upward. Uses
//! [`crate::dispatchers`], [`crate::interrupts`], [`crate::irqs`] and [`crate::console`].

use cpu_driver::arch::aarch64::exception::{exception_class, TrapFrame};
use cpu_driver::arch::aarch64::fp;
use cpu_driver::arch::aarch64::user::{enter_user, install_address_space};
use cpu_driver::arch::aarch64::{cpu, timer};
use cpu_driver::boot_record::BootRecord;
use cpu_driver::run_queue;
use spin::Mutex;

use crate::console::{self, kprintln};
use crate::dispatchers::{Dispatcher, Dispatchers, Ending};
use crate::{interrupts, irqs, power};

/// Length of a time slice when several dispatchers are runnable.
const SLICE_MICROSECONDS: u64 = 10_000;

/// What the idle hook asks of the scheduler.
#[derive(Clone, Copy, Debug, Default)]
pub struct IdleAction {
    /// Wake up at this counter value at the latest.
    pub deadline: Option<u64>,
    /// Wake every waiting dispatcher (something they wait for happened in the kernel).
    pub wake_dispatchers: bool,
}

/// What the scheduler calls back, given this core's boot record.
#[derive(Clone, Copy)]
pub struct Hooks {
    /// Called once, when every dispatcher started at boot has settled: it has slept in `wait`
    /// once (it finished starting up) or it has ended.
    pub ready: fn(&'static BootRecord),
    /// Called when no dispatcher can run, before the core sleeps.
    pub idle: fn(&'static BootRecord) -> IdleAction,
}

/// This core's dispatchers and which of them runs.
pub struct Scheduler {
    record: &'static BootRecord,
    dispatchers: Dispatchers,
    current: Option<usize>,
    hooks: Hooks,
    /// Whether the ready hook ran.
    announced: bool,
    /// Counter value at which the running dispatcher's slice ends, fixed when it was switched
    /// in (see [`run_queue::timer_deadline`] for why a trap never moves it).
    slice_end: u64,
}

/// The scheduler of this core (a per-core static, like every static of the CPU driver), once
/// [`Scheduler::run`] has handed it the core.
static SCHEDULER: Mutex<Option<Scheduler>> = Mutex::new(None);

/// Runs `f` on this core's scheduler; `None` before [`Scheduler::run`].
pub fn with<R>(f: impl FnOnce(&mut Scheduler) -> R) -> Option<R> {
    SCHEDULER.lock().as_mut().map(f)
}

impl Scheduler {
    /// A scheduler over `dispatchers`, none of which has run yet.
    pub fn new(record: &'static BootRecord, dispatchers: Dispatchers, hooks: Hooks) -> Self {
        fp::enable();
        Scheduler { record, dispatchers, current: None, hooks, announced: false, slice_end: 0 }
    }

    /// Hands the core to the dispatchers for good.
    pub fn run(self) -> ! {
        let mut guard = SCHEDULER.lock();
        let scheduler = guard.insert(self);
        let mut frame = TrapFrame::default();
        scheduler.switch_to_next(&mut frame);
        let frame_slot =
            (scheduler.record.stack_top_va as usize - core::mem::size_of::<TrapFrame>()) as *mut TrapFrame;
        // SAFETY: the slot is the top of this core's kernel stack, which nothing else uses
        // from here on (this function never returns, so its own frame is abandoned below).
        unsafe { frame_slot.write(frame) };
        drop(guard);
        // SAFETY: the frame holds a runnable dispatcher's EL0 context and its address space was
        // installed by `switch_to_next`.
        unsafe { enter_user(frame_slot) }
    }

    /// This core's boot record.
    pub fn record(&self) -> &'static BootRecord {
        self.record
    }

    /// Every dispatcher of this core.
    pub fn dispatchers(&mut self) -> &mut Dispatchers {
        &mut self.dispatchers
    }

    /// The index of the dispatcher that trapped (the caller of a system call).
    pub fn current(&self) -> Option<usize> {
        self.current
    }

    /// The dispatcher that trapped.
    pub fn current_mut(&mut self) -> Option<&mut Dispatcher> {
        self.current.and_then(|c| self.dispatchers.get_mut(c))
    }

    /// After an exception from EL0 was handled: runs the next dispatcher if `switch`, else
    /// lets the current one go on to the end of its slice.
    pub fn resume(&mut self, frame: &mut TrapFrame, switch: bool) {
        if switch {
            self.switch_to_next(frame);
        } else {
            self.arm_timer();
        }
    }

    /// An interrupt from EL0: acknowledges it, delivers a wake-up, expires deadlines; returns
    /// whether the slice ended (the timer fired), so the next dispatcher should have a go.
    pub fn take_interrupts(&mut self) -> bool {
        console::drain();
        let pending = interrupts::drain();
        if pending & (1 << interrupts::WAKE_INTID) != 0 {
            self.dispatchers.wake_all();
        }
        irqs::deliver(&mut self.dispatchers);
        self.dispatchers.expire_deadlines(cpu::counter());
        pending & (1 << interrupts::TIMER_INTID) != 0
    }

    /// The current dispatcher faulted (vector `kind`): it ends, reported; the core goes on.
    pub fn stop_current(&mut self, frame: &TrapFrame, kind: u64) {
        let core = self.record.core_index;
        if let Some(current) = self.current {
            self.dispatchers.end(current, Ending::Faulted { esr: frame.esr, far: frame.far });
        }
        if let Some(d) = self.current_mut() {
            kprintln!(
                "core {core}: dispatcher {} stopped: {} at pc={:#x} far={:#x} (esr={:#x}, vector {kind}); the core goes on",
                d.name,
                exception_class(frame.esr),
                frame.elr,
                frame.far,
                frame.esr
            );
        }
        self.end_run_if_monitor_ended();
        self.settle_current();
    }

    /// The boot core's monitor coordinates the run and is the one to end it; if it ended
    /// itself (exit or fault) before the roll call was over, nothing else would, so the run
    /// ends here, as failed; after it, the other cores' monitors notice and carry the run on.
    /// Call it once the current dispatcher ended.
    pub fn end_run_if_monitor_ended(&mut self) {
        let record = self.record;
        if record.is_boot_core() && self.current_mut().is_some_and(|d| d.name == "monitor") {
            if crate::roll_call::others_carry_on() {
                kprintln!(
                    "core {}: the boot core's monitor ended; the other cores carry the run on",
                    record.core_index
                );
                return;
            }
            kprintln!(
                "core {}: the boot core's monitor ended: the run cannot go on; ending it as failed",
                record.core_index
            );
            power::fail(record);
        }
    }

    /// Marks the current dispatcher settled and runs the ready hook once all are.
    pub fn settle_current(&mut self) {
        if let Some(d) = self.current_mut() {
            d.run.settled = true;
        }
        if !self.announced && self.dispatchers.all_settled() {
            self.announced = true;
            (self.hooks.ready)(self.record);
        }
    }

    fn counter_ticks(&self, microseconds: u64) -> u64 {
        cpu::counter_frequency() * microseconds / 1_000_000
    }

    /// Saves the running dispatcher from `frame`, picks the next runnable one (sleeping while
    /// there is none) and loads it into `frame`.
    fn switch_to_next(&mut self, frame: &mut TrapFrame) {
        if let Some(dispatcher) = self.current_mut() {
            dispatcher.frame = *frame;
            fp::save(&mut dispatcher.fp);
        }
        let next = loop {
            self.dispatchers.expire_deadlines(cpu::counter());
            let dispatchers = &self.dispatchers;
            let runnable = |i| dispatchers.get(i).is_some_and(|d| d.run.runnable());
            if let Some(next) = run_queue::next_runnable(dispatchers.len(), self.current, runnable) {
                break next;
            }
            self.idle();
        };
        self.current = Some(next);
        let Some(dispatcher) = self.dispatchers.get(next) else { unreachable!("found above") };
        *frame = dispatcher.frame;
        fp::restore(&dispatcher.fp);
        install_address_space(dispatcher.space.tables.pa, dispatcher.space.asid);
        self.slice_end = run_queue::slice_end(cpu::counter(), self.counter_ticks(SLICE_MICROSECONDS));
        self.arm_timer();
    }

    /// Nothing can run: sleep until a wake-up or the earliest deadline.
    fn idle(&mut self) {
        let action = (self.hooks.idle)(self.record);
        if action.wake_dispatchers {
            self.dispatchers.wake_all();
            return;
        }
        console::drain();
        let deadline = self
            .dispatchers
            .earliest_deadline()
            .into_iter()
            .chain(action.deadline)
            .chain(console::drain_deadline())
            .min();
        let wakeup = interrupts::sleep_until(deadline);
        if wakeup.woken {
            self.dispatchers.wake_all();
        }
        irqs::deliver(&mut self.dispatchers);
    }

    /// Programs the timer for the end of the slice (if another dispatcher is waiting to run)
    /// or the earliest wait deadline, whichever comes first.
    fn arm_timer(&self) {
        let earliest =
            self.dispatchers.earliest_deadline().into_iter().chain(console::drain_deadline()).min();
        match run_queue::timer_deadline(self.slice_end, self.dispatchers.runnable(), earliest) {
            Some(deadline) => timer::arm_deadline(deadline),
            None => timer::disarm(),
        }
    }
}
