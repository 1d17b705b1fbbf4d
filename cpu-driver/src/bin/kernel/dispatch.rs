//! Dispatchers (EL0 programs) on this core: a round-robin scheduler with time slices from the
//! generic timer, the system calls, and stopping a dispatcher that faults.
//!
//! Every exception from EL0 arrives here with the dispatcher's registers in a `TrapFrame` at
//! the top of the kernel stack. The scheduler may swap that frame for another dispatcher's
//! before the vector code restores it, which is all a context switch is.

extern crate alloc;

use alloc::collections::VecDeque;
use alloc::string::String;
use alloc::vec::Vec;

use cpu_driver::arch::aarch64::exception::{class_of, exception_class, TrapFrame, EC_SVC64};
use cpu_driver::arch::aarch64::fp::{self, FpState};
use cpu_driver::arch::aarch64::user::{enter_user, install_address_space, user_readable};
use cpu_driver::arch::aarch64::{cpu, timer};
use cpu_driver::boot_record::BootRecord;
use cpu_driver::frames::{FramePool, Frames};
use cpu_driver::intercore::{SharedLayout, APP_REGION_BYTES, CHANNEL_BYTES};
use cpu_driver::layout::{PAGE_SIZE, USER_DTB_BASE, USER_FRAMES_BASE, USER_LIMIT, USER_MIN};
use cpu_driver::paging::Attributes;
use spin::Mutex;
use syscall_abi::{Call, ChannelKind, Error, Info};

use crate::console::kprintln;
use crate::interrupts;
use crate::loader::{self, AddressSpace};

/// Length of a time slice when several dispatchers are runnable.
const SLICE_MICROSECONDS: u64 = 10_000;
/// Longest console write accepted in one call.
const MAX_CONSOLE_WRITE: u64 = 256;

/// Where a dispatcher stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// May run.
    Runnable,
    /// Sleeping in `wait` until woken or the deadline (counter ticks), if any.
    Waiting { deadline: Option<u64> },
    /// Exited or stopped; never runs again.
    Ended,
}

/// One EL0 program instance on this core.
struct Dispatcher {
    name: String,
    frame: TrapFrame,
    fp: FpState,
    space: AddressSpace,
    state: State,
    /// A wake-up arrived while it was not waiting; its next `wait` returns at once.
    wake_pending: bool,
    /// Cores whose application channel its monitor granted it.
    grants: Vec<u64>,
    /// Same-core messages for it: (sender index, words).
    inbox: VecDeque<(u64, [u64; 3])>,
}

/// Called once, when every dispatcher started at boot has settled: it has slept in `wait`
/// once (it finished starting up) or it has ended.
pub type ReadyHook = fn();
/// What the idle hook asks of the scheduler.
#[derive(Clone, Copy, Debug, Default)]
pub struct IdleAction {
    /// Wake up at this counter value at the latest.
    pub deadline: Option<u64>,
    /// Wake every waiting dispatcher (something they wait for happened in the kernel).
    pub wake_dispatchers: bool,
}

/// Called when no dispatcher can run.
pub type IdleHook = fn() -> IdleAction;

/// Most same-core messages queued for one dispatcher.
const INBOX_CAPACITY: usize = 32;
/// Where `map_channel` puts a monitor channel: one 64 KiB slot per peer core.
const MONITOR_CHANNELS_VA: u64 = USER_FRAMES_BASE;
/// Where `map_channel` puts an application region: one 64 KiB slot per peer core.
const APP_CHANNELS_VA: u64 = USER_FRAMES_BASE + 0x1000_0000;

/// This core's dispatchers.
pub struct Scheduler {
    record: &'static BootRecord,
    dispatchers: Vec<Dispatcher>,
    current: Option<usize>,
    frames: FramePool,
    next_asid: u16,
    ready_hook: ReadyHook,
    idle_hook: IdleHook,
    /// Per dispatcher: has it waited once or ended?
    settled: Vec<bool>,
    /// Whether the ready hook ran.
    announced: bool,
}

/// The scheduler of this core (a per-core static, like every static of the CPU driver).
static SCHEDULER: Mutex<Option<Scheduler>> = Mutex::new(None);

