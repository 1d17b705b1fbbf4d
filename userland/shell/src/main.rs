//! `shell`: the serial console's shell, an ordinary EL0 program its monitor spawns on the boot
//! core. The console driver's bytes reach it through the monitor (`Input`); it edits the line
//! ([`shell::editor`]), runs `help` and refuses what it cannot parse itself, and hands every
//! other command to its monitor (`Ask`, or `SpawnOn` then `SpawnName`: the typed messages of
//! `local_protocol::shell`), which prints the answer and says `Done`. Lines typed while a
//! command runs wait their turn; Ctrl-C asks the monitor to interrupt the command running when
//! its turn comes (`Interrupt`): typed ahead, right after a line, it interrupts that line's
//! command.
//!
//! Typing is echoed key by key: at the prompt the shell shows the line being edited through
//! the kernel (`console_input_line`), which draws only what changed and keeps the line below
//! whatever other cores print meanwhile (every other output stays one whole `console_write`
//! line). Bytes typed while a command runs are not echoed yet; they wait, as in a terminal's
//! input buffer, and are echoed and edited when the prompt comes back (a Ctrl-C among them
//! still interrupts the command at once when it is next). Where the kernel refuses the input
//! line (a console owned by another core), the shell falls back to echoing each entered line
//! after the prompt.
//!
//! It waits in the runtime's event loop (`userland::events`), which sleeps in the kernel until
//! a same-core message arrives and hands it over decoded.
#![cfg_attr(target_os = "none", no_std, no_main)]
#![forbid(unsafe_code)]

extern crate alloc;

use alloc::collections::VecDeque;
use alloc::string::String;

use local_protocol::shell::{Input, Interrupt};
use local_protocol::{self as local, ToProgram};
use shell::command::{self, Line, HELP};
use shell::editor::{Editor, Event};
use shell::PROMPT;
use urpc::WaitPolicy;
use userland::events::Event as Woke;
use userland::{info, println, Info};

/// The shell's state between messages.
struct Shell {
    editor: Editor,
    /// Bytes typed and not yet fed to the editor (they wait while a command runs).
    pending: VecDeque<u8>,
    /// A command is with the monitor.
    busy: bool,
    /// The prompt and the line are shown (through the kernel's input line).
    at_prompt: bool,
    /// The kernel takes the input line; false once it refused (then lines are echoed whole).
    echo: bool,
}

/// Ctrl-C.
const CTRL_C: u8 = 0x03;

impl Shell {
    /// Handles one message of the monitor's.
    fn on_message(&mut self, message: ToProgram) {
        match message {
            ToProgram::Input(Input { keys }) => self.pending.extend(keys.as_bytes()),
            ToProgram::Done(_) => self.busy = false,
            other => println!("shell: not for the shell: {other:?}"),
        }
    }

    /// Shows the prompt and the line as edited; `enter`: the line is done.
    fn show(&mut self, line: &str, cursor: usize, enter: bool) {
        if !self.echo {
            if enter {
                println!("{PROMPT}{line}");
            }
            return;
        }
        let mut text = String::from(PROMPT);
        text.push_str(line);
        if userland::console_input_line(&text, PROMPT.len() + cursor, enter).is_err() {
            self.echo = false;
            self.show(line, cursor, enter);
        }
    }

    /// Acts on what waits: while a command runs, only a Ctrl-C next in line (sent on to the
    /// monitor); otherwise the prompt, then one typed byte. False when nothing could be done.
    fn step(&mut self) -> bool {
        if self.busy {
            if self.pending.front() != Some(&CTRL_C) {
                return false;
            }
            self.pending.pop_front();
            println!("^C");
            let _ = shell::send_in_turn(local::words(&Interrupt {}));
            return true;
        }
        if !self.at_prompt {
            self.at_prompt = true;
            self.show("", 0, false);
            return true;
        }
        let Some(byte) = self.pending.pop_front() else { return false };
        let before = String::from(self.editor.line());
        match self.editor.feed(byte) {
            Event::None => {
                let line = String::from(self.editor.line());
                self.show(&line, self.editor.cursor(), false);
            }
            Event::Line(line) => {
                self.show(&line, line.len(), true);
                self.at_prompt = false;
                self.run_line(&line);
            }
            Event::Interrupt => {
                let shown = alloc::format!("{before}^C");
                self.show(&shown, shown.len(), true);
                self.at_prompt = false;
            }
        }
        true
    }

    /// Runs one entered line (already shown after the prompt): parsed, then run.
    fn run_line(&mut self, line: &str) {
        match command::parse(line) {
            Ok(None) => {}
            Ok(Some(Line::Help)) => {
                for text in HELP {
                    println!("  {text}");
                }
            }
            Ok(Some(Line::Run(command))) => {
                // The second message (a spawn's name) goes only once the first went: the
                // monitor refuses a placement that no name follows, and answers `Done` only to
                // a command's last message, so the shell waits only once that went.
                let (first, second) = command.messages();
                let sent =
                    shell::send_in_turn(first).and_then(|()| second.map_or(Ok(()), shell::send_in_turn));
                match sent {
                    Ok(()) => self.busy = true,
                    Err(e) => println!("error: the monitor did not take the command ({e:?})"),
                }
            }
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
    let mut shell =
        Shell { editor: Editor::new(), pending: VecDeque::new(), busy: false, at_prompt: false, echo: true };
    let mut events = userland::event_loop(WAITING);
    loop {
        while shell.step() {}
        match events.wait_local() {
            Woke::Monitor(message) => shell.on_message(message),
            Woke::Local { sender, words } => {
                println!("shell: words from dispatcher {sender} ignored (no message): {words:x?}")
            }
            other => println!("shell: not for the shell: {other:?}"),
        }
    }
}

userland::entry!(run);
