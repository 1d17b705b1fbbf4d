//! The boot core's monitor as host of the serial console's shell (`shell` on the kernel
//! command line, `scripts/run shell`): it spawns the console driver (`console`), started with
//! the console UART's description from the device tree (`console::choose::Uart`: which driver,
//! where), gives it the UART's IRQ and device Frame capabilities the kernel made for it, and
//! spawns the shell (`shell`). The words between them are the typed same-core messages of
//! `local_protocol::shell`, decoded once with the rest of `ToMonitor` (`Monitor::on_local`),
//! a malformed one refused by name. The driver's bytes (`Input`) come here and go on to the
//! shell; the shell's commands (`Ask`, or a spawn's `SpawnOn` and `SpawnName`, paired by
//! `local_protocol::shell::Assembler`, a half-sent spawn refused) are answered on the console
//! (whole lines: the kernel's per-core console rings keep them from interleaving with other
//! cores' lines) and end with `Done` to the shell. `halt` powers the machine off. The
//! commands' text comes from `monitor::shell_answers`.
//!
//! Commands about other cores go to their monitors as [`ShellAsk`] messages; each asked
//! monitor prints its part itself and answers [`ShellDone`], and the host asks the next core
//! only then, so the parts come out in core order. `ping a b` is timed by core `a`'s monitor
//! ([`ShellPing`] / [`ShellPong`] over the monitor channel to `b`). Every wait is bounded and
//! Ctrl-C (`Interrupt`) ends it early.
//!
//! The programs a monitor launches for the shell live in a CNode of their own (root slot
//! [`LAUNCH_CNODE`]), four slots each: RAM, Dispatcher, Endpoint to the program, and one spare.

use alloc::string::String;
use alloc::vec::Vec;

use console::choose::Uart;
use local_protocol::shell::{self as words, Command, Part, Placement, ProgramName, Request, Session, Step};
use local_protocol::{ToMonitor, SERVICE_LATENCY};
use monitor::messages::{shell_op, MonitorMessage, ShellAsk, ShellDone, ShellPing, ShellPong};
use monitor::shell_answers;
use monitor::stats::{percentile, ticks_to_ns};
use urpc::message::DecodeError;
use userland::{cap_type, println, SLOT_CONSOLE_DEVICE, SLOT_CONSOLE_IRQ, SLOT_MONITOR, SLOT_SELF};

use crate::Monitor;

/// Root slot of the CNode holding what the monitor keeps for each program it launched for the
/// shell (1 and 2 are `kernel_caps`' protocol and program CNodes).
const LAUNCH_CNODE: u16 = 5;
/// Slots of that CNode per program, and programs it holds.
const SLOTS_PER_PROGRAM: u32 = 4;
const MAX_LAUNCHED: u32 = userland::CNODE_SLOTS / SLOTS_PER_PROGRAM;
/// How long the host waits for another core's monitor to answer a [`ShellAsk`] (a `ping` of
/// many round trips takes longer: [`PING_SECONDS_PER_THOUSAND`] more per thousand).
const ASK_SECONDS: u64 = 10;
const PING_SECONDS_PER_THOUSAND: u64 = 5;
/// How long one `ping` round trip may take before the ping gives up.
const PONG_SECONDS: u64 = 2;
/// How long an interrupted monitor has to stop and answer.
const INTERRUPT_SECONDS: u64 = 2;
/// How long `halt` waits for the console driver's counts.
const STATS_SECONDS: u64 = 2;
/// How long a `latency` program launched for `bench latency` has to register.
const REGISTER_SECONDS: u64 = 5;

/// A program launched here: its dispatcher index, name and first slot.
#[derive(Clone, Debug)]
pub(crate) struct Launched {
    pub dispatcher: u64,
    pub name: String,
    pub base: u32,
}

