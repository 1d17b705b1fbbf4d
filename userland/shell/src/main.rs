//! `shell`: the serial console's shell, an ordinary EL0 program its monitor spawns on the boot
//! core. The console driver's bytes reach it through the monitor (`tags::INPUT`); it edits the
//! line ([`shell::editor`]), runs `help` and refuses what it cannot parse itself, and hands
//! every other command to its monitor (`tags::COMMAND`), which prints the answer and says
//! `tags::DONE`. Lines typed while a command runs wait their turn; Ctrl-C asks the monitor to
//! interrupt the command running when its turn comes (`tags::INTERRUPT`): typed ahead, right
//! after a line, it interrupts that line's command.
//!
//! It waits in the runtime's event loop (`userland::events`), which sleeps in the kernel until
//! a same-core message arrives and hands it over.
//!
//! The kernel's console is line based (every `console_write` is one whole line, which keeps
//! lines whole while other cores print), so the shell echoes a line once it is entered, after
//! the prompt, rather than key by key.
#![cfg_attr(target_os = "none", no_std, no_main)]
#![forbid(unsafe_code)]

extern crate alloc;

use alloc::collections::VecDeque;
use alloc::string::String;

use shell::command::{self, Command, HELP};
use shell::editor::{Editor, Event};
use shell::{input, tags, PROMPT};
use urpc::WaitPolicy;
use userland::events::Event as Woke;
use userland::{info, println, Info};

/// What was typed and not yet acted on, in order.
enum Typed {
    /// A line entered.
    Line(String),
    /// Ctrl-C: interrupts the command that runs when its turn comes (typed ahead, it is meant
    /// for the command typed before it).
    Interrupt,
}

/// The shell's state between messages.
struct Shell {
    editor: Editor,
    /// What was typed and not yet run.
    queued: VecDeque<Typed>,
    /// A command is with the monitor.
    busy: bool,
}

impl Shell {
    /// Handles one same-core message.
    fn on_message(&mut self, words: [u64; 3]) {
        match (words[0] & 0xff) as u8 {
            tags::INPUT => {
                let Some((bytes, count)) = input::unpack(words) else { return };
                for &byte in &bytes[..count] {
                    match self.editor.feed(byte) {
                        Event::Line(line) => self.queued.push_back(Typed::Line(line)),
                        Event::Interrupt => self.queued.push_back(Typed::Interrupt),
                        Event::None => {}
                    }
                }
            }
            tags::DONE => self.busy = false,
            _ => {}
        }
    }

    /// Acts on what waits: while a command runs, only a Ctrl-C at the front (sent on to the
    /// monitor); otherwise the next line or Ctrl-C. False when nothing could be done.
    fn step(&mut self) -> bool {
        match (self.busy, self.queued.front()) {
            (true, Some(Typed::Interrupt)) => {
                self.queued.pop_front();
                println!("^C");
                let _ = userland::send_to_monitor([u64::from(tags::INTERRUPT), 0, 0]);
                true
            }
            (false, Some(_)) => {
                match self.queued.pop_front() {
                    Some(Typed::Line(line)) => self.run_line(&line),
                    Some(Typed::Interrupt) => println!("{PROMPT}^C"),
                    None => {}
                }
                true
            }
            _ => false,
        }
    }

    /// Runs one entered line: echoed after the prompt, then parsed and run.
    fn run_line(&mut self, line: &str) {
        println!("{PROMPT}{line}");
        match command::parse(line) {
            Ok(None) => {}
            Ok(Some(Command::Help)) => {
                for text in HELP {
                    println!("  {text}");
                }
            }
            Ok(Some(command)) => match command::encode(tags::COMMAND, &command) {
                Some(words) => match userland::send_to_monitor(words) {
                    Ok(()) => self.busy = true,
                    Err(e) => println!("error: the monitor did not take the command ({e:?})"),
                },
                None => println!("error: '{line}' cannot be sent"),
            },
            Err(e) => println!("error: {e}"),
        }
    }
}

/// How the shell waits: it has no channel to poll, so it sleeps in the kernel at once until a
/// same-core message (typed bytes, a command done) wakes it.
const WAITING: WaitPolicy = WaitPolicy { polls: 1, watches: 0 };

fn run() -> u64 {
    let core = info(Info::CoreIndex).unwrap_or(0);
    println!("shell on core {core}: type 'help' for the commands");
    let mut shell = Shell { editor: Editor::new(), queued: VecDeque::new(), busy: false };
    let mut events = userland::event_loop(WAITING);
    loop {
        while shell.step() {}
        match events.wait_local() {
            // The console's bytes and the monitor's answers come in the shell's own words.
            Woke::Local { sender: 0, words } => shell.on_message(words),
            Woke::Local { sender, words } => {
                println!("shell: a message from dispatcher {sender} ignored: {words:x?}")
            }
            other => println!("shell: not for the shell: {other:?}"),
        }
    }
}

userland::entry!(run);