impl Scheduler {
    /// A scheduler with no dispatchers yet.
    pub fn new(record: &'static BootRecord, ready_hook: ReadyHook, idle_hook: IdleHook) -> Self {
        fp::enable();
        Scheduler {
            record,
            dispatchers: Vec::new(),
            current: None,
            frames: FramePool::new(record.frames_pa, record.frames_va, record.frames_size),
            next_asid: 1,
            ready_hook,
            idle_hook,
            settled: Vec::new(),
            announced: false,
        }
    }

    /// Loads the program `name` from the boot image and makes it runnable.
    pub fn spawn(&mut self, name: &str) -> Result<(), String> {
        let elf = crate::image::program(self.record, name)
            .ok_or_else(|| alloc::format!("no program {name} in the boot image"))?;
        let asid = self.next_asid;
        let loaded = loader::load(&mut self.frames, elf, asid).map_err(|e| alloc::format!("{name}: {e}"))?;
        self.next_asid = self.next_asid.checked_add(1).ok_or("out of address space identifiers")?;
        let frame =
            TrapFrame { elr: loaded.entry, spsr: 0, sp_el0: loaded.stack_top, ..TrapFrame::default() };
        self.dispatchers.push(Dispatcher {
            name: name.into(),
            frame,
            fp: FpState::new(),
            space: loaded.space,
            state: State::Runnable,
            wake_pending: false,
            grants: Vec::new(),
            inbox: VecDeque::new(),
        });
        self.settled.push(false);
        Ok(())
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

    fn counter_ticks(&self, microseconds: u64) -> u64 {
        cpu::counter_frequency() * microseconds / 1_000_000
    }

    /// Saves the running dispatcher from `frame`, picks the next runnable one (sleeping while
    /// there is none) and loads it into `frame`.
    fn switch_to_next(&mut self, frame: &mut TrapFrame) {
        if let Some(current) = self.current {
            let dispatcher = &mut self.dispatchers[current];
            dispatcher.frame = *frame;
            fp::save(&mut dispatcher.fp);
        }
        let next = loop {
            self.expire_deadlines();
            let start = self.current.map_or(0, |c| c + 1);
            let count = self.dispatchers.len();
            let found = (0..count)
                .map(|i| (start + i) % count.max(1))
                .find(|&i| self.dispatchers.get(i).is_some_and(|d| d.state == State::Runnable));
            if let Some(next) = found {
                break next;
            }
            self.idle();
        };
        self.current = Some(next);
        let dispatcher = &self.dispatchers[next];
        *frame = dispatcher.frame;
        fp::restore(&dispatcher.fp);
        install_address_space(dispatcher.space.tables.pa, dispatcher.space.asid);
        self.arm_timer();
    }

    /// Nothing can run: sleep until a wake-up or the earliest deadline.
    fn idle(&mut self) {
        let action = (self.idle_hook)();
        if action.wake_dispatchers {
            self.deliver_wake();
            return;
        }
        let deadline = self.earliest_deadline().into_iter().chain(action.deadline).min();
        let wakeup = interrupts::sleep_until(deadline);
        if wakeup.woken {
            self.deliver_wake();
        }
    }

    fn earliest_deadline(&self) -> Option<u64> {
        self.dispatchers
            .iter()
            .filter_map(|d| match d.state {
                State::Waiting { deadline } => deadline,
                _ => None,
            })
            .min()
    }

    fn expire_deadlines(&mut self) {
        let now = cpu::counter();
        for d in &mut self.dispatchers {
            if let State::Waiting { deadline: Some(deadline) } = d.state {
                if now >= deadline {
                    d.state = State::Runnable;
                    d.frame.x[0] = 0;
                }
            }
        }
    }

    /// Another core (or this one) sent the wake SGI: every waiting dispatcher runs again.
    fn deliver_wake(&mut self) {
        for d in &mut self.dispatchers {
            match d.state {
                State::Waiting { .. } => {
                    d.state = State::Runnable;
                    d.frame.x[0] = 1;
                }
                State::Runnable => d.wake_pending = true,
                State::Ended => {}
            }
        }
    }

    /// Programs the timer for the end of the slice (if another dispatcher is waiting to run)
    /// or the earliest wait deadline, whichever comes first.
    fn arm_timer(&self) {
        let runnable = self.dispatchers.iter().filter(|d| d.state == State::Runnable).count();
        let slice_end = (runnable > 1).then(|| cpu::counter() + self.counter_ticks(SLICE_MICROSECONDS));
        match slice_end.into_iter().chain(self.earliest_deadline()).min() {
            Some(deadline) => timer::arm_deadline(deadline),
            None => timer::disarm(),
        }
    }

    fn current_mut(&mut self) -> Option<&mut Dispatcher> {
        self.current.and_then(|c| self.dispatchers.get_mut(c))
    }

    /// An exception from EL0 (`kind` is the vector index, 8 to 11).
    fn handle(&mut self, kind: u64, frame: &mut TrapFrame) {
        let switch = match kind {
            8 if class_of(frame.esr) == EC_SVC64 => self.syscall(frame),
            9 => {
                let pending = interrupts::drain();
                if pending & (1 << interrupts::WAKE_INTID) != 0 {
                    self.deliver_wake();
                }
                self.expire_deadlines();
                // A timer interrupt ends the slice; let the next dispatcher have a go.
                pending & (1 << interrupts::TIMER_INTID) != 0
            }
            _ => {
                self.stop_current(frame, kind);
                true
            }
        };
        if switch {
            self.switch_to_next(frame);
        } else {
            self.arm_timer();
        }
    }

    /// Marks the current dispatcher settled and runs the ready hook once all are.
    fn settle_current(&mut self) {
        if let Some(current) = self.current {
            self.settled[current] = true;
        }
        if !self.announced && self.settled.iter().all(|&s| s) {
            self.announced = true;
            (self.ready_hook)();
        }
    }

    fn stop_current(&mut self, frame: &TrapFrame, kind: u64) {
        let core = self.record.core_index;
        if let Some(d) = self.current_mut() {
            d.state = State::Ended;
            kprintln!(
                "core {core}: dispatcher {} stopped: {} at pc={:#x} far={:#x} (esr={:#x}, vector {kind}); the core goes on",
                d.name,
                exception_class(frame.esr),
                frame.elr,
                frame.far,
                frame.esr
            );
        }
        self.settle_current();
    }

    /// Runs a system call; returns whether the scheduler should switch dispatchers.
    fn syscall(&mut self, frame: &mut TrapFrame) -> bool {
        let args = [frame.x[0], frame.x[1], frame.x[2], frame.x[3]];
        let result = match Call::from_raw(frame.x[8]) {
            Some(Call::Exit) => {
                if let Some(d) = self.current_mut() {
                    d.state = State::Ended;
                    if args[0] != 0 {
                        let name = d.name.clone();
                        kprintln!(
                            "core {}: dispatcher {name} exited with code {}",
                            self.record.core_index,
                            args[0]
                        );
                    }
                }
                self.settle_current();
                return true;
            }
            Some(Call::Yield) => {
                frame.x[0] = 0;
                return true;
            }
            Some(Call::ConsoleWrite) => self.console_write(args[0], args[1]),
            Some(Call::Info) => self.info(args[0], args[1]),
            Some(Call::Wait) => return self.wait(frame, args[0]),
            Some(Call::Notify) => crate::roll_call::notify_core(args[0]).map(|()| 0),
            Some(Call::MapChannel) => self.map_channel(args[0], args[1]),
            Some(Call::Grant) => self.grant(args[0], args[1]),
            Some(Call::SendLocal) => return self.send_local(frame, args),
            Some(Call::RecvLocal) => self.recv_local(frame),
            Some(Call::PowerOff) => self.power_off(),
            Some(Call::MapDeviceTree) => self.map_device_tree(),
            Some(Call::MapFrame) => self.map_frame(args[0]),
            None => Err(Error::NoSuchCall),
        };
        frame.x[0] = match result {
            Ok(value) => value,
            Err(error) => error.to_return(),
        };
        false
    }

    fn console_write(&self, ptr: u64, len: u64) -> Result<u64, Error> {
        if len > MAX_CONSOLE_WRITE {
            return Err(Error::InvalidArgument);
        }
        let end = ptr.checked_add(len).ok_or(Error::BadAddress)?;
        if ptr < USER_MIN || end > USER_LIMIT {
            return Err(Error::BadAddress);
        }
        let mut page = ptr & !(PAGE_SIZE - 1);
        while page < end {
            if !user_readable(page) {
                return Err(Error::BadAddress);
            }
            page += PAGE_SIZE;
        }
        let mut buffer = [0u8; MAX_CONSOLE_WRITE as usize];
        // SAFETY: every page of [ptr, end) is mapped readable for EL0 in the installed address
        // space (checked above with the MMU itself), and EL1 may read what EL0 may read.
        unsafe { core::ptr::copy_nonoverlapping(ptr as *const u8, buffer.as_mut_ptr(), len as usize) };
        let text = String::from_utf8_lossy(&buffer[..len as usize]);
        kprintln!("{}", text.trim_end_matches('\n'));
        Ok(len)
    }

    fn info(&self, what: u64, arg: u64) -> Result<u64, Error> {
        Ok(match Info::from_raw(what).ok_or(Error::NoSuchCall)? {
            Info::CoreIndex => self.record.core_index,
            Info::CoreCount => self.record.core_count,
            Info::ExceptionLevel => 0,
            Info::CounterFrequency => cpu::counter_frequency(),
            Info::Build => self.record.build,
            Info::BootCore => self.record.boot_core_index,
            Info::RollCallDone => u64::from(crate::roll_call::is_done()),
            Info::CoreOnline => u64::from(crate::channels::wake_target(arg).is_some()),
            Info::DispatcherIndex => self.current.map_or(0, |c| c as u64),
            Info::Flags => self.record.flags,
        })
    }

    /// Whether the caller is this core's monitor (the first dispatcher).
    fn caller_is_monitor(&self) -> bool {
        self.current == Some(0)
    }

    fn map_channel(&mut self, peer: u64, kind: u64) -> Result<u64, Error> {
        let core = self.record.core_index;
        let layout = SharedLayout::new(self.record.core_count);
        let (offset, bytes, va) = match ChannelKind::from_raw(kind).ok_or(Error::InvalidArgument)? {
            ChannelKind::Monitor => {
                if !self.caller_is_monitor() {
                    return Err(Error::Denied);
                }
                let (offset, _) = layout.monitor_channel(core, peer).ok_or(Error::InvalidArgument)?;
                (offset, CHANNEL_BYTES, MONITOR_CHANNELS_VA + peer * 0x1_0000)
            }
            ChannelKind::Application => {
                let granted = self.current_mut().is_some_and(|d| d.grants.contains(&peer));
                if !granted {
                    return Err(Error::Denied);
                }
                let (offset, _) = layout.app_region(core, peer).ok_or(Error::InvalidArgument)?;
                (offset, APP_REGION_BYTES, APP_CHANNELS_VA + peer * 0x1_0000)
            }
        };
        let frames = Frames { pa: self.record.shared_pa + offset, va: 0, count: bytes / PAGE_SIZE };
        let dispatcher = self.current_mut().ok_or(Error::InvalidArgument)?;
        // Mapping the same frames again at the same place is allowed and changes nothing.
        dispatcher.space.map(va, &frames, Attributes::UserData).map_err(|_| Error::InvalidArgument)?;
        Ok(va)
    }

    fn map_frame(&mut self, va: u64) -> Result<u64, Error> {
        if !va.is_multiple_of(PAGE_SIZE) || !(USER_MIN..USER_FRAMES_BASE).contains(&va) {
            return Err(Error::BadAddress);
        }
        if user_readable(va) {
            return Err(Error::InvalidArgument); // something is mapped there already
        }
        let frames = self.frames.take(1).ok_or(Error::WouldBlock)?;
        // SAFETY: a fresh frame from this core's pool, mapped nowhere else yet.
        unsafe { crate::memory::bytes(&frames) }.fill(0);
        let dispatcher = self.current_mut().ok_or(Error::InvalidArgument)?;
        dispatcher.space.map(va, &frames, Attributes::UserData).map_err(|_| Error::InvalidArgument)?;
        Ok(va)
    }

    fn map_device_tree(&mut self) -> Result<u64, Error> {
        if !self.caller_is_monitor() {
            return Err(Error::Denied);
        }
        let start = self.record.dtb_pa & !(PAGE_SIZE - 1);
        let end = (self.record.dtb_pa + self.record.dtb_size).div_ceil(PAGE_SIZE) * PAGE_SIZE;
        let frames = Frames { pa: start, va: 0, count: (end - start) / PAGE_SIZE };
        let dispatcher = self.current_mut().ok_or(Error::InvalidArgument)?;
        dispatcher
            .space
            .map(USER_DTB_BASE, &frames, Attributes::UserReadOnly)
            .map_err(|_| Error::InvalidArgument)?;
        Ok(USER_DTB_BASE + (self.record.dtb_pa - start))
    }

    fn grant(&mut self, peer: u64, dispatcher: u64) -> Result<u64, Error> {
        if !self.caller_is_monitor() {
            return Err(Error::Denied);
        }
        if peer >= self.record.core_count || peer == self.record.core_index {
            return Err(Error::InvalidArgument);
        }
        let target = self.dispatchers.get_mut(dispatcher as usize).ok_or(Error::InvalidArgument)?;
        if !target.grants.contains(&peer) {
            target.grants.push(peer);
        }
        Ok(0)
    }

    fn send_local(&mut self, frame: &mut TrapFrame, args: [u64; 4]) -> bool {
        let sender = self.current.map_or(0, |c| c as u64);
        let result = match self.dispatchers.get_mut(args[0] as usize) {
            Some(target) if target.state != State::Ended => {
                if target.inbox.len() >= INBOX_CAPACITY {
                    Err(Error::WouldBlock)
                } else {
                    target.inbox.push_back((sender, [args[1], args[2], args[3]]));
                    if let State::Waiting { .. } = target.state {
                        target.state = State::Runnable;
                        target.frame.x[0] = 1;
                    } else {
                        target.wake_pending = true;
                    }
                    Ok(0)
                }
            }
            _ => Err(Error::InvalidArgument),
        };
        frame.x[0] = match result {
            Ok(value) => value,
            Err(error) => error.to_return(),
        };
        false
    }

    fn recv_local(&mut self, frame: &mut TrapFrame) -> Result<u64, Error> {
        let dispatcher = self.current_mut().ok_or(Error::InvalidArgument)?;
        let (sender, words) = dispatcher.inbox.pop_front().ok_or(Error::WouldBlock)?;
        frame.x[1..4].copy_from_slice(&words);
        Ok(sender)
    }

    fn power_off(&self) -> Result<u64, Error> {
        if !self.caller_is_monitor() || !self.record.is_boot_core() {
            return Err(Error::Denied);
        }
        crate::roll_call::power_off();
        Err(Error::NoSuchCall) // no PSCI on this machine (e.g. a Raspberry Pi without TF-A)
    }

    fn wait(&mut self, frame: &mut TrapFrame, timeout: u64) -> bool {
        let deadline = (timeout != 0).then(|| cpu::counter().saturating_add(timeout));
        self.settle_current();
        let Some(current) = self.current else { return false };
        let d = &mut self.dispatchers[current];
        if d.wake_pending {
            d.wake_pending = false;
            frame.x[0] = 1;
            return false;
        }
        d.state = State::Waiting { deadline };
        frame.x[0] = 0;
        true
    }
}

/// Entry from the vectors for every exception taken from EL0.
pub fn handle_from_el0(kind: u64, frame: &mut TrapFrame) {
    let mut guard = SCHEDULER.lock();
    match guard.as_mut() {
        Some(scheduler) => scheduler.handle(kind, frame),
        None => {
            drop(guard);
            kprintln!("core mpidr={:#x}: exception from EL0 with no dispatcher; core stopped", cpu::mpidr());
            crate::entry::halt();
        }
    }
}