/// What a monitor keeps for the shell: on the host (the boot core, with `shell` on the command
/// line) the console driver and the shell; on every core the programs launched for it and the
/// answers awaited.
#[derive(Default)]
pub(crate) struct ShellHost {
    /// The console driver's and the shell's dispatcher indices (host only).
    console: Option<u64>,
    shell: Option<u64>,
    /// The programs launched for the shell here (on the host the driver and the shell first).
    launched: Vec<Launched>,
    /// Launch slots used so far (never reused: a slot of an ended program may still hold
    /// its RAM until it is deleted).
    next: u32,
    /// The [`ShellDone`] awaited: from which core, and its status once it came.
    awaited: Option<(u64, Option<u32>)>,
    /// The [`ShellPong`] awaited (its sequence number) and whether it came.
    pong: Option<(u32, bool)>,
    /// Ctrl-C arrived while a command ran (here, or forwarded from the host).
    interrupted: bool,
    /// The console driver printed its counts.
    stats_done: bool,
    /// The shell's commands (host only): a spawn's two messages paired, whether a command
    /// runs, so which message gets `Done`.
    session: Session,
}

impl ShellHost {
    /// Whether Ctrl-C ended the command in progress.
    pub(crate) fn interrupted(&self) -> bool {
        self.interrupted
    }
}

/// Whether the kernel command line asks for the shell.
pub(crate) fn wanted(bootargs: &str) -> bool {
    bootargs.split_ascii_whitespace().any(|word| word == "shell")
}

impl Monitor {
    /// Starts boot module `name` on this core for a program that asked ([`local_protocol::Start`]),
    /// as the shell's `spawn` does: its dispatcher index, or why not.
    pub(crate) fn start_program(&mut self, name: &str, argument: u64) -> Result<u64, String> {
        let mut host = core::mem::take(&mut self.shell);
        let result = self.launch(&mut host, name, argument);
        self.shell = host;
        result.map(|launched| launched.dispatcher)
    }

    /// Where this monitor keeps the Dispatcher capability of a program it launched.
    pub(crate) fn launched_dispatcher_slot(&self, dispatcher: u64) -> Option<u32> {
        self.shell.launched.iter().find(|l| l.dispatcher == dispatcher).map(|l| l.base + 1)
    }
}

impl Monitor {
    /// Starts the console driver and the shell, if the command line asks for them (boot core);
    /// true if the shell runs (the monitor then keeps the machine on until `halt`).
    pub(crate) fn start_shell(&mut self) -> bool {
        let bootargs = self.skb.as_ref().and_then(|s| s.bootargs.as_deref()).unwrap_or("");
        if self.core != self.coordinator || !wanted(bootargs) {
            return false;
        }
        let mut host = core::mem::take(&mut self.shell);
        let uart = self.skb.as_ref().and_then(|skb| skb.console.as_ref()).map(|uart| {
            let compatibles: Vec<&str> = uart.compatibles.iter().map(String::as_str).collect();
            (
                uart.path.clone(),
                Uart::from_device_tree(&compatibles, uart.base, uart.reg_shift, uart.reg_io_width),
            )
        });
        let launched = match uart {
            Some((_, Ok(uart))) => self.launch(&mut host, "console", uart.to_argument()),
            Some((path, Err(refusal))) => Err(alloc::format!("no driver for the UART {path} ({refusal:?})")),
            None => Err(String::from("the device tree names no console UART")),
        };
        match launched {
            Ok(driver) => {
                let given = [
                    (SLOT_CONSOLE_IRQ, shell::DRIVER_IRQ_SLOT),
                    (SLOT_CONSOLE_DEVICE, shell::DRIVER_DEVICE_SLOT),
                ]
                .into_iter()
                .try_for_each(|(mine, its)| userland::cap_give(driver.base + 1, mine, its));
                match given {
                    Ok(()) => host.console = Some(driver.dispatcher),
                    Err(e) => println!(
                        "monitor {}: the console driver gets no UART capabilities ({e:?}): no input",
                        self.core
                    ),
                }
            }
            Err(e) => println!("monitor {}: cannot start the console driver: {e}", self.core),
        }
        match self.launch(&mut host, "shell", 0) {
            Ok(shell) => host.shell = Some(shell.dispatcher),
            Err(e) => println!("monitor {}: cannot start the shell: {e}", self.core),
        }
        let running = host.shell.is_some();
        self.shell = host;
        running
    }

