//! The boot core's monitor as host of the serial console's shell (`shell` on the kernel
//! command line, `scripts/run shell`): it spawns the console driver (`console`), gives it the
//! console UART's IRQ and device Frame capabilities the kernel made for it, and spawns the shell
//! (`shell`). The driver's bytes come here and go on to the shell; the shell's commands come
//! here, are answered on the console (whole lines: the kernel's per-core console rings keep
//! them from interleaving with other cores' lines) and end with `DONE` to the shell. `halt`
//! powers the machine off. The commands' text comes from `monitor::shell_answers`.
//!
//! The programs it spawns live in a CNode of their own (root slot [`LAUNCH_CNODE`]), four
//! slots each: RAM, Dispatcher, Endpoint to the program, and one spare.

use alloc::string::String;
use alloc::vec::Vec;

use monitor::shell_answers;
use shell::command::{self, Command, Placement};
use shell::tags;
use userland::{cap_type, println, SLOT_CONSOLE_DEVICE, SLOT_CONSOLE_IRQ, SLOT_MONITOR, SLOT_SELF};

use crate::Monitor;

/// Root slot of the CNode holding what the monitor keeps for each program it launched for the
/// shell (1 and 2 are `kernel_caps`' protocol and program CNodes).
const LAUNCH_CNODE: u16 = 5;
/// Slots of that CNode per program, and programs it holds.
const SLOTS_PER_PROGRAM: u32 = 4;
const MAX_LAUNCHED: u32 = userland::CNODE_SLOTS / SLOTS_PER_PROGRAM;

/// A program launched here: its dispatcher index, name and first slot.
#[derive(Clone, Debug)]
pub(crate) struct Launched {
    pub dispatcher: u64,
    pub name: String,
    pub base: u32,
}

/// The shell's host state (boot core only, with `shell` on the command line).
#[derive(Default)]
pub(crate) struct ShellHost {
    /// The console driver's and the shell's dispatcher indices.
    console: Option<u64>,
    shell: Option<u64>,
    /// The programs launched for the shell (the driver and the shell first), in order.
    pub launched: Vec<Launched>,
    /// Launch slots used so far (never reused: a slot of an ended program may still hold
    /// its RAM until it is deleted).
    next: u32,
}

/// Whether the kernel command line asks for the shell.
pub(crate) fn wanted(bootargs: &str) -> bool {
    bootargs.split_ascii_whitespace().any(|word| word == "shell")
}

