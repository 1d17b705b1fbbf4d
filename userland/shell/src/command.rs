//! The shell's commands: parsing a typed line (every mistake a [`ParseError`] that says what
//! was wrong, never a panic) into the [`Command`] the monitor runs, which travels to it as the
//! typed same-core messages of `local_protocol::shell` (`Command::messages`), decoded and
//! checked there.

use core::fmt;
use core::str::SplitAsciiWhitespace;

pub use local_protocol::shell::{
    Command, Placement, ProgramName, Request, MAX_BENCH_PAIRS, MAX_CORE, MAX_PING_COUNT, MAX_PROGRAM_NAME,
};

/// Default round trips of `ping`.
pub const DEFAULT_PING_COUNT: u32 = 100;

/// What a typed line asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Line {
    /// `help`: the shell answers itself.
    Help,
    /// A command for the monitor.
    Run(Command),
}

/// Why a line is not a command.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParseError<'a> {
    /// The first word is no command.
    Unknown(&'a str),
    /// A command is missing an argument (the command, what it needs).
    Missing(&'static str, &'static str),
    /// An argument is not what the command takes (the argument, what is accepted).
    Bad(&'a str, &'static str),
    /// Words after a complete command.
    Extra(&'a str),
}

impl fmt::Display for ParseError<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParseError::Unknown(word) => write!(f, "unknown command '{word}' (try 'help')"),
            ParseError::Missing(command, what) => write!(f, "{command}: missing {what}"),
            ParseError::Bad(word, accepted) => write!(f, "bad argument '{word}': {accepted}"),
            ParseError::Extra(word) => write!(f, "unexpected '{word}' (try 'help')"),
        }
    }
}

/// One line of `help` per command.
pub const HELP: &[&str] = &[
    "cores                          index, MPIDR, class, cluster, build, state of every core",
    "skb facts                      what the SKB read from the device tree",
    "skb class <n>                  the cores of class n (0 little, 1 big)",
    "skb tree <root>                the multicast tree from core <root>",
    "skb latency <a> <b>            the measured p50 latency from core a to core b",
    "ps                             programs per core",
    "spawn <program> [on <core>|on little|on big]",
    "kill <core>.<dispatcher>       end a program ps listed",
    "ping <a> <b> [count]           URPC round trips between core a's and core b's monitors",
    "bench latency [pairs]          the latency benchmark over [pairs] ordered pairs (all)",
    "channels                       messages and full-ring events per monitor channel",
    "off <core> / on <core>         take a core off (PSCI CPU_OFF) / start it again (it rejoins)",
    "help                           this list",
    "halt                           power off",
];

fn number<'a>(word: &'a str, max: u32, accepted: &'static str) -> Result<u32, ParseError<'a>> {
    let bad = ParseError::Bad(word, accepted);
    if word.is_empty() || !word.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad);
    }
    word.parse::<u32>().ok().filter(|&n| n <= max).ok_or(bad)
}

const CORE: &str = "a core index, 0 to 511";

fn core_arg<'a>(words: &mut SplitAsciiWhitespace<'a>, command: &'static str) -> Result<u32, ParseError<'a>> {
    let word = words.next().ok_or(ParseError::Missing(command, "a core index"))?;
    number(word, MAX_CORE, CORE)
}

fn class_of(word: &str) -> Option<u8> {
    match word {
        "0" | "little" => Some(0),
        "1" | "big" => Some(1),
        _ => None,
    }
}

/// The rest of a `spawn` line: the program, and where.
fn spawn<'a>(words: &mut SplitAsciiWhitespace<'a>) -> Result<Command, ParseError<'a>> {
    let name = words.next().ok_or(ParseError::Missing("spawn", "a program name"))?;
    let name = ProgramName::new(name)
        .ok_or(ParseError::Bad(name, "a program name: letters, digits, - and _, at most 16"))?;
    let placement = match words.next() {
        None => Placement::Here,
        Some("on") => {
            let word = words.next().ok_or(ParseError::Missing("spawn", "a core or class after 'on'"))?;
            match word {
                "little" => Placement::Class(0),
                "big" => Placement::Class(1),
                _ => Placement::Core(number(word, MAX_CORE, "a core index (0 to 511), little or big")?),
            }
        }
        Some(other) => return Err(ParseError::Bad(other, "'on <core>' or 'on little|big'")),
    };
    Ok(Command::Spawn(name, placement))
}