    /// Spawns boot module `name` on this core, started with `argument`, out of RAM retyped for
    /// it, with Endpoints both ways (as the monitor's own programs: its Endpoint to this monitor at `SLOT_MONITOR`,
    /// badged with its dispatcher index).
    fn launch(&mut self, host: &mut ShellHost, name: &str, argument: u64) -> Result<Launched, String> {
        if host.next >= MAX_LAUNCHED {
            return Err(alloc::format!("no slot left ({MAX_LAUNCHED} programs launched)"));
        }
        // The CNode for launched programs, made on first use.
        let cnode = caps::CapAddr::level1(LAUNCH_CNODE).raw();
        if userland::cap_identify(cnode).is_err()
            && crate::span::retype_free(
                cap_type::CNODE,
                u64::from(userland::CNODE_SLOTS) * caps::SLOT_BYTES,
                cnode,
            )
            .is_none()
        {
            return Err(String::from("no RAM for the launched programs' CNode"));
        }
        let (module, info) =
            userland::find_module(name).ok_or_else(|| alloc::format!("no program '{name}'"))?;
        let base = userland::cap_addr(LAUNCH_CNODE, (host.next * SLOTS_PER_PROGRAM) as u8);
        host.next += 1;
        crate::span::retype_free(cap_type::RAM, info.ram_bytes, base)
            .ok_or_else(|| alloc::format!("no {} KiB of RAM free", info.ram_bytes >> 10))?;
        let dispatcher = userland::spawn(module, base, base + 1, argument).map_err(|e| {
            let _ = userland::cap_delete(base);
            alloc::format!("spawn refused: {e:?}")
        })?;
        let to_me = userland::endpoint_create(SLOT_SELF, dispatcher, crate::ENDPOINT_TO_GIVE_SLOT)
            .and_then(|()| userland::cap_give(base + 1, crate::ENDPOINT_TO_GIVE_SLOT, SLOT_MONITOR));
        let _ = userland::cap_delete(crate::ENDPOINT_TO_GIVE_SLOT);
        to_me
            .and_then(|()| userland::endpoint_create(base + 1, 0, base + 2))
            .map_err(|e| alloc::format!("no endpoints: {e:?}"))?;
        self.children.push((dispatcher, base + 2));
        let launched = Launched { dispatcher, name: String::from(name), base };
        host.launched.push(launched.clone());
        Ok(launched)
    }

    /// A same-core message of the console driver's or the shell's (`local_protocol::shell`).
    pub(crate) fn on_shell_local(&mut self, sender: u64, message: ToMonitor) {
        let (console, shell) = (self.shell.console, self.shell.shell);
        let from_console = console == Some(sender) && shell.is_some();
        let from_shell = shell == Some(sender);
        match message {
            ToMonitor::Input(input) if from_console => {
                if let Some(shell) = shell {
                    if let Err(e) = self.tell_program(shell, &input) {
                        // The shell's inbox is full (it takes its messages whenever it runs,
                        // so only a flood of input does this): say so, never silently.
                        println!("monitor {}: console input lost: the shell takes none ({e:?})", self.core);
                    }
                }
            }
            ToMonitor::StatsDone(_) if from_console => self.shell.stats_done = true,
            ToMonitor::Ask(ask) if from_shell => self.on_shell_part(Part::Ask(ask.request)),
            ToMonitor::SpawnOn(on) if from_shell => self.on_shell_part(Part::SpawnOn(on.placement)),
            ToMonitor::SpawnName(spawn) if from_shell => self.on_shell_part(Part::SpawnName(spawn.name)),
            ToMonitor::Interrupt(_) if from_shell => {
                self.on_shell_part(Part::Other);
                self.shell.interrupted = true;
            }
            _ => println!("monitor {}: shell message from dispatcher {sender} ignored", self.core),
        }
    }

    /// Words from `sender` that decode as no message, refused (`e` names why); false if the
    /// sender is not the shell. Whatever the shell meant, it is not a spawn's missing name;
    /// unless a command runs, it may have been a command's last message, so `Done` answers it
    /// and the shell does not wait for ever.
    pub(crate) fn on_shell_malformed(&mut self, sender: u64, e: DecodeError) -> bool {
        if self.shell.shell != Some(sender) {
            return false;
        }
        let step = self.shell.session.malformed();
        println!("error: the monitor refused the shell's message: {e}");
        self.take_shell_step(step);
        true
    }