impl Monitor {
    /// Starts the console driver and the shell, if the command line asks for them (boot core);
    /// true if the shell runs (the monitor then keeps the machine on until `halt`).
    pub(crate) fn start_shell(&mut self) -> bool {
        let bootargs = self.skb.as_ref().and_then(|s| s.bootargs.as_deref()).unwrap_or("");
        if self.core != self.boot || !wanted(bootargs) {
            return false;
        }
        if userland::cap_identify(userland::cap_addr(LAUNCH_CNODE, 0)).is_err()
            && crate::span::retype_free(
                cap_type::CNODE,
                u64::from(userland::CNODE_SLOTS) * caps::SLOT_BYTES,
                caps::CapAddr::level1(LAUNCH_CNODE).raw(),
            )
            .is_none()
        {
            println!("monitor {}: no RAM for the shell's programs", self.core);
        }
        let mut host = ShellHost::default();
        match self.launch(&mut host, "console") {
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
        match self.launch(&mut host, "shell") {
            Ok(shell) => host.shell = Some(shell.dispatcher),
            Err(e) => println!("monitor {}: cannot start the shell: {e}", self.core),
        }
        let running = host.shell.is_some();
        self.shell = Some(host);
        running
    }

    /// Spawns boot module `name` on this core out of RAM retyped for it, with Endpoints both
    /// ways (as the monitor's own programs: its Endpoint to this monitor at `SLOT_MONITOR`,
    /// badged with its dispatcher index).
    fn launch(&mut self, host: &mut ShellHost, name: &str) -> Result<Launched, String> {
        if host.next >= MAX_LAUNCHED {
            return Err(alloc::format!("no slot left ({MAX_LAUNCHED} programs launched)"));
        }
        let (module, info) =
            userland::find_module(name).ok_or_else(|| alloc::format!("no program '{name}'"))?;
        let base = userland::cap_addr(LAUNCH_CNODE, (host.next * SLOTS_PER_PROGRAM) as u8);
        host.next += 1;
        crate::span::retype_free(cap_type::RAM, info.ram_bytes, base)
            .ok_or_else(|| alloc::format!("no {} KiB of RAM free", info.ram_bytes >> 10))?;
        let dispatcher = userland::spawn(module, base, base + 1, 0).map_err(|e| {
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

    /// A same-core message with one of the shell's tags; false if it is none of theirs.
    pub(crate) fn on_shell_local(&mut self, sender: u64, words: [u64; 3]) -> bool {
        let Some(host) = self.shell.as_ref() else { return false };
        let tag = (words[0] & 0xff) as u8;
        let (console, shell) = (host.console, host.shell);
        match tag {
            tags::INPUT if Some(sender) == console => {
                if let Some(shell) = shell {
                    let _ = self.send_to_program(shell, words);
                }
            }
            tags::COMMAND if Some(sender) == shell => {
                match command::decode(words) {
                    Some(command) => self.run_command(command),
                    None => println!("error: the monitor got a malformed command"),
                }
                if let Some(shell) = shell {
                    let _ = self.send_to_program(shell, [u64::from(tags::DONE), 0, 0]);
                }
            }
            tags::INTERRUPT if Some(sender) == shell => {}
            tags::INPUT | tags::COMMAND | tags::INTERRUPT | tags::DONE => {
                println!("monitor {}: shell message from dispatcher {sender} ignored", self.core);
            }
            _ => return false,
        }
        true
    }

    /// Runs one command and prints its answer.
    fn run_command(&mut self, command: Command) {
        let lines = match (command, self.skb.as_ref()) {
            (Command::Cores, Some(skb)) => {
                let live = self.membership.as_ref().map_or(self.online, |m| m.live());
                shell_answers::cores(skb, live)
            }
            (Command::SkbFacts, Some(skb)) => shell_answers::facts(skb),
            (Command::SkbClass(class), Some(skb)) => shell_answers::class(skb, class),
            (Command::SkbTree(root), Some(skb)) => shell_answers::tree(skb, root),
            (Command::SkbLatency(a, b), Some(skb)) => shell_answers::latency(skb, a, b),
            (Command::Cores | Command::SkbFacts | Command::SkbClass(_), None)
            | (Command::SkbTree(_) | Command::SkbLatency(..), None) => {
                alloc::vec![String::from("error: this monitor has no SKB replica")]
            }
            (Command::Halt, _) => {
                println!("halt: powering off");
                let _ = userland::power_off();
                alloc::vec![String::from("error: the machine did not power off")]
            }
            (Command::Ps, _) => self.ps_here(),
            (Command::Spawn(name, placement), _) => self.spawn_here(name.as_str(), placement),
            (other, _) => alloc::vec![alloc::format!("error: {other:?} is not available in this build")],
        };
        for line in lines {
            println!("{line}");
        }
    }

    /// `ps` for this core: the programs its monitor spawned and how each stands.
    fn ps_here(&self) -> Vec<String> {
        let mut lines = alloc::vec![String::from("id     core  program    state")];
        lines.push(alloc::format!("{}.0    {:<5} {:<10} running", self.core, self.core, "monitor"));
        if let Some(host) = self.shell.as_ref() {
            for program in &host.launched {
                let state = match userland::dispatcher_status(program.base + 1) {
                    Ok(userland::DispatcherStatus::Running) => String::from("running"),
                    Ok(userland::DispatcherStatus::Exited(code)) => alloc::format!("exited ({code})"),
                    Ok(other) => alloc::format!("{other:?}"),
                    Err(e) => alloc::format!("unknown ({e:?})"),
                };
                let id = alloc::format!("{}.{}", self.core, program.dispatcher);
                lines.push(alloc::format!("{id:<6} {:<5} {:<10} {state}", self.core, program.name));
            }
        }
        lines
    }

    /// `spawn <program>` here.
    fn spawn_here(&mut self, name: &str, placement: Placement) -> Vec<String> {
        let here = match placement {
            Placement::Here => true,
            Placement::Core(core) => u64::from(core) == self.core,
            Placement::Class(class) => {
                self.skb.as_ref().and_then(|s| s.cpus.get(self.core as usize)).map(|c| c.class) == Some(class)
            }
        };
        if !here {
            return alloc::vec![String::from("error: spawn on another core is not available in this build")];
        }
        let Some(mut host) = self.shell.take() else { return Vec::new() };
        let result = self.launch(&mut host, name);
        self.shell = Some(host);
        match result {
            Ok(program) => alloc::vec![alloc::format!(
                "spawned {name} as {}.{} on core {}",
                self.core,
                program.dispatcher,
                self.core
            )],
            Err(e) => alloc::vec![alloc::format!("error: spawn {name}: {e}")],
        }
    }
}