/// Parses a typed line; `Ok(None)` for a blank one.
pub fn parse(line: &str) -> Result<Option<Line>, ParseError<'_>> {
    let mut words = line.split_ascii_whitespace();
    let Some(first) = words.next() else { return Ok(None) };
    let parsed = match first {
        "help" => Line::Help,
        "spawn" => Line::Run(spawn(&mut words)?),
        _ => Line::Run(Command::Ask(request(first, &mut words)?)),
    };
    match words.next() {
        Some(extra) => Err(ParseError::Extra(extra)),
        None => Ok(Some(parsed)),
    }
}

/// A command the monitor answers, its first word `first`, the rest in `words`.
fn request<'a>(first: &'a str, words: &mut SplitAsciiWhitespace<'a>) -> Result<Request, ParseError<'a>> {
    Ok(match first {
        "cores" => Request::Cores,
        "ps" => Request::Ps,
        "channels" => Request::Channels,
        "halt" => Request::Halt,
        "skb" => match words.next() {
            Some("facts") => Request::SkbFacts,
            Some("class") => {
                let word =
                    words.next().ok_or(ParseError::Missing("skb class", "a class (0, 1, little, big)"))?;
                Request::SkbClass(class_of(word).ok_or(ParseError::Bad(word, "0, 1, little or big"))?)
            }
            Some("tree") => Request::SkbTree(core_arg(words, "skb tree")?),
            Some("latency") => {
                let from = core_arg(words, "skb latency")?;
                Request::SkbLatency(from, core_arg(words, "skb latency")?)
            }
            Some(other) => return Err(ParseError::Bad(other, "skb facts, class, tree or latency")),
            None => return Err(ParseError::Missing("skb", "facts, class, tree or latency")),
        },
        "kill" => {
            let word = words.next().ok_or(ParseError::Missing("kill", "a program id <core>.<dispatcher>"))?;
            const ID: &str = "a program id <core>.<dispatcher>, as ps prints it";
            let (core, dispatcher) = word.split_once('.').ok_or(ParseError::Bad(word, ID))?;
            Request::Kill(number(core, MAX_CORE, ID).map_err(|_| ParseError::Bad(word, ID))?, {
                number(dispatcher, u32::MAX, ID).map_err(|_| ParseError::Bad(word, ID))?
            })
        }
        "ping" => {
            let a = core_arg(words, "ping")?;
            let b = core_arg(words, "ping")?;
            let count = match words.next() {
                None => DEFAULT_PING_COUNT,
                Some(word) => number(word, MAX_PING_COUNT, "a count, 1 to 100000").and_then(|n| {
                    if n == 0 {
                        Err(ParseError::Bad(word, "a count, 1 to 100000"))
                    } else {
                        Ok(n)
                    }
                })?,
            };
            Request::Ping(a, b, count)
        }
        "bench" => match words.next() {
            Some("latency") => Request::BenchLatency(match words.next() {
                None => 0,
                Some(word) => {
                    number(word, MAX_BENCH_PAIRS, "a number of pairs, 1 to 262144").and_then(|n| {
                        if n == 0 {
                            Err(ParseError::Bad(word, "a number of pairs, 1 to 262144"))
                        } else {
                            Ok(n)
                        }
                    })?
                }
            }),
            Some(other) => return Err(ParseError::Bad(other, "bench latency [pairs]")),
            None => return Err(ParseError::Missing("bench", "what to measure: latency")),
        },
        "off" => Request::Hotplug(false, core_arg(words, "off")?),
        "on" => Request::Hotplug(true, core_arg(words, "on")?),
        other => return Err(ParseError::Unknown(other)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    use local_protocol::shell::{Assembler, Part};
    use local_protocol::{decode, ToMonitor};

    fn name(text: &str) -> ProgramName {
        ProgramName::new(text).unwrap()
    }

    fn ask(request: Request) -> Line {
        Line::Run(Command::Ask(request))
    }

    fn spawn(program: &str, placement: Placement) -> Line {
        Line::Run(Command::Spawn(name(program), placement))
    }

    #[test]
    fn every_command_parses() {
        let cases: &[(&str, Line)] = &[
            ("help", Line::Help),
            ("  cores  ", ask(Request::Cores)),
            ("skb facts", ask(Request::SkbFacts)),
            ("skb class 1", ask(Request::SkbClass(1))),
            ("skb class little", ask(Request::SkbClass(0))),
            ("skb tree 4", ask(Request::SkbTree(4))),
            ("skb latency 0 5", ask(Request::SkbLatency(0, 5))),
            ("ps", ask(Request::Ps)),
            ("spawn latency", spawn("latency", Placement::Here)),
            ("spawn latency on 3", spawn("latency", Placement::Core(3))),
            ("spawn latency on big", spawn("latency", Placement::Class(1))),
            ("kill 2.3", ask(Request::Kill(2, 3))),
            ("ping 0 4", ask(Request::Ping(0, 4, DEFAULT_PING_COUNT))),
            ("ping 0 4 1000", ask(Request::Ping(0, 4, 1000))),
            ("bench latency", ask(Request::BenchLatency(0))),
            ("bench latency 6", ask(Request::BenchLatency(6))),
            ("channels", ask(Request::Channels)),
            ("off 3", ask(Request::Hotplug(false, 3))),
            ("on 3", ask(Request::Hotplug(true, 3))),
            ("halt", ask(Request::Halt)),
        ];
        for (line, command) in cases {
            assert_eq!(parse(line), Ok(Some(*command)), "{line}");
        }
        assert_eq!(parse("   "), Ok(None));
    }

    #[test]
    fn mistakes_are_errors_that_say_what_is_wrong() {
        use alloc::string::ToString;
        let cases: &[(&str, &str)] = &[
            ("frobnicate", "unknown command 'frobnicate' (try 'help')"),
            ("skb", "skb: missing facts, class, tree or latency"),
            ("skb tree", "skb tree: missing a core index"),
            ("skb tree x", "bad argument 'x': a core index, 0 to 511"),
            ("skb tree 512", "bad argument '512': a core index, 0 to 511"),
            ("skb tree -1", "bad argument '-1': a core index, 0 to 511"),
            ("skb tree 99999999999999999999", "bad argument '99999999999999999999': a core index, 0 to 511"),
            ("skb class 2", "bad argument '2': 0, 1, little or big"),
            ("skb latency 1", "skb latency: missing a core index"),
            ("cores now", "unexpected 'now' (try 'help')"),
            ("spawn", "spawn: missing a program name"),
            ("spawn a/b", "bad argument 'a/b': a program name: letters, digits, - and _, at most 16"),
            ("spawn latency at 3", "bad argument 'at': 'on <core>' or 'on little|big'"),
            ("spawn latency on", "spawn: missing a core or class after 'on'"),
            ("kill 3", "bad argument '3': a program id <core>.<dispatcher>, as ps prints it"),
            ("kill a.b", "bad argument 'a.b': a program id <core>.<dispatcher>, as ps prints it"),
            ("ping 0 1 0", "bad argument '0': a count, 1 to 100000"),
            ("ping 0 1 100001", "bad argument '100001': a count, 1 to 100000"),
            ("bench", "bench: missing what to measure: latency"),
            ("bench unmap", "bad argument 'unmap': bench latency [pairs]"),
        ];
        for (line, message) in cases {
            let error = parse(line).expect_err(line);
            assert_eq!(error.to_string(), *message, "{line}");
        }
    }

    #[test]
    fn every_command_reaches_the_monitor_whole_through_the_typed_messages() {
        for line in [
            "cores",
            "skb facts",
            "skb class 1",
            "skb tree 5",
            "skb latency 3 4",
            "ps",
            "spawn latency",
            "spawn sixteen-chars-xx on 511",
            "spawn x on little",
            "kill 1.7",
            "ping 1 2 3",
            "bench latency 4",
            "bench latency 262144",
            "channels",
            "off 3",
            "on 511",
            "halt",
        ] {
            let Ok(Some(Line::Run(command))) = parse(line) else { panic!("{line}") };
            let (first, second) = command.messages();
            let part = |words| match decode::<ToMonitor>(words) {
                Ok(ToMonitor::Ask(ask)) => Part::Ask(ask.request),
                Ok(ToMonitor::SpawnOn(on)) => Part::SpawnOn(on.placement),
                Ok(ToMonitor::SpawnName(spawn)) => Part::SpawnName(spawn.name),
                other => panic!("{line}: {other:?}"),
            };
            let mut monitor = Assembler::default();
            let mut got = monitor.take(part(first));
            if let Some(second) = second {
                assert_eq!(got.command, None, "{line}: half a spawn runs nothing");
                got = monitor.take(part(second));
            }
            assert_eq!(got.refused, None, "{line}");
            assert_eq!(got.command, Some(command), "{line}");
        }
    }
}