    /// One of the shell's messages about commands: runs the command it completes, and answers
    /// `Done` to a command's last message (an `Ask`, a `SpawnName`) whether it ran or not.
    fn on_shell_part(&mut self, part: Part) {
        let step = self.shell.session.message(part);
        self.take_shell_step(step);
    }

    /// Does what the session says a message from the shell gets (`local_protocol::shell::Session`,
    /// host-tested): the refusal of a half-sent spawn, the command, then `Done`.
    fn take_shell_step(&mut self, step: Step) {
        if let Some(half) = step.refused {
            println!("error: {half}");
        }
        if let Some(command) = step.command {
            self.shell.interrupted = false;
            // Commands nest when the shell sends one while another runs (its waits take
            // messages): the outer one still runs after the inner one ends.
            let outer = self.shell.session.start();
            match command {
                Command::Ask(request) => self.run_request(request),
                Command::Spawn(name, placement) => self.run_spawn(name, placement),
            }
            self.shell.session.end(outer);
        }
        if step.answer {
            self.tell_shell_done();
        }
    }

    /// Tells the shell its command's output is printed.
    fn tell_shell_done(&mut self) {
        if let Some(shell) = self.shell.shell {
            if let Err(e) = self.tell_program(shell, &words::Done {}) {
                println!("monitor {}: the shell takes no Done ({e:?})", self.core);
            }
        }
    }

    /// A monitor message of the shell's.
    pub(crate) fn on_shell_message(&mut self, peer: u64, message: MonitorMessage) {
        match message {
            MonitorMessage::ShellAsk(ask) if ask.op == shell_op::INTERRUPT => self.shell.interrupted = true,
            MonitorMessage::ShellAsk(ask) => {
                self.shell.interrupted = false;
                let status = self.do_here(ask.op, ask.a, ask.b);
                self.send(peer, &ShellDone { from: self.core as u32, status });
            }
            MonitorMessage::ShellDone(done) => {
                if let Some((from, answer)) = self.shell.awaited.as_mut() {
                    if *from == peer && u64::from(done.from) == peer {
                        *answer = Some(done.status);
                    }
                }
            }
            MonitorMessage::ShellPing(ping) => self.send(peer, &ShellPong { seq: ping.seq }),
            MonitorMessage::ShellPong(pong) => {
                if let Some((seq, heard)) = self.shell.pong.as_mut() {
                    *heard |= *seq == pong.seq;
                }
            }
            _ => {}
        }
    }

    /// The live cores, lowest first.
    fn live_cores(&self) -> Vec<u64> {
        let live =
            self.membership.as_ref().map_or(self.online, |m| m.live()) & self.online.max(1 << self.core);
        (0..64).filter(|&c| live & (1 << c) != 0).collect()
    }

    /// Has `core`'s monitor do `op` (this monitor itself for its own core) and waits for it to
    /// say it is done; false (said on the console) when it did not answer in time, failed, or
    /// Ctrl-C ended the wait.
    fn ask(&mut self, core: u64, op: u32, a: u64, b: u64, seconds: u64) -> bool {
        if core == self.core {
            return self.do_here(op, a, b) == 0;
        }
        self.shell.awaited = Some((core, None));
        self.send(core, &ShellAsk { op, a, b });
        let answered = self.wait_for(seconds, |m| {
            m.shell.interrupted || m.shell.awaited.is_some_and(|(_, answer)| answer.is_some())
        });
        let status = self.shell.awaited.take().and_then(|(_, answer)| answer);
        if self.shell.interrupted {
            // The asked monitor stops too, says so and answers: wait for that (bounded), so
            // its lines come before the next command's.
            self.send(core, &ShellAsk { op: shell_op::INTERRUPT, a: 0, b: 0 });
            self.shell.awaited = Some((core, None));
            self.wait_for(INTERRUPT_SECONDS, |m| m.shell.awaited.is_some_and(|(_, answer)| answer.is_some()));
            self.shell.awaited = None;
            println!("interrupted");
            return false;
        }
        if !answered {
            println!("error: core {core}'s monitor did not answer within {seconds} s");
        }
        status == Some(0)
    }

    /// This monitor's part of a command ([`shell_op`]); 0 done, 1 failed (said).
    fn do_here(&mut self, op: u32, a: u64, b: u64) -> u32 {
        let ok = match op {
            shell_op::PS => {
                for line in self.ps_here() {
                    println!("{line}");
                }
                true
            }
            shell_op::SPAWN => {
                let Some(name) = ProgramName::from_words([a, b]) else {
                    println!("error: spawn on core {}: the program's name is no name", self.core);
                    return 1;
                };
                let name = name.as_str();
                let mut host = core::mem::take(&mut self.shell);
                let result = self.launch(&mut host, name, 0);
                self.shell = host;
                match result {
                    Ok(program) => {
                        println!(
                            "spawned {name} as {}.{} on core {}",
                            self.core, program.dispatcher, self.core
                        );
                        true
                    }
                    Err(e) => {
                        println!("error: spawn {name} on core {}: {e}", self.core);
                        false
                    }
                }
            }
            shell_op::KILL => self.kill_here(a),
            shell_op::PING => self.ping_from_here(a, b),
            shell_op::CHANNELS => {
                for peer in (0..self.links.len()).filter(|&p| self.links[p].is_some()) {
                    let traffic = self.outbox.traffic(peer);
                    println!(
                        "channel {}-{peer}: sent={} received={} full={} waiting={}",
                        self.core,
                        traffic.sent,
                        traffic.received,
                        traffic.full,
                        self.outbox.pending(peer)
                    );
                }
                true
            }
            shell_op::LATENCY => self.ensure_latency(),
            _ => false,
        };
        u32::from(!ok)
    }

    /// `spawn <name> <placement>`: the core's monitor launches it and says so.
    fn run_spawn(&mut self, name: ProgramName, placement: Placement) {
        match self.placement_core(placement) {
            Ok(core) => {
                let [a, b] = name.words();
                self.ask(core, shell_op::SPAWN, a, b, ASK_SECONDS);
            }
            Err(e) => println!("{e}"),
        }
    }

    /// Runs one command (every one but `spawn`) and prints its answer.
    fn run_request(&mut self, request: Request) {
        let lines = match (request, self.skb.as_ref()) {
            (Request::Cores, Some(skb)) => {
                let live = self.membership.as_ref().map_or(self.online, |m| m.live());
                shell_answers::cores(skb, live)
            }
            (Request::SkbFacts, Some(skb)) => shell_answers::facts(skb),
            (Request::SkbClass(class), Some(skb)) => shell_answers::class(skb, class),
            (Request::SkbTree(root), Some(skb)) => shell_answers::tree(skb, root),
            (Request::SkbLatency(a, b), Some(skb)) => shell_answers::latency(skb, a, b),
            (Request::Cores | Request::SkbFacts | Request::SkbClass(_), None)
            | (Request::SkbTree(_) | Request::SkbLatency(..), None) => {
                alloc::vec![String::from("error: this monitor has no SKB replica")]
            }
            (Request::Halt, _) => {
                if let Some(console) = self.shell.console {
                    if self.tell_program(console, &words::Stats {}).is_ok() {
                        self.wait_for(STATS_SECONDS, |m| m.shell.stats_done);
                    }
                }
                println!("halt: powering off");
                let _ = userland::power_off();
                // No PSCI (a Raspberry Pi on the stock firmware's spin tables): nothing can.
                alloc::vec![String::from("halt: nothing powers this machine off (no PSCI); it stays on")]
            }
            (Request::Ps, _) => {
                println!("id     core  program    state");
                for core in self.live_cores() {
                    if !self.ask(core, shell_op::PS, 0, 0, ASK_SECONDS) && self.shell.interrupted {
                        break;
                    }
                }
                Vec::new()
            }
            (Request::Kill(core, dispatcher), _) => {
                if self.live_cores().contains(&u64::from(core)) {
                    self.ask(core.into(), shell_op::KILL, dispatcher.into(), 0, ASK_SECONDS);
                    Vec::new()
                } else {
                    alloc::vec![alloc::format!("error: core {core} is not online")]
                }
            }
            (Request::Ping(a, b, count), _) => {
                let live = self.live_cores();
                if a == b {
                    alloc::vec![String::from("error: ping needs two different cores")]
                } else if let Some(&core) = [a, b].iter().find(|&&c| !live.contains(&u64::from(c))) {
                    alloc::vec![alloc::format!("error: core {core} is not online")]
                } else {
                    let seconds = ASK_SECONDS + u64::from(count) / 1000 * PING_SECONDS_PER_THOUSAND;
                    self.ask(a.into(), shell_op::PING, b.into(), count.into(), seconds);
                    Vec::new()
                }
            }
            (Request::Channels, _) => {
                for core in self.live_cores() {
                    if !self.ask(core, shell_op::CHANNELS, 0, 0, ASK_SECONDS) && self.shell.interrupted {
                        break;
                    }
                }
                Vec::new()
            }
            (Request::BenchLatency(pairs), _) => {
                let ready = self
                    .live_cores()
                    .into_iter()
                    .all(|core| self.ask(core, shell_op::LATENCY, 0, 0, ASK_SECONDS));
                if ready {
                    self.benchmark(if pairs == 0 { usize::MAX } else { pairs as usize });
                    Vec::new()
                } else {
                    alloc::vec![String::from("error: no latency program on every core: no benchmark")]
                }
            }
            (Request::Hotplug(on, core), _) => {
                let what = if on { "on" } else { "off" };
                match self.hotplug_step(core.into(), on) {
                    Some(0) if on => alloc::vec![alloc::format!("on {core}: core {core} up and rejoined")],
                    Some(0) => alloc::vec![alloc::format!("off {core}: core {core} off")],
                    Some(code) => alloc::vec![alloc::format!(
                        "error: {what} {core} refused: {}",
                        crate::hotplug::Refusal::name_of(code)
                    )],
                    None => alloc::vec![alloc::format!("error: {what} {core}: no outcome in time")],
                }
            }
        };
        for line in lines {
            println!("{line}");
        }
    }

    /// The core a `spawn` goes to: the shell's own, the one named, or the first live core of
    /// the class named.
    fn placement_core(&self, placement: Placement) -> Result<u64, String> {
        let live = self.live_cores();
        match placement {
            Placement::Here => Ok(self.core),
            Placement::Core(core) if live.contains(&u64::from(core)) => Ok(core.into()),
            Placement::Core(core) => Err(alloc::format!("error: core {core} is not online")),
            Placement::Class(class) => {
                let of_class = |c: &&u64| {
                    self.skb
                        .as_ref()
                        .and_then(|s| s.cpus.get(**c as usize))
                        .is_some_and(|cpu| cpu.class == class)
                };
                live.iter().find(of_class).copied().ok_or_else(|| {
                    alloc::format!(
                        "error: no live core of class {class} ({})",
                        if class == 0 { "little" } else { "big" }
                    )
                })
            }
        }
    }

    /// Where this monitor keeps the Dispatcher capability of its program `dispatcher`, and
    /// the program's name.
    fn program_of(&self, dispatcher: u64) -> Option<(u32, String)> {
        if let Some(program) = self.shell.launched.iter().find(|p| p.dispatcher == dispatcher) {
            return Some((program.base + 1, program.name.clone()));
        }
        let slot = self.spawned_dispatcher_slot(dispatcher)?;
        let name =
            self.child_modules.iter().find(|(d, _)| *d == dispatcher).map_or(String::from("?"), |&(_, n)| {
                let bytes = n.to_le_bytes();
                let end = bytes.iter().position(|&b| b == 0).unwrap_or(8);
                String::from(core::str::from_utf8(&bytes[..end]).unwrap_or("?"))
            });
        Some((slot, name))
    }

    /// `ps` for this core: the monitor and the programs it spawned, and how each stands.
    fn ps_here(&self) -> Vec<String> {
        let mut lines = alloc::vec![alloc::format!(
            "{:<6} {:<5} {:<10} running",
            alloc::format!("{}.0", self.core),
            self.core,
            "monitor"
        )];
        for &(dispatcher, _) in &self.children {
            let Some((slot, name)) = self.program_of(dispatcher) else { continue };
            let state = match userland::dispatcher_status(slot) {
                Ok(userland::DispatcherStatus::Running) => String::from("running"),
                Ok(userland::DispatcherStatus::Exited(code)) => alloc::format!("exited ({code})"),
                Ok(userland::DispatcherStatus::Stopped) => String::from("killed"),
                Ok(userland::DispatcherStatus::Faulted { far, .. }) => {
                    alloc::format!("faulted (far={far:#x})")
                }
                Ok(userland::DispatcherStatus::ImageRevoked) => String::from("ended (image revoked)"),
                Err(e) => alloc::format!("unknown ({e:?})"),
            };
            let id = alloc::format!("{}.{dispatcher}", self.core);
            lines.push(alloc::format!("{id:<6} {:<5} {name:<10} {state}", self.core));
        }
        lines
    }

    /// `kill <core>.<dispatcher>` on this core: only programs this monitor spawned, never the
    /// monitor, the console driver or the shell.
    fn kill_here(&mut self, dispatcher: u64) -> bool {
        let id = alloc::format!("{}.{dispatcher}", self.core);
        if dispatcher == 0 || Some(dispatcher) == self.shell.console || Some(dispatcher) == self.shell.shell {
            println!("error: kill {id}: the monitor, the console driver and the shell keep running");
            return false;
        }
        let Some((slot, name)) = self.program_of(dispatcher) else {
            println!("error: kill {id}: no such program (see ps)");
            return false;
        };
        match userland::dispatcher_stop(slot) {
            Ok(()) => {
                self.names.forget_dispatcher(dispatcher);
                self.accepting.forget_dispatcher(dispatcher);
                println!("killed {id} ({name})");
                true
            }
            Err(e) => {
                println!("error: kill {id} ({name}): {e:?} (it has ended already?)");
                false
            }
        }
    }

    /// `ping <this core> <peer> <count>`: `count` round trips to `peer`'s monitor, timed.
    fn ping_from_here(&mut self, peer: u64, count: u64) -> bool {
        let mut samples: Vec<u32> = Vec::with_capacity(count as usize);
        for seq in 0..count as u32 {
            self.shell.pong = Some((seq, false));
            let start = userland::counter();
            self.send(peer, &ShellPing { seq });
            let heard =
                self.wait_for(PONG_SECONDS, |m| m.shell.interrupted || m.shell.pong == Some((seq, true)));
            let ticks = userland::counter() - start;
            if self.shell.interrupted {
                println!("ping {}-{peer}: interrupted after {} round trips", self.core, samples.len());
                return false;
            }
            if !heard {
                println!("ping {}-{peer}: no answer to round trip {seq} within {PONG_SECONDS} s", self.core);
                return false;
            }
            samples.push(ticks_to_ns(ticks, self.frequency).min(u64::from(u32::MAX)) as u32);
        }
        self.shell.pong = None;
        let p50 = percentile(&mut samples, 50).unwrap_or(0);
        let p99 = percentile(&mut samples, 99).unwrap_or(0);
        println!("ping {}-{peer}: {count} round trips, p50_ns={p50} p99_ns={p99}", self.core);
        true
    }

    /// Makes sure this core runs a registered `latency` program (launched for `bench latency`
    /// unless the boot flags started one).
    fn ensure_latency(&mut self) -> bool {
        if self.names.lookup(SERVICE_LATENCY).is_some() {
            return true;
        }
        let mut host = core::mem::take(&mut self.shell);
        let launched = self.launch(&mut host, "latency", 0);
        self.shell = host;
        if let Err(e) = launched {
            println!("error: core {}: cannot start latency: {e}", self.core);
            return false;
        }
        let registered = self.wait_for(REGISTER_SECONDS, |m| m.names.lookup(SERVICE_LATENCY).is_some());
        if !registered {
            println!("error: core {}: latency did not register", self.core);
        }
        registered
    }
}
